package check

import (
	"compress/flate"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/textproto"
	"net/url"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/linkmonitor/lms/internal/netguard"
)

// selfSigned returns a self-signed certificate; isCA marks it a CA.
func selfSigned(t *testing.T, isCA bool, notBefore, notAfter time.Time) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"}, NotBefore: notBefore, NotAfter: notAfter,
		BasicConstraintsValid: true, IsCA: isCA, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testConfig is a Config with lms.CheckerConfig's defaults.
func testConfig() Config {
	return Config{UserAgent: DefaultUserAgent, BrowserUserAgent: DefaultBrowserUserAgent, ConnectTimeout: 10 * time.Second,
		Timeout: 30 * time.Second, MaxRedirects: 20, MaxBytes: 1 << 20, ProbeInterval: 24 * time.Hour}
}

// TestReasonTable walks every failure class: each has a row, an error that
// classify maps to it, and a reason an editor can read.
func TestReasonTable(t *testing.T) {
	t.Parallel()
	now := time.Now()
	leaf := selfSigned(t, false, now.Add(-time.Hour), now.Add(time.Hour))
	ca := selfSigned(t, true, now.Add(-time.Hour), now.Add(time.Hour))
	future := selfSigned(t, false, now.Add(time.Hour), now.Add(2*time.Hour))
	past := selfSigned(t, false, now.Add(-2*time.Hour), now.Add(-time.Hour))
	wrap := func(err error) error { return &url.Error{Op: "Get", URL: "http://x.example/", Err: err} }
	dialErr := func(err error) error { return wrap(&net.OpError{Op: "dial", Net: "tcp", Err: err}) }
	readErr := func(err error) error { return wrap(&net.OpError{Op: "read", Net: "tcp", Err: err}) }
	samples := map[failClass]error{
		failInvalidURL:       &net.AddrError{Err: "invalid port", Addr: "x:99999"},
		failPolicy:           dialErr(fmt.Errorf("%w: 127.0.0.1", netguard.ErrPolicy)),
		failCancelled:        wrap(context.Canceled),
		failDNSNotFound:      dialErr(&net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}),
		failDNSTemporary:     dialErr(&net.DNSError{Err: "server misbehaving", Name: "x.example", IsTemporary: true}),
		failRefused:          dialErr(os.NewSyscallError("connect", syscall.ECONNREFUSED)),
		failUnreachable:      dialErr(os.NewSyscallError("connect", syscall.EHOSTUNREACH)),
		failConnectTimeout:   dialErr(os.ErrDeadlineExceeded),
		failTimeout:          wrap(context.DeadlineExceeded),
		failNoAnswer:         wrap(io.EOF),
		failReset:            readErr(os.NewSyscallError("read", syscall.ECONNRESET)),
		failDropped:          wrap(fmt.Errorf("net/http: HTTP/1.x transport connection broken: %w", io.ErrUnexpectedEOF)),
		failBodyCut:          errBodyCut,
		failNotHTTP:          fmt.Errorf("%w: malformed HTTP response", errNotHTTP),
		failSwitched:         fmt.Errorf("%w (Upgrade: %q)", errSwitched, "websocket"),
		failProtocol:         textproto.ProtocolError("short response: SSH-2.0"),
		failHeadersTooLarge:  wrap(errHeadTooLarge),
		failBadEncoding:      gzip.ErrHeader,
		failTooManyRedirects: errTooManyRedirects,
		failRedirectLoop:     errRedirectLoop,
		failRedirectScheme:   errRedirectScheme,
		failBadRedirect:      errBadRedirect,
		failTLSNotTLS:        wrap(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}),
		failTLSHandshake:     wrap(fmt.Errorf("%w: %w", errTLSHandshake, errors.New("tls: server selected unsupported protocol version 301"))),
		failTLSTimeout:       wrap(fmt.Errorf("%w: %w", errTLSTimeout, context.DeadlineExceeded)),
		failTLSExpired:       wrap(x509.CertificateInvalidError{Cert: past, Reason: x509.Expired}),
		failTLSNotYetValid:   wrap(x509.CertificateInvalidError{Cert: future, Reason: x509.Expired}),
		failTLSWrongHost:     wrap(x509.HostnameError{Certificate: leaf, Host: "y.example"}),
		failTLSSelfSigned:    wrap(x509.UnknownAuthorityError{Cert: leaf}),
		failTLSUnknownIssuer: wrap(x509.UnknownAuthorityError{Cert: ca}),
		failTLSInvalid:       wrap(x509.CertificateInvalidError{Cert: leaf, Reason: x509.NotAuthorizedToSign}),
		failTooMuchData:      errTooMuchData,
		failFTPNotFTP:        errNotFTP,
		failConnection:       errors.New("something nobody expected"),
	}
	// Classes that no error maps to: chosen by the protocol checkers.
	chosen := map[failClass]bool{failFTPTimeout: true}
	goText := regexp.MustCompile(`(?i)\b(eof|net/http|tls:|x509|dial|tcp|read|write|syscall|errno|nil|malformed|mime)\b|%|\{|\}`)
	cfg := testConfig()
	table := failTable()
	for cl := failNone + 1; cl < numFailClasses; cl++ {
		fi := table[cl]
		t.Run(fmt.Sprintf("class %d", cl), func(t *testing.T) {
			if fi.reason == "" || !fi.state.Valid() {
				t.Fatalf("class %d has no row: %+v", cl, fi)
			}
			if err, ok := samples[cl]; ok {
				if got := classify(err); got != cl {
					t.Errorf("classify(%v) = %d (%q), want %d (%q)", err, got, table[got].reason, cl, fi.reason)
				}
			} else if !chosen[cl] {
				t.Errorf("class %d (%q) has no sample error", cl, fi.reason)
			}
			r := cl.result(cfg, "x.example", samples[cl])
			if r.Reason != strings.TrimSpace(r.Reason) || r.Reason[0] < 'A' || r.Reason[0] > 'Z' {
				t.Errorf("reason %q: want a capitalised sentence", r.Reason)
			}
			if m := goText.FindString(r.Reason); m != "" {
				t.Errorf("reason %q reads like an error message (%q)", r.Reason, m)
			}
			if len(r.Reason) > 110 {
				t.Errorf("reason %q is too long for a list", r.Reason)
			}
			if r.State.Failing() && r.Failure == FailureInferred {
				t.Errorf("failing class %q has no failure kind", r.Reason)
			}
			if err := samples[cl]; err != nil && r.Detail == "" {
				t.Error("the error text is lost: want it in Detail")
			}
		})
	}
	if got := failTimeout.result(cfg, "", nil).Reason; got != "The page took longer than 30 s" {
		t.Errorf("timeout reason %q", got)
	}
	if got := failDNSNotFound.result(cfg, "x.example", nil).Reason; !strings.Contains(got, "x.example") {
		t.Errorf("DNS reason %q does not name the host", got)
	}
	if classify(tls.AlertError(40)) != failTLSHandshake {
		t.Error("a TLS alert is a failed handshake")
	}
	if classify(fmt.Errorf("%w: %w", errTLSHandshake, os.ErrDeadlineExceeded)) != failTimeout {
		t.Error("a handshake that timed out is a timeout")
	}
	if classify(fmt.Errorf("%w: %w", errMalformed, errors.New("http: message cannot contain multiple Content-Length headers"))) != failProtocol {
		t.Error("a head the tolerant parser passed but Go's refuses is malformed, not \"not HTTP\"")
	}
	var corrupt error = flate.CorruptInputError(3)
	if classify(corrupt) != failBadEncoding {
		t.Error("a corrupt deflate stream is a garbled page")
	}
}

func TestFTPReasons(t *testing.T) {
	t.Parallel()
	for _, code := range []int{421, 425, 426, 430, 450, 451, 452, 499, 500, 501, 502, 530, 550, 551, 553, 599} {
		r := ftpReason(code)
		if !strings.HasSuffix(r, fmt.Sprintf("(FTP %d)", code)) || r[0] < 'A' || r[0] > 'Z' {
			t.Errorf("ftpReason(%d) = %q", code, r)
		}
	}
}

func TestPlainDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{30 * time.Second: "30 s", 1500 * time.Millisecond: "1.5 s", 2 * time.Minute: "2 min", 300 * time.Millisecond: "300 ms", 90 * time.Second: "90 s"} {
		if got := plainDuration(d); got != want {
			t.Errorf("plainDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
