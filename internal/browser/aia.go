package browser

import (
	"context"
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

// Limits of the AIA fetcher.
const (
	maxAIABytes   = 64 << 10
	maxAIAEntries = 512
	maxAIADepth   = 4 // intermediates fetched for one chain
	aiaGoodFor    = 24 * time.Hour
	aiaBadFor     = 10 * time.Minute
)

// aiaCache fetches and caches issuer certificates named by AIA. It is
// safe for concurrent use; one URL is fetched by one check at a time.
type aiaCache struct {
	client    *http.Client
	userAgent string
	mu        sync.Mutex
	m         map[string]*aiaEntry
}

type aiaEntry struct {
	ready chan struct{} // closed once cert and until are set
	cert  *x509.Certificate
	until time.Time
}

func newAIACache(dial func(ctx context.Context, network, addr string) (net.Conn, error), headTimeout time.Duration, userAgent string) *aiaCache {
	return &aiaCache{
		m:         make(map[string]*aiaEntry),
		userAgent: userAgent,
		client: &http.Client{
			Transport: &http.Transport{
				DialContext:            dial,
				DisableKeepAlives:      true,
				MaxResponseHeaderBytes: 16 << 10,
				ResponseHeaderTimeout:  headTimeout,
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
	req.Header.Set("User-Agent", a.userAgent)
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
