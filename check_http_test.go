package lms_test

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

// Behaviour tables of the HTTP checker against loopback servers that behave
// the way real websites behave towards link checkers; each row states what
// a person with a browser experiences.

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

// target is what one row's server offers: the link to check, the checker's
// configuration, and (for an httptest server) the requests it answered.
type target struct {
	url string
	cfg lms.CheckerConfig
	rec *recorder
}

// web serves h on a loopback HTTP server; the link is path on it.
func web(path string, h http.HandlerFunc) func(t *testing.T) target {
	return func(t *testing.T) target {
		rec := newRecorder(t, h)
		rec.Config.ErrorLog = log.New(io.Discard, "", 0)
		return target{url: rec.URL + path, cfg: private(), rec: rec}
	}
}

// raw serves fn on every connection of a loopback TCP server; done is
// closed when the test ends (a handler that must hold its connection open
// waits on it).
func raw(path string, fn func(c net.Conn, done <-chan struct{})) func(t *testing.T) target {
	return func(t *testing.T) target {
		done := make(chan struct{})
		addr := rawServer(t, func(c net.Conn) { fn(c, done) })
		t.Cleanup(func() { close(done) })
		return target{url: "http://" + addr + path, cfg: private()}
	}
}

// answerRow is one row of TestHTTPAnswers: a server, the state the check
// must report (or, with not, must not report), its reason or a part of it,
// and further assertions.
type answerRow struct {
	name    string
	serve   func(t *testing.T) target
	timeout time.Duration // the check's Timeout; 0: private()'s
	state   lms.State
	not     bool
	reason  string // the whole reason; "" not checked
	has     string // a part of the reason; "" not checked
	also    func(t *testing.T, r lms.Result, tg target)
}

// amazonRobotCheck answers clients that do not look like a browser with
// 503 and Amazon's robot page (no Retry-After, none of the vendor headers),
// browsers with the product page. This is what amazon.com does to link
// checkers.
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

// gzipPage serves body gzip-compressed as ctype, followed by junk.
func gzipPage(ctype string, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}
}

// rsaOnlyServer serves rtPage over TLS 1.2 with RSA key exchange only
// (old IIS, old load balancers), with a certificate for 127.0.0.1 signed by
// a CA the checker trusts.
func rsaOnlyServer(t *testing.T) target {
	now := time.Now()
	ca := certFor(t, nil, nil, nil, now.Add(-time.Hour), now.Add(time.Hour), true)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Leaf)
	leaf := rsaLeafFor(t, &ca, []net.IP{net.ParseIP("127.0.0.1")})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(rtPage)) }))
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{leaf},
		MinVersion:   tls.VersionTLS12, MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384},
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	cfg := private()
	cfg.TLSConfig = &tls.Config{RootCAs: pool}
	return target{url: srv.URL + "/", cfg: cfg}
}

// wrongNameRedirect is an http link redirected to https on a host whose
// certificate names only www.
func wrongNameRedirect(t *testing.T) target {
	now := time.Now()
	ca := certFor(t, nil, nil, nil, now.Add(-time.Hour), now.Add(time.Hour), true)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Leaf)
	secure := tlsServer(t, certFor(t, &ca, []string{"www.localhost"}, nil, now.Add(-time.Hour), now.Add(time.Hour), false))
	sport := secure.URL[strings.LastIndexByte(secure.URL, ':')+1:]
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://localhost:"+sport+r.URL.Path, http.StatusMovedPermanently)
	}))
	t.Cleanup(plain.Close)
	cfg := private()
	cfg.TLSConfig = &tls.Config{RootCAs: pool}
	return target{url: plain.URL + "/page", cfg: cfg}
}

// TestHTTPAnswers: HTTP answers as real sites give them → the state and
// reason a person with a browser would report. Every check must also end
// within its timeout and a little more, whatever the server holds open.
func TestHTTPAnswers(t *testing.T) {
	// Not parallel itself: the rows with a short timeout run alone, the
	// others in parallel after them.
	rows := []answerRow{
		// Bodies decoded like a browser: Chrome and Firefox stop at the
		// gzip footer and ignore what follows (a caching plugin's comment,
		// PHP's newline after ob_gzhandler), and Chromium does not check
		// the footer's CRC-32.
		{name: "gzip page, a timing comment after the stream", state: lms.StateOK,
			serve: func(t *testing.T) target {
				return web("/", gzipPage("text/html", append(rtGzip(t, rtPage), "<!-- generated in 0.02 s -->\n"...)))(t)
			}},
		{name: "gzip json, a trailing newline", state: lms.StateOK,
			serve: func(t *testing.T) target {
				return web("/", gzipPage("application/json", append(rtGzip(t, `{"ok":true,"items":[1,2,3]}`), '\n')))(t)
			}},
		{name: "gzip with a wrong CRC-32 (a proxy kept the old footer)", state: lms.StateUnavailable, not: true,
			serve: func(t *testing.T) target {
				body := rtGzip(t, rtPage)
				body[len(body)-8] ^= 0xff // CRC-32
				return web("/", func(w http.ResponseWriter, _ *http.Request) {
					w.Header().Set("Content-Type", "text/html")
					w.Header().Set("Content-Encoding", "gzip")
					_, _ = w.Write(body)
				})(t)
			}},
		{name: "gzip, empty", state: lms.StateOK, serve: web("/", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Content-Length", "0")
		})},
		// Statuses a person sees as a working page or as a broken one.
		{name: "204", state: lms.StateOK, serve: web("/", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })},
		{name: "206", state: lms.StateOK, serve: web("/", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Range", "bytes 0-3/100")
			w.WriteHeader(http.StatusPartialContent)
			_, _ = w.Write([]byte("abcd"))
		})},
		{name: "401 of an intranet", state: lms.StateOK, serve: web("/", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("WWW-Authenticate", `Basic realm="intranet"`)
			w.WriteHeader(http.StatusUnauthorized)
		})},
		{name: "451", state: lms.StateUnavailable, reason: "Unavailable For Legal Reasons",
			serve: web("/", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusUnavailableForLegalReasons) })},
		{name: "410", state: lms.StateUnavailable, serve: web("/", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusGone) })},
		{name: "103 Early Hints, then the page", state: lms.StateOK, serve: web("/", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Link", "</style.css>; rel=preload; as=style")
			w.WriteHeader(http.StatusEarlyHints)
			_, _ = w.Write([]byte(rtPage))
		})},
		{name: "a charset no one knows, binary junk", state: lms.StateOK, serve: web("/", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=x-no-such-charset-\x7f")
			_, _ = w.Write([]byte("\xff\xfe<html>\x00\x01</html>"))
		})},
		// Pages that arrive whole on connections that end oddly.
		{name: "a complete page, Content-Length too high, connection kept open (PHP behind a keep-alive front end)",
			state: lms.StateOK, timeout: time.Second,
			serve: raw("/", func(c net.Conn, done <-chan struct{}) {
				readRequest(c)
				_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: " + strconv.Itoa(len(rtPage)+200) + "\r\n\r\n" + rtPage))
				<-done
			})},
		{name: "a chunked page whose last chunk never comes, then the connection closes", state: lms.StateOK,
			serve: raw("/", func(c net.Conn, _ <-chan struct{}) {
				readRequest(c)
				_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n" +
					fmt.Sprintf("%x\r\n%s\r\n", len(rtPage), rtPage)))
			})},
		{name: "kept-alive connections closed after each answer, across redirect hops", state: lms.StateOK,
			serve: raw("/hop/0", func(c net.Conn, _ <-chan struct{}) {
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
			})},
		// A 101 to a plain GET holds the check for as long as the server
		// likes unless the checker bounds it: Go's transport hands over the
		// raw connection as the body, which no context closes.
		{name: "101 Switching Protocols to a plain GET, connection held open", state: lms.StateOK, not: true, timeout: time.Second,
			serve: raw("/", func(c net.Conn, done <-chan struct{}) {
				readRequest(c)
				_, _ = c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"))
				<-done
			})},
		// A page that moved the old way (Refresh header, meta refresh) to a
		// page that is gone: the person lands on a 404.
		{name: "Refresh header to a 404", state: lms.StateOK, not: true, serve: web("/header", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/gone" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Refresh", "0; url=/gone")
			_, _ = w.Write([]byte("<html><body>Moved.</body></html>"))
		})},
		{name: "meta refresh to a 404", state: lms.StateOK, not: true, serve: web("/meta", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/gone" {
				http.NotFound(w, r)
				return
			}
			_, _ = w.Write([]byte(`<html><head><meta http-equiv="refresh" content="0; url=/gone"></head><body>Moved.</body></html>`))
		})},
		// Bot walls.
		{name: "503 and a robot page to bots only (Amazon): never red", state: lms.StateUnavailable, not: true,
			serve: web("/dp/B000000000", amazonRobotCheck),
			also: func(t *testing.T, r lms.Result, tg target) {
				var results []lms.Result
				for range 6 {
					results = append(results, r)
				}
				out := rtTimeline(lms.Policy{}, results...)
				last := out[len(out)-1].Result
				require.NotEqual(t, lms.StateUnavailable, last.State,
					"the page opens in a browser; lms checked %s %d %q after %d requests, and after %d checks the policy reports %s",
					r.State, r.Code, r.Reason, len(tg.rec.requests()), len(out), last.State)
			}},
		{name: "a 403 wall on a redirect target: the retry goes there, with the first hop's cookie", state: lms.StateOK,
			has: "browser-like request got through",
			serve: web("/short", func(w http.ResponseWriter, r *http.Request) {
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
			})},
		// Rate limits and maintenance: never red, the wait honoured.
		{name: "503 with Retry-After as an HTTP date", state: lms.StateTemporary,
			serve: web("/maint", func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", time.Now().Add(2*time.Hour).UTC().Format(http.TimeFormat))
				w.WriteHeader(http.StatusServiceUnavailable)
			}),
			also: func(t *testing.T, r lms.Result, tg target) {
				require.InDelta(t, (2 * time.Hour).Seconds(), r.RetryAfter.Seconds(), 5)
				o := lms.Policy{}.Next(lms.Link{URL: tg.url}, r, time.Now(), 0)
				require.Equal(t, lms.StateTemporary, o.Result.State)
				require.GreaterOrEqual(t, o.NextDue.Sub(o.Checked), 2*time.Hour-5*time.Second)
			}},
		{name: "429 with a huge Retry-After", state: lms.StateTemporary,
			serve: web("/huge", func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", "999999999")
				w.WriteHeader(http.StatusTooManyRequests)
			}),
			also: func(t *testing.T, r lms.Result, _ target) {
				require.Equal(t, lms.FailureBlocked, r.Failure)
				out := rtTimeline(lms.Policy{}, r, r, r, r, r, r)
				for _, o := range out {
					require.Equal(t, lms.StateTemporary, o.Result.State)
					require.LessOrEqual(t, o.NextDue.Sub(o.Checked), 24*time.Hour+time.Minute)
				}
			}},
		{name: "500 once (a deploy), then 200: never red, ok at the next check", state: lms.StateTemporary, reason: "Internal Server Error",
			serve: func(t *testing.T) target {
				var mu sync.Mutex
				calls := 0
				return web("/", func(w http.ResponseWriter, _ *http.Request) {
					mu.Lock()
					calls++
					n := calls
					mu.Unlock()
					if n == 1 {
						w.WriteHeader(http.StatusInternalServerError)
						return
					}
					_, _ = w.Write([]byte(rtPage))
				})(t)
			},
			also: func(t *testing.T, first lms.Result, tg target) {
				second := check(t, tg.cfg, tg.url)
				out := rtTimeline(lms.Policy{}, first, second)
				require.Equal(t, lms.StateTemporary, out[0].Result.State)
				require.LessOrEqual(t, out[0].NextDue.Sub(out[0].Checked), 10*time.Minute, "confirmed within minutes")
				require.Equal(t, lms.StateOK, out[1].Result.State)
			}},
		// Never HEAD: servers that hang or refuse it serve GET fine.
		{name: "HEAD hangs, GET works", state: lms.StateOK, timeout: 2 * time.Second,
			serve: web("/", func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodHead {
					<-r.Context().Done()
					return
				}
				_, _ = w.Write([]byte(rtPage))
			}),
			also: func(t *testing.T, _ lms.Result, tg target) {
				for _, q := range tg.rec.requests() {
					require.Equal(t, http.MethodGet, q.Method)
				}
			}},
		// TLS as browsers speak it.
		{name: "TLS 1.2 with RSA key exchange only (Chrome and Firefox still offer it)", state: lms.StateOK, serve: rsaOnlyServer},
		{name: "redirect to https on a host whose certificate names only www.", state: lms.StateUnavailable,
			reason: "The site's certificate belongs to a different site", serve: wrongNameRedirect,
			also: func(t *testing.T, r lms.Result, _ target) { require.Equal(t, lms.FailureDefinitive, r.Failure) }},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			if row.timeout == 0 {
				t.Parallel()
			}
			tg := row.serve(t)
			if row.timeout > 0 {
				tg.cfg.Timeout = row.timeout
			}
			res := make(chan lms.Result, 1)
			go func() { res <- lms.NewDefaultChecker(tg.cfg).Check(t.Context(), tg.url) }()
			var r lms.Result
			select {
			case r = <-res:
			case <-time.After(tg.cfg.Timeout + 3*time.Second):
				t.Fatalf("the check did not end within its timeout (%v) + 3 s", tg.cfg.Timeout)
			}
			if row.not {
				require.NotEqual(t, row.state, r.State, "a person with a browser disagrees; lms: %s %d %q (%s)", r.State, r.Code, r.Reason, r.Detail)
			} else {
				require.Equal(t, row.state, r.State, "a person with a browser disagrees; lms: %s %d %q (%s)", r.State, r.Code, r.Reason, r.Detail)
			}
			if row.reason != "" {
				require.Equal(t, row.reason, r.Reason)
			}
			if row.has != "" {
				require.Contains(t, r.Reason, row.has)
			}
			if row.also != nil {
				row.also(t, r, tg)
			}
		})
	}
}

// requestLineRow is one row of TestRequestLine: a link (a path on the
// server), the request URI the server sees last, and whether the chain
// offers a permanent move.
type requestLineRow struct {
	link, want string
	permanent  bool
}

// TestRequestLine: links and redirect Locations → the request line a
// browser sends. The link's own bytes go as they are (escapes kept as
// written, %2F stays %2F), what Go's parser would refuse or send raw is
// escaped like a browser does (browser.Escape), the fragment is never sent,
// a Location is resolved like a browser resolves it; only all-permanent
// chains offer a FinalURL.
func TestRequestLine(t *testing.T) {
	t.Parallel()
	var (
		mu    sync.Mutex
		uris  []string
		auth  string
		srvMu sync.Mutex
		host  string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		uris = append(uris, r.RequestURI)
		auth = r.Header.Get("Authorization")
		mu.Unlock()
		srvMu.Lock()
		hostport := host
		srvMu.Unlock()
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
			"/sale":        "/deals/50%-off",
			"/old-search":  "/search?q=hello world",
		}[r.URL.Path]
		switch {
		case strings.HasPrefix(r.URL.Path, "/303/"):
			w.Header().Set("Location", loc)
			w.WriteHeader(http.StatusSeeOther)
		case strings.HasPrefix(r.URL.Path, "/perm/"), r.URL.Path == "/sale":
			w.Header().Set("Location", loc)
			w.WriteHeader(http.StatusMovedPermanently)
		case loc != "" && r.URL.RawQuery == "":
			w.Header().Set("Location", loc)
			w.WriteHeader(http.StatusFound)
		default:
			_, _ = w.Write([]byte(rtPage))
		}
	}))
	defer srv.Close()
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srvMu.Lock()
	host = strings.TrimPrefix(srv.URL, "http://")
	srvMu.Unlock()
	for _, row := range []requestLineRow{
		// Redirect forms browsers follow.
		{link: "/a/b/rel", want: "/a/landing"},
		{link: "/protorel", want: "/landing"},
		{link: "/space", want: "/new%20page"},
		{link: "/unicode", want: "/caf%C3%A9"},
		{link: "/303/1", want: "/landing"},
		{link: "/frag", want: "/landing"},
		{link: "/querykeep", want: "/querykeep?page=2"},
		{link: "/abs-upper", want: "/landing"},
		{link: "/trailing-ws", want: "/landing"},
		{link: "/perm/1", want: "/landing", permanent: true},
		// A "%" that starts no escape, in the link or a Location.
		{link: "/deals/50%-off", want: "/deals/50%25-off"},
		{link: "/sale", want: "/deals/50%25-off", permanent: true},
		// A space in the query, in the link or a Location: never raw on
		// the request line (servers answer 400 to that).
		{link: "/search?q=hello world", want: "/search?q=hello%20world"},
		{link: "/old-search", want: "/search?q=hello%20world"},
		// The link's own bytes.
		{link: "/files/a%2Fb.pdf", want: "/files/a%2Fb.pdf"},
		{link: "/%7euser/", want: "/%7euser/"},
		{link: "/caf%c3%a9", want: "/caf%c3%a9"},
		{link: "/café", want: "/caf%C3%A9"},
		{link: "/wiki/Foo_(bar)", want: "/wiki/Foo_(bar)"},
		{link: "/page#section", want: "/page"},
		{link: "/q?a=1&b=%20x&c=%2B", want: "/q?a=1&b=%20x&c=%2B"},
		{link: "/path with space/index.html", want: "/path%20with%20space/index.html"},
		{link: "/search?q=caf%C3%A9#results!", want: "/search?q=caf%C3%A9"},
	} {
		mu.Lock()
		uris = nil
		mu.Unlock()
		r := check(t, private(), srv.URL+row.link)
		require.Equal(t, lms.StateOK, r.State, "%s opens in a browser; lms: %s %d %q (%s)", row.link, r.State, r.Code, r.Reason, r.Detail)
		mu.Lock()
		got := append([]string(nil), uris...)
		mu.Unlock()
		require.Equal(t, row.want, got[len(got)-1], row.link)
		require.Equal(t, row.permanent, r.Permanent, row.link)
		if row.permanent || r.FinalURL != "" {
			// final_url is where the reader ends up, after any redirect.
			require.Equal(t, srv.URL+row.want, r.FinalURL, row.link)
		}
	}
	// Userinfo goes as Basic credentials.
	r := check(t, private(), strings.Replace(srv.URL, "http://", "http://alice:s3cret@", 1)+"/private")
	require.Equal(t, lms.StateOK, r.State, r.Reason)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, "Basic "+base64.StdEncoding.EncodeToString([]byte("alice:s3cret")), auth)
}

// rsaLeafFor is a server certificate with an RSA key for ips, signed by ca
// (RSA key exchange needs an RSA key).
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
