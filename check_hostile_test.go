package lms_test

// Hostile sites (issue 20, holes 1-3): compressed bodies that never yield a
// byte, certificates that name 1,400 AIA addresses on a third party's host,
// and cookies of 250 KB per redirect are all read, fetched and sent within
// fixed bounds.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/browser"
)

// emptyDeflate is a gzip header followed by 64 KiB of empty stored deflate
// blocks (BFINAL 0, BTYPE 00, LEN 0, NLEN 0xffff): sent in a loop, a body
// that decodes to nothing, for ever.
var emptyDeflate = func() (head, blocks []byte) {
	return []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, []byte(strings.Repeat("\x00\x00\x00\xff\xff", 64<<10/5))
}

// sendEmptyBlocks writes the gzip header and empty blocks to c until the
// peer goes away, and returns how many bytes it got out.
func sendEmptyBlocks(c net.Conn) int64 {
	head, blocks := emptyDeflate()
	if _, err := c.Write(head); err != nil {
		return 0
	}
	return int64(len(head)) + endless(c, blocks)
}

// The wire cap: with the default MaxBytes (1 MiB), a check reads at most
// 1.25 MiB of bodies on the wire; the server gets out what the kernel's
// buffers hold besides.
const wireBound = 16 << 20

// Hole 1: a page, a redirect's body and an AIA certificate made of empty
// deflate blocks are read within the wire cap, and the check ends at once
// instead of decoding until its timeout.
func TestEmptyDeflateBlocks(t *testing.T) {
	t.Parallel()
	cfg := private()
	cfg.Timeout = 10 * time.Second
	checker := lms.NewDefaultChecker(cfg)
	// sent gets what each hostile answer got out, once the check has
	// closed its connection.
	sent := make(chan int64, 1)
	run := func(t *testing.T, u string) lms.Result {
		t.Helper()
		start := time.Now()
		r := checker.Check(t.Context(), u)
		took := time.Since(start)
		n := <-sent
		t.Logf("%s in %v, the server sent %.1f MiB", r.Reason, took.Round(time.Millisecond), float64(n)/(1<<20))
		require.Less(t, took, cfg.Timeout/2, "the check stops when it has read its wire budget")
		require.Less(t, n, int64(wireBound))
		return r
	}

	t.Run("page", func(t *testing.T) {
		addr := rawServer(t, func(c net.Conn) {
			readRequest(c)
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n\r\n"))
			sent <- sendEmptyBlocks(c)
		})
		r := run(t, "http://"+addr+"/")
		require.Equal(t, lms.StateUnavailable, r.State, r.Reason)
		require.Equal(t, "The server sent far more data than a valid answer has", r.Reason)
	})

	t.Run("redirect body", func(t *testing.T) {
		addr := rawServer(t, func(c net.Conn) {
			if req := readRequest(c); req != nil && req.URL.Path == "/ok" {
				_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
				return
			}
			_, _ = c.Write([]byte("HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Encoding: gzip\r\n\r\n"))
			sent <- sendEmptyBlocks(c)
		})
		r := run(t, "http://"+addr+"/")
		require.Equal(t, lms.StateOK, r.State, r.Reason)
	})

	t.Run("AIA certificate", func(t *testing.T) {
		k := newPKI(t)
		aia := rawServer(t, func(c net.Conn) {
			readRequest(c)
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/pkix-cert\r\nContent-Encoding: gzip\r\n\r\n"))
			sent <- sendEmptyBlocks(c)
		})
		cfg := cfg
		cfg.TLSConfig = &tls.Config{RootCAs: k.pool}
		checker = lms.NewDefaultChecker(cfg)
		r := run(t, serveTLS(t, nil, k.leaf(t, "http://"+aia+"/inter.crt")))
		require.Equal(t, lms.StateUnavailable, r.State, r.Reason)
		require.Contains(t, r.Reason, "not trusted")
	})
}

// intervalPacer is a Pacer as its contract says: a request to a host
// starts only once the previous one was answered and the interval has
// passed since.
type intervalPacer struct {
	interval time.Duration
	mu       sync.Mutex
	next     map[string]time.Time
	busy     map[string]chan struct{} // closed when the host's request is answered
}

func newIntervalPacer(interval time.Duration) *intervalPacer {
	return &intervalPacer{interval: interval, next: map[string]time.Time{}, busy: map[string]chan struct{}{}}
}

func (p *intervalPacer) Wait(ctx context.Context, host string) error {
	for {
		p.mu.Lock()
		answered, at := p.busy[host], p.next[host]
		if answered == nil && !time.Now().Before(at) {
			p.busy[host] = make(chan struct{})
			p.mu.Unlock()
			return nil
		}
		p.mu.Unlock()
		if answered == nil {
			t := time.NewTimer(time.Until(at))
			answered = make(chan struct{})
			go func() { <-t.C; close(answered) }()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-answered:
		}
	}
}

func (p *intervalPacer) Done(host string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ch := p.busy[host]; ch != nil {
		close(ch)
		delete(p.busy, host)
	}
	p.next[host] = time.Now().Add(p.interval)
}

// Hole 2: a certificate that names 1,400 "CA Issuers" addresses on a third
// party's host makes lms send that host at most 5 requests, spaced by the
// host interval, and none again at the next handshake; a fresh certificate
// naming fresh addresses gets 5 more, never a flood.
func TestAIAFetchesAreBoundedAndPaced(t *testing.T) {
	t.Parallel()
	k := newPKI(t)
	var (
		mu       sync.Mutex
		arrivals []time.Time
	)
	third, err := net.Listen("tcp", "127.0.0.3:0")
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
		http.NotFound(w, r)
	}))
	srv.Listener = third
	srv.Start()
	t.Cleanup(srv.Close)
	requests := func() []time.Time {
		mu.Lock()
		defer mu.Unlock()
		return append([]time.Time(nil), arrivals...)
	}
	leaf := func(prefix string) tls.Certificate {
		var urls []string
		for i := range 1400 {
			urls = append(urls, fmt.Sprintf("%s/%s/%d.crt", srv.URL, prefix, i))
		}
		return k.leafAIA(t, urls...)
	}
	const interval = 50 * time.Millisecond
	cfg := private()
	cfg.TLSConfig = &tls.Config{RootCAs: k.pool}
	checker := lms.NewDefaultChecker(cfg)
	pacer := newIntervalPacer(interval)
	ctx := lms.ContextWithPacer(t.Context(), pacer)

	site := serveTLS(t, nil, leaf("a"))
	r := checker.Check(ctx, site)
	require.Equal(t, lms.StateUnavailable, r.State, r.Reason)
	require.Contains(t, r.Reason, "not trusted")
	got := requests()
	require.Len(t, got, 5, "at most 5 fetches per certificate")
	for i := 1; i < len(got); i++ {
		require.GreaterOrEqual(t, got[i].Sub(got[i-1]), interval, "fetch %d follows the previous within the host interval", i)
	}

	// The next handshakes (the same site, and another serving the same
	// certificate's addresses) fetch nothing: failures are cached.
	for range 3 {
		r = checker.Check(ctx, site)
		require.Contains(t, r.Reason, "not trusted")
	}
	require.Len(t, requests(), 5, "no refetch on the next handshakes")

	// Ten links serving fresh certificates, checked at once with time
	// enough for every fetch: at most 5 fetches each, every one sent the
	// host interval after the previous was answered.
	roomy := cfg
	roomy.ConnectTimeout, roomy.Timeout = 20*time.Second, 30*time.Second
	checker = lms.NewDefaultChecker(roomy)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range 10 {
		site := serveTLS(t, nil, leaf("fresh"+strconv.Itoa(i)))
		wg.Go(func() {
			if r := checker.Check(ctx, site); !strings.Contains(r.Reason, "not trusted") {
				t.Errorf("fresh certificate %d: %s (%s)", i, r.Reason, r.Detail)
			}
		})
	}
	wg.Wait()
	got = requests()[5:]
	require.Len(t, got, 10*5)
	for i := 1; i < len(got); i++ {
		require.GreaterOrEqual(t, got[i].Sub(got[i-1]), interval, "request %d to the third party", i)
	}
	t.Logf("%d requests to the third party in %v from 10 fresh certificates of 1,400 addresses", len(got), time.Since(start).Round(time.Millisecond))
}

// leafAIA issues a certificate for 127.0.0.1 naming urls as its issuer's
// addresses.
func (k *testPKI) leafAIA(t *testing.T, urls ...string) tls.Certificate {
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: serialNumber(t), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IssuingCertificateURL: urls}
	return issue(t, &k.inter, tmpl)
}

// Hole 3: a redirect loop that sets a 250 KB cookie at every hop (and one
// that sets fifty 4 KB cookies) never makes lms send a Cookie header
// larger than a browser's jar holds for one host.
func TestCookiesAreBounded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		cookies func(hop int) string
		most    int
	}{
		{"a 250 KB cookie per hop", func(hop int) string {
			return fmt.Sprintf("Set-Cookie: c%d=%s; Path=/\r\n", hop, strings.Repeat("v", 250_000))
		}, 0},
		{"fifty 4 KB cookies per hop", func(hop int) string {
			var b strings.Builder
			for i := range 50 {
				fmt.Fprintf(&b, "Set-Cookie: c%d_%d=%s; Path=/\r\n", hop, i, strings.Repeat("v", 4000))
			}
			return b.String()
		}, browser.MaxCookieHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var (
				mu      sync.Mutex
				largest int
				hops    int
			)
			addr := rawServer(t, func(c net.Conn) {
				req := readRequest(c)
				if req == nil {
					return
				}
				n, _ := strconv.Atoi(strings.TrimPrefix(req.URL.Path, "/"))
				mu.Lock()
				largest, hops = max(largest, len(req.Header.Get("Cookie"))), hops+1
				mu.Unlock()
				_, _ = fmt.Fprintf(c, "HTTP/1.1 302 Found\r\nLocation: /%d\r\nConnection: close\r\n%sContent-Length: 0\r\n\r\n", n+1, tc.cookies(n))
			})
			// The verdict does not depend on time: a roomy timeout keeps a
			// loaded machine from turning it into "took longer than".
			cfg := private()
			cfg.Timeout = 60 * time.Second
			r := check(t, cfg, "http://"+addr+"/0")
			require.Equal(t, lms.StateUnavailable, r.State, r.Reason)
			require.Contains(t, r.Reason, "redirects more than 20 times")
			mu.Lock()
			defer mu.Unlock()
			t.Logf("%d requests, the largest Cookie header %d bytes", hops, largest)
			require.Equal(t, 21, hops)
			require.LessOrEqual(t, largest, tc.most)
		})
	}
}
