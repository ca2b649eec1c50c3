// Package throttle counts failures per key (a client id, a source address)
// in token buckets of golang.org/x/time/rate, in bounded memory: a key may
// fail Burst times, then once per Every. Keys are hashed (a hostile key of
// a megabyte costs eight bytes), idle buckets are dropped when the table is
// full, and keys that find it full of busy buckets share one overflow
// bucket, so that a flood of distinct keys is throttled as one.
//
// Time is passed in (now), as in rate.Limiter.AllowN, so that callers and
// tests decide the clock.
package throttle

import (
	"hash/maphash"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Config sets the bucket of every key. Zero fields take the defaults.
type Config struct {
	// Burst is how many failures a key may have at once. Default 10.
	Burst int
	// Every is the time in which a key earns one more failure. Default 6 s.
	Every time.Duration
	// MaxKeys bounds the keys tracked. Default 10,000 (about 1.5 MB).
	MaxKeys int
}

func (c Config) withDefaults() Config {
	if c.Burst <= 0 {
		c.Burst = 10
	}
	if c.Every <= 0 {
		c.Every = 6 * time.Second
	}
	if c.MaxKeys <= 0 {
		c.MaxKeys = 10_000
	}
	return c
}

// sweepGap is the least time between two sweeps of a full table, so that a
// flood of new keys costs one O(MaxKeys) sweep per second, not per key.
const sweepGap = time.Second

// Limiter tracks failures per key. It is safe for concurrent use.
type Limiter struct {
	cfg  Config
	seed maphash.Seed

	mu        sync.Mutex
	keys      map[uint64]*bucket
	overflow  *bucket
	lastSweep time.Time
}

// bucket is one key's failures: a token bucket, and the attempts reserved
// against it whose outcome is not known yet (see Reserve).
type bucket struct {
	lim     *rate.Limiter
	pending int
}

// left returns the failures b has left at now, reserved ones counted.
func (b *bucket) left(now time.Time) float64 { return b.lim.TokensAt(now) - float64(b.pending) }

// New returns a Limiter.
func New(cfg Config) *Limiter {
	cfg = cfg.withDefaults()
	return &Limiter{
		cfg: cfg, seed: maphash.MakeSeed(),
		keys:     make(map[uint64]*bucket),
		overflow: &bucket{lim: rate.NewLimiter(rate.Every(cfg.Every), cfg.Burst)},
	}
}

// Blocked reports whether key has used up its failures at now, those
// reserved by attempts still being checked included: a caller then refuses
// the attempt without checking it.
func (l *Limiter) Blocked(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bucket(key, now, false).left(now) < 1
}

// Fail records one failure of key at now.
func (l *Limiter) Fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bucket(key, now, true).lim.AllowN(now, 1)
}

// Reserve reserves one failure of key at now for an attempt about to be
// checked, unless key has none left (then ok is false). Until the ticket
// is settled the reservation counts as a failure, so that attempts made
// at once cannot all pass "not blocked" before any of them has failed:
// a burst of N simultaneous guesses gets at most Burst of them checked.
func (l *Limiter) Reserve(key string, now time.Time) (t *Ticket, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key, now, true)
	if b.left(now) < 1 {
		return nil, false
	}
	b.pending++
	return &Ticket{l: l, b: b}, true
}

// Ticket is a reserved failure (see Reserve). Settle it exactly once.
type Ticket struct {
	l    *Limiter
	b    *bucket
	done bool
}

// Settle ends the reservation: a failed attempt counts as a failure at
// now, a good one costs nothing. Settling a nil or settled ticket does
// nothing.
func (t *Ticket) Settle(failed bool, now time.Time) {
	if t == nil {
		return
	}
	t.l.mu.Lock()
	defer t.l.mu.Unlock()
	if t.done {
		return
	}
	t.done = true
	t.b.pending--
	if failed {
		t.b.lim.AllowN(now, 1)
	}
}

// Len returns how many keys are tracked (at most MaxKeys).
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

// bucket returns key's bucket: its own, a fresh one (a key never seen has
// all its failures left), or the overflow bucket when the table is full.
// With create, a fresh bucket is stored.
func (l *Limiter) bucket(key string, now time.Time, create bool) *bucket {
	h := maphash.String(l.seed, key)
	if b, ok := l.keys[h]; ok {
		return b
	}
	if len(l.keys) >= l.cfg.MaxKeys {
		l.sweep(now)
	}
	if len(l.keys) >= l.cfg.MaxKeys {
		return l.overflow
	}
	b := &bucket{lim: rate.NewLimiter(rate.Every(l.cfg.Every), l.cfg.Burst)}
	if create {
		l.keys[h] = b
	}
	return b
}

// sweep drops the buckets that are full again and have no reservation:
// they hold nothing a fresh bucket would not.
func (l *Limiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < sweepGap {
		return
	}
	l.lastSweep = now
	for h, b := range l.keys {
		if b.pending == 0 && b.lim.TokensAt(now) >= float64(l.cfg.Burst) {
			delete(l.keys, h)
		}
	}
}
