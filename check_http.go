package lms

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linkmonitor/lms/internal/browser"
)

// httpChecker checks http and https URLs the way a browser opens them:
//
//   - GET, never HEAD (servers that mishandle HEAD make it a source of false
//     alarms); the body is read up to CheckerConfig.MaxBytes, so that a page
//     cut off before its end is noticed;
//   - redirects are followed up to MaxRedirects hops with a cookie jar of
//     the check's own (a site that sets a session cookie and redirects to
//     itself is no loop); a loop is the same address asked twice with the
//     same cookies;
//   - an answer that may come from a bot wall gets one browser-like retry
//     (see check_botwall.go);
//   - a response head that Go's strict parser refuses gets one retry
//     through a parser as tolerant as browsers are (browser.NewLenientConn);
//   - certificates are verified like Chrome does, fetching a missing
//     intermediate from the certificate's AIA address (browser.TLSDialer);
//   - hosts are read as browsers read them: a host that ends in a number is
//     an IPv4 address in any of its old forms (127.1, 0x7f.1, 2130706433)
//     and is asked for as the dotted quad (browser.Host); a name with a
//     trailing dot (an absolute name) is looked up without it (dialContext).
//
// Every further request of a check (a redirect hop, a retry) is paced like
// the first through the Pacer in the context. Failures map to plain-words
// reasons through the one table in reasons.go.
type httpChecker struct {
	cfg     CheckerConfig
	dial    *net.Dialer
	tr      *http.Transport // keep-alive, HTTP/2
	lenient *http.Transport // one answer per connection, sloppy heads repaired
	tls     *browser.TLSDialer
	bufs    sync.Pool // *[]byte of copyBuf bytes, for reading bodies
}

// copyBuf is the size of the buffer bodies are read through.
const copyBuf = 16 << 10

// maxRedirectBody is how much of a redirect's body is read (so that the
// connection can be reused).
const maxRedirectBody = 8 << 10

// streamBytes is how much of a body must have arrived when the check's time
// runs out for the link to count as working (a stream, a big download on a
// slow line); below, the page is too slow to be of use.
const streamBytes = 64 << 10

// maxCookies is the most cookies one check keeps (Chrome keeps 180 per
// domain).
const maxCookies = 180

// newHTTPChecker returns an HTTP(S) checker.
func newHTTPChecker(cfg CheckerConfig) *httpChecker {
	cfg = cfg.withDefaults()
	c := &httpChecker{cfg: cfg, dial: cfg.dialer()}
	c.bufs.New = func() any { b := make([]byte, copyBuf); return &b }
	c.tls = browser.NewTLSDialer(c.dialContext, cfg.ConnectTimeout, cfg.TLSConfig, DefaultUserAgent)
	c.tr = browser.NewTransport(c.dialContext, c.tls, cfg.headBytes(), cfg.Timeout)
	c.lenient = browser.NewLenientTransport(c.dialContext, c.tls, cfg.headBytes(), cfg.Timeout)
	return c
}

// dialContext dials addr through the checker's dialer (connect timeout,
// address policy), a name with a trailing dot without it (browser.DialAddr).
func (c *httpChecker) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return c.dial.DialContext(ctx, network, browser.DialAddr(addr))
}

// Check implements Checker.
func (c *httpChecker) Check(ctx context.Context, rawURL string) Result {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	start := time.Now()
	cur := browser.Escape(rawURL)
	u, err := url.Parse(cur)
	if err != nil || u.Hostname() == "" || !browser.ValidPort(u.Port()) {
		if err == nil {
			err = fmt.Errorf("no host or bad port in %q", rawURL)
		}
		return failInvalidURL.result(c.cfg, "", err)
	}
	switch changed, ok := browser.RewriteHost(u); {
	case !ok:
		return failInvalidURL.result(c.cfg, "", fmt.Errorf("%w in %q", browser.ErrNotIPv4, rawURL))
	case changed:
		cur = u.String()
	}
	h := &httpRun{c: c, ctx: ctx, pacer: PacerFromContext(ctx), jar: browser.NewJar(maxCookies), budget: c.cfg.MaxBytes}
	h.host = HostKey(rawURL) // the key the pool paced the first request by
	first := h.host
	r := h.follow(cur, u)
	if h.host != first {
		// The pool reports the answer of the first host; this one is ours.
		h.pacer.Done(h.host)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && r.State.Failing() && r.Code == 0 && r.Failure != FailureBlocked {
		// The deadline closed the connection under the client's feet.
		r = failTimeout.result(c.cfg, "", ctx.Err())
	}
	r.ResponseTime = time.Since(start)
	return r
}

// httpRun is one check: its cookie jar, what it has tried, its budget.
type httpRun struct {
	c       *httpChecker
	ctx     context.Context
	pacer   Pacer
	jar     *browser.Jar
	host    string  // politeness key of the last request
	name    string  // host name of the last request, for reasons
	browser bool    // the browser-like retry was made: later requests look like a browser's too
	blocked *answer // the answer that made the retry
	lenient bool    // the tolerant parser was tried
	budget  int64   // body bytes this check may still read
}

// answer is what the checker keeps of one response.
type answer struct {
	code       int
	url        *url.URL
	location   string // of a redirect
	refresh    string // where a page sends the browser at once (Refresh header, meta refresh)
	retryAfter time.Duration
	marker     string // who put up a bot wall, "" if no marker
	bodyErr    error  // reading the body failed
	upgrade    string // the Upgrade header of a 101
	complete   bool   // the page's closing </html> arrived
	n          int64  // body bytes read
}

func (h *httpRun) follow(rawURL string, u *url.URL) Result {
	cur, redirects, permanent := rawURL, 0, true
	seen := map[uint64]bool{h.jar.Key(u): true}
	h.name = u.Hostname()
	for {
		a, err := h.get(cur)
		if err != nil {
			return h.fail(err)
		}
		var next *url.URL
		if a.location != "" {
			var err error
			next, err = a.url.Parse(browser.Escape(a.location))
			switch {
			case err != nil || (next.Scheme == "http" || next.Scheme == "https") && (next.Hostname() == "" || !browser.ValidPort(next.Port())):
				return h.fail(fmt.Errorf("%w: %q", errBadRedirect, a.location))
			case next.Scheme != "http" && next.Scheme != "https":
				return h.fail(fmt.Errorf("%w: %q", errRedirectScheme, a.location))
			case redirects >= h.c.cfg.MaxRedirects:
				return h.fail(errTooManyRedirects)
			}
			if _, ok := browser.RewriteHost(next); !ok {
				return h.fail(fmt.Errorf("%w: %q: %w", errBadRedirect, a.location, browser.ErrNotIPv4))
			}
			permanent = permanent && (a.code == http.StatusMovedPermanently || a.code == http.StatusPermanentRedirect)
			next.Fragment, next.RawFragment = "", ""
			if seen[h.jar.Key(next)] {
				return h.fail(fmt.Errorf("%w at %s", errRedirectLoop, next))
			}
		} else if n, ok := h.refreshTo(a, seen, redirects); ok {
			// A page that sends the browser on at once: the person lands
			// where it points (never a permanent move).
			next, permanent = n, false
		}
		if next != nil {
			redirects++
			seen[h.jar.Key(next)] = true
			cur = next.String()
			if err := h.pace(HostKey(cur)); err != nil {
				return h.fail(err)
			}
			h.name = next.Hostname()
			continue
		}
		if !h.browser && botCandidate(a) {
			h.browser, h.blocked = true, a
			if err := h.pace(h.host); err != nil {
				return h.fail(err)
			}
			continue
		}
		r := h.finish(a)
		if redirects > 0 && permanent {
			r.Permanent, r.FinalURL = true, a.url.String()
		}
		return r
	}
}

// refreshTo returns where a's page sends the browser at once, if it does
// and that is an http(s) URL not yet visited within the redirect limit; a
// refresh that cannot be followed leaves the page as it is (a browser
// shows it).
func (h *httpRun) refreshTo(a *answer, seen map[uint64]bool, redirects int) (*url.URL, bool) {
	if a.refresh == "" || redirects >= h.c.cfg.MaxRedirects {
		return nil, false
	}
	next, err := a.url.Parse(browser.Escape(a.refresh))
	if err != nil || next.Scheme != "http" && next.Scheme != "https" || next.Hostname() == "" || !browser.ValidPort(next.Port()) {
		return nil, false
	}
	if _, ok := browser.RewriteHost(next); !ok {
		return nil, false
	}
	next.Fragment, next.RawFragment = "", ""
	if seen[h.jar.Key(next)] {
		return nil, false // a page that reloads itself
	}
	return next, true
}

// pace reports the answer of the last request and waits until host may get
// the next one.
func (h *httpRun) pace(host string) error {
	h.pacer.Done(h.host)
	if err := h.pacer.Wait(h.ctx, host); err != nil {
		return err
	}
	h.host = host
	return nil
}

func (h *httpRun) fail(err error) Result {
	return classify(err).result(h.c.cfg, h.name, err)
}

// get makes one request and reads its answer. A request that failed on a
// kept-alive connection the server had closed is made once more on a new
// one (as browsers do); a response Go's parser refuses is asked for once
// more through the tolerant parser.
func (h *httpRun) get(u string) (*answer, error) {
	resp, reused, err := h.do(h.c.tr, u)
	lenient := false
	if err != nil && reused && closedUnderUs(err) {
		if perr := h.pace(h.host); perr != nil {
			return nil, perr
		}
		resp, _, err = h.do(h.c.lenient, u) // a new connection
		lenient = true
	}
	if err != nil && !lenient && !h.lenient && needsLenient(err) {
		h.lenient = true
		if perr := h.pace(h.host); perr != nil {
			return nil, perr
		}
		resp, _, err = h.do(h.c.lenient, u)
		lenient = true
	}
	if err != nil && lenient && needsLenient(err) {
		// The tolerant parser found an HTTP head (it refuses what is not
		// HTTP itself); what Go's parser still refuses is what browsers
		// refuse too, such as two different Content-Lengths.
		err = fmt.Errorf("%w: %w", errMalformed, err)
	}
	if err != nil {
		return nil, err
	}
	return h.read(resp), nil
}

// needsLenient reports whether err is a response Go's parser refused (or an
// error nothing more is known about).
func needsLenient(err error) bool {
	cl := classify(err)
	return cl == failProtocol || cl == failConnection
}

// closedUnderUs reports whether err is what a kept-alive connection that
// the server had closed gives.
func closedUnderUs(err error) bool {
	switch classify(err) {
	case failReset, failNoAnswer, failDropped:
		return true
	}
	return false
}

// do makes one request through tr and reports whether it went over a
// reused connection.
func (h *httpRun) do(tr *http.Transport, u string) (resp *http.Response, reused bool, err error) {
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(h.ctx, trace), http.MethodGet, u, nil)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", errBadRedirect, err)
	}
	if h.browser {
		browserHeaders(req.Header, h.c.cfg)
	} else {
		req.Header.Set("User-Agent", h.c.cfg.UserAgent)
		req.Header.Set("Accept", "*/*")
		req.Header.Set("Accept-Encoding", "gzip") // decoded by decoded, as browsers do
	}
	if ui := req.URL.User; ui != nil {
		pw, _ := ui.Password()
		req.SetBasicAuth(ui.Username(), pw)
	}
	for _, ck := range h.jar.Cookies(req.URL) {
		req.AddCookie(ck)
	}
	// The transport itself: redirects are followed (and their Location
	// judged) by follow, not by an http.Client.
	resp, err = tr.RoundTrip(req)
	if err != nil {
		return nil, reused, err
	}
	if !h.jar.Full() { // a full jar parses no more cookies
		if cs := resp.Cookies(); len(cs) > 0 {
			h.jar.SetCookies(req.URL, cs)
		}
	}
	return resp, reused, nil
}

// read reads what the check needs of resp's body and closes it: a little of
// a redirect, enough of an error page to find a bot wall's marker, and of a
// page up to the check's budget, noting whether it arrived complete.
//
// The body is closed when the check's time runs out, whatever is reading
// it: the transport's own cancellation does not reach every body (a 101's
// is the raw connection, which no context closes).
func (h *httpRun) read(resp *http.Response) *answer {
	stop := context.AfterFunc(h.ctx, func() { _ = resp.Body.Close() })
	defer func() {
		stop()
		_ = resp.Body.Close()
	}()
	a := &answer{code: resp.StatusCode, url: resp.Request.URL}
	if a.code == http.StatusSwitchingProtocols {
		// No upgrade was asked for: whatever the server speaks next is no
		// page, and the "body" is the raw connection, closed at once.
		a.upgrade = resp.Header.Get("Upgrade")
		return a
	}
	if browser.RedirectCode(a.code) {
		a.location = resp.Header.Get("Location")
	}
	if a.code == http.StatusTooManyRequests || a.code == http.StatusServiceUnavailable {
		a.retryAfter = browser.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	limit, keep := h.budget, 0
	switch {
	case a.location != "":
		limit = min(limit, maxRedirectBody)
	case a.code >= 400:
		limit, keep = min(limit, maxMarkerBody), maxMarkerBody
	case a.code >= 200 && a.code < 300:
		a.refresh = browser.RefreshURL(resp.Header.Get("Refresh"))
		if a.refresh == "" && strings.Contains(strings.ToLower(resp.Header.Get("Content-Type")), "html") {
			keep = maxMetaHead
		}
	}
	// A page whose closing tag arrived is shown whole by a browser even if
	// the server then sends nothing more on an open connection (a
	// Content-Length counted too high): once it is seen, the rest of the
	// body gets endGrace, then the body is closed and the page taken as
	// complete.
	var ended atomic.Bool
	var graceTimer *time.Timer
	scan := &browser.BodyScan{Keep: keep, Ended: func() {
		graceTimer = time.AfterFunc(min(endGrace, h.c.cfg.Timeout/4), func() {
			ended.Store(true)
			_ = resp.Body.Close()
		})
	}}
	body, err := browser.Decode(resp.Header.Get("Content-Encoding"), resp.Body)
	if err == nil {
		var n int64
		buf := h.c.bufs.Get().(*[]byte)
		n, err = io.CopyBuffer(scan, io.LimitReader(body, limit), *buf)
		h.c.bufs.Put(buf)
		h.budget -= n
		a.n = n
	}
	if graceTimer != nil && !graceTimer.Stop() && ended.Load() && h.ctx.Err() == nil {
		err = nil // the page was complete; the server kept the rest back
	}
	if err != nil && !errors.Is(err, io.EOF) {
		if cerr := h.ctx.Err(); cerr != nil {
			// The check's time ran out (or the check was cancelled) and
			// the body was closed under the reader: that is the failure,
			// not how the read broke off.
			err = fmt.Errorf("%w (%v)", cerr, err)
		}
		a.bodyErr = err
	}
	a.complete = scan.End
	if keep == maxMetaHead {
		a.refresh = browser.RefreshURL(browser.MetaRefresh(scan.Head))
	}
	if a.code >= 400 {
		a.marker = browser.Marker(a.code, resp.Header, scan.Head)
	}
	return a
}

// finish turns the final answer into a Result.
func (h *httpRun) finish(a *answer) Result {
	if a.code == http.StatusSwitchingProtocols {
		r := failSwitched.result(h.c.cfg, h.name, fmt.Errorf("%w (Upgrade: %q)", errSwitched, a.upgrade))
		r.Code = a.code
		return r
	}
	r := statusResult(a.code)
	if h.blocked != nil {
		switch who := cmp.Or(a.marker, h.blocked.marker); {
		case r.State == StateOK:
			r.Reason = reasonBrowserOK(a.code)
		case who != "" && browser.BlockingCode(a.code):
			r = Result{State: StateTemporary, Failure: FailureBlocked, Reason: reasonBlocked(who)}
		case browser.NonStandard(a.code) && browser.BlockingCode(a.code):
			r = Result{State: StateTemporary, Failure: FailureBlocked, Reason: reasonBlocked("HTTP status " + strconv.Itoa(a.code))}
		}
	}
	if r.State == StateOK && a.bodyErr != nil {
		cl := classify(a.bodyErr)
		switch cl {
		case failTimeout, failCancelled, failBadEncoding, failTooMuchData:
		default:
			cl = failBodyCut
		}
		switch {
		case cl == failBodyCut && a.complete:
			// The page arrived whole; the server miscounted.
		case cl == failTimeout && a.n >= streamBytes:
			// A stream (a radio, a webcam) or a big download on a slow
			// line: it works for a person, who does not wait for its end.
		default:
			r = cl.result(h.c.cfg, h.name, a.bodyErr)
		}
	}
	r.Code = a.code
	r.RetryAfter = a.retryAfter
	return r
}

// statusResult maps an HTTP status to a Result: 1xx, 2xx, 3xx and 401 are
// ok (PROTOCOL.md §3; the one final 1xx, 101, is judged by finish); 429 is
// a rate limit, never a broken link; 408, 425 and the 5xx codes may pass
// (501 and 505 excepted), and so may a code beyond 599, which has no class
// (RFC 9110 §15) and is taken for an unknown server error; every other
// code is a definitive failure. The reason is the status's standard phrase.
func statusResult(code int) Result {
	r := Result{Code: code, Reason: statusReason(code)}
	switch {
	case code >= 100 && code < 400, code == http.StatusUnauthorized:
		r.State = StateOK
	case code == http.StatusTooManyRequests:
		r.State, r.Failure = StateTemporary, FailureBlocked
	case code == http.StatusRequestTimeout, code == http.StatusTooEarly,
		code >= 500 && code != http.StatusNotImplemented && code != http.StatusHTTPVersionNotSupported: // 600 and up too
		r.State, r.Failure = StateTemporary, FailureTransient
	default:
		r.State, r.Failure = StateUnavailable, FailureDefinitive
	}
	return r
}

// maxMetaHead is how much of an HTML page is searched for a meta refresh.
const maxMetaHead = 8 << 10

// endGrace is the longest the rest of a body is waited for after the
// page's closing tag arrived (at most a quarter of the check's timeout).
const endGrace = 2 * time.Second
