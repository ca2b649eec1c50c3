package xmlrpcapi

// What protects the server from hostile clients: the decoding budget,
// credential checks before the body is read, the throttles and their held
// answers, and log lines that cannot be flooded or carry secrets.

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/validate"
)

// request is what the methods of one HTTP request share.
type request struct {
	addr      string // source address, the throttles' key
	goodID    string // the client id and password already verified in this request
	goodPW    string
	goodAdmin string // the admin secret already verified in this request
	throttled bool   // a credential check was refused by a throttle: hold the answer
}

type requestKey struct{}

func requestFrom(ctx context.Context) *request {
	if rc, ok := ctx.Value(requestKey{}).(*request); ok {
		return rc
	}
	return &request{}
}

// admit waits for the request's share of the decoding budget. release
// gives it back; calling it again does nothing.
func (s *Server) admit(r *http.Request) (release func(), err error) {
	n := r.ContentLength
	if n < 0 {
		n = s.cfg.MaxBodyBytes // unknown (chunked): the most it may be
	}
	budget := s.large
	if n <= smallBody {
		budget = s.small
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.DecodeWait)
	defer cancel()
	if err := budget.Acquire(ctx, n); err != nil {
		return nil, errBusy
	}
	var once sync.Once
	return func() { once.Do(func() { budget.Release(n) }) }, nil
}

// errBusy marks requests that found no decoding budget in time (HTTP 503).
var errBusy = errors.New("decoding budget exhausted")

// precheck checks the leading credentials of a call as soon as they are
// read. Params of the wrong type are left to the method, which refuses
// them with a fault.
func (s *Server) precheck(ctx context.Context, m method, params []any) error {
	switch m.creds {
	case 2:
		id, ok1 := params[0].(string)
		pw, ok2 := params[1].(string)
		if ok1 && ok2 {
			return s.authClient(ctx, id, pw)
		}
	case 1:
		if secret, ok := params[0].(string); ok {
			return s.authAdmin(ctx, secret)
		}
	}
	return nil
}

// authClient checks a client's credentials through the throttles.
func (s *Server) authClient(ctx context.Context, id, pw string) error {
	rc := requestFrom(ctx)
	if rc.goodID != "" && rc.goodID == id && rc.goodPW == pw {
		return nil
	}
	return s.checkThrottled(rc, "client\x00"+id, pw, func() error { return s.e.Authenticate(ctx, id, pw) }, func() {
		rc.goodID, rc.goodPW = id, pw
	})
}

// authAdmin checks the admin secret through the throttles; it counts as
// one client id.
func (s *Server) authAdmin(ctx context.Context, secret string) error {
	rc := requestFrom(ctx)
	if rc.goodAdmin != "" && rc.goodAdmin == secret {
		return nil
	}
	return s.checkThrottled(rc, "admin", secret, func() error { return s.e.CheckAdminSecret(secret) }, func() {
		rc.goodAdmin = secret
	})
}

// maxSecretLen is the longest password or admin secret checked; longer ones
// (no password is over 72 bytes) fail without hashing megabytes.
const maxSecretLen = 4 << 10

// checkThrottled runs check unless the id key or the request's address has
// used up its failures (and secret is not the id's last good one), and
// counts a refusal against both.
func (s *Server) checkThrottled(rc *request, key, secret string, check func() error, ok func()) error {
	now := s.cfg.Now()
	if len(key) > validate.MaxIDLength+len("client\x00") || len(secret) > maxSecretLen {
		// No such id or password exists: a failure, without the work.
		s.addrs.Fail(rc.addr, now)
		return fmt.Errorf("xmlrpcapi: credentials over %d bytes: %w", maxSecretLen, lms.ErrUnauthorized)
	}
	if (s.ids.Blocked(key, now) || s.addrs.Blocked(rc.addr, now)) && !s.good.matches(key, secret) {
		rc.throttled = true
		return errThrottled
	}
	err := check()
	if errors.Is(err, lms.ErrUnauthorized) {
		s.ids.Fail(key, now)
		s.addrs.Fail(rc.addr, now)
		return err
	}
	if err != nil {
		return err
	}
	s.good.remember(key, secret)
	ok()
	return nil
}

// hold delays a throttled answer by Throttle.Delay, if a slot is free;
// without one the answer goes at once and the connection is closed.
func (s *Server) hold(ctx context.Context, w http.ResponseWriter) {
	if s.cfg.Throttle.Delay <= 0 {
		return
	}
	select {
	case s.delayed <- struct{}{}:
	default:
		w.Header().Set("Connection", "close")
		return
	}
	defer func() { <-s.delayed }()
	t := time.NewTimer(s.cfg.Throttle.Delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// goodCreds remembers a keyed hash of the last good credentials of each id
// (at most max ids: only real clients get in), so that a client keeps
// working while its id is being guessed.
type goodCreds struct {
	key  [32]byte
	seed maphash.Seed
	max  int

	mu sync.Mutex
	m  map[uint64][32]byte
}

func newGoodCreds(max int) *goodCreds {
	g := &goodCreds{seed: maphash.MakeSeed(), max: max, m: map[uint64][32]byte{}}
	if _, err := rand.Read(g.key[:]); err != nil {
		panic(err) // crypto/rand.Read never fails (Go 1.24+)
	}
	return g
}

func (g *goodCreds) digest(key, secret string) [32]byte {
	m := hmac.New(sha256.New, g.key[:])
	m.Write([]byte(key))
	m.Write([]byte{0})
	m.Write([]byte(secret))
	var d [32]byte
	copy(d[:], m.Sum(nil))
	return d
}

func (g *goodCreds) remember(key, secret string) {
	d := g.digest(key, secret)
	h := maphash.String(g.seed, key)
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.m[h]; ok || len(g.m) < g.max {
		g.m[h] = d
	}
}

func (g *goodCreds) matches(key, secret string) bool {
	d := g.digest(key, secret)
	h := maphash.String(g.seed, key)
	g.mu.Lock()
	want, ok := g.m[h]
	g.mu.Unlock()
	return ok && hmac.Equal(d[:], want[:])
}

// remoteAddr is the default ServerConfig.RemoteAddr: the host of
// r.RemoteAddr, an IPv6 address by its /64 prefix (one subscriber's
// network).
func remoteAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.To4() != nil {
		return host
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

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
