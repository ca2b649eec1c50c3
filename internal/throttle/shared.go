package throttle

import (
	"context"
	"sync"

	"github.com/linkmonitor/lms"
)

// Key is key's bucket with cfg's rule, for a Shared throttle.
func (c Config) Key(key string) lms.ThrottleKey {
	c = c.withDefaults()
	return lms.ThrottleKey{Key: key, Burst: c.Burst, Every: c.Every}
}

// Shared is the Reserve/Settle of Limiter with the counts in a store that
// every process of a deployment shares (lms.ThrottleStore), so that N
// processes allow what one allows. The store keeps the time (its own
// clock); no now is passed.
type Shared struct {
	store lms.ThrottleStore
}

// NewShared returns the throttle whose buckets store keeps.
func NewShared(store lms.ThrottleStore) *Shared { return &Shared{store: store} }

// Reserve reserves one failure of every key (all or none) for an attempt
// about to be checked; ok is false if one of them has none left. A store
// error is returned as it is: the caller decides whether to refuse the
// attempt (fail closed) or fall back on its in-memory Limiter.
func (s *Shared) Reserve(ctx context.Context, keys ...lms.ThrottleKey) (t *SharedTicket, ok bool, err error) {
	ok, err = s.store.ReserveFailures(ctx, keys)
	if err != nil || !ok {
		return nil, false, err
	}
	return &SharedTicket{s: s, keys: keys}, true, nil
}

// SharedTicket is a reservation of Shared.Reserve. Settle it exactly once.
type SharedTicket struct {
	s    *Shared
	keys []lms.ThrottleKey
	once sync.Once
}

// Settle ends the reservation: a failed attempt keeps its failures, a good
// one gives them back. Settling a nil or settled ticket does nothing.
func (t *SharedTicket) Settle(ctx context.Context, failed bool) error {
	if t == nil {
		return nil
	}
	var err error
	t.once.Do(func() { err = t.s.store.SettleFailures(ctx, t.keys, failed) })
	return err
}
