package lms_test

// Red team of the checker's accuracy (issue 13): loopback servers that
// behave the way real websites behave towards link checkers. Each case
// states what a person with a browser experiences. TestRedTeamFinding*
// are the cases lms got wrong when the red team wrote them (2026-12-01;
// their comments say what lms answered then); each failed then and passes
// since its fix. The others are controls lms got right.

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"math/big"
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

// rtPage is a complete HTML page.
const rtPage = "<!DOCTYPE html><html><head><title>t</title></head><body>" + "hello world " + "</body></html>\n"

// rtGzip returns s gzip-compressed.
func rtGzip(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, err := zw.Write([]byte(s))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return b.Bytes()
}

// rtTimeline runs Policy.Next over results, one check after the other at
// the due times the policy gives, and returns the reported states.
func rtTimeline(p lms.Policy, results ...lms.Result) []lms.Outcome {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	link := lms.Link{URL: "http://example.org/", Host: "example.org"}
	var out []lms.Outcome
	for _, r := range results {
		o := p.Next(link, r, now, 0)
		out = append(out, o)
		link.State, link.Failures, link.NextDue = o.Result.State, o.Failures, o.NextDue
		now = o.NextDue
	}
	return out
}

// rtPaths is a server that records the request URIs it is asked for.
type rtPaths struct {
	mu   sync.Mutex
	uris []string
}

func (p *rtPaths) add(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.uris = append(p.uris, s)
}

func (p *rtPaths) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.uris...)
}

// ---------------------------------------------------------------------
// Findings: these tests fail while lms gets the verdict wrong.
// ---------------------------------------------------------------------

// A gzip-compressed page followed by a few bytes that are not gzip (a
// caching plugin's "<!-- generated in 0.02 s -->" appended after the
// compressed output, PHP's trailing newline after ob_gzhandler). Chrome and
// Firefox stop at the gzip footer and ignore what follows
// (STATE_IGNORING_EXTRA_BYTES in Chromium's GzipSourceStream): the page
// shows. Go's gzip reader reads the junk as a second member.
func TestRedTeamFindingGzipTrailingJunk(t *testing.T) {
	for _, tc := range []struct {
		name, ctype, body, junk string
	}{
		{"html page, timing comment after the stream", "text/html", rtPage, "<!-- generated in 0.02 s -->\n"},
		{"json document, a trailing newline", "application/json", `{"ok":true,"items":[1,2,3]}`, "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := append(rtGzip(t, tc.body), tc.junk...)
			srv := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", tc.ctype)
				w.Header().Set("Content-Encoding", "gzip")
				w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				_, _ = w.Write(body)
			})
			r := check(t, private(), srv.URL+"/")
			require.Equal(t, lms.StateOK, r.State, "a browser shows this page; lms: %s %d %q (%s)", r.State, r.Code, r.Reason, r.Detail)
		})
	}
}

// A gzip stream whose CRC-32 in the footer is wrong (a proxy that rewrote
// the page and kept the old footer). Chromium inflates the raw deflate data
// and does not check the footer: the page shows.
func TestRedTeamFindingGzipBadChecksum(t *testing.T) {
	body := rtGzip(t, rtPage)
	body[len(body)-8] ^= 0xff // CRC-32
	srv := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(body)
	})
	r := check(t, private(), srv.URL+"/")
	require.NotEqual(t, lms.StateUnavailable, r.State, "a browser shows this page; lms: %s %d %q (%s)", r.State, r.Code, r.Reason, r.Detail)
}

// A "%" that starts no escape ("50%-off", "100%") in the link or in a
// redirect's Location. Browsers send it as it is, and the server answers
// the page; Go's URL parser refuses it.
func TestRedTeamFindingPercentNotAnEscape(t *testing.T) {
	paths := &rtPaths{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths.add(r.RequestURI)
		if r.URL.Path == "/sale" {
			w.Header().Set("Location", "/deals/50%-off")
			w.WriteHeader(http.StatusMovedPermanently)
			return
		}
		_, _ = w.Write([]byte(rtPage))
	}))
	defer srv.Close()
	for _, u := range []string{srv.URL + "/deals/50%-off", srv.URL + "/sale"} {
		r := check(t, private(), u)
		require.Equal(t, lms.StateOK, r.State, "%s opens in a browser; lms: %s %d %q (%s)", u, r.State, r.Code, r.Reason, r.Detail)
	}
}

// A link (or a Location) with a space in its query string:
// "…/search?q=hello world". Browsers send "q=hello%20world"; lms must not
// put a raw space on the request line (servers answer 400 to that).
func TestRedTeamFindingSpaceInQuery(t *testing.T) {
	paths := &rtPaths{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths.add(r.RequestURI)
		if r.URL.Path == "/old-search" {
			w.Header().Set("Location", "/search?q=hello world")
			w.WriteHeader(http.StatusFound)
			return
		}
		_, _ = w.Write([]byte(rtPage))
	}))
	defer srv.Close()
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	for _, u := range []string{srv.URL + "/search?q=hello world", srv.URL + "/old-search"} {
		r := check(t, private(), u)
		require.Equal(t, lms.StateOK, r.State, "%s opens in a browser; lms: %s %d %q (%s); the server saw %q", u, r.State, r.Code, r.Reason, r.Detail, paths.all())
	}
}

// amazonRobotCheck answers clients that do not look like a browser with
// 503 and Amazon's robot page (no Retry-After, none of the markers lms
// knows), browsers with the product page. This is what amazon.com does
// to link checkers.
func amazonRobotCheck(w http.ResponseWriter, r *http.Request) {
	if !isBrowser(r) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Server", "Server")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`<!doctype html><html><head><title>Sorry! Something went wrong!</title></head><body>` +
			`<!-- To discuss automated access to Amazon data please contact api-services-support@amazon.com. -->` +
			`<p>Sorry, we just need to make sure you're not a robot.</p><form action="/errors/validateCaptcha"></form></body></html>`))
		return
	}
	_, _ = w.Write([]byte(rtPage))
}

// A 503 given to automated clients only (Amazon). A person sees the page;
// lms must recognise the robot page (Amazon's texts, "not a robot", a
// CAPTCHA on a blocking code) and make the browser-like retry, or the
// policy paints the link red after the confirmations.
func TestRedTeamFinding503ToBotsOnly(t *testing.T) {
	srv := newRecorder(t, amazonRobotCheck)
	r := check(t, private(), srv.URL+"/dp/B000000000")
	var results []lms.Result
	for range 6 {
		results = append(results, r)
	}
	out := rtTimeline(lms.Policy{}, results...)
	last := out[len(out)-1].Result
	require.NotEqual(t, lms.StateUnavailable, last.State,
		"the page opens in a browser; lms checked %s %d %q after %d requests, and after %d checks the policy reports %s",
		r.State, r.Code, r.Reason, len(srv.requests()), len(out), last.State)
}

// A link behind a rate limit or a bot wall (FailureBlocked, never red)
// builds up Failures; a single 502 of a deploy after that turns the link
// red at once, with no confirmation at all. A person sees the page both
// before and a minute after the glitch.
func TestRedTeamFindingBlockedThenOneGlitchIsRed(t *testing.T) {
	walled := lms.Result{State: lms.StateTemporary, Failure: lms.FailureBlocked, Code: 429, Reason: "Too Many Requests"}
	glitch := lms.Result{State: lms.StateTemporary, Failure: lms.FailureTransient, Code: 502, Reason: "Bad Gateway"}
	out := rtTimeline(lms.Policy{}, walled, walled, walled, glitch)
	require.Equal(t, lms.StateTemporary, out[2].Result.State)
	require.NotEqual(t, lms.StateUnavailable, out[3].Result.State,
		"one 502 after three rate-limited checks is reported %s (Failures %d): the glitch was never confirmed",
		out[3].Result.State, out[3].Failures)

	// Same with a single 404 (definitive, normally confirmed once).
	notFound := lms.Result{State: lms.StateUnavailable, Failure: lms.FailureDefinitive, Code: 404, Reason: "Not Found"}
	out = rtTimeline(lms.Policy{}, walled, walled, notFound)
	require.NotEqual(t, lms.StateUnavailable, out[2].Result.State,
		"the first 404 after two rate-limited checks is reported %s at once, unconfirmed", out[2].Result.State)
}

// A complete page whose Content-Length counts too much, from a server that
// keeps the connection open afterwards (PHP output buffering behind a
// keep-alive front end). The browser has shown the whole page at once; the
// spinner stops when the server gives up. lms calls it too slow.
func TestRedTeamFindingCompletePageOvercountedKeepAlive(t *testing.T) {
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	addr := rawServer(t, func(c net.Conn) {
		readRequest(c)
		_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: " + strconv.Itoa(len(rtPage)+200) + "\r\n\r\n" + rtPage))
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
	})
	cfg := private()
	cfg.Timeout = time.Second
	r := check(t, cfg, "http://"+addr+"/")
	require.Equal(t, lms.StateOK, r.State, "the whole page arrived; lms: %s %d %q (%s)", r.State, r.Code, r.Reason, r.Detail)
}

// A server that only offers TLS 1.2 with RSA key exchange
// (TLS_RSA_WITH_AES_128_GCM_SHA256: old IIS, old load balancers). Chrome and
// Firefox still offer these suites and open the page; Go's client has not
// offered them by default since Go 1.22.
func TestRedTeamFindingTLSRSAKeyExchange(t *testing.T) {
	now := time.Now()
	ca := certFor(t, nil, nil, nil, now.Add(-time.Hour), now.Add(time.Hour), true)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Leaf)
	leaf := rtRSALeaf(t, &ca)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(rtPage)) }))
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{leaf},
		MinVersion:   tls.VersionTLS12, MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384},
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	cfg := private()
	cfg.TLSConfig = &tls.Config{RootCAs: pool}
	r := check(t, cfg, srv.URL+"/")
	require.Equal(t, lms.StateOK, r.State, "Chrome opens this page; lms: %s %d %q (%s)", r.State, r.Code, r.Reason, r.Detail)
}

// A page that moved and says so the old way: a 200 with "Refresh: 0;
// url=…" or a meta refresh, to a page that is gone. The person lands on a
// 404; lms reports the link ok. (Lower priority: lms does not claim to
// follow refreshes, but the verdict is "ok" for a link that is broken for
// a person.)
func TestRedTeamFindingRefreshToDeadPage(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/header", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Refresh", "0; url=/gone")
		_, _ = w.Write([]byte("<html><body>Moved.</body></html>"))
	})
	mux.HandleFunc("/meta", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`<html><head><meta http-equiv="refresh" content="0; url=/gone"></head><body>Moved.</body></html>`))
	})
	mux.HandleFunc("/gone", http.NotFound)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, p := range []string{"/header", "/meta"} {
		r := check(t, private(), srv.URL+p)
		require.NotEqual(t, lms.StateOK, r.State, "%s: a person lands on a 404; lms: %s %d %q", p, r.State, r.Code, r.Reason)
	}
}

// mailto: with the address in the "to" field (RFC 6068 §2:
// "mailto:?to=joe@example.com"): the mail program opens with the
// recipient filled in. lms says "No valid email address".
func TestRedTeamFindingMailtoToField(t *testing.T) {
	for _, u := range []string{"mailto:?to=joe@example.com", "mailto:?to=joe@example.com&subject=hi"} {
		r := check(t, lms.CheckerConfig{}, u)
		require.Equal(t, lms.StateOK, r.State, "%s opens a mail to joe; lms: %s %q", u, r.State, r.Reason)
	}
}

// ---------------------------------------------------------------------
// Behaviours lms gets right.
// ---------------------------------------------------------------------

// HEAD hanging or refused while GET works: lms never sends HEAD.
func TestRedTeamHEADHangsGETWorks(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodHead:
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		default:
			_, _ = w.Write([]byte(rtPage))
		}
	})
	cfg := private()
	cfg.Timeout = 2 * time.Second
	r := check(t, cfg, srv.URL+"/")
	require.Equal(t, lms.StateOK, r.State, r.Reason)
	for _, q := range srv.requests() {
		require.Equal(t, http.MethodGet, q.Method)
	}
}

// Redirect forms that browsers follow: relative paths, "..", a
// protocol-relative Location, spaces and non-ASCII characters in the path,
// a 303 chain. The Location is resolved and percent-encoded like a browser
// does; only all-permanent chains offer a FinalURL.
func TestRedTeamRedirectForms(t *testing.T) {
	paths := &rtPaths{}
	var hostport string
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		paths.add(r.RequestURI)
		loc := map[string]string{
			"/a/b/rel":     "../landing",
			"/protorel":    "//" + hostport + "/landing",
			"/space":       "/new page",
			"/unicode":     "/café",
			"/303/1":       "/303/2",
			"/303/2":       "/landing",
			"/perm/1":      "/perm/2",
			"/perm/2":      "/landing",
			"/frag":        "/landing#section-2",
			"/querykeep":   "?page=2",
			"/abs-upper":   "HTTP://" + hostport + "/landing",
			"/trailing-ws": "/landing   ",
		}[r.URL.Path]
		switch {
		case strings.HasPrefix(r.URL.Path, "/303/"):
			w.Header().Set("Location", loc)
			w.WriteHeader(http.StatusSeeOther)
		case strings.HasPrefix(r.URL.Path, "/perm/"):
			w.Header().Set("Location", loc)
			w.WriteHeader(http.StatusMovedPermanently)
		case loc != "" && r.URL.RawQuery == "":
			w.Header().Set("Location", loc)
			w.WriteHeader(http.StatusFound)
		default:
			_, _ = w.Write([]byte(rtPage))
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	hostport = strings.TrimPrefix(srv.URL, "http://")
	for p, want := range map[string]string{
		"/a/b/rel": "/a/landing", "/protorel": "/landing", "/space": "/new%20page", "/unicode": "/caf%C3%A9",
		"/303/1": "/landing", "/frag": "/landing", "/querykeep": "/querykeep?page=2", "/abs-upper": "/landing",
		"/trailing-ws": "/landing",
	} {
		paths.mu.Lock()
		paths.uris = nil
		paths.mu.Unlock()
		r := check(t, private(), srv.URL+p)
		require.Equal(t, lms.StateOK, r.State, "%s: %s (%s)", p, r.Reason, r.Detail)
		got := paths.all()
		require.Equal(t, want, got[len(got)-1], p)
		require.False(t, r.Permanent, p)
		require.Empty(t, r.FinalURL, p)
	}
	r := check(t, private(), srv.URL+"/perm/1")
	require.Equal(t, lms.StateOK, r.State, r.Reason)
	require.True(t, r.Permanent)
	require.Equal(t, srv.URL+"/landing", r.FinalURL)
}

// The link's own bytes are sent as they are: percent-escapes kept as
// written (%2F stays %2F, lower-case escapes stay), raw non-ASCII encoded
// as UTF-8, the fragment never sent, userinfo sent as Basic credentials.
func TestRedTeamLinkBytesExact(t *testing.T) {
	paths := &rtPaths{}
	var auth string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths.add(r.RequestURI)
		mu.Lock()
		auth = r.Header.Get("Authorization")
		mu.Unlock()
		_, _ = w.Write([]byte(rtPage))
	}))
	defer srv.Close()
	for link, want := range map[string]string{
		"/files/a%2Fb.pdf":             "/files/a%2Fb.pdf",
		"/%7euser/":                    "/%7euser/",
		"/caf%c3%a9":                   "/caf%c3%a9",
		"/café":                        "/caf%C3%A9",
		"/wiki/Foo_(bar)":              "/wiki/Foo_(bar)",
		"/page#section":                "/page",
		"/q?a=1&b=%20x&c=%2B":          "/q?a=1&b=%20x&c=%2B",
		"/path with space/index.html":  "/path%20with%20space/index.html",
		"/search?q=caf%C3%A9#results!": "/search?q=caf%C3%A9",
	} {
		r := check(t, private(), srv.URL+link)
		require.Equal(t, lms.StateOK, r.State, "%s: %s (%s)", link, r.Reason, r.Detail)
		got := paths.all()
		require.Equal(t, want, got[len(got)-1], link)
	}
	u := strings.Replace(srv.URL, "http://", "http://alice:s3cret@", 1) + "/private"
	r := check(t, private(), u)
	require.Equal(t, lms.StateOK, r.State, r.Reason)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, "Basic "+base64.StdEncoding.EncodeToString([]byte("alice:s3cret")), auth)
}

// Status codes a person sees as a working page or as a broken one.
func TestRedTeamStatusesLikeAPerson(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/206":
			w.Header().Set("Content-Range", "bytes 0-3/100")
			w.WriteHeader(http.StatusPartialContent)
			_, _ = w.Write([]byte("abcd"))
		case "/401":
			w.Header().Set("WWW-Authenticate", `Basic realm="intranet"`)
			w.WriteHeader(http.StatusUnauthorized)
		case "/451":
			w.WriteHeader(http.StatusUnavailableForLegalReasons)
		case "/410":
			w.WriteHeader(http.StatusGone)
		case "/gzip-empty":
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Content-Length", "0")
		case "/early-hints":
			w.Header().Set("Link", "</style.css>; rel=preload; as=style")
			w.WriteHeader(http.StatusEarlyHints)
			_, _ = w.Write([]byte(rtPage))
		case "/charset-junk":
			w.Header().Set("Content-Type", "text/html; charset=x-no-such-charset-\x7f")
			_, _ = w.Write([]byte("\xff\xfe<html>\x00\x01</html>"))
		}
	}))
	defer srv.Close()
	for p, want := range map[string]lms.State{
		"/204": lms.StateOK, "/206": lms.StateOK, "/401": lms.StateOK, "/gzip-empty": lms.StateOK,
		"/early-hints": lms.StateOK, "/charset-junk": lms.StateOK,
		"/451": lms.StateUnavailable, "/410": lms.StateUnavailable,
	} {
		r := check(t, private(), srv.URL+p)
		require.Equal(t, want, r.State, "%s: %d %q (%s)", p, r.Code, r.Reason, r.Detail)
	}
	r := check(t, private(), srv.URL+"/451")
	require.Equal(t, "Unavailable For Legal Reasons", r.Reason)
}

// Servers that close kept-alive connections right after each answer
// (without "Connection: close"), across redirect hops to the same host.
func TestRedTeamKeepAliveClosedAfterEachAnswer(t *testing.T) {
	addr := rawServer(t, func(c net.Conn) {
		req := readRequest(c)
		if req == nil {
			return
		}
		n, _ := strconv.Atoi(strings.TrimPrefix(req.URL.Path, "/hop/"))
		if n < 3 {
			_, _ = fmt.Fprintf(c, "HTTP/1.1 302 Found\r\nLocation: /hop/%d\r\nContent-Length: 0\r\n\r\n", n+1)
		} else {
			_, _ = fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(rtPage), rtPage)
		}
		// close at once: the next hop finds the connection gone
	})
	r := check(t, private(), "http://"+addr+"/hop/0")
	require.Equal(t, lms.StateOK, r.State, "%s (%s)", r.Reason, r.Detail)
}

// A chunked page whose last chunk never comes but whose </html> arrived,
// then the connection closes: browsers show it.
func TestRedTeamChunkedCompletePageNoLastChunk(t *testing.T) {
	chunk := fmt.Sprintf("%x\r\n%s\r\n", len(rtPage), rtPage)
	addr := rawServer(t, func(c net.Conn) {
		readRequest(c)
		_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk))
	})
	r := check(t, private(), "http://"+addr+"/")
	require.Equal(t, lms.StateOK, r.State, "%s (%s)", r.Reason, r.Detail)
}

// An http link redirected to https on a host whose certificate names only
// www.: the browser refuses it (NET::ERR_CERT_COMMON_NAME_INVALID).
func TestRedTeamRedirectToHTTPSWrongName(t *testing.T) {
	now := time.Now()
	ca := certFor(t, nil, nil, nil, now.Add(-time.Hour), now.Add(time.Hour), true)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Leaf)
	secure := tlsServer(t, certFor(t, &ca, []string{"www.localhost"}, nil, now.Add(-time.Hour), now.Add(time.Hour), false))
	sport := secure.URL[strings.LastIndexByte(secure.URL, ':')+1:]
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://localhost:"+sport+r.URL.Path, http.StatusMovedPermanently)
	}))
	defer plain.Close()
	cfg := private()
	cfg.TLSConfig = &tls.Config{RootCAs: pool}
	r := check(t, cfg, plain.URL+"/page")
	require.Equal(t, lms.StateUnavailable, r.State, r.Reason)
	require.Equal(t, lms.FailureDefinitive, r.Failure)
	require.Equal(t, "The site's certificate belongs to a different site", r.Reason)
}

// A flaky deploy: 500 once, then 200. Never red; ok again at the next check.
func TestRedTeamFlaky500NeverRed(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte(rtPage))
	}))
	defer srv.Close()
	first := check(t, private(), srv.URL)
	second := check(t, private(), srv.URL)
	require.Equal(t, lms.StateTemporary, first.State)
	require.Equal(t, "Internal Server Error", first.Reason)
	out := rtTimeline(lms.Policy{}, first, second)
	require.Equal(t, lms.StateTemporary, out[0].Result.State)
	require.LessOrEqual(t, out[0].NextDue.Sub(out[0].Checked), 10*time.Minute, "confirmed within minutes")
	require.Equal(t, lms.StateOK, out[1].Result.State)
}

// 503 with Retry-After as an HTTP date, and 429 with a huge Retry-After:
// both non-red; the date is read, the huge wait capped by the policy.
func TestRedTeamRetryAfterForms(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/maint":
			w.Header().Set("Retry-After", time.Now().Add(2*time.Hour).UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/huge":
			w.Header().Set("Retry-After", "999999999")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	defer srv.Close()
	maint := check(t, private(), srv.URL+"/maint")
	require.Equal(t, lms.StateTemporary, maint.State)
	require.InDelta(t, (2 * time.Hour).Seconds(), maint.RetryAfter.Seconds(), 5)
	o := lms.Policy{}.Next(lms.Link{URL: srv.URL}, maint, time.Now(), 0)
	require.Equal(t, lms.StateTemporary, o.Result.State)
	require.GreaterOrEqual(t, o.NextDue.Sub(o.Checked), 2*time.Hour-5*time.Second)

	huge := check(t, private(), srv.URL+"/huge")
	require.Equal(t, lms.StateTemporary, huge.State)
	require.Equal(t, lms.FailureBlocked, huge.Failure)
	out := rtTimeline(lms.Policy{}, huge, huge, huge, huge, huge, huge)
	for _, o := range out {
		require.Equal(t, lms.StateTemporary, o.Result.State)
		require.LessOrEqual(t, o.NextDue.Sub(o.Checked), 24*time.Hour+time.Minute)
	}
}

// Bot wall on a redirect target: the retry goes to the target, with the
// cookies the first hop set.
func TestRedTeamBotWallBehindRedirect(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/short" {
			http.SetCookie(w, &http.Cookie{Name: "sid", Value: "1", Path: "/"})
			http.Redirect(w, r, "/article", http.StatusFound)
			return
		}
		if _, err := r.Cookie("sid"); err != nil || !isBrowser(r) {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		_, _ = w.Write([]byte(rtPage))
	})
	r := check(t, private(), srv.URL+"/short")
	require.Equal(t, lms.StateOK, r.State, r.Reason)
	require.Contains(t, r.Reason, "browser-like request got through")
}

// mailto forms a mail program accepts, and ones it does not.
func TestRedTeamMailtoForms(t *testing.T) {
	for u, want := range map[string]lms.State{
		"mailto:jos%C3%A9@example.org":          lms.StateOK,
		"mailto:joe@example.org?cc=bob@example": lms.StateOK,
		"mailto:joe@example.org?body=a%20b":     lms.StateOK,
		"mailto:joe@@example.org":               lms.StateUnavailable,
		"mailto:joe example.org":                lms.StateUnavailable,
		"mailto:@example.org":                   lms.StateUnavailable,
	} {
		r := check(t, lms.CheckerConfig{}, u)
		require.Equal(t, want, r.State, "%s: %q", u, r.Reason)
	}
}

// rtRSALeaf is a 2048-bit RSA leaf for 127.0.0.1 signed by ca (RSA key
// exchange needs an RSA key).
func rtRSALeaf(t *testing.T, ca *tls.Certificate) tls.Certificate {
	t.Helper()
	return rsaLeafFor(t, ca, []net.IP{net.ParseIP("127.0.0.1")})
}

// rsaLeafFor is a server certificate with an RSA key for ips, signed by ca.
func rsaLeafFor(t *testing.T, ca *tls.Certificate, ips []net.IP) tls.Certificate {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: "lms red team"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IPAddresses: ips,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Leaf, &key.PublicKey, ca.PrivateKey)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}
