// Package lmsdproc runs the reference server examples/lmsd as a process
// and talks to it the way an outside user does, for the benchmark commands
// (bench, bench/attack) and the tests and benchmarks that need a real
// lmsd: it builds the binary, waits for its -ready-file, makes XML-RPC
// calls over HTTP and reads a client's password out of the registration
// mail lmsd writes to its -mail-dir.
package lmsdproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/linkmonitor/lms/xmlrpcapi"
)

// Build builds examples/lmsd into dir/lmsd (from any directory of the
// module) and returns the binary's path.
func Build(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "lmsd")
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/linkmonitor/lms/examples/lmsd").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building lmsd: %w\n%s", err, out)
	}
	return bin, nil
}

// WaitReady waits up to within for lmsd's -ready-file at path to hold an
// address, and returns it.
func WaitReady(path string, within time.Duration) (string, error) {
	for deadline := time.Now().Add(within); ; time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(path); err == nil && len(bytes.TrimSpace(b)) > 0 {
			return string(bytes.TrimSpace(b)), nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("lmsd did not write its address to %s within %v", path, within)
		}
	}
}

// Call makes the XML-RPC call method(params…) to url with hc (nil:
// http.DefaultClient) and returns its result. A fault is returned as an
// error wrapping the *xmlrpcapi.Fault, an answer other than 200 OK as an
// error.
func Call(ctx context.Context, hc *http.Client, url, method string, params ...any) (any, error) {
	body, err := xmlrpcapi.EncodeCall(method, params...)
	if err != nil {
		return nil, err
	}
	v, err := Post(ctx, hc, url, body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	return v, nil
}

// Post is Call with the call already encoded.
func Post(ctx context.Context, hc *http.Client, url string, body []byte) (any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/xml")
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return xmlrpcapi.DecodeResponse(resp.Body, xmlrpcapi.Limits{})
}

// MailedPassword returns the password of the one registration mail lmsd
// wrote into mailDir (lmsd -mail-dir; a client registered without a
// password of its own learns it only there).
func MailedPassword(mailDir string) (string, error) {
	mails, err := filepath.Glob(filepath.Join(mailDir, "*.eml"))
	if err != nil || len(mails) != 1 {
		return "", fmt.Errorf("%d registration mails (%v)", len(mails), err)
	}
	mail, err := os.ReadFile(mails[0])
	if err != nil {
		return "", err
	}
	_, rest, found := strings.Cut(string(mail), "Password:")
	fields := strings.Fields(rest)
	if !found || len(fields) == 0 {
		return "", errors.New("no password in the registration mail")
	}
	return fields[0], nil
}
