package lms_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
)

// testPKI is a root, an intermediate signed by it, and leaves signed by
// the intermediate.
type testPKI struct {
	root, inter tls.Certificate
	pool        *x509.CertPool
}

func issue(t *testing.T, parent *tls.Certificate, tmpl *x509.Certificate) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	p, signer := tmpl, any(key)
	if parent != nil {
		p, signer = parent.Leaf, parent.PrivateKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p, &key.PublicKey, signer)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// serialNumber returns a random certificate serial number.
func serialNumber(t *testing.T) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	require.NoError(t, err)
	return n
}

func newPKI(t *testing.T) *testPKI {
	now := time.Now()
	ca := func(name string) *x509.Certificate {
		return &x509.Certificate{SerialNumber: serialNumber(t), Subject: pkix.Name{CommonName: name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	}
	k := &testPKI{}
	k.root = issue(t, nil, ca("lms test root"))
	k.inter = issue(t, &k.root, ca("lms test intermediate"))
	k.pool = x509.NewCertPool()
	k.pool.AddCert(k.root.Leaf)
	return k
}

// leaf issues a certificate for 127.0.0.1 naming aia as its issuer's
// address.
func (k *testPKI) leaf(t *testing.T, aia string) tls.Certificate {
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: serialNumber(t), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("127.0.0.2")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if aia != "" {
		tmpl.IssuingCertificateURL = []string{aia}
	}
	return issue(t, &k.inter, tmpl)
}

func serveTLS(t *testing.T, l net.Listener, certs ...tls.Certificate) string {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	if l != nil {
		srv.Listener = l
	}
	srv.TLS = &tls.Config{Certificates: certs}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

// TLS like a browser: a missing intermediate named in the certificate's
// AIA extension is fetched (once) and the chain verified.
func TestTLSMissingIntermediate(t *testing.T) {
	t.Parallel()
	k := newPKI(t)
	var fetches atomic.Int32
	aia := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		if r.URL.Path != "/inter.crt" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-cert")
		_, _ = w.Write(k.inter.Leaf.Raw)
	}))
	defer aia.Close()
	cfg := private()
	cfg.TLSConfig = &tls.Config{RootCAs: k.pool}

	// Control: the full chain is ok without any fetch.
	full := k.leaf(t, "")
	full.Certificate = append(full.Certificate, k.inter.Leaf.Raw)
	r := check(t, cfg, serveTLS(t, nil, full))
	require.Equal(t, lms.StateOK, r.State, r.Reason)
	require.Zero(t, fetches.Load())

	// Only the leaf, with an AIA address: fetched, verified, cached.
	withAIA := serveTLS(t, nil, k.leaf(t, aia.URL+"/inter.crt"))
	checker := lms.NewDefaultChecker(cfg)
	for range 3 {
		r = checker.Check(t.Context(), withAIA)
		require.Equal(t, lms.StateOK, r.State, "%s (%s)", r.Reason, r.Detail)
	}
	require.EqualValues(t, 1, fetches.Load(), "the intermediate is fetched once and cached")

	// Only the leaf, no AIA: a browser refuses it too.
	r = check(t, cfg, serveTLS(t, nil, k.leaf(t, "")))
	require.Equal(t, lms.StateUnavailable, r.State)
	require.Equal(t, "The site's certificate is not trusted (unknown issuer)", r.Reason)

	// An AIA address that does not answer with the issuer.
	r = check(t, cfg, serveTLS(t, nil, k.leaf(t, aia.URL+"/missing.crt")))
	require.Equal(t, lms.StateUnavailable, r.State)
	require.Contains(t, r.Reason, "not trusted")

	// The AIA fetch goes through the address guard: a site on an allowed
	// intranet address cannot make lms fetch from a forbidden one.
	l, err := net.Listen("tcp", "127.0.0.2:0")
	require.NoError(t, err)
	site := serveTLS(t, l, k.leaf(t, aia.URL+"/inter.crt"))
	guarded := lms.CheckerConfig{AllowedPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}, TLSConfig: &tls.Config{RootCAs: k.pool}, Timeout: 5 * time.Second}
	before := fetches.Load()
	r = check(t, guarded, site)
	require.Equal(t, lms.StateUnavailable, r.State, r.Reason)
	require.Equal(t, before, fetches.Load(), "no fetch from a forbidden address")
}

// Certificates a browser refuses stay failures, in plain words.
func TestTLSRefusedLikeABrowser(t *testing.T) {
	t.Parallel()
	k := newPKI(t)
	cfg := private()
	cfg.TLSConfig = &tls.Config{RootCAs: k.pool}
	now := time.Now()
	leafTmpl := func(notBefore, notAfter time.Time, ips ...string) *x509.Certificate {
		c := &x509.Certificate{SerialNumber: serialNumber(t), Subject: pkix.Name{CommonName: "site"},
			NotBefore: notBefore, NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		for _, ip := range ips {
			c.IPAddresses = append(c.IPAddresses, net.ParseIP(ip))
		}
		return c
	}
	chain := func(c tls.Certificate) tls.Certificate {
		c.Certificate = append(c.Certificate, k.inter.Leaf.Raw)
		return c
	}
	otherRoot := newPKI(t)
	cases := []struct {
		name, reason string
		cert         tls.Certificate
	}{
		{"expired", "The site's certificate has expired", chain(issue(t, &k.inter, leafTmpl(now.Add(-48*time.Hour), now.Add(-24*time.Hour), "127.0.0.1")))},
		{"not yet valid", "The site's certificate is not valid yet", chain(issue(t, &k.inter, leafTmpl(now.Add(24*time.Hour), now.Add(48*time.Hour), "127.0.0.1")))},
		{"wrong name", "The site's certificate belongs to a different site", chain(issue(t, &k.inter, leafTmpl(now.Add(-time.Hour), now.Add(time.Hour), "10.1.2.3")))},
		{"self-signed", "The site's certificate is self-signed and not trusted by browsers", issue(t, nil, leafTmpl(now.Add(-time.Hour), now.Add(time.Hour), "127.0.0.1"))},
		{"unknown root", "The site's certificate is not trusted (unknown issuer)", func() tls.Certificate {
			c := issue(t, &otherRoot.inter, leafTmpl(now.Add(-time.Hour), now.Add(time.Hour), "127.0.0.1"))
			c.Certificate = append(c.Certificate, otherRoot.inter.Leaf.Raw, otherRoot.root.Leaf.Raw)
			return c
		}()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := check(t, cfg, serveTLS(t, nil, tc.cert))
			require.Equal(t, lms.StateUnavailable, r.State)
			require.Equal(t, lms.FailureDefinitive, r.Failure)
			require.Equal(t, tc.reason, r.Reason, r.Detail)
		})
	}
	// Plain HTTP on an https link.
	plain := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer plain.Close()
	r := check(t, cfg, strings.Replace(plain.URL, "http:", "https:", 1))
	require.Equal(t, lms.StateUnavailable, r.State)
	require.Equal(t, "The server does not offer a secure connection (HTTPS) at this address", r.Reason)
	// A server stuck on TLS 1.1: browsers refuse it.
	old := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	old.TLS = &tls.Config{Certificates: []tls.Certificate{chain(k.leaf(t, ""))}, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	old.Config.ErrorLog = log.New(io.Discard, "", 0)
	old.StartTLS()
	defer old.Close()
	r = check(t, cfg, old.URL)
	require.Equal(t, lms.StateUnavailable, r.State)
	require.Equal(t, "The secure connection to the server failed", r.Reason, r.Detail)
	// HTTP/2 is negotiated as before.
	h2 := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			w.WriteHeader(http.StatusHTTPVersionNotSupported)
		}
	}))
	h2.EnableHTTP2 = true
	h2.TLS = &tls.Config{Certificates: []tls.Certificate{chain(k.leaf(t, ""))}}
	h2.StartTLS()
	defer h2.Close()
	r = check(t, cfg, h2.URL)
	require.Equal(t, lms.StateOK, r.State, r.Reason)
}

// A server that accepts the connection but never answers the TLS
// handshake: the check gives up after the connect timeout and says that
// the secure connection was not set up in that time, not that the page
// took longer than the check's timeout.
func TestTLSHandshakeStall(t *testing.T) {
	// Not parallel: its sub-second timeouts are measured in real time.
	addr := rawServer(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }) // reads the ClientHello, says nothing
	cfg := private()
	cfg.ConnectTimeout = 300 * time.Millisecond
	cfg.Timeout = 5 * time.Second
	start := time.Now()
	r := check(t, cfg, "https://"+addr+"/")
	took := time.Since(start)
	require.Equal(t, lms.StateTemporary, r.State, "%s (%s)", r.Reason, r.Detail)
	require.Equal(t, lms.FailureTransient, r.Failure)
	require.Equal(t, "The secure connection (HTTPS) to the server was not set up within 300 ms", r.Reason)
	require.True(t, r.NetworkError, "a stalled handshake is below the protocol")
	require.Less(t, took, cfg.Timeout/2, "the connect timeout, not the check's, ends it")

	// When the check's own time runs out first, that is what it says.
	cfg.ConnectTimeout, cfg.Timeout = 5*time.Second, 300*time.Millisecond
	r = check(t, cfg, "https://"+addr+"/")
	require.Equal(t, lms.StateTemporary, r.State)
	require.Equal(t, "The page took longer than 300 ms", r.Reason)
}
