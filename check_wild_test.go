package lms_test

// Loopback fixtures that behave the way real sites behave towards link
// checkers (issue 13): bot walls, sloppy and broken servers, redirects with
// cookies, TLS without intermediates. Each case says what a person with a
// browser would experience and checks that lms agrees.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
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
)

// readRequest reads the request head a raw server receives, so that the
// server's close does not reset the connection under unread bytes.
func readRequest(c net.Conn) *http.Request {
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return nil
	}
	return req
}

// recorder is an HTTP server that records the requests it answers.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
}

func newRecorder(t *testing.T, h http.HandlerFunc) *recorder {
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, r)
		rec.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (rec *recorder) requests() []*http.Request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]*http.Request(nil), rec.reqs...)
}

func isBrowser(r *http.Request) bool { return strings.HasPrefix(r.UserAgent(), "Mozilla/5.0") }

// botWall answers the requests that do not look like a browser's with
// code, and the others with page (nil: an empty 200).
func botWall(code int, page http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch {
		case !isBrowser(r):
			w.WriteHeader(code)
		case page != nil:
			page(w, r)
		}
	}
}

// Bot walls: what a browser gets decides.
func TestBotWalls(t *testing.T) {
	t.Parallel()
	challenge := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cf-Mitigated", "challenge")
		w.Header().Set("Server", "cloudflare")
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte("<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>Enable JavaScript and cookies to continue</body></html>"))
	}
	cases := []struct {
		name     string
		h        http.HandlerFunc
		state    lms.State
		kind     lms.FailureKind
		reason   string // a part of the reason
		code     int
		requests int
	}{
		{"403 to bots, a page for browsers", botWall(http.StatusForbidden, nil), lms.StateOK, 0, "a browser-like request got through", 200, 2},
		{"429 without Retry-After to bots only", botWall(http.StatusTooManyRequests, nil), lms.StateOK, 0, "browser-like", 200, 2},
		{"406 to bots (ModSecurity)", botWall(http.StatusNotAcceptable, nil), lms.StateOK, 0, "browser-like", 200, 2},
		{"999 to bots (LinkedIn)", botWall(999, nil), lms.StateOK, 0, "browser-like", 200, 2},
		{"Cloudflare challenge for everyone", challenge, lms.StateTemporary, lms.FailureBlocked, "The site blocks automated checks (Cloudflare challenge)", 403, 2},
		{"Cloudflare 'Just a moment' page with 503", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("<html><head><title>Just a moment...</title></head><body><script src=\"/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1\"></script></body></html>"))
		}, lms.StateTemporary, lms.FailureBlocked, "Cloudflare challenge", 503, 2},
		{"999 for everyone", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(999) },
			lms.StateTemporary, lms.FailureBlocked, "The site blocks automated checks (HTTP status 999)", 999, 2},
		// Beyond 599 there is no class of status: a browser shows the page as
		// whatever it is, so it is judged like an unknown server error (it
		// may pass; the policy confirms it), not as a wall for ever. 999
		// alone is LinkedIn's answer to bots.
		{"600 for everyone", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(600) },
			lms.StateTemporary, lms.FailureTransient, "HTTP status 600", 600, 1},
		{"777 for everyone", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(777) },
			lms.StateTemporary, lms.FailureTransient, "HTTP status 777", 777, 1},
		{"DataDome 403", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-Datadome", "protected")
			w.Header().Set("Set-Cookie", "datadome=abc; Path=/")
			w.WriteHeader(http.StatusForbidden)
		}, lms.StateTemporary, lms.FailureBlocked, "(DataDome)", 403, 2},
		{"Akamai Access Denied", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Server", "AkamaiGHost")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte("<HTML><HEAD><TITLE>Access Denied</TITLE></HEAD><BODY>Reference&#32;&#35;18.1</BODY></HTML>"))
		}, lms.StateTemporary, lms.FailureBlocked, "(Akamai)", 403, 2},
		{"Imperva incident page", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(strings.Repeat(" ", 5000) + "Request unsuccessful. Incapsula incident ID: 123"))
		}, lms.StateTemporary, lms.FailureBlocked, "(Imperva)", 403, 2},
		{"AWS WAF captcha", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-Amzn-Waf-Action", "captcha")
			w.WriteHeader(http.StatusMethodNotAllowed)
		}, lms.StateTemporary, lms.FailureBlocked, "AWS WAF", 405, 2},
		{"a challenge cookie, then the page", func(w http.ResponseWriter, r *http.Request) {
			if _, err := r.Cookie("cf_clearance"); err != nil || !isBrowser(r) {
				http.SetCookie(w, &http.Cookie{Name: "cf_clearance", Value: "ok", Path: "/"})
				challenge(w, r)
			}
		}, lms.StateOK, 0, "browser-like", 200, 2},
		{"rate limit for everyone", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTooManyRequests) },
			lms.StateTemporary, lms.FailureBlocked, "Too Many Requests", 429, 2},
		{"429 with Retry-After is honoured, not retried", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "60")
			w.WriteHeader(http.StatusTooManyRequests)
		}, lms.StateTemporary, lms.FailureBlocked, "Too Many Requests", 429, 1},
		// Controls: these stay as they are.
		{"403 for everyone, no marker: a failure", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusForbidden) },
			lms.StateUnavailable, lms.FailureDefinitive, "Forbidden", 403, 2},
		{"404 behind a bot-protection CDN is a 404", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-Datadome", "protected")
			w.WriteHeader(http.StatusNotFound)
		}, lms.StateUnavailable, lms.FailureDefinitive, "Not Found", 404, 1},
		{"a wall that lets browsers reach a 404", func(w http.ResponseWriter, r *http.Request) {
			if !isBrowser(r) {
				challenge(w, r)
				return
			}
			w.WriteHeader(http.StatusNotFound)
		}, lms.StateUnavailable, lms.FailureDefinitive, "Not Found", 404, 2},
		{"500 is no wall", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) },
			lms.StateTemporary, lms.FailureTransient, "Internal Server Error", 500, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRecorder(t, tc.h)
			r := check(t, private(), srv.URL+"/page")
			require.Equal(t, tc.state, r.State, "%s (%s)", r.Reason, r.Detail)
			require.Contains(t, r.Reason, tc.reason)
			require.Equal(t, tc.code, r.Code)
			if tc.kind != 0 {
				require.Equal(t, tc.kind, r.Failure)
			}
			reqs := srv.requests()
			require.Len(t, reqs, tc.requests)
			require.Equal(t, lms.DefaultUserAgent, reqs[0].UserAgent(), "the first request is honest")
			if len(reqs) > 1 {
				b := reqs[1]
				require.Equal(t, lms.DefaultBrowserUserAgent, b.UserAgent())
				require.Contains(t, b.Header.Get("Accept"), "text/html")
				require.NotEmpty(t, b.Header.Get("Accept-Language"))
				require.Contains(t, b.Header.Get("Accept-Encoding"), "gzip")
				require.Equal(t, b.URL.Path, reqs[0].URL.Path)
			}
		})
	}
}

// The browser-like retry can keep lms's own User-Agent.
func TestBotWallHonestRetry(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, botWall(http.StatusForbidden, nil))
	cfg := private()
	cfg.HonestRetry = true
	r := check(t, cfg, srv.URL)
	require.Equal(t, lms.StateUnavailable, r.State, r.Reason)
	reqs := srv.requests()
	require.Len(t, reqs, 2)
	require.Equal(t, lms.DefaultUserAgent, reqs[1].UserAgent())
	require.NotEmpty(t, reqs[1].Header.Get("Accept-Language"), "the other browser headers stay")
	require.Empty(t, reqs[1].Header.Get("Sec-Ch-Ua"), "no Client Hints that claim Chrome")
}

// A browser-like retry that asked for compression is decoded by the
// checker (gzip, deflate) and still judged completely.
func TestBotWallRetryCompressed(t *testing.T) {
	t.Parallel()
	var page bytes.Buffer
	zw := gzip.NewWriter(&page)
	_, _ = zw.Write([]byte("<html><body>" + strings.Repeat("hello ", 1000) + "</body></html>"))
	_ = zw.Close()
	srv := newRecorder(t, botWall(http.StatusForbidden, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", strconv.Itoa(page.Len()))
		_, _ = w.Write(page.Bytes())
	}))
	r := check(t, private(), srv.URL)
	require.Equal(t, lms.StateOK, r.State, r.Reason)

	garbled := newRecorder(t, botWall(http.StatusForbidden, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write([]byte("this is not gzip at all"))
	}))
	r = check(t, private(), garbled.URL)
	require.Equal(t, lms.StateUnavailable, r.State, r.Reason)
	require.Equal(t, "The server sent a garbled (badly compressed) page", r.Reason)
}

// pacerLog is a Pacer that records its calls.
type pacerLog struct {
	mu    sync.Mutex
	calls []string
}

func (p *pacerLog) Wait(_ context.Context, host string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, "wait "+host)
	return nil
}

func (p *pacerLog) Done(host string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, "done "+host)
}

// Every further request of a check is paced: the bot-wall retry, redirect
// hops, the tolerant second try.
func TestFurtherRequestsArePaced(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/hop":
			http.Redirect(w, r, "/wall", http.StatusFound)
		case !isBrowser(r):
			w.WriteHeader(http.StatusForbidden)
		}
	})
	p := &pacerLog{}
	ctx := lms.ContextWithPacer(context.Background(), p)
	r := lms.NewDefaultChecker(private()).Check(ctx, srv.URL+"/hop")
	require.Equal(t, lms.StateOK, r.State, r.Reason)
	require.Len(t, srv.requests(), 3)
	require.Equal(t, []string{"done 127.0.0.1", "wait 127.0.0.1", "done 127.0.0.1", "wait 127.0.0.1"}, p.calls,
		"each request after the first: the previous answer reported, then a wait")

	sloppy := rawServer(t, func(c net.Conn) {
		readRequest(c)
		_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nThis line has no colon\r\n\r\nok"))
	})
	p = &pacerLog{}
	r = lms.NewDefaultChecker(private()).Check(lms.ContextWithPacer(context.Background(), p), "http://"+sloppy+"/")
	require.Equal(t, lms.StateOK, r.State, r.Reason)
	require.Equal(t, []string{"done 127.0.0.1", "wait 127.0.0.1"}, p.calls)
}

// Redirects like a browser: cookies kept across hops, 20 hops, loops found.
func TestRedirectsLikeABrowser(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	// Sets a session cookie and redirects to itself: no loop.
	mux.HandleFunc("/session", func(w http.ResponseWriter, r *http.Request) {
		if _, err := r.Cookie("sid"); err != nil {
			http.SetCookie(w, &http.Cookie{Name: "sid", Value: "42", Path: "/"})
			http.Redirect(w, r, "/session", http.StatusFound)
			return
		}
		_, _ = w.Write([]byte("<html>welcome</html>"))
	})
	// A login dance across paths, with a cookie checked at the end.
	mux.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "dance", Value: "1", Path: "/"})
		http.Redirect(w, r, "/check", http.StatusFound)
	})
	mux.HandleFunc("/check", func(w http.ResponseWriter, r *http.Request) {
		if _, err := r.Cookie("dance"); err != nil {
			http.Redirect(w, r, "/start", http.StatusFound) // a loop for clients without cookies
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("/hops/", func(w http.ResponseWriter, r *http.Request) {
		// /hops/N/i redirects until i == N.
		var n, i int
		_, _ = fmt.Sscanf(r.URL.Path, "/hops/%d/%d", &n, &i)
		if i < n {
			http.Redirect(w, r, fmt.Sprintf("/hops/%d/%d", n, i+1), http.StatusFound)
		}
	})
	mux.HandleFunc("/self", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/self", http.StatusFound) })
	mux.HandleFunc("/cookie-storm", func(w http.ResponseWriter, r *http.Request) {
		// A fresh cookie every time: never the same request twice, never ends.
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		http.SetCookie(w, &http.Cookie{Name: fmt.Sprintf("c%d", n), Value: "v", Path: "/"})
		http.Redirect(w, r, "/cookie-storm", http.StatusFound)
	})
	mux.HandleFunc("/bad-location", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "http://[::1")
		w.WriteHeader(http.StatusMovedPermanently)
	})
	mux.HandleFunc("/perm/", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/perm/a":
			http.Redirect(w, r, "/perm/b", http.StatusMovedPermanently)
		case "/perm/b":
			http.Redirect(w, r, "/perm/session?id=1", http.StatusFound)
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	r := check(t, private(), srv.URL+"/session")
	require.Equal(t, lms.StateOK, r.State, r.Reason)
	r = check(t, private(), srv.URL+"/start")
	require.Equal(t, lms.StateOK, r.State, r.Reason)
	r = check(t, private(), srv.URL+"/hops/20/0")
	require.Equal(t, lms.StateOK, r.State, "20 hops are what browsers follow: %s", r.Reason)
	r = check(t, private(), srv.URL+"/hops/21/0")
	require.Equal(t, lms.StateUnavailable, r.State)
	require.Equal(t, "The link redirects more than 20 times", r.Reason)
	r = check(t, private(), srv.URL+"/self")
	require.Equal(t, lms.StateUnavailable, r.State)
	require.Equal(t, "The link redirects in a loop", r.Reason)
	start := time.Now()
	r = check(t, private(), srv.URL+"/cookie-storm")
	require.Equal(t, lms.StateUnavailable, r.State)
	require.Contains(t, r.Reason, "redirects")
	require.Less(t, time.Since(start), 3*time.Second)
	r = check(t, private(), srv.URL+"/bad-location")
	require.Equal(t, lms.StateUnavailable, r.State)
	require.Equal(t, "The link redirects to an invalid address", r.Reason)
	r = check(t, private(), srv.URL+"/perm/a")
	require.Equal(t, lms.StateOK, r.State)
	require.False(t, r.Permanent, "a 301 then a 302 is not a permanent move")
	require.Equal(t, srv.URL+"/perm/session?id=1", r.FinalURL, "where the reader ends up, not a permanent move")
}

// HEAD is never trusted: the check is a GET.
func TestHEADNeverTrusted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		head, get int
		want      lms.State
	}{{200, 404, lms.StateUnavailable}, {405, 200, lms.StateOK}, {404, 200, lms.StateOK}} {
		srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodHead {
				w.WriteHeader(tc.head)
				return
			}
			w.WriteHeader(tc.get)
		})
		r := check(t, private(), srv.URL)
		require.Equal(t, tc.want, r.State)
		for _, req := range srv.requests() {
			require.Equal(t, http.MethodGet, req.Method)
		}
	}
}

// Tolerant where browsers are tolerant, strict where they are strict.
func TestHTTPLikeABrowser(t *testing.T) {
	t.Parallel()
	page := "<!DOCTYPE html><html><head><title>t</title></head><body>" + strings.Repeat("text ", 200) + "</body></html>\n"
	respond := func(s string) func(net.Conn) {
		return func(c net.Conn) {
			readRequest(c)
			_, _ = c.Write([]byte(s))
		}
	}
	reset := func(s string) func(net.Conn) {
		return func(c net.Conn) {
			readRequest(c)
			_, _ = c.Write([]byte(s))
			// A reset discards what the server has not sent yet: it goes
			// once the client's end has acknowledged every byte (the
			// client reads what arrived before the reset is reported).
			waitAcked(c)
			_ = c.(*net.TCPConn).SetLinger(0)
		}
	}
	cases := []struct {
		name   string
		serve  func(net.Conn)
		state  lms.State
		kind   lms.FailureKind
		reason string
	}{
		{"a header line without a colon", respond("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nThis is sloppy\r\nContent-Length: 2\r\n\r\nok"), lms.StateOK, 0, "OK"},
		{"a control character in a header", respond("HTTP/1.1 200 OK\r\nX-Powered-By: PHP\x01\x02\r\nContent-Length: 2\r\n\r\nok"), lms.StateOK, 0, "OK"},
		{"a header name with a space", respond("HTTP/1.1 200 OK\r\nX Powered By: PHP\r\nContent-Length: 2\r\n\r\nok"), lms.StateOK, 0, "OK"},
		{"a header name with a bad byte", respond("HTTP/1.1 200 OK\r\nX-Fo\"o: 1\r\nContent-Length: 2\r\n\r\nok"), lms.StateOK, 0, "OK"},
		{"a status line without a space", respond("HTTP/1.1 200OK\r\nContent-Length: 2\r\n\r\nok"), lms.StateOK, 0, "OK"},
		{"a Content-Length that is no number", respond("HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\nok"), lms.StateOK, 0, "OK"},
		{"a folded first header", respond("HTTP/1.1 200 OK\r\n folded\r\nContent-Length: 2\r\n\r\nok"), lms.StateOK, 0, "OK"},
		{"HTTP/1.0 until close", respond("HTTP/1.0 200 OK\r\n\r\n" + page), lms.StateOK, 0, "OK"},
		{"bare LF line ends", respond("HTTP/1.1 200 OK\nContent-Length: 2\n\nok"), lms.StateOK, 0, "OK"},
		{"a sloppy 404 is still a 404", respond("HTTP/1.1 404 Not Found\r\nBroken header\r\nContent-Length: 0\r\n\r\n"), lms.StateUnavailable, lms.FailureDefinitive, "Not Found"},
		{"an empty reply", func(c net.Conn) { readRequest(c) }, lms.StateTemporary, lms.FailureTransient, "The server closed the connection without answering"},
		{"a reset after the status line", reset("HTTP/1.1 200 OK\r\n"), lms.StateTemporary, lms.FailureTransient, "The server broke off"},
		{"a reset in the body", reset("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + page[:100]), lms.StateTemporary, lms.FailureTransient, "The page was cut off before it was complete"},
		{"an SSH banner", func(c net.Conn) {
			_, _ = c.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
			readRequest(c)
			_, _ = c.Write([]byte("Invalid SSH identification string.\r\n"))
		}, lms.StateUnavailable, lms.FailureDefinitive, "The server's answer is not a web page (not HTTP)"},
		{"no status line at all (HTTP/0.9)", respond(page), lms.StateUnavailable, lms.FailureDefinitive, "not a web page"},
		{"binary garbage", respond("\x00\x01\x02\x03\xff\xfe garbage"), lms.StateUnavailable, lms.FailureDefinitive, "not a web page"},
		{"two different Content-Lengths (Chrome refuses too)", respond("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok"), lms.StateUnavailable, lms.FailureDefinitive, "The server's answer could not be understood"},
		{"two different Content-Lengths after a sloppy line", respond("HTTP/1.1 200 OK\r\nSloppy line\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok"), lms.StateUnavailable, lms.FailureDefinitive, "The server's answer could not be understood"},
		{"a page cut off mid-way", respond("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: " + strconv.Itoa(len(page)+1000) + "\r\n\r\n" + page[:len(page)/2]),
			lms.StateTemporary, lms.FailureTransient, "The page was cut off before it was complete"},
		{"a complete page with a miscounted Content-Length", respond("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: " + strconv.Itoa(len(page)+1000) + "\r\n\r\n" + page),
			lms.StateOK, 0, "OK"},
		{"a download cut off", respond("HTTP/1.1 200 OK\r\nContent-Type: application/pdf\r\nContent-Length: 100000\r\n\r\n%PDF-1.7 " + strings.Repeat("x", 5000)),
			lms.StateTemporary, lms.FailureTransient, "cut off"},
		{"a chunked page without its last chunk", respond("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n<html><body>hi, \r\n"),
			lms.StateTemporary, lms.FailureTransient, "cut off"},
		{"a 404 cut off is a 404", respond("HTTP/1.1 404 Not Found\r\nContent-Length: 1000\r\n\r\nshort"), lms.StateUnavailable, lms.FailureDefinitive, "Not Found"},
		{"a garbled gzip body", respond("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 30\r\n\r\nthis is no gzip stream at all!"), lms.StateUnavailable, lms.FailureDefinitive, "garbled"},
	}
	cfg := private()
	cfg.Timeout = 2 * time.Second
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := rawServer(t, tc.serve)
			r := check(t, cfg, "http://"+addr+"/")
			require.Equal(t, tc.state, r.State, "%s (%s)", r.Reason, r.Detail)
			require.Contains(t, r.Reason, tc.reason)
			if tc.kind != 0 {
				require.Equal(t, tc.kind, r.Failure)
			}
		})
	}
}

// waitAcked returns once the peer has acknowledged every byte written to c,
// or at once where the send queue cannot be seen (on Linux only).
func waitAcked(c net.Conn) {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); <-tick.C {
		if n, err := sendQueue(c); err != nil || n == 0 {
			return
		}
	}
}

// A GET answered with 101 Switching Protocols (no upgrade was asked for)
// is no page a browser shows: unavailable, with the code, and the check
// lets go of the connection at once rather than read it as a body.
func TestHTTP101IsNoPage(t *testing.T) {
	t.Parallel()
	for _, sloppy := range []string{"", "This is sloppy\r\n"} {
		released := make(chan struct{}, 2)
		addr := rawServer(t, func(c net.Conn) {
			readRequest(c)
			_, _ = c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + sloppy + "\r\n"))
			_, _ = io.Copy(io.Discard, c) // until the checker closes its end
			released <- struct{}{}
		})
		cfg := private()
		cfg.Timeout = 3 * time.Second
		start := time.Now()
		r := check(t, cfg, "http://"+addr+"/")
		require.Equal(t, lms.StateUnavailable, r.State, "%s (%s)", r.Reason, r.Detail)
		require.Equal(t, lms.FailureDefinitive, r.Failure)
		require.Equal(t, "The server's answer is not a web page (it switched to another protocol)", r.Reason)
		require.Equal(t, http.StatusSwitchingProtocols, r.Code)
		require.Less(t, time.Since(start), cfg.Timeout/2, "the 101 ends the check, not its timeout")
		select {
		case <-released:
		case <-time.After(cfg.Timeout):
			t.Fatal("the checker kept the switched connection open")
		}
	}
}
