package lms

import (
	"time"

	"github.com/linkmonitor/lms/internal/backoff"
)

// Policy is the scheduler's policy of when to check a link again. Its
// methods are pure functions of their arguments (the time and the random
// jitter are passed in), so the policy is tested over fixed instants. The
// zero value means the defaults documented on each field.
type Policy struct {
	// Interval between regular checks. Default 24 h.
	Interval time.Duration
	// Jitter spreads regular checks by ±Jitter×Interval, so that links
	// registered together do not stay due together. Default 0.1; negative
	// disables.
	Jitter float64
	// MinRecheck is the shortest time between two checks of one link.
	// Default 1 h.
	MinRecheck time.Duration
	// RetryInterval is the first re-check interval of a link in state
	// temporary unavailable; it doubles with each further failure up to
	// Interval. Default 3 h.
	RetryInterval time.Duration
	// FailuresToUnavailable is how many consecutive failures a link that
	// was ok needs before it is reported unavailable; before that it is
	// reported temporary unavailable and re-checked after MinRecheck.
	// Default 2; 1 reports the first failure as is (the original's way).
	FailuresToUnavailable int
	// MaxRetryAfter caps how far a server's Retry-After can push a link.
	// Default 24 h.
	MaxRetryAfter time.Duration
}

// WithDefaults returns p with zero fields set to their defaults.
func (p Policy) WithDefaults() Policy {
	if p.Interval == 0 {
		p.Interval = 24 * time.Hour
	}
	if p.Jitter == 0 {
		p.Jitter = 0.1
	}
	if p.Jitter < 0 {
		p.Jitter = 0
	}
	if p.MinRecheck == 0 {
		p.MinRecheck = time.Hour
	}
	if p.RetryInterval == 0 {
		p.RetryInterval = 3 * time.Hour
	}
	if p.FailuresToUnavailable == 0 {
		p.FailuresToUnavailable = 2
	}
	if p.MaxRetryAfter == 0 {
		p.MaxRetryAfter = 24 * time.Hour
	}
	return p
}

// Next turns a check result into the Outcome to store: the state to report
// and the next due time. prev is the link as it was claimed, now the time of
// the check, and rnd a uniform random number in [-1, 1] for the jitter.
//
// Rules, in order: ok and unsupported links are due again after Interval
// (± jitter). A failure increments Failures. A hard failure (unavailable) of
// a link that was ok is reported as temporary unavailable and re-checked
// after MinRecheck until it has failed FailuresToUnavailable times in a row,
// so one glitch does not alarm every client. Temporary failures are
// re-checked after RetryInterval, doubling per failure, at most Interval. A
// Retry-After pushes the next check back (at most MaxRetryAfter). No link is
// due again sooner than MinRecheck.
func (p Policy) Next(prev Link, r Result, now time.Time, rnd float64) Outcome {
	p = p.WithDefaults()
	rec := Outcome{URL: prev.URL, Result: r, Checked: now}
	jittered := func(d time.Duration) time.Duration { return backoff.Jittered(d, p.Jitter, rnd) }
	var next time.Duration
	switch r.State {
	case StateTemporary, StateUnavailable:
		rec.Failures = prev.Failures + 1
		switch {
		case r.State == StateUnavailable && prev.State == StateOK && rec.Failures < p.FailuresToUnavailable:
			rec.Result.State = StateTemporary
			next = p.MinRecheck
		case r.State == StateUnavailable:
			next = jittered(p.Interval)
		default:
			next = jittered(backoff.Doubled(p.RetryInterval, p.Interval, rec.Failures))
		}
	default:
		next = jittered(p.Interval)
	}
	if r.RetryAfter > 0 {
		next = max(next, min(r.RetryAfter, p.MaxRetryAfter))
	}
	next = max(next, p.MinRecheck)
	rec.NextDue = now.Add(next)
	return rec
}
