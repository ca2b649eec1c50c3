// Package quota caps how many items each client may ask for per hour (the
// Engine's re-checks): a token bucket per client of PerHour tokens refilled
// over an hour, in bounded memory, or kept in a store that the processes
// of a deployment share. It is separate from internal/throttle, which
// counts failed credentials and imports the root.
package quota

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxBuckets bounds the table: full buckets are forgotten when it grows (a
// forgotten bucket is a full one).
const maxBuckets = 10_000

// Reserve takes cost items of the client's bucket in a shared store
// (burst at once, one more earned every every), all or none, in the
// store's clock; ok is false if it has not that many left.
type Reserve func(ctx context.Context, burst int, every time.Duration, cost int) (ok bool, err error)

// Quota is a per-client cap.
type Quota struct {
	perHour int // <0: no cap
	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// New returns the cap of perHour items per client and hour; negative
// means no cap.
func New(perHour int) *Quota {
	return &Quota{perHour: perHour, buckets: make(map[string]*rate.Limiter)}
}

// Take takes n (at most the cap) items of the client's bucket at now. If
// the bucket has not that many, it takes none and returns wait, when the
// call would be accepted at the earliest. With shared (not nil) the bucket
// is kept in the store, so that the cap holds for the whole deployment;
// wait is then the time n items take to come back (the store does not say
// how many are left), by which the call is accepted unless other calls
// took them.
func (q *Quota) Take(ctx context.Context, shared Reserve, client string, n int, now time.Time) (wait time.Duration, err error) {
	if q.perHour < 0 {
		return 0, nil
	}
	if shared != nil {
		every := time.Hour / time.Duration(q.perHour)
		ok, err := shared(ctx, q.perHour, every, n)
		if err != nil || ok {
			return 0, err
		}
		return every * time.Duration(n), nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	b := q.buckets[client]
	if b == nil {
		if len(q.buckets) >= maxBuckets {
			for id, x := range q.buckets {
				if x.TokensAt(now) >= float64(q.perHour) {
					delete(q.buckets, id)
				}
			}
		}
		b = rate.NewLimiter(rate.Limit(float64(q.perHour)/3600), q.perHour)
		q.buckets[client] = b
	}
	r := b.ReserveN(now, n)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, nil
	}
	return 0, nil
}
