// Package backoff is the doubling arithmetic the scheduling policy and the
// deliveries (the notifier, the webhooks) share.
package backoff

import "time"

// Doubled returns base doubled once per failure after the first (n = 1
// gives base), never more than limit.
func Doubled(base, limit time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// Jittered spreads d by ±frac×d; rnd is a uniform number in [-1, 1]
// (values outside are clamped).
func Jittered(d time.Duration, frac, rnd float64) time.Duration {
	return d + time.Duration(float64(d)*frac*max(-1, min(1, rnd)))
}

// Retry is the wait after the n-th consecutive failed delivery (a
// notification push, a webhook event): interval doubled per failure, at
// most limit, with ±20 % jitter (rnd in [0, 1)).
func Retry(interval, limit time.Duration, n int, rnd float64) time.Duration {
	return Jittered(Doubled(interval, limit, n), 0.2, 2*rnd-1)
}
