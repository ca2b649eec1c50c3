package lms

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/publicsuffix"
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
//     through a parser as tolerant as browsers are (check_http_lenient.go);
//   - certificates are verified like Chrome does, fetching a missing
//     intermediate from the certificate's AIA address (check_tls.go);
//   - hosts are read as browsers read them: a host that ends in a number is
//     an IPv4 address in any of its old forms (127.1, 0x7f.1, 2130706433)
//     and is asked for as the dotted quad (browserHost); a name with a
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
	aia     *aiaCache
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
	c.aia = newAIACache(cfg, c.dialContext)
	c.tr = &http.Transport{
		DialContext: c.dialContext,
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return c.dialTLS(ctx, network, addr, []string{"h2", "http/1.1"})
		},
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           256,
		MaxIdleConnsPerHost:    2,
		DisableCompression:     true, // decoded like a browser: see decoded
		IdleConnTimeout:        5 * time.Second,
		MaxResponseHeaderBytes: cfg.headBytes(),
		ExpectContinueTimeout:  time.Second,
		ResponseHeaderTimeout:  cfg.Timeout,
	}
	c.lenient = &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			cn, err := c.dialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return newLenientConn(cn, cfg.headBytes()), nil
		},
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			cn, err := c.dialTLS(ctx, network, addr, []string{"http/1.1"})
			if err != nil {
				return nil, err
			}
			return newLenientConn(cn, cfg.headBytes()), nil
		},
		DisableKeepAlives:      true,
		DisableCompression:     true,
		TLSNextProto:           map[string]func(string, *tls.Conn) http.RoundTripper{},
		MaxResponseHeaderBytes: cfg.headBytes() + 4<<10, // the lenient conn enforces the limit
		ResponseHeaderTimeout:  cfg.Timeout,
	}
	return c
}

// dialContext dials addr through the checker's dialer (connect timeout,
// address policy). A host name with a trailing dot is looked up without it,
// as browsers do: it names the same host, and Go's resolver would not find
// a one-label name such as "localhost." in the hosts file.
func (c *httpChecker) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if host, port, err := net.SplitHostPort(addr); err == nil && len(host) > 1 && strings.HasSuffix(host, ".") {
		addr = net.JoinHostPort(strings.TrimSuffix(host, "."), port)
	}
	return c.dial.DialContext(ctx, network, addr)
}

// Check implements Checker.
func (c *httpChecker) Check(ctx context.Context, rawURL string) Result {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	start := time.Now()
	cur := browserEscape(rawURL)
	u, err := url.Parse(cur)
	if err != nil || u.Hostname() == "" || !validPort(u.Port()) {
		if err == nil {
			err = fmt.Errorf("no host or bad port in %q", rawURL)
		}
		return failInvalidURL.result(c.cfg, "", err)
	}
	switch changed, ok := browserURL(u); {
	case !ok:
		return failInvalidURL.result(c.cfg, "", fmt.Errorf("%w in %q", errNotIPv4, rawURL))
	case changed:
		cur = u.String()
	}
	h := &httpRun{c: c, ctx: ctx, pacer: PacerFromContext(ctx), jar: &checkJar{left: maxCookies}, budget: c.cfg.MaxBytes}
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

// browserEscape returns a link or a Location as a browser sends it, so
// that Go's parser takes what browsers take and the request line carries
// what browsers put there: leading and trailing spaces dropped, a "%" that
// starts no escape ("50%-off") sent as "%25", and spaces, '"', '<', '>' and
// bytes beyond ASCII percent-encoded (Go leaves them raw in a query, where
// servers refuse a raw space). Everything else stays byte for byte.
func browserEscape(raw string) string {
	raw = strings.TrimSpace(raw)
	clean := true
	for i := 0; i < len(raw) && clean; i++ {
		clean = !needsEscape(raw, i)
	}
	if clean {
		return raw
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		if needsEscape(raw, i) {
			fmt.Fprintf(&b, "%%%02X", raw[i])
		} else {
			b.WriteByte(raw[i])
		}
	}
	return b.String()
}

// needsEscape reports whether browserEscape encodes raw[i].
func needsEscape(raw string, i int) bool {
	switch c := raw[i]; {
	case c == '%':
		return i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2])
	case c == ' ', c == '"', c == '<', c == '>', c >= 0x80:
		return true
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// errNotIPv4 is a host that ends in a number but is no IPv4 address.
var errNotIPv4 = errors.New("the host ends in a number but is no IPv4 address")

// browserURL rewrites u's host as browsers read it (browserHost) and
// reports whether it changed; ok is false if browsers refuse the host.
func browserURL(u *url.URL) (changed, ok bool) {
	h := u.Hostname()
	b, ok := browserHost(h)
	switch {
	case !ok:
		return false, false
	case b == h:
		return false, true
	case u.Port() != "":
		u.Host = net.JoinHostPort(b, u.Port())
	default:
		u.Host = b
	}
	return true, true
}

// browserHost returns host as browsers read the host of an http(s) URL
// (WHATWG URL Standard: the "ends in a number" checker and the IPv4
// parser). A host whose last label is a number is an IPv4 address in any
// of the forms browsers still accept: shorthand (127.1), hex or octal
// parts (0x7f.1, 0177.0.0.1), one number (2130706433), a trailing dot; it
// is returned as the dotted quad. If it is no IPv4 address (127.0.0.256,
// example.123), ok is false: browsers refuse the URL. Other hosts (names,
// IPv6 literals) come back unchanged.
func browserHost(host string) (_ string, ok bool) {
	if strings.Contains(host, ":") {
		return host, true // IPv6
	}
	parts := strings.Split(host, ".")
	if parts[len(parts)-1] == "" {
		if len(parts) == 1 {
			return host, true
		}
		parts = parts[:len(parts)-1]
	}
	last := parts[len(parts)-1]
	if _, number := ipv4Number(last); !number && !digits(last) {
		return host, true // a name
	}
	if len(parts) > 4 {
		return "", false
	}
	nums := make([]uint64, len(parts))
	for i, p := range parts {
		n, ok := ipv4Number(p)
		if !ok {
			return "", false
		}
		nums[i] = n
	}
	ip := nums[len(nums)-1]
	if ip >= 1<<(8*(5-len(nums))) {
		return "", false
	}
	for i, n := range nums[:len(nums)-1] {
		if n > 255 {
			return "", false
		}
		ip += n << (8 * (3 - i))
	}
	return netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)}).String(), true
}

// ipv4Number parses one part of an IPv4 address as browsers do: "0x"
// starts a hex number ("0x" alone is 0), another leading "0" an octal one,
// anything else is decimal. A number too large for 64 bits is
// math.MaxUint64 (still a number, but no part of an address).
func ipv4Number(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	base := 10
	switch {
	case len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X"):
		s, base = s[2:], 16
	case len(s) >= 2 && s[0] == '0':
		s, base = s[1:], 8
	}
	if s == "" {
		return 0, true
	}
	n, err := strconv.ParseUint(s, base, 64)
	if errors.Is(err, strconv.ErrRange) {
		return math.MaxUint64, true
	}
	return n, err == nil
}

// digits reports whether s is ASCII digits only.
func digits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func validPort(p string) bool {
	if p == "" {
		return true
	}
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n < 65536
}

// httpRun is one check: its cookie jar, what it has tried, its budget.
type httpRun struct {
	c       *httpChecker
	ctx     context.Context
	pacer   Pacer
	jar     *checkJar
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
	seen := map[uint64]bool{h.key(u): true}
	h.name = u.Hostname()
	for {
		a, err := h.get(cur)
		if err != nil {
			return h.fail(err)
		}
		var next *url.URL
		if a.location != "" {
			var err error
			next, err = a.url.Parse(browserEscape(a.location))
			switch {
			case err != nil || (next.Scheme == "http" || next.Scheme == "https") && (next.Hostname() == "" || !validPort(next.Port())):
				return h.fail(fmt.Errorf("%w: %q", errBadRedirect, a.location))
			case next.Scheme != "http" && next.Scheme != "https":
				return h.fail(fmt.Errorf("%w: %q", errRedirectScheme, a.location))
			case redirects >= h.c.cfg.MaxRedirects:
				return h.fail(errTooManyRedirects)
			}
			if _, ok := browserURL(next); !ok {
				return h.fail(fmt.Errorf("%w: %q: %w", errBadRedirect, a.location, errNotIPv4))
			}
			permanent = permanent && (a.code == http.StatusMovedPermanently || a.code == http.StatusPermanentRedirect)
			next.Fragment, next.RawFragment = "", ""
			if seen[h.key(next)] {
				return h.fail(fmt.Errorf("%w at %s", errRedirectLoop, next))
			}
		} else if n, ok := h.refreshTo(a, seen, redirects); ok {
			// A page that sends the browser on at once: the person lands
			// where it points (never a permanent move).
			next, permanent = n, false
		}
		if next != nil {
			redirects++
			seen[h.key(next)] = true
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
	next, err := a.url.Parse(browserEscape(a.refresh))
	if err != nil || next.Scheme != "http" && next.Scheme != "https" || next.Hostname() == "" || !validPort(next.Port()) {
		return nil, false
	}
	if _, ok := browserURL(next); !ok {
		return nil, false
	}
	next.Fragment, next.RawFragment = "", ""
	if seen[h.key(next)] {
		return nil, false // a page that reloads itself
	}
	return next, true
}

// maxRefreshDelay is the longest refresh delay followed: a page that
// moves on later is read by the person first.
const maxRefreshDelay = 5

// refreshURL returns the URL of a Refresh header's or a meta refresh's
// content ("0; url=/new", "3;URL='/new'") when its delay is at most
// maxRefreshDelay seconds, else "".
func refreshURL(content string) string {
	content = strings.TrimSpace(content)
	i := 0
	for i < len(content) && (content[i] >= '0' && content[i] <= '9' || content[i] == '.') {
		i++
	}
	delay, err := strconv.ParseFloat(content[:i], 64)
	if i == 0 || err != nil || delay > maxRefreshDelay {
		return ""
	}
	rest := strings.TrimLeft(content[i:], " \t;,")
	if len(rest) >= 4 && strings.EqualFold(rest[:3], "url") {
		if r := strings.TrimLeft(rest[3:], " \t"); strings.HasPrefix(r, "=") {
			rest = strings.TrimSpace(r[1:])
		}
	}
	if len(rest) >= 2 && (rest[0] == '\'' || rest[0] == '"') {
		if j := strings.IndexByte(rest[1:], rest[0]); j >= 0 {
			rest = rest[1 : j+1]
		}
	}
	return strings.TrimSpace(rest)
}

// metaRefresh returns the content of the first <meta http-equiv="refresh">
// in head, or "".
func metaRefresh(head []byte) string {
	low := bytes.ToLower(head)
	for off := 0; ; {
		i := bytes.Index(low[off:], []byte("<meta"))
		if i < 0 {
			return ""
		}
		start := off + i
		end := bytes.IndexByte(low[start:], '>')
		if end < 0 {
			return ""
		}
		tag, ltag := head[start:start+end], low[start:start+end]
		off = start + end
		if !bytes.Contains(ltag, []byte("http-equiv")) || !bytes.Contains(ltag, []byte("refresh")) ||
			bytes.LastIndex(low[:start], []byte("<noscript")) > bytes.LastIndex(low[:start], []byte("</noscript")) {
			continue // a browser with scripts skips <noscript>
		}
		j := bytes.Index(ltag, []byte("content"))
		if j < 0 {
			continue
		}
		v := bytes.TrimLeft(tag[j+len("content"):], " \t\r\n")
		if len(v) == 0 || v[0] != '=' {
			continue
		}
		v = bytes.TrimLeft(v[1:], " \t\r\n")
		if len(v) > 0 && (v[0] == '"' || v[0] == '\'') {
			if k := bytes.IndexByte(v[1:], v[0]); k >= 0 {
				return string(v[1 : k+1])
			}
			return ""
		}
		if k := bytes.IndexAny(v, " \t\r\n"); k >= 0 {
			v = v[:k]
		}
		return string(v)
	}
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

// key identifies a request for loop detection: the address and the cookies
// the jar sends with it.
func (h *httpRun) key(u *url.URL) uint64 {
	f := fnv.New64a()
	_, _ = io.WriteString(f, u.String())
	for _, c := range h.jar.Cookies(u) {
		_, _ = io.WriteString(f, "\x00"+c.Name+"="+c.Value)
	}
	return f.Sum64()
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
	if h.jar.left > 0 { // a full jar parses no more cookies
		if cs := resp.Cookies(); len(cs) > 0 {
			h.jar.SetCookies(req.URL, cs)
		}
	}
	return resp, reused, nil
}

func redirectCode(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
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
	if redirectCode(a.code) {
		a.location = resp.Header.Get("Location")
	}
	if a.code == http.StatusTooManyRequests || a.code == http.StatusServiceUnavailable {
		a.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	limit, keep := h.budget, 0
	switch {
	case a.location != "":
		limit = min(limit, maxRedirectBody)
	case a.code >= 400:
		limit, keep = min(limit, maxMarkerBody), maxMarkerBody
	case a.code >= 200 && a.code < 300:
		a.refresh = refreshURL(resp.Header.Get("Refresh"))
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
	scan := &bodyScan{keep: keep, ended: func() {
		graceTimer = time.AfterFunc(min(endGrace, h.c.cfg.Timeout/4), func() {
			ended.Store(true)
			_ = resp.Body.Close()
		})
	}}
	body, err := h.decoded(resp)
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
	a.complete = scan.end
	if keep == maxMetaHead {
		a.refresh = refreshURL(metaRefresh(scan.head))
	}
	if a.code >= 400 {
		a.marker = botMarker(a.code, resp.Header, scan.head)
	}
	return a
}

// decoded returns resp's body decoded as a browser decodes it: gzip and
// deflate (the transport's own decoding is off), up to the end of the
// first compressed stream (what follows it, such as a caching plugin's
// comment, is ignored) and without holding a wrong checksum against a
// page that decoded whole. Brotli and zstd bodies, which only the
// browser-like request asks for, stay encoded: only their length counts.
func (h *httpRun) decoded(resp *http.Response) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding"))) {
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			return nil, err
		}
		zr.Multistream(false)
		return checksumBlind{zr}, nil
	case "deflate":
		br := bufio.NewReader(resp.Body)
		if b, err := br.Peek(2); err == nil && b[0]&0x0f == 8 && (uint16(b[0])<<8|uint16(b[1]))%31 == 0 {
			zr, err := zlib.NewReader(br)
			if err != nil {
				return nil, err
			}
			return checksumBlind{zr}, nil
		}
		return flate.NewReader(br), nil
	}
	return resp.Body, nil
}

// checksumBlind ends a decompressed body at a checksum mismatch as at its
// end: the data decoded whole, and browsers show it.
type checksumBlind struct{ r io.Reader }

func (c checksumBlind) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, zlib.ErrChecksum) {
		err = io.EOF
	}
	return n, err
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
		switch who := cmpOr(a.marker, h.blocked.marker); {
		case r.State == StateOK:
			r.Reason = reasonBrowserOK(a.code)
		case who != "" && blockingCode(a.code):
			r = Result{State: StateTemporary, Failure: FailureBlocked, Reason: reasonBlocked(who)}
		case nonStandard(a.code) && blockingCode(a.code):
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

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
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

// parseRetryAfter reads a Retry-After header (seconds or an HTTP date)
// relative to now; 0 if absent or malformed.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(min(n, 365*86400)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// bodyScan consumes a body: it keeps its first keep bytes (for bot-wall
// markers) and notes whether the page's closing </html> tag went by.
type bodyScan struct {
	keep  int
	head  []byte
	carry []byte // the last bytes of the previous write, for a tag split across writes
	end   bool
	ended func() // called once when end turns true; nil: not called
}

// maxMetaHead is how much of an HTML page is searched for a meta refresh.
const maxMetaHead = 8 << 10

// endGrace is the longest the rest of a body is waited for after the
// page's closing tag arrived (at most a quarter of the check's timeout).
const endGrace = 2 * time.Second

const closingTag = "</html"

func (s *bodyScan) Write(p []byte) (int, error) {
	if n := min(len(p), s.keep-len(s.head)); n > 0 {
		s.head = append(s.head, p[:n]...)
	}
	if !s.end {
		const k = len(closingTag) - 1
		s.end = containsFold(append(s.carry, p[:min(len(p), k)]...), closingTag) || containsFold(p, closingTag)
		if s.end && s.ended != nil {
			s.ended()
		}
		if len(p) >= k {
			s.carry = append(s.carry[:0], p[len(p)-k:]...)
		} else {
			s.carry = append(s.carry, p...)
			s.carry = s.carry[max(0, len(s.carry)-k):]
		}
	}
	return len(p), nil
}

// containsFold reports whether b contains pat (ASCII lower case), ignoring
// ASCII case.
func containsFold(b []byte, pat string) bool {
	for i := 0; i+len(pat) <= len(b); i++ {
		j := 0
		for j < len(pat) && lowerASCII(b[i+j]) == pat[j] {
			j++
		}
		if j == len(pat) {
			return true
		}
	}
	return false
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// checkJar is the cookie jar of one check: a browser's rules, at most
// maxCookies cookies. The jar is made at the first cookie.
type checkJar struct {
	jar  *cookiejar.Jar
	left int
}

// SetCookies implements http.CookieJar.
func (j *checkJar) SetCookies(u *url.URL, cs []*http.Cookie) {
	cs = cs[:min(len(cs), j.left)]
	j.left -= len(cs)
	if len(cs) == 0 {
		return
	}
	if j.jar == nil {
		j.jar, _ = cookiejar.New(&cookiejar.Options{PublicSuffixList: publicsuffix.List}) // never fails
	}
	j.jar.SetCookies(u, cs)
}

// Cookies implements http.CookieJar.
func (j *checkJar) Cookies(u *url.URL) []*http.Cookie {
	if j.jar == nil {
		return nil
	}
	return j.jar.Cookies(u)
}
