// Package xmlrpcapi is the XML-RPC side of lms: a spec-complete codec, the
// protocol-2 API server (an http.Handler wire-compatible with existing
// clients such as gocept.linkchecker), and the callback client that pushes
// updateManyStates and pulls xmlrpc_getAllLinks.
//
// The server is built for hostile clients (guard.go): the request bytes it
// decodes at once are bounded across all requests, credentials are checked
// before the rest of a body is read, failed checks are throttled per client
// id and per source address, and arrays of URLs are bounded per call.
package xmlrpcapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/guard"
)

// ProtocolVersion is what checkConnection answers.
const ProtocolVersion = 2

// ServerConfig configures a Server. The zero value is ready to use.
type ServerConfig struct {
	// MaxBodyBytes bounds a request body; larger ones get HTTP 413.
	// Default 16 MiB.
	MaxBodyBytes int64
	// MaxDecodingBytes bounds the request bytes decoded at once across all
	// requests over 64 KiB (by their Content-Length; all without one);
	// requests up to 64 KiB draw from a separate budget of a quarter of
	// it, so that small calls never queue behind large ones. A request is
	// charged what its decoder has read, not what it declares (a peer
	// that sends nothing holds nothing), and once its credentials are
	// checked the rest of its Content-Length at once; it holds that until
	// its answer is written. One source address (RemoteAddr) may hold at
	// most a quarter of the small budget and half of the large one (at
	// least MaxBodyBytes): a request that would hold more is answered HTTP
	// 503 at once. The decoder allocates about 1× the body (at most ~2.5×
	// for arrays of one-character strings), so memory for requests stays
	// near 1.25 × MaxDecodingBytes × that. Default 32 MiB (at least
	// MaxBodyBytes).
	MaxDecodingBytes int64
	// DecodeWait is how long a request waits for more of its budget before
	// it is answered HTTP 503 with Retry-After. Default 10 s.
	DecodeWait time.Duration
	// CredentialsTimeout is how long a request may take, from its header,
	// to deliver its method name and credentials (a call without
	// credentials, such as system.multicall: all of it), so that an
	// anonymous peer cannot keep a request open by sending slowly. One that
	// takes longer is answered HTTP 408 and its connection closed (by a
	// read deadline, where the ResponseWriter supports them: net/http's
	// does). Only the time spent reading counts, not the server's waits
	// for its decoding budget nor its check of the credentials. Default
	// 5 s; negative: no limit.
	CredentialsTimeout time.Duration
	// MaxURLs is the most URLs one registerURLs, unregisterURLs or
	// getURLStates call may carry; more get fault -32602. It also bounds
	// answers: a getURLStates answer is at most MaxURLs structs. Default
	// 10,000 (a Plone page save sends all links of one document).
	MaxURLs int
	// MaxCalls is the most calls in one system.multicall; more get fault
	// -32602. Default 1,000.
	MaxCalls int
	// Limits bound the decoder.
	Limits Limits
	// Throttle bounds failed credential checks.
	Throttle Throttle
	// Guard, when set, is the protection shared with the other front door
	// (package jsonapi): its decoding budgets and credential throttles
	// replace those MaxDecodingBytes, DecodeWait and Throttle would make,
	// so that a guess counts the same through either door and the bytes
	// decoded at once are bounded across both. Default: a guard of its own.
	Guard *guard.Guard
	// RemoteAddr returns the source address of a request, for throttling.
	// Default: the host of r.RemoteAddr (an IPv6 address by its /64
	// prefix). Behind a reverse proxy, return the address it forwards.
	RemoteAddr func(r *http.Request) string
	// Now is the clock of the throttles. Default time.Now.
	Now func() time.Time
	// Logger receives one line per failed call, at most 5 a minute of each
	// kind (method, HTTP status, fault code); the rest are counted in the
	// next line of their kind. Values from requests are cut at 200 bytes,
	// credentials in URLs are replaced by "…". Default: discarded.
	Logger *slog.Logger
}

// Throttle configures the throttling of failed credential checks (client
// id and password, or the admin secret). Every failure counts against the
// client id (the admin secret counts as one id) and against the source
// address, also inside system.multicall; an id or address that has used up
// its failures gets HTTP 429 Too Many Requests (a fault with faultCode 429
// inside system.multicall) without its credentials being checked, until it
// has earned a failure back. A client whose credentials succeeded before
// passes even then: the server remembers a keyed hash of the last good
// credentials of each id (in this process). When the engine's store is an
// lms.ThrottleStore (pgstore), the failures are counted in it, for every
// process sharing it; MaxKeys then bounds only the good credentials kept.
// Zero fields take the defaults.
type Throttle struct {
	// IDBurst is how many failures a client id may have at once. Default
	// 10.
	IDBurst int
	// IDEvery is the time in which a client id earns a failure back; it is
	// also the Retry-After of a throttled answer. Default 6 s.
	IDEvery time.Duration
	// AddrBurst is how many failures a source address may have at once.
	// Default 30.
	AddrBurst int
	// AddrEvery is the time in which an address earns a failure back.
	// Default 2 s.
	AddrEvery time.Duration
	// MaxKeys bounds the ids and the addresses tracked (each; about 150
	// bytes a key). Default 10,000.
	MaxKeys int
	// Delay holds a throttled answer this long before it is sent (a timer:
	// no CPU), which slows guessing loops down. Default 1 s; negative: the
	// answer is sent at once.
	Delay time.Duration
	// MaxDelayed is how many answers Delay holds at once; others are sent
	// at once with Connection: close. Default 1,000.
	MaxDelayed int
}

const (
	// smallBody is the largest request that draws from the small budget.
	smallBody = 64 << 10
	// drainBytes is how much of a refused request's body is read, and
	// drainTime for how long at most.
	drainBytes = 1 << 20
	drainTime  = time.Second
)

func (c ServerConfig) withDefaults() ServerConfig {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 16 << 20
	}
	if c.MaxDecodingBytes <= 0 {
		c.MaxDecodingBytes = 32 << 20
	}
	c.MaxDecodingBytes = max(c.MaxDecodingBytes, c.MaxBodyBytes)
	if c.DecodeWait <= 0 {
		c.DecodeWait = 10 * time.Second
	}
	if c.CredentialsTimeout == 0 {
		c.CredentialsTimeout = 5 * time.Second
	}
	if c.MaxURLs <= 0 {
		c.MaxURLs = 10_000
	}
	if c.MaxCalls <= 0 {
		c.MaxCalls = 1000
	}
	if c.RemoteAddr == nil {
		c.RemoteAddr = remoteAddr
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Server answers XML-RPC calls for an Engine. It accepts POST on whatever
// path it is mounted on; mount it at the root and at /RPC2 (where Python's
// xmlrpclib posts when the server URL has no path).
type Server struct {
	e       *lms.Engine
	cfg     ServerConfig
	log     *slog.Logger
	methods map[string]method

	guard    *guard.Guard // decoding budgets and credential throttles, maybe shared
	failures *failureLog
}

type method struct {
	help      string
	signature string
	fn        func(ctx context.Context, args []any) (any, error)
	// creds is how many leading params are credentials: 2 (client id and
	// password), 1 (the admin secret) or 0. They are checked before the
	// rest of the body is read.
	creds int
}

// NewServer returns the API server for e.
func NewServer(e *lms.Engine, cfg ServerConfig) *Server {
	cfg = cfg.withDefaults()
	g := cfg.Guard
	if g == nil {
		t := cfg.Throttle
		g = guard.New(guard.Config{
			MaxBodyBytes: cfg.MaxBodyBytes, MaxDecodingBytes: cfg.MaxDecodingBytes, DecodeWait: cfg.DecodeWait,
			IDBurst: t.IDBurst, IDEvery: t.IDEvery, AddrBurst: t.AddrBurst, AddrEvery: t.AddrEvery, MaxKeys: t.MaxKeys,
			Delay: t.Delay, MaxDelayed: t.MaxDelayed, Now: cfg.Now, Shared: sharedThrottles(e),
		})
	}
	s := &Server{
		e: e, cfg: cfg, log: cfg.Logger, guard: g,
		failures: &failureLog{kinds: map[failureKind]*failureCount{}},
	}
	s.methods = s.table()
	return s
}

// sharedThrottles returns e's store as the throttles' shared store when
// several processes share it (lms.ThrottleStore), else nil.
func sharedThrottles(e *lms.Engine) lms.ThrottleStore {
	ts, _ := e.Store().(lms.ThrottleStore)
	return ts
}

// errParams marks wrong argument counts or types (fault -32602).
var errParams = errors.New("invalid params")

// errNoMethod marks unknown methods (fault -32601).
var errNoMethod = errors.New("unknown method")

// errThrottled marks calls refused by the throttle (HTTP 429).
var errThrottled = errors.New("too many failed credential checks; try again later")

// errInternal marks failures of the server itself (fault -32603).
var errInternal = errors.New("internal error")

// paramErr returns an errParams error whose text is shown to the client.
func paramErr(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &shown{msg: msg, err: fmt.Errorf("%w: %s", errParams, msg)}
}

// noMethod is the error of an unknown method name, cut to 40 characters.
func noMethod(name string) error { return fmt.Errorf("%w: %.40q", errNoMethod, name) }

// shown is an error with the text a client is shown for it (wireError):
// what went wrong in the protocol's terms. The error's own text, which may
// name the packages, files and hosts of the layers below, goes to the log
// line only.
type shown struct {
	msg string
	err error
}

// Error implements error: the text for the log.
func (e *shown) Error() string { return e.err.Error() }

// Unwrap returns the error shown.
func (e *shown) Unwrap() error { return e.err }

// show returns err with the client's text made of format and args if err
// is kind (errors.Is), and err unchanged otherwise (nil included). Values
// from the request in args should be cut (%.40q).
func show(err, kind error, format string, args ...any) error {
	if err == nil || !errors.Is(err, kind) {
		return err
	}
	return &shown{msg: fmt.Sprintf(format, args...), err: err}
}

// shownText returns the text err carries for the client, or def.
func shownText(err error, def string) string {
	var s *shown
	if errors.As(err, &s) {
		return s.msg
	}
	return def
}

// maxFaultString bounds a faultString: whatever a fault quotes from the
// request is cut to 40 characters, this is the backstop.
const maxFaultString = 1 << 10

// wireError maps an error to the wire, in one place: the HTTP status (401
// for credentials, 429 when throttled, 503 without decoding budget, 408
// when the credentials came too late), or a fault code and string. A
// faultString is the package's own text: the errors of the Engine and the
// Store are shown by their kind (lms.ErrNotFound, lms.ErrExists,
// lms.ErrInvalid) with the text a method gave them (show), anything else
// as an unexpected exception without its text, which only the log gets.
func wireError(err error) (status, code int, msg string) {
	status, code, msg = wireText(err)
	return status, code, cut(msg, maxFaultString)
}

func wireText(err error) (status, code int, msg string) {
	var f *Fault
	switch {
	case errors.Is(err, errBusy):
		return http.StatusServiceUnavailable, 0, "server busy, try again"
	case errors.Is(err, errSlow):
		return http.StatusRequestTimeout, 0, "request too slow: send the method name and the credentials at once"
	case errors.Is(err, errThrottled):
		return http.StatusTooManyRequests, 0, "Too many failed attempts; try again later"
	case errors.Is(err, lms.ErrRateLimited):
		return http.StatusTooManyRequests, 0, "Too many requests; try again later"
	case errors.Is(err, lms.ErrUnauthorized):
		return http.StatusUnauthorized, 0, "Unauthorized"
	case errors.As(err, &f):
		return http.StatusOK, f.Code, f.String
	case errors.Is(err, errReadBody) && errors.Is(err, os.ErrDeadlineExceeded):
		return http.StatusRequestTimeout, 0, "request body not received in time"
	case errors.Is(err, errReadBody):
		// The transport's text (addresses, syscalls) stays in the log.
		return http.StatusOK, FaultParse, "Parse error: the request body could not be read"
	case errors.Is(err, errSyntax):
		return http.StatusOK, FaultParse, "Parse error: " + err.Error()
	case errors.Is(err, errNoMethod):
		return http.StatusOK, FaultUnknownMethod, err.Error()
	case errors.Is(err, errInternal):
		return http.StatusOK, FaultInternal, "Internal error: " + shownText(err, "internal error")
	case errors.Is(err, errParams), errors.Is(err, lms.ErrInvalid):
		return http.StatusOK, FaultInvalidParams, "Invalid params: " + shownText(err, "invalid argument")
	case errors.Is(err, lms.ErrNotFound):
		return http.StatusOK, FaultApplication, "Unexpected LMS exception: NotFound: " + shownText(err, "not found")
	case errors.Is(err, lms.ErrExists):
		return http.StatusOK, FaultApplication, "Unexpected LMS exception: Exists: " + shownText(err, "already exists")
	}
	return http.StatusOK, FaultApplication, "Unexpected LMS exception: Error: the server could not complete the call; try again later"
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "XML-RPC answers POST only", http.StatusMethodNotAllowed)
		return
	}
	if r.ContentLength > s.cfg.MaxBodyBytes {
		s.tooLarge(w)
		return
	}
	head := s.startHead(w)
	defer head.stop()
	rc := &request{addr: s.cfg.RemoteAddr(r), head: head}
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	rc.meter = s.newMeter(r.Context(), body, r.ContentLength, rc)
	defer rc.meter.release()
	ctx := context.WithValue(r.Context(), requestKey{}, rc)
	name, result, err := s.handle(ctx, rc)
	if err != nil && !errors.Is(err, errSlow) && head.expired() {
		err = fmt.Errorf("%w: %w", errSlow, err)
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		s.tooLarge(w)
		return
	}
	if err != nil && !errors.Is(err, errSlow) {
		// A call refused before its end was read: read (not decode) the
		// rest of a modest body, so that a client still writing it gets the
		// answer rather than a reset connection; larger ones are cut off.
		// The drain holds no decoding budget and has drainTime at most: a
		// peer that stops sending holds neither for long.
		rc.meter.release()
		if r.ContentLength < 0 || rc.meter.read < r.ContentLength {
			s.drain(w, body)
		}
	}
	var out []byte
	if err == nil {
		if out, err = EncodeResponse(result); err != nil {
			err = &shown{msg: "the result cannot be encoded", err: fmt.Errorf("%w: %w", errInternal, err)}
		}
	}
	if rc.throttled {
		rc.meter.release() // a held answer holds no decoding budget
		s.hold(ctx, w)
	}
	if err != nil {
		status, code, msg := wireError(err)
		s.logFailure(name, status, code, rc.addr, err)
		switch status {
		case http.StatusTooManyRequests:
			secs, ok := retryAfter(err)
			if !ok {
				secs = int(math.Ceil(s.guard.RetryAfter().Seconds()))
			}
			w.Header().Set("Retry-After", strconv.Itoa(secs))
		case http.StatusServiceUnavailable:
			w.Header().Set("Retry-After", "1")
		case http.StatusRequestTimeout:
			w.Header().Set("Connection", "close")
		}
		if status != http.StatusOK {
			http.Error(w, msg, status)
			return
		}
		s.write(w, EncodeFault(code, msg))
		return
	}
	s.write(w, out)
}

// drain reads (and drops) up to drainBytes of a refused request's body
// within drainTime. Only a body still being sent is drained: a read
// deadline moved under the server's own read of a finished body would end
// the request's context.
func (s *Server) drain(w http.ResponseWriter, body io.Reader) {
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(time.Now().Add(drainTime)); err != nil {
		s.log.Debug("limiting the drain of a refused request", "err", err)
	}
	_, err := io.CopyN(io.Discard, body, drainBytes)
	switch {
	case errors.Is(err, io.EOF):
		// All of it came: the connection may serve the next request,
		// whose own deadlines the http.Server sets.
		if derr := rc.SetReadDeadline(time.Time{}); derr != nil {
			s.log.Debug("resetting the read deadline", "err", derr)
		}
	case err != nil:
		s.log.Debug("draining a refused request", "err", err)
	}
}

func (s *Server) tooLarge(w http.ResponseWriter) {
	http.Error(w, fmt.Sprintf("request body over %d bytes", s.cfg.MaxBodyBytes), http.StatusRequestEntityTooLarge)
}

// handle reads a call through rc's meter and runs it. Credentials are
// checked as soon as they are read, so that a refused call is answered
// without reading (and decoding) the rest of its body.
func (s *Server) handle(ctx context.Context, rc *request) (name string, result any, err error) {
	p := newParser(rc.meter, s.cfg.Limits)
	if name, err = p.methodName(); err != nil {
		return "", nil, err
	}
	m, known := s.methods[name]
	params := []any{}
	callCtx := ctx
	for {
		if known && m.creds > 0 && len(params) == m.creds {
			if callCtx, err = s.admitCall(ctx, rc, m, params); err != nil {
				return name, nil, err
			}
		}
		v, ok, err := p.param()
		if err != nil {
			return name, nil, err
		}
		if !ok {
			break
		}
		params = append(params, v)
	}
	if !rc.head.stop() {
		return name, nil, errSlow
	}
	if !known {
		return name, nil, noMethod(name)
	}
	result, err = m.fn(callCtx, params)
	return name, result, err
}

func (s *Server) write(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	if _, err := w.Write(b); err != nil {
		// The client went away; nothing to answer it.
		s.log.Debug("xmlrpc answer not delivered", "err", err)
	}
}

// call runs one call of a system.multicall: its credentials are checked
// (authorize) before the method runs, as handle checks those of a request.
func (s *Server) call(ctx context.Context, name string, params []any) (any, error) {
	m, ok := s.methods[name]
	if !ok {
		return nil, noMethod(name)
	}
	if m.creds > 0 && len(params) >= m.creds {
		var err error
		if ctx, err = s.authorize(ctx, m, params); err != nil {
			return nil, err
		}
	}
	return m.fn(ctx, params)
}
