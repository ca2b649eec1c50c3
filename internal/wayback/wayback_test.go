package wayback_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms/internal/netguard"
	"github.com/linkmonitor/lms/internal/wayback"
)

// loopback lets the look-ups reach the test servers, explicitly.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

func client(t *testing.T, endpoint string, timeout time.Duration, allowed ...netip.Prefix) *wayback.Client {
	t.Helper()
	c, err := wayback.NewClient(endpoint, netguard.Dialer(time.Second, false, allowed...), timeout)
	require.NoError(t, err)
	return c
}

// server answers every request with answer(r) and counts them.
func server(t *testing.T, answer func(w http.ResponseWriter, r *http.Request)) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		answer(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

const documented = `{"url": "example.com", "archived_snapshots": {"closest": {"status": "200", "available": true,
	"url": "http://web.archive.org/web/20130919044612/http://example.com/", "timestamp": "20130919044612"}}}`

func TestLookupFound(t *testing.T) {
	var got atomic.Value
	srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.URL.RawQuery)
		fmt.Fprint(w, documented)
	})
	s, err := client(t, srv.URL+"/wayback/available", time.Second, loopback...).Lookup(context.Background(), "http://example.com/a?b=c&d", time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC))
	require.NoError(t, err)
	require.Equal(t, wayback.Snapshot{URL: "http://web.archive.org/web/20130919044612/http://example.com/", Time: time.Date(2013, 9, 19, 4, 46, 12, 0, time.UTC)}, s)
	require.Equal(t, "timestamp=20240506&url=http%3A%2F%2Fexample.com%2Fa%3Fb%3Dc%26d", got.Load())
}

func TestLookupNone(t *testing.T) {
	for name, body := range map[string]string{
		"empty":          `{"url": "example.com/x", "archived_snapshots": {}}`,
		"not available":  `{"url": "example.com/x", "archived_snapshots": {"closest": {"status": "200", "available": false, "url": "http://web.archive.org/web/1/x", "timestamp": "20130919044612"}}}`,
		"status 404":     `{"url": "example.com/x", "archived_snapshots": {"closest": {"status": "404", "available": true, "url": "http://web.archive.org/web/1/x", "timestamp": "20130919044612"}}}`,
		"with timestamp": `{"url": "example.com/x", "archived_snapshots": {}, "timestamp": "20240101"}`,
	} {
		t.Run(name, func(t *testing.T) {
			srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) })
			s, err := client(t, srv.URL, time.Second, loopback...).Lookup(context.Background(), "http://example.com/x", time.Time{})
			require.NoError(t, err)
			require.Zero(t, s)
		})
	}
}

func TestLookupBadAnswers(t *testing.T) {
	for name, answer := range map[string]func(w http.ResponseWriter){
		"garbage":       func(w http.ResponseWriter) { fmt.Fprint(w, `{"url": "x", "archived_snapshots": {"closest": [1,2`) },
		"html":          func(w http.ResponseWriter) { fmt.Fprint(w, `<html>rate limited</html>`) },
		"unknown field": func(w http.ResponseWriter) { fmt.Fprint(w, `{"url": "x", "archived_snapshots": {}, "extra": 1}`) },
		"trailing data": func(w http.ResponseWriter) { fmt.Fprint(w, `{"url": "x", "archived_snapshots": {}} {}`) },
		"wrong type": func(w http.ResponseWriter) {
			fmt.Fprint(w, `{"url": "x", "archived_snapshots": {"closest": {"status": 200}}}`)
		},
		"missing fields": func(w http.ResponseWriter) { fmt.Fprint(w, `{}`) },
		"bad timestamp": func(w http.ResponseWriter) {
			fmt.Fprint(w, `{"url": "x", "archived_snapshots": {"closest": {"status": "200", "available": true, "url": "http://web.archive.org/web/x", "timestamp": "2013"}}}`)
		},
		"script url": func(w http.ResponseWriter) {
			fmt.Fprint(w, `{"url": "x", "archived_snapshots": {"closest": {"status": "200", "available": true, "url": "javascript:alert(1)", "timestamp": "20130919044612"}}}`)
		},
		"private host": func(w http.ResponseWriter) {
			fmt.Fprint(w, `{"url": "x", "archived_snapshots": {"closest": {"status": "200", "available": true, "url": "http://10.0.0.1/admin", "timestamp": "20130919044612"}}}`)
		},
		"loopback host": func(w http.ResponseWriter) {
			fmt.Fprint(w, `{"url": "x", "archived_snapshots": {"closest": {"status": "200", "available": true, "url": "http://[::ffff:127.0.0.1]:8080/", "timestamp": "20130919044612"}}}`)
		},
		"localhost": func(w http.ResponseWriter) {
			fmt.Fprint(w, `{"url": "x", "archived_snapshots": {"closest": {"status": "200", "available": true, "url": "https://LocalHost./x", "timestamp": "20130919044612"}}}`)
		},
		"credentials in url": func(w http.ResponseWriter) {
			fmt.Fprint(w, `{"url": "x", "archived_snapshots": {"closest": {"status": "200", "available": true, "url": "http://web.archive.org@evil.example/web/1/x", "timestamp": "20130919044612"}}}`)
		},
		"non-ascii url": func(w http.ResponseWriter) {
			fmt.Fprint(w, `{"url": "x", "archived_snapshots": {"closest": {"status": "200", "available": true, "url": "http://web.archive.org/web/1/\u202egpj.exe", "timestamp": "20130919044612"}}}`)
		},
		"overlong url": func(w http.ResponseWriter) {
			fmt.Fprint(w, `{"url": "x", "archived_snapshots": {"closest": {"status": "200", "available": true, "url": "http://web.archive.org/web/1/`+strings.Repeat("x", 9<<10)+`", "timestamp": "20130919044612"}}}`)
		},
		"status 503": func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable); fmt.Fprint(w, documented) },
		"huge body": func(w http.ResponseWriter) {
			fmt.Fprint(w, `{"url": "`+strings.Repeat("x", 10<<20)+`", "archived_snapshots": {}}`)
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv, n := server(t, func(w http.ResponseWriter, r *http.Request) { answer(w) })
			s, err := client(t, srv.URL, 30*time.Second, loopback...).Lookup(context.Background(), "http://example.com/x", time.Time{})
			require.ErrorIs(t, err, wayback.ErrAnswer)
			require.Zero(t, s)
			require.EqualValues(t, 1, n.Load())
		})
	}
}

func TestLookupSlowAnswer(t *testing.T) {
	release := make(chan struct{})
	srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	start := time.Now()
	_, err := client(t, srv.URL, 200*time.Millisecond, loopback...).Lookup(context.Background(), "http://example.com/x", time.Time{})
	require.Error(t, err)
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "want a timeout, got %v", err)
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestLookupPrivateAddressRefused(t *testing.T) {
	srv, n := server(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, documented) })
	_, err := client(t, srv.URL, time.Second).Lookup(context.Background(), "http://example.com/x", time.Time{})
	require.ErrorIs(t, err, netguard.ErrPolicy)
	require.Zero(t, n.Load(), "no request reached the server")
}

// A service the policy allows that redirects to an address it does not
// allow (here 127.0.0.2 beside an allowed 127.0.0.1) is not followed there.
func TestLookupRedirectToPrivateRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no second loopback address: %v", err)
	}
	var inner atomic.Int32
	private := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.Add(1)
		fmt.Fprint(w, documented)
	}))
	private.Listener = l
	private.Start()
	t.Cleanup(private.Close)
	srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, private.URL+"/available", http.StatusFound)
	})
	_, err = client(t, srv.URL, time.Second, netip.MustParsePrefix("127.0.0.1/32")).Lookup(context.Background(), "http://example.com/x", time.Time{})
	require.ErrorIs(t, err, netguard.ErrPolicy)
	require.Zero(t, inner.Load(), "the redirect reached the private server")
}

// A gzip bomb: a small compressed answer that inflates far beyond MaxBody
// is cut at MaxBody, not inflated whole.
func TestLookupGzipBomb(t *testing.T) {
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, _ = zw.Write([]byte(`{"url": "`))
	_, _ = zw.Write(bytes.Repeat([]byte("x"), 4<<20))
	require.NoError(t, zw.Close())
	srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(z.Bytes())
	})
	_, err := client(t, srv.URL, 10*time.Second, loopback...).Lookup(context.Background(), "http://example.com/x", time.Time{})
	require.ErrorIs(t, err, wayback.ErrAnswer)
}

func TestNewClientEndpoint(t *testing.T) {
	for _, e := range []string{"", "archive.org/wayback", "ftp://archive.org/", "http://", "https://x/#f", "%zz"} {
		_, err := wayback.NewClient(e, netguard.Dialer(time.Second, false), time.Second)
		require.Error(t, err, e)
	}
}

func TestWorker(t *testing.T) {
	type saved struct {
		job wayback.Job
		s   wayback.Snapshot
	}
	var inFlight, most atomic.Int32
	release := make(chan struct{})
	out := make(chan saved, 10)
	failed := make(chan error, 10)
	w := wayback.NewWorker(wayback.WorkerConfig{
		Lookup: func(ctx context.Context, link string, at time.Time) (wayback.Snapshot, error) {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			if n > most.Load() {
				most.Store(n)
			}
			<-release
			if strings.HasSuffix(link, "/bad") {
				return wayback.Snapshot{}, wayback.ErrAnswer
			}
			return wayback.Snapshot{URL: "http://web.archive.org/web/1/" + link}, nil
		},
		Save: func(ctx context.Context, j wayback.Job, s wayback.Snapshot) error { out <- saved{j, s}; return nil },
		Done: func(j wayback.Job, err error) {
			if err != nil {
				failed <- err
			}
		},
		Queue: 3,
	})
	require.True(t, w.Add(wayback.Job{URL: "http://a/"}))
	require.True(t, w.Add(wayback.Job{URL: "http://a/"}), "queued already")
	require.True(t, w.Add(wayback.Job{URL: "http://b/bad"}))
	require.True(t, w.Add(wayback.Job{URL: "http://c/"}))
	require.False(t, w.Add(wayback.Job{URL: "http://d/"}), "the queue is full")
	require.Equal(t, 3, w.Len())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	close(release)
	require.Equal(t, "http://a/", (<-out).job.URL)
	require.ErrorIs(t, <-failed, wayback.ErrAnswer)
	require.Equal(t, "http://c/", (<-out).job.URL)
	require.EqualValues(t, 1, most.Load(), "one look-up in flight at most")
	cancel()
	require.NoError(t, <-done)
}
