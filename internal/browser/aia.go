package browser

import (
	"context"
	"crypto/sha256"
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
	// MaxAIAPerCert is the most AIA requests made for one certificate,
	// Chromium's bound (kMaxFetchesPerCert): a certificate that lists
	// 1,400 "CA Issuers" addresses gets 5 of them asked.
	MaxAIAPerCert = 5
	maxAIABytes   = 64 << 10 // one issuer certificate, on the wire
	maxAIAEntries = 512      // cached addresses and certificates
	maxAIADepth   = 4        // intermediates fetched for one chain
	maxAIAHops    = 2        // plain-HTTP redirects of one fetch
	aiaGoodFor    = 24 * time.Hour
	aiaBadFor     = 10 * time.Minute
)

// errAIANotMade means a fetch was not made: the visit or the certificate
// had no AIA fetch (or the visit no byte) left, or the host's turn did not
// come. It says nothing of the address, and is not cached as its failure.
var errAIANotMade = errors.New("AIA fetch not made")

// aiaCache fetches issuer certificates named by AIA and caches what it
// learnt, per address and per certificate, failures included, so that a
// hostile certificate cannot make lms fetch again at every handshake. Every
// request is paced by the visit's PaceFunc as a request to its host, and
// counted against the visit's wire and AIA budgets. It is safe for
// concurrent use; one key is worked on by one check at a time.
type aiaCache struct {
	client    *http.Client
	userAgent string
	mu        sync.Mutex
	m         map[string]*aiaEntry // "u "+address or "c "+certificate hash
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
				DisableCompression:     true, // the wire cap is the certificate's cap
				MaxResponseHeaderBytes: 16 << 10,
				ResponseHeaderTimeout:  headTimeout,
			},
			// Redirects are followed by fetch, each hop paced and counted.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// issuer returns the verified issuer of c fetched from its AIA addresses,
// or nil. What it finds (or that it found nothing) is cached for c.
func (a *aiaCache) issuer(ctx context.Context, c *x509.Certificate) *x509.Certificate {
	sum := sha256.Sum256(c.Raw)
	ic, _ := a.get(ctx, "c "+string(sum[:]), func() (*x509.Certificate, error) { return a.find(ctx, c) })
	return ic
}

// find asks c's plain-HTTP AIA addresses in turn, at most MaxAIAPerCert
// requests in all, for a certificate that signed c.
func (a *aiaCache) find(ctx context.Context, c *x509.Certificate) (*x509.Certificate, error) {
	left := MaxAIAPerCert
	for _, u := range c.IssuingCertificateURL {
		if !strings.HasPrefix(strings.ToLower(u), "http://") {
			continue // like Chrome: plain HTTP only, no TLS inside the handshake
		}
		if left <= 0 {
			break
		}
		ic, err := a.get(ctx, "u "+u, func() (*x509.Certificate, error) { return a.fetch(ctx, u, &left) })
		if err != nil && (errors.Is(err, errAIANotMade) || ctx.Err() != nil) {
			return nil, err // not c's failure: not cached for c
		}
		if ic != nil && c.CheckSignatureFrom(ic) == nil {
			return ic, nil
		}
	}
	return nil, fmt.Errorf("AIA: no issuer found for %q", c.Subject)
}

// get returns the certificate under key, from the cache or made by fn. A
// failure of fn is cached for aiaBadFor, unless it is ctx's end or a
// budget's (which say nothing of key).
func (a *aiaCache) get(ctx context.Context, key string, fn func() (*x509.Certificate, error)) (*x509.Certificate, error) {
	for {
		a.mu.Lock()
		e := a.m[key]
		if e == nil {
			e = &aiaEntry{ready: make(chan struct{})}
			a.evict(time.Now())
			a.m[key] = e
			a.mu.Unlock()
			cert, err := fn()
			a.mu.Lock()
			e.cert, e.until = cert, time.Now().Add(aiaGoodFor)
			switch {
			case err != nil && (ctx.Err() != nil || errors.Is(err, errAIANotMade)):
				e.until = time.Time{}
				if a.m[key] == e {
					delete(a.m, key)
				}
			case err != nil:
				e.until = time.Now().Add(aiaBadFor)
			}
			a.mu.Unlock()
			close(e.ready)
			return cert, err
		}
		a.mu.Unlock()
		select {
		case <-e.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		a.mu.Lock()
		expired := time.Now().After(e.until)
		if expired && a.m[key] == e {
			delete(a.m, key)
		}
		a.mu.Unlock()
		if !expired {
			return e.cert, nil
		}
	}
}

// evict makes room for one entry: expired ones first, else any. Called
// with a.mu held.
func (a *aiaCache) evict(now time.Time) {
	if len(a.m) < maxAIAEntries {
		return
	}
	for k, e := range a.m {
		select {
		case <-e.ready:
			if now.After(e.until) {
				delete(a.m, k)
			}
		default:
		}
	}
	for k, e := range a.m {
		if len(a.m) < maxAIAEntries {
			return
		}
		select {
		case <-e.ready:
			delete(a.m, k)
		default:
		}
	}
}

// fetch gets the certificate at u, following at most maxAIAHops plain-HTTP
// redirects. Every request takes one of the certificate's (*left) and one
// of the visit's AIA fetches, waits for its host's turn and reads at most
// maxAIABytes on the wire, counted against the visit.
func (a *aiaCache) fetch(ctx context.Context, u string, left *int) (*x509.Certificate, error) {
	v := VisitFrom(ctx)
	for hop := 0; ; hop++ {
		if *left <= 0 || !v.takeAIA() {
			return nil, fmt.Errorf("%w: no fetch left", errAIANotMade)
		}
		*left--
		b, next, err := a.request(ctx, v, u)
		switch {
		case err != nil:
			return nil, err
		case next == "":
			if blk, _ := pem.Decode(b); blk != nil && blk.Type == "CERTIFICATE" {
				b = blk.Bytes
			}
			return x509.ParseCertificate(b)
		case hop >= maxAIAHops || !strings.HasPrefix(strings.ToLower(next), "http://"):
			return nil, fmt.Errorf("AIA %s: no more than %d plain-HTTP redirects", u, maxAIAHops)
		}
		u = next
	}
}

// request makes one paced request for u and returns its body (at most
// maxAIABytes) or, for a redirect, where it leads.
func (a *aiaCache) request(ctx context.Context, v *Visit, u string) (body []byte, next string, err error) {
	done, err := v.waitFor(ctx, u)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", errAIANotMade, err)
	}
	defer done()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("User-Agent", a.userAgent)
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if RedirectCode(resp.StatusCode) {
		loc, err := resp.Location()
		if err != nil {
			return nil, "", fmt.Errorf("AIA %s: %w", u, err)
		}
		return nil, loc.String(), nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("AIA %s: status %d", u, resp.StatusCode)
	}
	b, err := io.ReadAll(v.wireReader(resp.Body, maxAIABytes))
	switch {
	case errors.Is(err, ErrTooMuchData) && v.WireLeft() == 0:
		err = fmt.Errorf("AIA %s: the visit read all it may: %w", u, errAIANotMade)
	case errors.Is(err, ErrTooMuchData):
		err = fmt.Errorf("AIA %s: more than %d bytes: %w", u, maxAIABytes, err)
	}
	return b, "", err
}
