package lms

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// TLS like a browser. Go verifies a server's chain with the certificates
// the server sends, and many servers omit their intermediate certificate;
// browsers (Chrome on every platform) then fetch the missing issuer from
// the address the certificate names in its Authority Information Access
// extension. The checker does the same: it verifies the chain itself (in
// tls.Config.VerifyConnection, host name included), and on an unknown
// authority fetches the issuers over plain HTTP through the same address
// guard, at most 64 KiB each, caching what it fetched. Self-signed,
// expired, wrong-name and unknown-root certificates stay failures.

// Limits of the AIA fetcher.
const (
	maxAIABytes   = 64 << 10
	maxAIAEntries = 512
	maxAIADepth   = 4 // intermediates fetched for one chain
	aiaGoodFor    = 24 * time.Hour
	aiaBadFor     = 10 * time.Minute
)

// dialTLS dials addr and runs the TLS handshake, offering protos by ALPN.
func (c *httpChecker) dialTLS(ctx context.Context, network, addr string, protos []string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	// The connect timeout bounds the connection and the handshake together.
	hctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	defer cancel()
	raw, err := c.dialContext(hctx, network, addr)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{}
	if c.cfg.TLSConfig != nil {
		cfg = c.cfg.TLSConfig.Clone()
	}
	if cfg.ServerName != "" {
		host = cfg.ServerName
	}
	cfg.ServerName = host
	cfg.NextProtos = protos
	if cfg.CipherSuites == nil {
		cfg.CipherSuites = browserCipherSuites()
	}
	if !cfg.InsecureSkipVerify {
		roots := cfg.RootCAs
		cfg.InsecureSkipVerify = true // verified below, like a browser
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			return c.verify(hctx, cs.PeerCertificates, host, roots)
		}
	}
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(hctx); err != nil {
		_ = raw.Close()
		if errors.Is(hctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			// The connect timeout ran out, not the check's time.
			return nil, fmt.Errorf("%w: %w", errTLSTimeout, err)
		}
		return nil, fmt.Errorf("%w: %w", errTLSHandshake, err)
	}
	return tc, nil
}

// verify verifies certs (leaf first) for host against roots (nil: the
// system's), fetching missing intermediates by AIA.
func (c *httpChecker) verify(ctx context.Context, certs []*x509.Certificate, host string, roots *x509.CertPool) error {
	if len(certs) == 0 {
		return errors.New("tls: the server sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, ic := range certs[1:] {
		inter.AddCert(ic)
	}
	opts := x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter}
	_, err := certs[0].Verify(opts)
	var unknown x509.UnknownAuthorityError
	if err == nil || !errors.As(err, &unknown) {
		return err
	}
	cur := certs[0]
	for range maxAIADepth {
		issuer := issuerIn(cur, certs[1:])
		if issuer == nil {
			if issuer = c.aia.issuer(ctx, cur); issuer == nil {
				break
			}
			inter.AddCert(issuer)
			if _, verr := certs[0].Verify(opts); verr == nil {
				return nil
			}
		}
		if bytes.Equal(issuer.RawIssuer, issuer.RawSubject) {
			break // a root the system does not trust
		}
		cur = issuer
	}
	return err
}

// issuerIn returns the certificate of pool that signed c, or nil.
func issuerIn(c *x509.Certificate, pool []*x509.Certificate) *x509.Certificate {
	for _, p := range pool {
		if bytes.Equal(p.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(p) == nil {
			return p
		}
	}
	return nil
}

// aiaCache fetches and caches issuer certificates named by AIA. It is
// safe for concurrent use; one URL is fetched by one check at a time.
type aiaCache struct {
	client *http.Client
	mu     sync.Mutex
	m      map[string]*aiaEntry
}

type aiaEntry struct {
	ready chan struct{} // closed once cert and until are set
	cert  *x509.Certificate
	until time.Time
}

func newAIACache(cfg CheckerConfig, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *aiaCache {
	return &aiaCache{
		m: make(map[string]*aiaEntry),
		client: &http.Client{
			Transport: &http.Transport{
				DialContext:            dial,
				DisableKeepAlives:      true,
				MaxResponseHeaderBytes: 16 << 10,
				ResponseHeaderTimeout:  cfg.ConnectTimeout,
			},
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) >= 2 || req.URL.Scheme != "http" {
					return errors.New("AIA: no more than two plain-HTTP redirects")
				}
				return nil
			},
		},
	}
}

// issuer returns the verified issuer of c fetched from its AIA URLs, or nil.
func (a *aiaCache) issuer(ctx context.Context, c *x509.Certificate) *x509.Certificate {
	for _, u := range c.IssuingCertificateURL {
		if !strings.HasPrefix(strings.ToLower(u), "http://") {
			continue // like Chrome: plain HTTP only, no TLS inside the handshake
		}
		if ic := a.get(ctx, u); ic != nil && c.CheckSignatureFrom(ic) == nil {
			return ic
		}
	}
	return nil
}

// get returns the certificate at u, from the cache or fetched.
func (a *aiaCache) get(ctx context.Context, u string) *x509.Certificate {
	for {
		a.mu.Lock()
		e := a.m[u]
		if e == nil {
			e = &aiaEntry{ready: make(chan struct{})}
			a.evict(time.Now())
			a.m[u] = e
			a.mu.Unlock()
			cert, err := a.fetch(ctx, u)
			a.mu.Lock()
			e.cert, e.until = cert, time.Now().Add(aiaGoodFor)
			switch {
			case err != nil && ctx.Err() != nil:
				// This check gave up; that says nothing of the URL.
				e.until = time.Time{}
				if a.m[u] == e {
					delete(a.m, u)
				}
			case err != nil:
				e.until = time.Now().Add(aiaBadFor)
			}
			a.mu.Unlock()
			close(e.ready)
			return cert
		}
		a.mu.Unlock()
		select {
		case <-e.ready:
		case <-ctx.Done():
			return nil
		}
		a.mu.Lock()
		expired := time.Now().After(e.until)
		if expired && a.m[u] == e {
			delete(a.m, u)
		}
		a.mu.Unlock()
		if !expired {
			return e.cert
		}
	}
}

// evict makes room for one entry: expired ones first, else any. Called
// with a.mu held.
func (a *aiaCache) evict(now time.Time) {
	if len(a.m) < maxAIAEntries {
		return
	}
	for u, e := range a.m {
		select {
		case <-e.ready:
			if now.After(e.until) {
				delete(a.m, u)
			}
		default:
		}
	}
	for u, e := range a.m {
		if len(a.m) < maxAIAEntries {
			return
		}
		select {
		case <-e.ready:
			delete(a.m, u)
		default:
		}
	}
}

func (a *aiaCache) fetch(ctx context.Context, u string) (*x509.Certificate, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", DefaultUserAgent)
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("AIA %s: status %d", u, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAIABytes))
	if err != nil {
		return nil, err
	}
	if blk, _ := pem.Decode(b); blk != nil && blk.Type == "CERTIFICATE" {
		b = blk.Bytes
	}
	return x509.ParseCertificate(b)
}

// browserCipherSuites returns the TLS 1.2 cipher suites browsers offer: Go's
// secure ones and the RSA key exchanges that Chrome and Firefox still
// accept (old IIS servers and load balancers offer nothing else) but Go
// no longer offers by default. A link checker reads public pages; what a
// browser opens must not be reported broken.
func browserCipherSuites() []uint16 {
	var ids []uint16
	for _, cs := range tls.CipherSuites() {
		ids = append(ids, cs.ID)
	}
	return append(ids,
		tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_256_CBC_SHA)
}
