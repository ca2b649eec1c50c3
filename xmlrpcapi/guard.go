package xmlrpcapi

// What protects the server from hostile clients: the decoding budgets,
// charged as bytes arrive and shared out per source address, the deadline
// of a request's credentials, credential checks before the body is read,
// the throttles and their held answers, and log lines that cannot be
// flooded or carry secrets.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/guard"
	"github.com/linkmonitor/lms/internal/throttle"
)

// request is what the methods of one HTTP request share.
type request struct {
	addr      string // source address, the throttles' key
	throttled bool   // a credential check was refused by a throttle: hold the answer

	meter *meter     // the request body as the decoder reads it
	head  *headTimer // the deadline of the method name and credentials
}

type requestKey struct{}

func requestFrom(ctx context.Context) *request {
	if rc, ok := ctx.Value(requestKey{}).(*request); ok {
		return rc
	}
	return &request{}
}

// errBusy marks requests that found no decoding budget in time (HTTP 503).
var errBusy = errors.New("decoding budget exhausted")

// errAddrBusy marks requests whose source address holds its share of the
// decoding budget (HTTP 503 at once).
var errAddrBusy = fmt.Errorf("%w: %w", errBusy, guard.ErrAddrBusy)

// errSlow marks requests whose method name and credentials did not arrive
// within CredentialsTimeout (HTTP 408).
var errSlow = errors.New("method name and credentials not received in time")

// meter is a request body as the decoder reads it: every byte read is
// charged to a decoding budget before the decoder sees it, so a peer that
// declares a body and sends nothing holds nothing. Once the call's
// credentials are checked, prepay charges the rest of the declared
// Content-Length at once (one wait, as when the budget was taken before
// the body was read). Only the handler's goroutine uses it.
type meter struct {
	r      io.Reader
	ctx    context.Context // the request's: ends the waits for the budget
	b      *guard.Budget
	addr   string
	wait   time.Duration
	length int64      // the declared Content-Length; -1: unknown
	head   *headTimer // paused while the meter waits

	read, held int64
	err        error // sticky: the budget refused
}

// newMeter returns the meter of a request body: a body declared at most 64
// KiB draws from the small budget, others from the large one.
func (s *Server) newMeter(ctx context.Context, body io.Reader, length int64, rc *request) *meter {
	b := s.guard.BudgetFor(length)
	return &meter{r: body, ctx: ctx, b: b, addr: rc.addr, wait: s.cfg.DecodeWait, length: length, head: rc.head}
}

// Read implements io.Reader.
func (m *meter) Read(p []byte) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	n, err := m.r.Read(p)
	m.read += int64(n)
	if m.read > m.held {
		if cerr := m.charge(m.read - m.held); cerr != nil {
			return 0, cerr
		}
	}
	return n, err
}

// charge takes n more bytes of the budget: at once, or within DecodeWait.
// The wait does not count against the credentials' deadline: it is the
// server's time, not the client's.
func (m *meter) charge(n int64) error {
	if !m.b.TakeShare(m.addr, n) {
		m.err = errAddrBusy
		return m.err
	}
	if !m.b.Sem.TryAcquire(n) {
		resume := m.head.pause()
		ctx, cancel := context.WithTimeout(m.ctx, m.wait)
		err := m.b.Sem.Acquire(ctx, n)
		cancel()
		resume()
		if err != nil {
			m.b.GiveShare(m.addr, n)
			m.err = errBusy
			return m.err
		}
	}
	m.held += n
	return nil
}

// prepay charges the rest of the declared body.
func (m *meter) prepay() error {
	if m.length <= m.held {
		return nil
	}
	return m.charge(m.length - m.held)
}

// release gives back all the meter holds; calling it again does nothing.
func (m *meter) release() {
	if m.held > 0 {
		m.b.Sem.Release(m.held)
		m.b.GiveShare(m.addr, m.held)
		m.held = 0
	}
}

// headTimer is the deadline of a request's head, its method name and
// credentials (all of a call without credentials): CredentialsTimeout of
// the time the handler spends reading, not counting its waits for the
// decoding budget. When it passes before stop, it sets the connection's
// read deadline to the past, which fails the read in progress.
type headTimer struct {
	mu       sync.Mutex
	t        *time.Timer // nil: no deadline
	deadline time.Time
	left     time.Duration // while paused
	paused   bool
	stopped  bool
	late     bool
}

// startHead starts the deadline of a request's head.
func (s *Server) startHead(w http.ResponseWriter) *headTimer {
	h := &headTimer{}
	if s.cfg.CredentialsTimeout < 0 {
		h.stopped = true
		return h
	}
	rc := http.NewResponseController(w)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.deadline = time.Now().Add(s.cfg.CredentialsTimeout)
	h.t = time.AfterFunc(s.cfg.CredentialsTimeout, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.stopped || h.paused {
			return
		}
		h.late = true
		if err := rc.SetReadDeadline(time.Now()); err != nil {
			// Not supported by this ResponseWriter: the server's
			// ReadTimeout ends the read.
			s.log.Debug("cutting off a slow request", "err", err)
		}
	})
	return h
}

// pause stops the clock of the deadline until resume is called.
func (h *headTimer) pause() (resume func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.t == nil || h.stopped || h.late || h.paused || !h.t.Stop() {
		return func() {} // no deadline, or it has passed
	}
	h.paused, h.left = true, time.Until(h.deadline)
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.paused = false
		if !h.stopped {
			h.deadline = time.Now().Add(h.left)
			h.t.Reset(h.left)
		}
	}
}

// stop ends the deadline (the head has arrived); it reports false if the
// deadline had passed before. The handler calls it before it returns, so
// that the timer never touches a connection serving a later request.
func (h *headTimer) stop() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.t != nil {
		h.t.Stop()
	}
	h.stopped = true
	return !h.late
}

// expired reports whether the deadline passed.
func (h *headTimer) expired() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.late
}

// admitCall lets a call whose credentials have been read go on: they came
// in time (the deadline of the head stops), they are right (authorize), and
// the rest of the declared body is charged at once. It returns the call's
// context, which carries its caller.
func (s *Server) admitCall(ctx context.Context, rc *request, m method, params []any) (context.Context, error) {
	if !rc.head.stop() {
		return ctx, errSlow
	}
	ctx, err := s.authorize(ctx, m, params)
	if err != nil {
		return ctx, err
	}
	return ctx, rc.meter.prepay()
}

// caller is who a call's credentials proved it is: the client they name
// (a method with two credentials) or the admin (one).
type caller struct {
	client string
	admin  lms.Admin
}

type callerKey struct{}

// authorize checks the leading credentials of a call, the one check of
// the call: the dispatcher runs it as soon as they are read (handle) or
// before a multicall runs the call (call), and the methods take the caller
// it puts in the returned context. Credentials of the wrong type are
// refused as the method would refuse them.
func (s *Server) authorize(ctx context.Context, m method, params []any) (context.Context, error) {
	var c caller
	switch m.creds {
	case 2:
		id, err := str(params, 0, "client id")
		if err != nil {
			return ctx, err
		}
		pw, err := str(params, 1, "password")
		if err != nil {
			return ctx, err
		}
		if err := s.authClient(ctx, id, pw); err != nil {
			return ctx, err
		}
		c.client = id
	case 1:
		secret, err := str(params, 0, "admin secret")
		if err != nil {
			return ctx, err
		}
		if c.admin, err = s.authAdmin(ctx, secret); err != nil {
			return ctx, err
		}
	default:
		return ctx, nil
	}
	return context.WithValue(ctx, callerKey{}, c), nil
}

// callerOf returns the caller authorize proved; ok is false for a call
// whose credentials were not checked (a method must then refuse it).
func callerOf(ctx context.Context) (c caller, ok bool) {
	c, ok = ctx.Value(callerKey{}).(caller)
	return c, ok
}

// authClient checks a client's credentials through the throttles.
func (s *Server) authClient(ctx context.Context, id, pw string) error {
	return s.checkThrottled(ctx, requestFrom(ctx), "client\x00"+id, pw, func() error { return s.e.Authenticate(ctx, id, pw) })
}

// authAdmin checks the admin secret through the throttles; it counts as
// one client id.
func (s *Server) authAdmin(ctx context.Context, secret string) (lms.Admin, error) {
	var adm lms.Admin
	err := s.checkThrottled(ctx, requestFrom(ctx), "admin", secret, func() (err error) {
		adm, err = s.e.Admin(secret)
		return err
	})
	return adm, err
}

// checkThrottled runs check through the guard's throttles (shared with
// the other front door): unless the id key or the request's address has
// used up its failures (and secret is not the id's last good one); a
// refusal counts against both. Over a store that several processes share
// (lms.ThrottleStore) the guard counts there, for all of them.
func (s *Server) checkThrottled(ctx context.Context, rc *request, key, secret string, check func() error) error {
	err := s.guard.Throttle.Check(ctx, rc.addr, key, secret, check)
	if errors.Is(err, guard.ErrThrottled) {
		rc.throttled = true
		return errThrottled
	}
	return err
}

// hold delays a throttled answer by Throttle.Delay, if a slot is free;
// without one the answer goes at once and the connection is closed.
func (s *Server) hold(ctx context.Context, w http.ResponseWriter) {
	if !s.guard.Throttle.Hold(ctx) {
		w.Header().Set("Connection", "close")
	}
}

// remoteAddr is the default ServerConfig.RemoteAddr: the host of
// r.RemoteAddr, an IPv6 address by its /64 prefix (one subscriber's
// network).
func remoteAddr(r *http.Request) string { return throttle.SourceKey(r.RemoteAddr) }

// Log lines of failed calls.

const (
	maxLogValue    = 200 // bytes of a value from a request in a log line
	logBurst       = 5   // lines per kind and window
	logWindow      = time.Minute
	unknownMethods = "(unknown method)"
)

// failureKind is what repeated failures have in common; the set is small
// (the methods, a few statuses and codes), so the map stays small.
type failureKind struct {
	method       string
	status, code int
}

type failureCount struct {
	start      time.Time
	logged     int
	suppressed int
}

type failureLog struct {
	mu    sync.Mutex
	kinds map[failureKind]*failureCount
}

// logFailure logs a failed call, at most logBurst lines per kind and
// minute; the lines left out are counted in the next one of their kind.
func (s *Server) logFailure(name string, status, code int, addr string, err error) {
	kind := failureKind{method: name, status: status, code: code}
	if _, known := s.methods[name]; !known && name != "" {
		kind.method = unknownMethods
	}
	now := s.cfg.Now()
	s.failures.mu.Lock()
	c := s.failures.kinds[kind]
	if c == nil {
		c = &failureCount{start: now}
		s.failures.kinds[kind] = c
	}
	if now.Sub(c.start) >= logWindow {
		c.start, c.logged = now, 0
	}
	if c.logged == logBurst {
		c.suppressed++
		s.failures.mu.Unlock()
		return
	}
	c.logged++
	suppressed := c.suppressed
	c.suppressed = 0
	s.failures.mu.Unlock()

	msg := err.Error()
	if errors.Is(err, errSyntax) {
		// A parse error quotes the document, which may hold credentials.
		msg = quoted.ReplaceAllString(cut(msg, 4*maxLogValue), `"…"`)
	}
	attrs := []any{"method", logValue(name), "status", status, "fault", code, "remote", addr, "err", logValue(msg)}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	s.log.Log(context.Background(), slog.LevelInfo, "xmlrpc call failed", attrs...)
}

// quoted matches a Go-quoted string (%q) in an error text.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// urlCredentials matches the user information of URLs in a text.
var urlCredentials = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s@"']*@`)

// logValue makes a value from a request fit for a log line: credentials in
// URLs replaced by "…", cut at maxLogValue bytes (on a character boundary).
func logValue(s string) string {
	s = cut(s, 4*maxLogValue) // bounds the work of the redaction
	return cut(urlCredentials.ReplaceAllString(s, "${1}…@"), maxLogValue)
}

// cut returns s cut to at most n bytes on a character boundary, with "…"
// when it was longer.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
