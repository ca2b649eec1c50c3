package browser

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// readLenient serves raw on one end of a pipe and reads the response
// through NewLenientConn on the other.
func readLenient(t *testing.T, raw string, max int64) (*http.Response, string, error) {
	t.Helper()
	srv, cli := net.Pipe()
	t.Cleanup(func() { _ = srv.Close(); _ = cli.Close() })
	go func() {
		_, _ = io.WriteString(srv, raw)
		_ = srv.Close()
	}()
	resp, err := http.ReadResponse(bufio.NewReader(NewLenientConn(cli, max)), nil)
	if err != nil {
		return nil, "", err
	}
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body), nil
}

// Sloppy heads repaired the way browsers read them, and what stays refused.
func TestLenientConn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, raw string
		code      int
		header    string // a header to look at: name=value
		body      string
		wantErr   error // nil: any error is a failure
		anyErr    bool  // an error is wanted, of Go's parser
	}{
		{name: "a header line without a colon", raw: "HTTP/1.1 200 OK\r\nThis is sloppy\r\nContent-Length: 2\r\n\r\nok", code: 200, body: "ok"},
		{name: "a control character in a value", raw: "HTTP/1.1 200 OK\r\nX-Powered-By: PHP\x01\x02\r\nContent-Length: 2\r\n\r\nok", code: 200, header: "X-Powered-By=PHP", body: "ok"},
		{name: "no space after the code", raw: "HTTP/1.1 200OK\r\nContent-Length: 2\r\n\r\nok", code: 200, body: "ok"},
		{name: "an odd version", raw: "HTTP/2.7 404 Not Found\r\nContent-Length: 0\r\n\r\n", code: 404},
		{name: "a name that is no token", raw: "HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 2\r\n\r\nok", code: 200, header: "Bad Name=", body: "ok"},
		{name: "a Content-Length that is no number: the body lasts to the close", raw: "HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\nhello", code: 200, body: "hello"},
		{name: "a folded line before any header", raw: "HTTP/1.1 200 OK\r\n folded\r\nContent-Length: 2\r\n\r\nok", code: 200, body: "ok"},
		{name: "a folded line after a header", raw: "HTTP/1.1 200 OK\r\nX-A: 1\r\n\tmore\r\nContent-Length: 2\r\n\r\nok", code: 200, body: "ok"},
		{name: "an SSH banner", raw: "SSH-2.0-OpenSSH_9.6\r\n", wantErr: ErrNotHTTP},
		{name: "a few bytes, then the close", raw: "HTT", wantErr: ErrNotHTTP},
		{name: "a code of two digits", raw: "HTTP/1.1 20 OK\r\n\r\n", wantErr: ErrNotHTTP},
		{name: "a head over the limit", raw: "HTTP/1.1 200 OK\r\nX-Big: " + string(make([]byte, 300)) + "\r\n\r\n", wantErr: ErrHeadTooLarge},
		{name: "two different Content-Lengths stay refused (as in Chrome)", raw: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", anyErr: true},
	} {
		resp, body, err := readLenient(t, tc.raw, 256)
		switch {
		case tc.wantErr != nil:
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.wantErr)
			}
			continue
		case tc.anyErr:
			if err == nil {
				t.Errorf("%s: read, want an error", tc.name)
			}
			continue
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if resp.StatusCode != tc.code || body != tc.body {
			t.Errorf("%s: %d %q, want %d %q", tc.name, resp.StatusCode, body, tc.code, tc.body)
		}
		if tc.header != "" {
			k, v, _ := strings.Cut(tc.header, "=")
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s: %s is %q, want %q", tc.name, k, got, v)
			}
		}
	}
}
