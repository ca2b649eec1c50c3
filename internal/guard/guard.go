// Package guard is what protects a front door of lms from hostile clients,
// whatever its wire format: the decoding budget of request bodies, shared
// out per source address, and the throttles of failed credential checks
// per client id and per source address, with a memory of each id's last
// good credentials and held answers for throttled guesses.
//
// One Guard may serve several front doors (the XML-RPC and the JSON API):
// then a guess counts against the same budget of failures whichever door
// it came through, and bodies decoded at once are bounded across both.
package guard

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/maphash"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/throttle"
	"github.com/linkmonitor/lms/internal/validate"
)

// Config configures a Guard. Zero fields take the defaults.
type Config struct {
	// MaxBodyBytes is the largest request body. Default 16 MiB.
	MaxBodyBytes int64
	// MaxDecodingBytes bounds the body bytes decoded at once, across all
	// requests; one source address may hold at most half of it (at least
	// MaxBodyBytes). Default 32 MiB (at least MaxBodyBytes).
	MaxDecodingBytes int64
	// DecodeWait is how long a request waits for its budget. Default 10 s.
	DecodeWait time.Duration
	// IDBurst and IDEvery: failures a client id may have at once, and the
	// time in which it earns one back (also the Retry-After of a throttled
	// answer). Defaults 10 and 6 s.
	IDBurst int
	IDEvery time.Duration
	// AddrBurst and AddrEvery: the same per source address. Defaults 30
	// and 2 s.
	AddrBurst int
	AddrEvery time.Duration
	// MaxKeys bounds the ids and addresses tracked (each). Default 10,000.
	MaxKeys int
	// Delay holds a throttled answer this long. Default 1 s; negative: no
	// hold.
	Delay time.Duration
	// MaxDelayed is how many answers are held at once. Default 1,000.
	MaxDelayed int
	// Now is the clock of the throttles. Default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
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
	if c.IDBurst <= 0 {
		c.IDBurst = 10
	}
	if c.IDEvery <= 0 {
		c.IDEvery = 6 * time.Second
	}
	if c.AddrBurst <= 0 {
		c.AddrBurst = 30
	}
	if c.AddrEvery <= 0 {
		c.AddrEvery = 2 * time.Second
	}
	if c.MaxKeys <= 0 {
		c.MaxKeys = 10_000
	}
	if c.Delay == 0 {
		c.Delay = time.Second
	}
	if c.MaxDelayed <= 0 {
		c.MaxDelayed = 1000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Guard is the shared protection of the front doors. It is safe for
// concurrent use.
type Guard struct {
	cfg     Config
	budget  *semaphore.Weighted
	perAddr int64

	mu    sync.Mutex
	addrs map[string]int64 // budget held per source address

	ids, addrFails *throttle.Limiter
	good           *goodCreds
	delayed        chan struct{}
}

// New returns a Guard.
func New(cfg Config) *Guard {
	cfg = cfg.withDefaults()
	return &Guard{
		cfg:       cfg,
		budget:    semaphore.NewWeighted(cfg.MaxDecodingBytes),
		perAddr:   max(cfg.MaxDecodingBytes/2, cfg.MaxBodyBytes),
		addrs:     map[string]int64{},
		ids:       throttle.New(throttle.Config{Burst: cfg.IDBurst, Every: cfg.IDEvery, MaxKeys: cfg.MaxKeys}),
		addrFails: throttle.New(throttle.Config{Burst: cfg.AddrBurst, Every: cfg.AddrEvery, MaxKeys: cfg.MaxKeys}),
		good:      newGoodCreds(10 * cfg.MaxKeys),
		delayed:   make(chan struct{}, cfg.MaxDelayed),
	}
}

// Config returns the configuration with its defaults filled in.
func (g *Guard) Config() Config { return g.cfg }

// ErrBusy means that no decoding budget was free in time, or that the
// source address holds its share: answer 503 with Retry-After.
var ErrBusy = errors.New("guard: decoding budget exhausted")

// ErrThrottled means that the client id or the source address has used up
// its failed credential checks: answer 429 with Retry-After.
var ErrThrottled = errors.New("guard: too many failed credential checks")

// Acquire takes n bytes of the decoding budget for addr, waiting at most
// DecodeWait; it returns the function that gives them back, or ErrBusy.
func (g *Guard) Acquire(ctx context.Context, addr string, n int64) (release func(), err error) {
	n = min(max(n, 1), g.cfg.MaxBodyBytes)
	g.mu.Lock()
	if g.addrs[addr]+n > g.perAddr {
		g.mu.Unlock()
		return nil, ErrBusy
	}
	g.addrs[addr] += n
	g.mu.Unlock()
	give := func() {
		g.mu.Lock()
		if g.addrs[addr] -= n; g.addrs[addr] <= 0 {
			delete(g.addrs, addr)
		}
		g.mu.Unlock()
	}
	if !g.budget.TryAcquire(n) {
		wctx, cancel := context.WithTimeout(ctx, g.cfg.DecodeWait)
		err := g.budget.Acquire(wctx, n)
		cancel()
		if err != nil {
			give()
			return nil, ErrBusy
		}
	}
	var once sync.Once
	return func() { once.Do(func() { g.budget.Release(n); give() }) }, nil
}

// maxSecretLen is the longest secret checked; longer ones fail without
// the work of hashing them.
const maxSecretLen = 4 << 10

// Check runs check, the check of secret for key (e.g. "client\x00"+id, or
// "admin"), unless key or addr has used up its failures (and secret is not
// the key's last good one): then it returns ErrThrottled. A failure
// (check's error wraps lms.ErrUnauthorized) counts against both.
func (g *Guard) Check(addr, key, secret string, check func() error) error {
	now := g.cfg.Now()
	if len(key) > validate.MaxIDLength+len("client\x00") || len(secret) > maxSecretLen {
		g.addrFails.Fail(addr, now)
		return fmt.Errorf("guard: credentials over %d bytes: %w", maxSecretLen, lms.ErrUnauthorized)
	}
	if (g.ids.Blocked(key, now) || g.addrFails.Blocked(addr, now)) && !g.good.matches(key, secret) {
		return ErrThrottled
	}
	err := check()
	if errors.Is(err, lms.ErrUnauthorized) {
		g.ids.Fail(key, now)
		g.addrFails.Fail(addr, now)
		return err
	}
	if err != nil {
		return err
	}
	g.good.remember(key, secret)
	return nil
}

// RetryAfter is what a throttled answer tells the client to wait.
func (g *Guard) RetryAfter() time.Duration { return g.cfg.IDEvery }

// Hold delays a throttled answer by Delay if a slot is free, and reports
// false if none was (the caller then closes the connection).
func (g *Guard) Hold(ctx context.Context) bool {
	if g.cfg.Delay <= 0 {
		return true
	}
	select {
	case g.delayed <- struct{}{}:
	default:
		return false
	}
	defer func() { <-g.delayed }()
	t := time.NewTimer(g.cfg.Delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return true
}

// SourceKey is the throttles' key of a request's source address: the host
// of r.RemoteAddr, an IPv6 address by its /64 prefix.
func SourceKey(r *http.Request) string { return throttle.SourceKey(r.RemoteAddr) }

// goodCreds remembers a keyed hash of the last good credentials of each
// key (at most max keys), so that a client keeps working while its id is
// being guessed.
type goodCreds struct {
	key  [32]byte
	seed maphash.Seed
	max  int

	mu sync.Mutex
	m  map[uint64][32]byte
}

func newGoodCreds(max int) *goodCreds {
	g := &goodCreds{seed: maphash.MakeSeed(), max: max, m: map[uint64][32]byte{}}
	_, _ = rand.Read(g.key[:]) // crypto/rand.Read never fails (Go 1.24+)
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
