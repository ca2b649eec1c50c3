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
	// Shared, when set, counts the failed credential checks in a store that
	// several processes share (pgstore), with the rules above, in place of
	// this process's memory: N API processes then allow what one allows.
	Shared lms.ThrottleStore
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

// smallBody is the largest request that draws from the small budget.
const smallBody = 64 << 10

// Guard is the shared protection of the front doors: two decoding budgets
// (requests declared at most 64 KiB draw from the small one, a quarter of
// MaxDecodingBytes, so that small calls never queue behind large ones) and
// the credential throttles. It is safe for concurrent use.
type Guard struct {
	cfg          Config
	Small, Large *Budget
	Throttle     *Throttle
}

// New returns a Guard.
func New(cfg Config) *Guard {
	cfg = cfg.withDefaults()
	small := max(cfg.MaxDecodingBytes/4, smallBody)
	idRule := throttle.Config{Burst: cfg.IDBurst, Every: cfg.IDEvery, MaxKeys: cfg.MaxKeys}
	addrRule := throttle.Config{Burst: cfg.AddrBurst, Every: cfg.AddrEvery, MaxKeys: cfg.MaxKeys}
	t := &Throttle{
		IDs:      throttle.New(idRule),
		Addrs:    throttle.New(addrRule),
		idRule:   idRule,
		addrRule: addrRule,
		good:     newGoodCreds(10 * cfg.MaxKeys),
		checking: newChecking(),
		queued:   make(chan struct{}, cfg.MaxDelayed),
		delayed:  make(chan struct{}, cfg.MaxDelayed),
		delay:    cfg.Delay,
		now:      cfg.Now,
	}
	if cfg.Shared != nil {
		t.shared = throttle.NewShared(cfg.Shared)
	}
	return &Guard{
		cfg:      cfg,
		Small:    NewBudget(small, max(small/4, smallBody)),
		Large:    NewBudget(cfg.MaxDecodingBytes, max(cfg.MaxDecodingBytes/2, cfg.MaxBodyBytes)),
		Throttle: t,
	}
}

// Config returns the configuration with its defaults filled in.
func (g *Guard) Config() Config { return g.cfg }

// BudgetFor returns the budget a body of length bytes (-1: unknown) draws
// from.
func (g *Guard) BudgetFor(length int64) *Budget {
	if length >= 0 && length <= smallBody {
		return g.Small
	}
	return g.Large
}

// ErrBusy means that no decoding budget was free in time, or that the
// source address holds its share: answer 503 with Retry-After.
var ErrBusy = errors.New("guard: decoding budget exhausted")

// ErrAddrBusy means that the source address holds its share of a budget:
// answer 503 at once.
var ErrAddrBusy = fmt.Errorf("%w: the source address holds its share", ErrBusy)

// ErrThrottled means that the client id or the source address has used up
// its failed credential checks: answer 429 with Retry-After.
var ErrThrottled = errors.New("guard: too many failed credential checks")

// Acquire takes n bytes (at least 1, at most MaxBodyBytes) of the budget
// for a body of n bytes for addr, waiting at most DecodeWait; it returns
// the function that gives them back, or ErrBusy.
func (g *Guard) Acquire(ctx context.Context, addr string, n int64) (release func(), err error) {
	b := g.BudgetFor(n)
	n = min(max(n, 1), g.cfg.MaxBodyBytes)
	if !b.TakeShare(addr, n) {
		return nil, ErrAddrBusy
	}
	if !b.Sem.TryAcquire(n) {
		wctx, cancel := context.WithTimeout(ctx, g.cfg.DecodeWait)
		err := b.Sem.Acquire(wctx, n)
		cancel()
		if err != nil {
			b.GiveShare(addr, n)
			return nil, ErrBusy
		}
	}
	var once sync.Once
	return func() { once.Do(func() { b.Sem.Release(n); b.GiveShare(addr, n) }) }, nil
}

// RetryAfter is what a throttled answer tells the client to wait.
func (g *Guard) RetryAfter() time.Duration { return g.cfg.IDEvery }

// Budget is one decoding budget: the bytes of request bodies that may be
// decoded at once (Sem), and what each source address holds of them.
type Budget struct {
	Sem     *semaphore.Weighted
	Size    int64 // of Sem
	PerAddr int64 // the most one address may hold

	mu    sync.Mutex
	addrs map[string]int64 // the addresses that hold some
}

// NewBudget returns a budget of size bytes, perAddr (at most size) for
// one address.
func NewBudget(size, perAddr int64) *Budget {
	return &Budget{Sem: semaphore.NewWeighted(size), Size: size, PerAddr: min(perAddr, size), addrs: map[string]int64{}}
}

// TakeShare charges n bytes to addr's share, and reports false (charging
// nothing) if addr would hold more than PerAddr.
func (b *Budget) TakeShare(addr string, n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.addrs[addr]+n > b.PerAddr {
		return false
	}
	b.addrs[addr] += n
	return true
}

// GiveShare returns n bytes of addr's share.
func (b *Budget) GiveShare(addr string, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.addrs[addr] -= n; b.addrs[addr] <= 0 {
		delete(b.addrs, addr)
	}
}

// Idle reports whether the budget is whole: no address holds any of it
// and all of Sem is free.
func (b *Budget) Idle() bool {
	if !b.Sem.TryAcquire(b.Size) {
		return false
	}
	b.Sem.Release(b.Size)
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.addrs) == 0
}

// Held returns what addr holds.
func (b *Budget) Held(addr string) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.addrs[addr]
}

// maxSecretLen is the longest secret checked; longer ones (no password is
// over 72 bytes) fail without the work of hashing megabytes.
const maxSecretLen = 4 << 10

// Throttle counts failed credential checks per key (a client id, "admin")
// and per source address, remembers each key's last good credentials, and
// holds throttled answers.
type Throttle struct {
	IDs, Addrs *throttle.Limiter

	// shared, when set, counts the failures for every process sharing its
	// store, with the rules of IDs and Addrs (idRule, addrRule), in place
	// of them.
	shared           *throttle.Shared
	idRule, addrRule throttle.Config

	good     *goodCreds
	checking *checking
	queued   chan struct{} // the callers waiting in admit
	delayed  chan struct{}
	delay    time.Duration
	now      func() time.Time
}

// Check runs check, the check of secret for key (e.g. "client\x00"+id, or
// "admin"), unless key or addr has used up its failures (and secret is not
// the key's last good one): then it returns ErrThrottled. A failure is
// reserved against both before the check runs (throttle.Reserve), so that
// guesses sent at once cannot all find the budget unspent while the first
// of them is still being checked; a good attempt (check's error does not
// wrap lms.ErrUnauthorized) gives its reservation back. A check that
// finds the budget reserved by checks still being made waits for them
// (see checking) rather than being refused. A check that panics counts as
// a failure. A key or secret too long to be real is a failure without the
// work.
func (t *Throttle) Check(ctx context.Context, addr, key, secret string, check func() error) error {
	if len(key) > validate.MaxIDLength+len("client\x00") || len(secret) > maxSecretLen {
		if t.shared != nil {
			if tk, ok, err := t.shared.Reserve(ctx, t.addrRule.Key(addr)); err == nil && ok {
				_ = tk.Settle(context.WithoutCancel(ctx), true)
			}
		} else {
			t.Addrs.Fail(addr, t.now())
		}
		return fmt.Errorf("guard: credentials over %d bytes: %w", maxSecretLen, lms.ErrUnauthorized)
	}
	settle, err := t.admit(ctx, addr, key, secret)
	if err != nil {
		return err
	}
	settled := false
	defer func() {
		if !settled { // check panicked: keep the reservation as a failure
			settle(true)
		}
	}()
	err = check()
	if err == nil {
		// Before the settlement wakes the checks waiting, so that those of
		// the same credentials pass without a check of their own.
		t.good.remember(key, secret)
	}
	settled = true
	settle(errors.Is(err, lms.ErrUnauthorized))
	return err
}

// Shared reports whether the failures are counted in a store that several
// processes share (Config.Shared) rather than in this process's memory.
func (t *Throttle) Shared() bool { return t.shared != nil }

// queueWait is the longest a check waits for the checks before it to
// settle (see checking).
const queueWait = 5 * time.Second

// admit returns the settlement of the reservation made for a check of
// secret for key from addr (nothing reserved if secret is key's last good
// one, which is forgotten if it fails), or ErrThrottled. When the budget
// of key or addr is taken by checks of this process still being made, it
// waits (at most queueWait, and as one of at most MaxDelayed callers) for
// them to settle and tries again.
func (t *Throttle) admit(ctx context.Context, addr, key, secret string) (settle func(failed bool), err error) {
	var timer *time.Timer
	for {
		if t.good.matches(key, secret) {
			return func(failed bool) {
				if failed { // changed since: no longer a pass
					t.good.forget(key, secret)
				}
			}, nil
		}
		// Watched from before the reservation, so that a check settling
		// between the refusal and the wait is not missed.
		w := t.checking.watch(key, addr)
		settle, ok, err := t.reserve(ctx, addr, key)
		if err != nil || ok {
			w.stop()
			return settle, err
		}
		if refuse, retry := t.refused(key, addr); retry {
			w.stop()
			continue // earned back since the reservation
		} else if refuse && !w.fired() {
			w.stop()
			return nil, ErrThrottled
		}
		if timer == nil {
			select {
			case t.queued <- struct{}{}:
			default:
				w.stop()
				return nil, ErrThrottled
			}
			defer func() { <-t.queued }()
			timer = time.NewTimer(queueWait)
			defer timer.Stop()
		}
		select {
		case <-w.settled[0]:
		case <-w.settled[1]:
		case <-timer.C:
			w.stop()
			return nil, ErrThrottled
		case <-ctx.Done():
			w.stop()
			return nil, fmt.Errorf("guard: %w", ctx.Err())
		}
		w.stop()
	}
}

// refused tells a check refused its reservation whether to give up
// (refuse): key or addr has used up its failures with no check of it
// being made, whose reservation might be given back, and waiting is in
// vain; or to try again at once (retry): neither has used them up any
// more. Otherwise it waits. Over a shared store, which of them refused is
// not known: waiting is in vain only if neither is being checked.
func (t *Throttle) refused(key, addr string) (refuse, retry bool) {
	idBusy, addrBusy := t.checking.busy(key, addr)
	if t.shared != nil {
		return !idBusy && !addrBusy, false
	}
	now := t.now()
	idOut, addrOut := t.IDs.Blocked(key, now), t.Addrs.Blocked(addr, now)
	return idOut && !idBusy || addrOut && !addrBusy, !idOut && !addrOut
}

// reserve reserves one failure against key and one against addr, all or
// nothing, in the shared store or this process's memory, and returns how
// to settle them; ok is false if either has none left.
func (t *Throttle) reserve(ctx context.Context, addr, key string) (settle func(failed bool), ok bool, err error) {
	if t.shared != nil {
		tk, ok, err := t.shared.Reserve(ctx, t.idRule.Key(key), t.addrRule.Key(addr))
		if err != nil {
			return nil, false, fmt.Errorf("guard: throttle: %w", err)
		}
		if !ok {
			return nil, false, nil
		}
		// Counted once the store has answered: a call refused in between
		// (and one refused for the checks of other processes) finds
		// nothing being checked here and is refused at once.
		t.checking.begin(key, addr)
		return func(failed bool) {
			// A reservation the store could not settle runs out by itself
			// (the store sweeps old rows); the attempt's own answer stands.
			_ = tk.Settle(context.WithoutCancel(ctx), failed)
			t.checking.end(key, addr, !failed)
		}, true, nil
	}
	var idTicket, addrTicket *throttle.Ticket
	if !t.checking.beginIf(key, addr, func() bool {
		now := t.now()
		var ok bool
		if idTicket, ok = t.IDs.Reserve(key, now); !ok {
			return false
		}
		if addrTicket, ok = t.Addrs.Reserve(addr, now); !ok {
			idTicket.Settle(false, now)
			return false
		}
		return true
	}) {
		return nil, false, nil
	}
	return func(failed bool) {
		// A failure counts when its check ends: counted at the time of its
		// reservation, after a later one, it would set the bucket's clock
		// back, and the time in between would be earned twice.
		now := t.now()
		idTicket.Settle(failed, now)
		addrTicket.Settle(failed, now)
		t.checking.end(key, addr, !failed)
	}, true, nil
}

// Hold delays a throttled answer by Delay if a slot is free, and reports
// false if none was (the caller then closes the connection).
func (t *Throttle) Hold(ctx context.Context) bool {
	if t.delay <= 0 {
		return true
	}
	select {
	case t.delayed <- struct{}{}:
	default:
		return false
	}
	defer func() { <-t.delayed }()
	tm := time.NewTimer(t.delay)
	defer tm.Stop()
	select {
	case <-tm.C:
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

// forget forgets key's last good credentials if they are secret.
func (g *goodCreds) forget(key, secret string) {
	d := g.digest(key, secret)
	h := maphash.String(g.seed, key)
	g.mu.Lock()
	defer g.mu.Unlock()
	if want, ok := g.m[h]; ok && hmac.Equal(d[:], want[:]) {
		delete(g.m, h)
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
