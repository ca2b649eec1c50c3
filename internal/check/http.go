package check

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/linkmonitor/lms/internal/browser"
	"github.com/linkmonitor/lms/internal/softfail"
)

// HTTP checks http and https URLs the way a browser opens them:
//
//   - GET, never HEAD (servers that mishandle HEAD make it a source of false
//     alarms); the body is read up to Config.MaxBytes, so that a page
//     cut off before its end is noticed;
//   - redirects are followed up to MaxRedirects hops with a cookie jar of
//     the check's own (a site that sets a session cookie and redirects to
//     itself is no loop); a loop is the same address asked twice with the
//     same cookies;
//   - final_url is where the reader ends up after any redirects; a
//     redirect to mailto: or tel: hands the reader to another program
//     (ok), one to ftp:// is checked by the FTP checker (softfail.go);
//   - a working page is looked at for signs that it is alive but wrong (a
//     soft 404, a parked domain, a deep link sent to the home page), with
//     at most one probe of a made-up path per host per interval
//     (softfail.go, package softfail);
//   - an answer that may come from a bot wall gets one browser-like retry
//     (see botwall.go);
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
// the first through the Pacer Check is given. Failures map to plain-words
// reasons through the one table in reasons.go.
type HTTP struct {
	cfg     Config
	key     func(rawURL string) string // the politeness key of a URL
	dial    *net.Dialer
	tr      *http.Transport // keep-alive, HTTP/2
	lenient *http.Transport // one answer per connection, sloppy heads repaired
	tls     *browser.TLSDialer
	bufs    sync.Pool // *[]byte of 16 KiB, for reading bodies
	ftp     *FTP      // checks the target of a redirect to ftp://
	probes  *softfail.ProbeCache
}

// streamBytes is how much of a body must have arrived when the check's time
// runs out for the link to count as working (a stream, a big download on a
// slow line); below, the page is too slow to be of use.
const streamBytes = 64 << 10

// maxCookies is the most cookies one check keeps (Chrome keeps 180 per
// domain).
const maxCookies = 180

// NewHTTP returns an HTTP(S) checker; hostKey returns the politeness key
// of a URL, by which every further request of a check is paced.
func NewHTTP(cfg Config, hostKey func(rawURL string) string) *HTTP {
	c := &HTTP{cfg: cfg, key: hostKey, dial: cfg.dialer(), ftp: NewFTP(cfg), probes: softfail.NewProbeCache(cfg.ProbeInterval, probeHosts)}
	c.bufs.New = func() any { b := make([]byte, 16<<10); return &b }
	c.tls = browser.NewTLSDialer(c.dialContext, cfg.ConnectTimeout, cfg.TLSConfig, DefaultUserAgent)
	c.tr = browser.NewTransport(c.dialContext, c.tls, cfg.headBytes(), cfg.Timeout)
	c.lenient = browser.NewLenientTransport(c.dialContext, c.tls, cfg.headBytes(), cfg.Timeout)
	return c
}

// dialContext dials addr through the checker's dialer (connect timeout,
// address policy), a name with a trailing dot without it (browser.DialAddr).
func (c *HTTP) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return c.dial.DialContext(ctx, network, browser.DialAddr(addr))
}

// Check checks rawURL, pacing every request after the first through p
// (nil: not paced).
func (c *HTTP) Check(ctx context.Context, p Pacer, rawURL string) Result {
	if p == nil {
		p = noPacer{}
	}
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
	h := &httpRun{c: c, pacer: p, jar: browser.NewJar(maxCookies), budget: c.cfg.MaxBytes}
	// What the check reads on the wire is counted and capped besides what
	// it decodes; its AIA fetches are requests to their hosts (pacedBy).
	h.visit = browser.NewVisit(browser.WireBudget(c.cfg.MaxBytes), pacedBy(h.pacer, c.key))
	h.ctx = browser.WithVisit(ctx, h.visit)
	h.host = c.key(rawURL) // the key the pool paced the first request by
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
	c       *HTTP
	ctx     context.Context
	pacer   Pacer
	jar     *browser.Jar
	host    string          // politeness key of the last request
	name    string          // host name of the last request, for reasons
	browser bool            // the browser-like retry was made: later requests look like a browser's too
	blocked *browser.Answer // the answer that made the retry
	lenient bool            // the tolerant parser was tried
	budget  int64           // body bytes this check may still read, decoded
	visit   *browser.Visit  // what it may still read on the wire, its AIA fetches
}

// follow checks rawURL (u parsed): it walks the redirects to the final
// answer and judges it. final_url is where the reader ends up after any
// redirects (the last address asked, even when it failed), and
// permanent_redirect says that every hop was permanent.
func (h *httpRun) follow(rawURL string, u *url.URL) Result {
	l, err := h.walk(rawURL, u, false)
	var r Result
	switch {
	case err != nil:
		r = h.fail(err)
	case l.elsewhere != nil:
		r = h.handOff(l.elsewhere)
	default:
		r = h.finish(l.a)
		if r.State == StateOK && l.a.Code >= 200 && l.a.Code < 300 {
			r = h.judge(rawURL, l, r)
		}
	}
	if n := len(l.hops); n > 0 {
		r.FinalURL, r.Permanent = l.hops[n-1].To, l.permanent
	}
	return r
}

// landing is where a walk ended: the final answer and the redirects that
// led to it.
type landing struct {
	a         *browser.Answer
	hops      []softfail.Hop
	permanent bool     // every hop was a permanent redirect (301, 308)
	elsewhere *url.URL // the walk ended on a redirect to another program (mailto:, tel:) or to ftp://
}

// walk asks for rawURL (u parsed) and follows its redirects and page
// refreshes to the final answer, pacing every further request. A probe
// (probe true) makes no browser-like retry and follows no redirect to
// another scheme. The landing holds the hops followed even when err is not
// nil.
func (h *httpRun) walk(rawURL string, u *url.URL, probe bool) (l landing, err error) {
	cur, redirects := rawURL, 0
	l.permanent = true
	seen := map[uint64]bool{h.jar.Key(u): true}
	h.name = u.Hostname()
	for {
		a, err := h.get(cur)
		if err != nil {
			return l, err
		}
		var next *url.URL
		status, loc := a.Code, a.Location
		if a.Location != "" {
			var err error
			next, err = a.URL.Parse(browser.Escape(a.Location))
			switch {
			case err != nil || web(next) && (next.Hostname() == "" || !browser.ValidPort(next.Port())):
				return l, fmt.Errorf("%w: %q", errBadRedirect, a.Location)
			case redirects >= h.c.cfg.MaxRedirects:
				return l, errTooManyRedirects
			case !web(next) && !probe && elsewhere(next):
				l.permanent = l.permanent && permanentCode(a.Code)
				l.hops = append(l.hops, softfail.Hop{From: cur, Status: status, Location: loc, To: next.String()})
				l.a, l.elsewhere = a, next
				return l, nil
			case !web(next):
				return l, fmt.Errorf("%w: %q", errRedirectScheme, a.Location)
			}
			if _, ok := browser.RewriteHost(next); !ok {
				return l, fmt.Errorf("%w: %q: %w", errBadRedirect, a.Location, browser.ErrNotIPv4)
			}
			l.permanent = l.permanent && permanentCode(a.Code)
			next.Fragment, next.RawFragment = "", ""
			if seen[h.jar.Key(next)] {
				return l, fmt.Errorf("%w at %s", errRedirectLoop, next)
			}
		} else if n, ok := h.refreshTo(a, seen, redirects); ok {
			// A page that sends the browser on at once: the person lands
			// where it points (never a permanent move).
			next, status, loc, l.permanent = n, http.StatusOK, a.Refresh, false
		}
		if next != nil {
			redirects++
			seen[h.jar.Key(next)] = true
			l.hops = append(l.hops, softfail.Hop{From: cur, Status: status, Location: loc, To: next.String()})
			cur = next.String()
			if err := h.pace(h.c.key(cur)); err != nil {
				return l, err
			}
			h.name = next.Hostname()
			continue
		}
		if !probe && !h.browser && botCandidate(a) {
			h.browser, h.blocked = true, a
			if err := h.pace(h.host); err != nil {
				return l, err
			}
			continue
		}
		l.a = a
		return l, nil
	}
}

// web reports whether u is an http or https URL.
func web(u *url.URL) bool { return u.Scheme == "http" || u.Scheme == "https" }

// permanentCode reports whether a redirect status is a permanent move.
func permanentCode(code int) bool {
	return code == http.StatusMovedPermanently || code == http.StatusPermanentRedirect
}

// refreshTo returns where a's page sends the browser at once, if it does
// and that is an http(s) URL not yet visited within the redirect limit; a
// refresh that cannot be followed leaves the page as it is (a browser
// shows it).
func (h *httpRun) refreshTo(a *browser.Answer, seen map[uint64]bool, redirects int) (*url.URL, bool) {
	if a.Refresh == "" || redirects >= h.c.cfg.MaxRedirects {
		return nil, false
	}
	next, err := a.URL.Parse(browser.Escape(a.Refresh))
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
func (h *httpRun) get(u string) (*browser.Answer, error) {
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
		req.Header.Set("Accept-Encoding", "gzip") // decoded by browser.Read, as browsers do
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

// read reads resp like a browser (browser.Read) within the check's budget
// and closes it.
func (h *httpRun) read(resp *http.Response) *browser.Answer {
	buf := h.c.bufs.Get().(*[]byte)
	defer h.c.bufs.Put(buf)
	a := browser.Read(h.ctx, resp, browser.ReadLimits{Budget: h.budget, Visit: h.visit, Timeout: h.c.cfg.Timeout, Buf: *buf, Page: softfail.MaxBody})
	h.budget -= a.N
	return a
}

// finish turns the final answer into a Result.
func (h *httpRun) finish(a *browser.Answer) Result {
	if a.Code == http.StatusSwitchingProtocols {
		r := failSwitched.result(h.c.cfg, h.name, fmt.Errorf("%w (Upgrade: %q)", errSwitched, a.Upgrade))
		r.Code = a.Code
		return r
	}
	r := statusResult(a.Code)
	if h.blocked != nil {
		switch who := cmp.Or(a.Marker, h.blocked.Marker); {
		case r.State == StateOK:
			r.Reason = reasonBrowserOK(a.Code)
		case who != "" && browser.BlockingCode(a.Code):
			r = Result{State: StateTemporary, Failure: FailureBlocked, Reason: reasonBlocked(who)}
		case browser.NonStandard(a.Code) && browser.BlockingCode(a.Code):
			r = Result{State: StateTemporary, Failure: FailureBlocked, Reason: reasonBlocked("HTTP status " + strconv.Itoa(a.Code))}
		}
	}
	if r.State == StateOK && a.BodyErr != nil {
		cl := classify(a.BodyErr)
		switch cl {
		case failTimeout, failCancelled, failBadEncoding, failTooMuchData:
		default:
			cl = failBodyCut
		}
		switch {
		case cl == failBodyCut && a.Complete:
			// The page arrived whole; the server miscounted.
		case cl == failTimeout && a.N >= streamBytes:
			// A stream (a radio, a webcam) or a big download on a slow
			// line: it works for a person, who does not wait for its end.
		default:
			r = cl.result(h.c.cfg, h.name, a.BodyErr)
		}
	}
	r.Code = a.Code
	r.RetryAfter = a.RetryAfter
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
