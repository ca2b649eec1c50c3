package lms

import (
	"context"
	"time"
)

// ThrottleStore is implemented by stores that several processes share, so
// that the guessing throttles (failed credential checks per client id and
// per source address) count for the whole deployment: N API processes then
// allow what one allows, not N times as many guesses. The front doors use
// it, when their Store implements it, in place of their in-memory counts.
//
// A key is a token bucket of failures: it may fail Burst times, then once
// per Every. The store keeps the buckets in its own clock (a database's),
// not the callers', so processes whose clocks differ count alike.
type ThrottleStore interface {
	// ReserveFailures reserves one failure of every key, all or none,
	// before the attempt is checked: ok is false, and nothing changes, if
	// one key has no failure left. A reservation counts as a failure until
	// it is settled, so that attempts made at once, in any process, cannot
	// all pass before one of them failed. Keys may be any strings (the
	// store keeps a digest of each); an invalid Burst or Every is
	// ErrInvalid.
	ReserveFailures(ctx context.Context, keys []ThrottleKey) (ok bool, err error)
	// SettleFailures ends the reservations ReserveFailures made of keys:
	// failed keeps them as failures; otherwise they are given back.
	SettleFailures(ctx context.Context, keys []ThrottleKey, failed bool) error
}

// ThrottleKey is one bucket of failures of a ThrottleStore.
type ThrottleKey struct {
	Key   string
	Burst int           // failures at once; at least 1
	Every time.Duration // the time in which one more failure is earned; > 0
	// Cost is how many of the bucket's failures one reservation takes (0
	// means 1; a cap of n items per period reserves n at once).
	Cost int
}
