// Package backoff is the doubling arithmetic the scheduling policy and the
// notifier share.
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
