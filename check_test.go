package lms_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
)

// private is the checker configuration of tests: loopback targets allowed.
func private() lms.CheckerConfig {
	return lms.CheckerConfig{AllowPrivate: true, Timeout: 5 * time.Second, ConnectTimeout: 2 * time.Second}
}

func check(t *testing.T, cfg lms.CheckerConfig, u string) lms.Result {
	t.Helper()
	return lms.NewDefaultChecker(cfg).Check(context.Background(), u)
}

func TestHTTPStatusMapping(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		w.WriteHeader(code)
	}))
	defer srv.Close()
	cases := []struct {
		code  int
		state lms.State
	}{
		{200, lms.StateOK}, {204, lms.StateOK}, {304, lms.StateOK}, {401, lms.StateOK},
		{500, lms.StateTemporary}, {503, lms.StateTemporary}, {504, lms.StateTemporary}, {429, lms.StateTemporary},
		// 502 and other 5xx may pass as well (a deploy, an overloaded proxy):
		// the policy confirms them before a link turns red.
		{502, lms.StateTemporary}, {599, lms.StateTemporary}, {408, lms.StateTemporary},
		{400, lms.StateUnavailable}, {403, lms.StateUnavailable}, {404, lms.StateUnavailable}, {410, lms.StateUnavailable},
		{501, lms.StateUnavailable}, {505, lms.StateUnavailable},
		// A non-standard code that stays for the browser-like retry is a
		// wall, not a broken link (999 is LinkedIn's).
		{999, lms.StateTemporary},
		// Beyond 599: like an unknown server error.
		{600, lms.StateTemporary},
	}
	for _, tc := range cases {
		r := check(t, private(), fmt.Sprintf("%s/%d", srv.URL, tc.code))
		require.Equal(t, tc.state, r.State, "status %d", tc.code)
		require.Equal(t, tc.code, r.Code)
		require.NotEmpty(t, r.Reason)
		if text := http.StatusText(tc.code); text != "" {
			require.Equal(t, text, r.Reason)
		}
	}
}

func TestHTTPUsesGETAndUserAgent(t *testing.T) {
	t.Parallel()
	got := make(chan *http.Request, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r
		_, _ = w.Write([]byte(strings.Repeat("body ", 100000)))
	}))
	defer srv.Close()
	cfg := private()
	cfg.UserAgent = "TestBot/1"
	r := check(t, cfg, srv.URL+"/page")
	require.Equal(t, lms.StateOK, r.State)
	req := <-got
	require.Equal(t, http.MethodGet, req.Method)
	require.Equal(t, "TestBot/1", req.UserAgent())
	require.Positive(t, r.ResponseTime)
}

func TestHTTPRedirects(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/a", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/b", http.StatusMovedPermanently) })
	mux.HandleFunc("/p1", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/p2", http.StatusMovedPermanently) })
	mux.HandleFunc("/p2", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/c", http.StatusPermanentRedirect) })
	mux.HandleFunc("/b", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/c", http.StatusFound) })
	mux.HandleFunc("/c", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/temp", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/c", http.StatusTemporaryRedirect) })
	mux.HandleFunc("/loop1", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop2", http.StatusFound) })
	mux.HandleFunc("/loop2", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop1", http.StatusFound) })
	mux.HandleFunc("/chain/", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/chain/"))
		http.Redirect(w, r, fmt.Sprintf("/chain/%d", n+1), http.StatusFound)
	})
	mux.HandleFunc("/gone", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/missing", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/tomail", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "mailto:x@example.org", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// final_url is where the reader ends up after any redirects; only a
	// chain of permanent hops is a permanent redirect (the new address to
	// suggest): a 301 followed by a 302 (to a session URL, say) is not.
	r := check(t, private(), srv.URL+"/a")
	require.Equal(t, lms.StateOK, r.State)
	require.Equal(t, srv.URL+"/c", r.FinalURL)
	require.False(t, r.Permanent)
	require.Equal(t, 200, r.Code)

	r = check(t, private(), srv.URL+"/p1")
	require.Equal(t, lms.StateOK, r.State)
	require.Equal(t, srv.URL+"/c", r.FinalURL)
	require.True(t, r.Permanent)
	require.Equal(t, 200, r.Code)

	r = check(t, private(), srv.URL+"/temp")
	require.Equal(t, lms.StateOK, r.State)
	require.False(t, r.Permanent)
	require.Equal(t, srv.URL+"/c", r.FinalURL, "a temporary redirect has a final URL too")

	r = check(t, private(), srv.URL+"/c")
	require.Empty(t, r.FinalURL, "no redirect, no final URL")

	r = check(t, private(), srv.URL+"/loop1")
	require.Equal(t, lms.StateUnavailable, r.State)
	require.Equal(t, "The link redirects in a loop", r.Reason)

	r = check(t, private(), srv.URL+"/chain/0")
	require.Equal(t, lms.StateUnavailable, r.State)
	require.Equal(t, "The link redirects more than 20 times", r.Reason)

	r = check(t, private(), srv.URL+"/gone")
	require.Equal(t, lms.StateUnavailable, r.State)
	require.Equal(t, 404, r.Code)
	require.True(t, r.Permanent)
	require.Equal(t, srv.URL+"/missing", r.FinalURL)

	// A redirect to mailto: hands the reader to an e-mail program: never red.
	r = check(t, private(), srv.URL+"/tomail")
	require.Equal(t, lms.StateOK, r.State, r.Reason)
	require.Equal(t, "mailto:x@example.org", r.FinalURL)
}

func TestHTTPTimeouts(t *testing.T) {
	// Not parallel: its sub-second timeouts are measured in real time.
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	cfg := private()
	cfg.Timeout = 300 * time.Millisecond
	start := time.Now()
	r := check(t, cfg, srv.URL+"/slow")
	require.Less(t, time.Since(start), 3*time.Second, "a slow server must not hang the check")
	require.Equal(t, lms.StateTemporary, r.State)
	require.Equal(t, "The page took longer than 300 ms", r.Reason)
}

func TestHTTPRetryAfter(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	r := check(t, private(), srv.URL)
	require.Equal(t, lms.StateTemporary, r.State)
	require.Equal(t, 2*time.Minute, r.RetryAfter)
}

// certFor returns a certificate for hosts signed by ca (or self-signed if
// ca is nil), valid from notBefore to notAfter.
func certFor(t *testing.T, ca *tls.Certificate, hosts []string, ips []net.IP, notBefore, notAfter time.Time, isCA bool) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "lms test"},
		NotBefore: notBefore, NotAfter: notAfter, DNSNames: hosts, IPAddresses: ips,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: isCA,
	}
	parent, signer := tmpl, any(key)
	if ca != nil {
		parent = ca.Leaf
		signer = ca.PrivateKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func tlsServer(t *testing.T, cert tls.Certificate) *httptest.Server {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTPSFailures(t *testing.T) {
	t.Parallel()
	now := time.Now()
	ca := certFor(t, nil, nil, nil, now.Add(-time.Hour), now.Add(time.Hour), true)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Leaf)
	cfg := private()
	cfg.TLSConfig = &tls.Config{RootCAs: pool}
	loop := []net.IP{net.ParseIP("127.0.0.1")}

	good := tlsServer(t, certFor(t, &ca, nil, loop, now.Add(-time.Hour), now.Add(time.Hour), false))
	r := check(t, cfg, good.URL)
	require.Equal(t, lms.StateOK, r.State, r.Reason)

	expired := tlsServer(t, certFor(t, &ca, nil, loop, now.Add(-48*time.Hour), now.Add(-24*time.Hour), false))
	r = check(t, cfg, expired.URL)
	require.Equal(t, lms.StateUnavailable, r.State)
	require.Contains(t, r.Reason, "expired")

	wrongHost := tlsServer(t, certFor(t, &ca, []string{"other.example"}, nil, now.Add(-time.Hour), now.Add(time.Hour), false))
	r = check(t, cfg, wrongHost.URL)
	require.Equal(t, lms.StateUnavailable, r.State)
	require.Contains(t, r.Reason, "different site")

	self := tlsServer(t, certFor(t, nil, nil, loop, now.Add(-time.Hour), now.Add(time.Hour), false))
	r = check(t, cfg, self.URL)
	require.Equal(t, lms.StateUnavailable, r.State)
	require.Contains(t, r.Reason, "not trusted")

	plain := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer plain.Close()
	r = check(t, cfg, strings.Replace(plain.URL, "http:", "https:", 1))
	require.Equal(t, lms.StateUnavailable, r.State)
}

func TestPolicyRefusesPrivateAddresses(t *testing.T) {
	t.Parallel()
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer target.Close()
	r := check(t, lms.CheckerConfig{}, target.URL)
	require.Equal(t, lms.StateUnsupported, r.State)
	require.Equal(t, lms.ReasonPolicy, r.Reason)

	// An allowed intranet host redirecting to a forbidden one: the hop is refused.
	l, err := net.Listen("tcp", "127.0.0.2:0")
	require.NoError(t, err)
	hop := &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/secret", http.StatusFound)
	})}}
	hop.Start()
	defer hop.Close()
	cfg := lms.CheckerConfig{AllowedPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}}
	r = check(t, cfg, hop.URL+"/")
	require.Equal(t, lms.StateUnsupported, r.State)
	require.Equal(t, lms.ReasonPolicy, r.Reason)

	r = check(t, lms.CheckerConfig{}, "ftp://127.0.0.1:1/file")
	require.Equal(t, lms.StateUnsupported, r.State)
}

// rawServer accepts TCP connections and hands each to fn.
func rawServer(t *testing.T, fn func(net.Conn)) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				fn(c)
			}()
		}
	}()
	return l.Addr().String()
}

func TestHTTPBadInput(t *testing.T) {
	// Not parallel: its sub-second timeouts are measured in real time.
	garbage := rawServer(t, func(c net.Conn) { _, _ = c.Write([]byte("SSH-2.0-OpenSSH\r\n\r\n")) })
	done := make(chan struct{}) // silent holds its connections until the test ends
	silent := rawServer(t, func(c net.Conn) { <-done })
	t.Cleanup(func() { close(done) })
	hugeHeader := rawServer(t, func(c net.Conn) {
		readRequest(c)
		_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 1<<20) + "\r\n\r\n"))
	})
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refusedAddr := closed.Addr().String()
	closed.Close()

	cfg := private()
	cfg.Timeout = 500 * time.Millisecond // the silent server's check ends by it
	// The other checks end on their own; under -race on a loaded machine
	// their work (a 256 KiB head, the tolerant parser's retry) gets more
	// time, and they are still held to 3 s.
	roomy := cfg
	roomy.Timeout = 2500 * time.Millisecond
	cases := map[string]lms.State{
		"http://[::1":                     lms.StateUnavailable,
		"http://127.0.0.1:99999/":         lms.StateUnavailable,
		"http:///nohost":                  lms.StateUnavailable,
		"http://" + garbage + "/":         lms.StateUnavailable,
		"http://" + silent + "/":          lms.StateTemporary,
		"http://" + hugeHeader + "/":      lms.StateUnavailable,
		"http://" + refusedAddr + "/":     lms.StateTemporary, // temporary by nature: a server restarting
		"http://no-such-host.invalid/":    lms.StateUnavailable,
		"gopher://example.org/":           lms.StateUnsupported,
		"javascript:void(0)":              lms.StateUnsupported,
		"HTTP://" + refusedAddr + "/Case": lms.StateTemporary,
	}
	for u, want := range cases {
		c := roomy
		if u == "http://"+silent+"/" {
			c = cfg
		}
		start := time.Now()
		r := check(t, c, u)
		require.Equal(t, want, r.State, "%s: %s", u, r.Reason)
		require.NotEmpty(t, r.Reason, u)
		require.Less(t, time.Since(start), 3*time.Second, u)
	}
	r := check(t, cfg, "http://"+refusedAddr+"/")
	require.Equal(t, "The server refused the connection", r.Reason)
	require.True(t, r.NetworkError)
	r = check(t, cfg, "gopher://example.org/")
	require.Equal(t, lms.ReasonNoHandler, r.Reason)
}

func TestMailto(t *testing.T) {
	t.Parallel()
	cases := map[string]lms.State{
		"mailto:someone@example.org":                       lms.StateOK,
		"MAILTO:Some.One+tag@sub.example.org":              lms.StateOK,
		"mailto:a@example.org,b@example.org?subject=x":     lms.StateOK,
		"mailto:%22Jane%20Doe%22%20%3Cjane@example.org%3E": lms.StateOK,
		"mailto:":                          lms.StateUnavailable,
		"mailto:nobody":                    lms.StateUnavailable,
		"mailto:a@":                        lms.StateUnavailable,
		"mailto:a@b..c":                    lms.StateUnavailable,
		"mailto:a@example.org,not an addr": lms.StateUnavailable,
		"mailto:%zz":                       lms.StateUnavailable,
		// RFC 6068 §2: the address in the "to" field; the mail program
		// opens with the recipient filled in.
		"mailto:?to=joe@example.com":            lms.StateOK,
		"mailto:?to=joe@example.com&subject=hi": lms.StateOK,
		"mailto:jos%C3%A9@example.org":          lms.StateOK,
		"mailto:joe@example.org?cc=bob@example": lms.StateOK,
		"mailto:joe@example.org?body=a%20b":     lms.StateOK,
		"mailto:joe@@example.org":               lms.StateUnavailable,
		"mailto:joe example.org":                lms.StateUnavailable,
		"mailto:@example.org":                   lms.StateUnavailable,
	}
	for u, want := range cases {
		r := check(t, lms.CheckerConfig{}, u)
		require.Equal(t, want, r.State, u)
		if want == lms.StateUnavailable {
			require.Equal(t, "No valid email address", r.Reason)
		}
	}
}

func TestCheckerFuncAndMux(t *testing.T) {
	t.Parallel()
	m := lms.NewMux()
	m.Handle("X-Test", lms.CheckerFunc(func(ctx context.Context, u string) lms.Result {
		return lms.Result{State: lms.StateOK, Reason: "custom " + u}
	}))
	require.Equal(t, "custom x-test:1", m.Check(context.Background(), "x-test:1").Reason)
	require.Equal(t, lms.StateUnsupported, m.Check(context.Background(), "other:1").State)
	require.Equal(t, lms.StateUnsupported, m.Check(context.Background(), "no-scheme").State)
}

// Browsers read a host that ends in a number as an IPv4 address in any of
// its old forms (127.1, 0x7f.1, 2130706433) and ask for the dotted quad;
// they look up a name with a trailing dot (an absolute name). The address
// policy applies to the address so found.
func TestHostFormsLikeABrowser(t *testing.T) {
	t.Parallel()
	hosts := make(chan string, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts <- r.Host
		if r.URL.Path == "/hop" {
			http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
		}
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndexByte(srv.URL, ':')+1:]
	for form, host := range map[string]string{
		"127.1": "127.0.0.1", "0x7f.1": "127.0.0.1", "2130706433": "127.0.0.1", "0177.0.0.1": "127.0.0.1",
		"127.0.0.1.": "127.0.0.1", "localhost.": "localhost.",
	} {
		u := "http://" + form + ":" + port + "/"
		r := check(t, private(), u)
		require.Equal(t, lms.StateOK, r.State, "%s: %s (%s)", u, r.Reason, r.Detail)
		require.Equal(t, host+":"+port, <-hosts, u)

		r = check(t, lms.CheckerConfig{}, u)
		require.Equal(t, lms.StateUnsupported, r.State, "%s: %s (%s)", u, r.Reason, r.Detail)
		require.Equal(t, lms.ReasonPolicy, r.Reason, "%s: loopback, refused by policy", u)
	}

	// A redirect to such a host is followed the same way.
	r := check(t, private(), srv.URL+"/hop?to=http://0x7f.1:"+port+"/landing")
	require.Equal(t, lms.StateOK, r.State, "%s (%s)", r.Reason, r.Detail)
	require.Equal(t, "127.0.0.1:"+port, <-hosts)
	require.Equal(t, "127.0.0.1:"+port, <-hosts)
	l, err := net.Listen("tcp", "127.0.0.2:0")
	require.NoError(t, err)
	hop := &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://127.1:"+port+"/secret", http.StatusFound)
	})}}
	hop.Start()
	defer hop.Close()
	r = check(t, lms.CheckerConfig{AllowedPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}}, hop.URL+"/")
	require.Equal(t, lms.StateUnsupported, r.State, "%s (%s)", r.Reason, r.Detail)
	require.Equal(t, lms.ReasonPolicy, r.Reason)

	// A host that ends in a number but is no IPv4 address is no valid
	// address for a browser either.
	for _, form := range []string{"127.0.0.256", "1.2.3.4.5", "4294967296", "example.123"} {
		r := check(t, private(), "http://"+form+"/")
		require.Equal(t, lms.StateUnavailable, r.State, form)
		require.Equal(t, "The link is not a valid address", r.Reason, form)
	}
	r = check(t, private(), srv.URL+"/hop?to=http://127.0.0.256/")
	require.Equal(t, lms.StateUnavailable, r.State)
	require.Equal(t, "The link redirects to an invalid address", r.Reason)
	<-hosts

	// HTTPS to an absolute name: the certificate of the name matches.
	now := time.Now()
	ca := certFor(t, nil, nil, nil, now.Add(-time.Hour), now.Add(time.Hour), true)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Leaf)
	cfg := private()
	cfg.TLSConfig = &tls.Config{RootCAs: pool}
	secure := tlsServer(t, certFor(t, &ca, []string{"localhost"}, nil, now.Add(-time.Hour), now.Add(time.Hour), false))
	sport := secure.URL[strings.LastIndexByte(secure.URL, ':')+1:]
	r = check(t, cfg, "https://localhost.:"+sport+"/")
	require.Equal(t, lms.StateOK, r.State, "%s (%s)", r.Reason, r.Detail)
}
