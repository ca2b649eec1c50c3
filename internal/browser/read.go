package browser

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Answer is what a browser-like visit keeps of one response.
type Answer struct {
	Code       int
	URL        *url.URL      // the request's URL
	Location   string        // of a redirect
	Refresh    string        // where a page sends the browser at once (Refresh header, meta refresh)
	RetryAfter time.Duration // of a 429 or a 503
	Marker     string        // who put up a bot wall, "" if no marker
	BodyErr    error         // reading the body failed
	Upgrade    string        // the Upgrade header of a 101
	Complete   bool          // the page's closing </html> arrived
	N          int64         // body bytes read (decoded)
	Wire       int64         // body bytes read on the wire (before decoding)
	Header     http.Header   // the response's header
	// Body is the first ReadLimits.Page bytes (decoded) of a 2xx answer
	// that may be a page (HTML, XHTML, plain text or untyped); nil
	// otherwise.
	Body []byte
}

// How much of a body Read reads besides a page's.
const (
	// MaxRedirectBody is how much of a redirect's body is read (so that
	// the connection can be reused).
	MaxRedirectBody = 8 << 10
	// MaxMarkerBody is how much of an error body is searched for bot-wall
	// markers.
	MaxMarkerBody = 64 << 10
	// maxMetaHead is how much of an HTML page is searched for a meta
	// refresh.
	maxMetaHead = 8 << 10
	// endGrace is the longest the rest of a body is waited for after the
	// page's closing tag arrived (at most a quarter of the visit's
	// timeout).
	endGrace = 2 * time.Second
)

// ReadLimits bound what Read reads of one response.
type ReadLimits struct {
	Budget  int64         // body bytes the visit may still read, decoded
	Visit   *Visit        // what the visit may still read on the wire (nil: WireBudget(Budget) for this body)
	Timeout time.Duration // the visit's timeout, which bounds the wait after </html>
	Buf     []byte        // the buffer the body is read through (nil: one of Read's own)
	Page    int           // how much of a 2xx page's body to keep in Answer.Body (0: none)
}

// Read reads what a visit needs of resp's body and closes it: a little of
// a redirect, enough of an error page to find a bot wall's marker, and of a
// page up to the budget, decoded (Decode), noting whether it arrived
// complete and where it sends the browser at once.
//
// Every body is read within two caps: its decoded bytes within the budget
// (or the little kept of a redirect or an error page), and its bytes on
// the wire within WireBudget of that and what the visit has left. A body
// that reaches the decoded cap is read enough (a big page, a download); one
// that reaches the wire cap first, a compressed stream that yields next to
// nothing (empty deflate blocks, sent for ever), ends in ErrTooMuchData.
// Decoding never works on more than the wire cap, so a body costs CPU in
// proportion to it.
//
// The body is closed when ctx ends, whatever is reading it: the transport's
// own cancellation does not reach every body (a 101's is the raw
// connection, which no context closes). A body cut off by ctx is reported
// as ctx's error in BodyErr.
func Read(ctx context.Context, resp *http.Response, lim ReadLimits) *Answer {
	stop := context.AfterFunc(ctx, func() { _ = resp.Body.Close() })
	defer func() {
		stop()
		_ = resp.Body.Close()
	}()
	a := &Answer{Code: resp.StatusCode, URL: resp.Request.URL, Header: resp.Header}
	if a.Code == http.StatusSwitchingProtocols {
		// No upgrade was asked for: whatever the server speaks next is no
		// page, and the "body" is the raw connection, closed at once.
		a.Upgrade = resp.Header.Get("Upgrade")
		return a
	}
	if RedirectCode(a.Code) {
		a.Location = resp.Header.Get("Location")
	}
	if a.Code == http.StatusTooManyRequests || a.Code == http.StatusServiceUnavailable {
		a.RetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	limit, keep, meta := lim.Budget, 0, false
	switch {
	case a.Location != "":
		limit = min(limit, MaxRedirectBody)
	case a.Code >= 400:
		limit, keep = min(limit, MaxMarkerBody), MaxMarkerBody
	case a.Code >= 200 && a.Code < 300:
		a.Refresh = RefreshURL(resp.Header.Get("Refresh"))
		if a.Refresh == "" && strings.Contains(strings.ToLower(resp.Header.Get("Content-Type")), "html") {
			keep, meta = maxMetaHead, true
		}
		if lim.Page > 0 && pageType(resp.Header.Get("Content-Type")) {
			keep = max(keep, lim.Page)
		}
	}
	// A page whose closing tag arrived is shown whole by a browser even if
	// the server then sends nothing more on an open connection (a
	// Content-Length counted too high): once it is seen, the rest of the
	// body gets endGrace, then the body is closed and the page taken as
	// complete.
	var ended atomic.Bool
	var graceTimer *time.Timer
	scan := &BodyScan{Keep: keep, Ended: func() {
		graceTimer = time.AfterFunc(min(endGrace, lim.Timeout/4), func() {
			ended.Store(true)
			_ = resp.Body.Close()
		})
	}}
	wire := lim.Visit.wireReader(resp.Body, WireBudget(limit))
	body, err := Decode(resp.Header.Get("Content-Encoding"), wire)
	if err == nil {
		a.N, err = io.CopyBuffer(scan, io.LimitReader(body, limit), lim.Buf)
	}
	a.Wire = wire.read
	if graceTimer != nil && !graceTimer.Stop() && ended.Load() && ctx.Err() == nil {
		err = nil // the page was complete; the server kept the rest back
	}
	if err != nil && !errors.Is(err, io.EOF) {
		if cerr := ctx.Err(); cerr != nil {
			// The visit's time ran out (or it was cancelled) and the body
			// was closed under the reader: that is the failure, not how
			// the read broke off.
			err = fmt.Errorf("%w (%v)", cerr, err)
		}
		a.BodyErr = err
	}
	a.Complete = scan.End
	if meta {
		a.Refresh = RefreshURL(MetaRefresh(scan.Head[:min(len(scan.Head), maxMetaHead)]))
	}
	if lim.Page > 0 && a.Code >= 200 && a.Code < 300 && pageType(resp.Header.Get("Content-Type")) {
		a.Body = scan.Head[:min(len(scan.Head), lim.Page)]
	}
	if a.Code >= 400 {
		a.Marker = Marker(a.Code, resp.Header, scan.Head)
	}
	return a
}

// pageType reports whether a Content-Type may be a page a person reads:
// HTML, XHTML, plain text, or none given.
func pageType(ct string) bool {
	ct = strings.ToLower(strings.TrimSpace(ct))
	if ct == "" {
		return true
	}
	for _, t := range []string{"text/html", "application/xhtml+xml", "text/plain"} {
		if strings.HasPrefix(ct, t) {
			return true
		}
	}
	return false
}
