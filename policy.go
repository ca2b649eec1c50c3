package lms

import (
	"time"

	"github.com/linkmonitor/lms/internal/backoff"
)

// Policy is the scheduler's policy of when to check a link again. Its
// methods are pure functions of their arguments (the time and the random
// jitter are passed in), so the policy is tested over fixed instants. The
// zero value means the defaults documented on each field; the delays that
// are not set are derived from Interval and MinRecheck, so that fast
// settings (tests, scenarios) make every timeline fast.
//
// A link's state is what a person following it would experience: a failure
// is reported temporary unavailable and confirmed by re-checks within
// minutes before the link is called unavailable, so a glitch never paints a
// working link red; a link that is unavailable is re-checked every
// FailingInterval, so a fixed link turns ok within hours. See Next.
type Policy struct {
	// Interval between regular checks. Default 24 h.
	Interval time.Duration
	// Jitter spreads regular checks by ±Jitter×Interval, so that links
	// registered together do not stay due together. Default 0.1; negative
	// disables.
	Jitter float64
	// MinRecheck is the shortest time between two regular checks of one
	// link (confirmation re-checks of a new failure excepted: they come
	// after ConfirmDelay). Default 1 h.
	MinRecheck time.Duration
	// ConfirmDelay is the time from a first failure to the re-check that
	// confirms it; each further confirmation of a transient failure waits
	// four times longer (at most FailingInterval). Default MinRecheck/12
	// (5 min with the default MinRecheck).
	ConfirmDelay time.Duration
	// FailuresToUnavailable is how many consecutive failures with a
	// definitive answer (404, 410, no such host, a bad certificate, a page
	// found gone though it answers 200) report a link unavailable; before that it is
	// reported temporary unavailable and re-checked after ConfirmDelay.
	// Default 2. 1 reports every result as the checker gave it, with no
	// confirmation at all (the original's way): unavailable links are then
	// re-checked after Interval, temporary ones after RetryInterval,
	// doubling.
	FailuresToUnavailable int
	// TransientFailuresToUnavailable is how many consecutive failures
	// report a link unavailable when the last one may pass (5xx, a dropped
	// connection, a timeout). Default 4: with the default delays a link
	// whose server keeps answering 500 is red 1 h 45 min after its first
	// failure. A failure that is temporary by nature (see byNature: 502,
	// 503 and 504 without Retry-After, timeouts, resets, refused
	// connections) must moreover have lasted at least Interval.
	TransientFailuresToUnavailable int
	// FailingInterval is how often a link that is reported unavailable is
	// checked again, so that a fixed link turns ok soon. Default
	// Interval/6, at least MinRecheck (4 h with the defaults).
	FailingInterval time.Duration
	// RetryInterval is the first re-check interval of a link that the site
	// blocks or rate-limits (FailureBlocked), and of temporary failures
	// when FailuresToUnavailable is 1; it doubles with each further
	// failure up to Interval. Default 3 h.
	RetryInterval time.Duration
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
	if p.ConfirmDelay <= 0 {
		p.ConfirmDelay = p.MinRecheck / 12
	}
	if p.RetryInterval == 0 {
		p.RetryInterval = 3 * time.Hour
	}
	if p.FailuresToUnavailable == 0 {
		p.FailuresToUnavailable = 2
	}
	if p.TransientFailuresToUnavailable <= 0 {
		p.TransientFailuresToUnavailable = 4
	}
	if p.FailingInterval <= 0 {
		p.FailingInterval = max(p.Interval/6, p.MinRecheck)
	}
	if p.MaxRetryAfter == 0 {
		p.MaxRetryAfter = 24 * time.Hour
	}
	return p
}

// confirmAfter returns when the check after the failures-th consecutive
// failure runs while the failure is being confirmed: ConfirmDelay, then
// four times longer per further failure, at most FailingInterval.
func (p Policy) confirmAfter(failures int) time.Duration {
	d := p.ConfirmDelay
	for i := 1; i < failures && d < p.FailingInterval; i++ {
		d *= 4
	}
	return min(d, p.FailingInterval)
}

// Next turns a check result into the Outcome to store: the state to report
// and the next due time. prev is the link as it was claimed, now the time of
// the check, and rnd a uniform random number in [-1, 1] for the jitter.
//
// Rules, in order:
//   - ok and unsupported links are due again after Interval (± jitter), at
//     least MinRecheck; the failure count goes back to 0.
//   - A failure increments Failures. A site that blocks automated checks or
//     limits their rate (FailureBlocked) is reported temporary unavailable,
//     never unavailable, and re-checked after RetryInterval, doubling per
//     such result up to Interval; a run of them is counted as -1, -2, …, so
//     it never counts toward unavailable: a real failure after it is
//     confirmed like a first one.
//   - Weak evidence that a working page is gone (FailureDoubt) is counted
//     like a blocked result: temporary unavailable, never unavailable; it
//     is re-checked like a failure being confirmed (ConfirmDelay, four
//     times longer each time, at most FailingInterval).
//   - Any other failure is reported unavailable once the link has failed
//     FailuresToUnavailable times in a row (definitive answers) or
//     TransientFailuresToUnavailable times (the last failure may pass) —
//     and, for a failure temporary by nature, once the failures have
//     lasted at least Interval since the first of them — and is then
//     re-checked every FailingInterval (± jitter). Before that it is
//     reported temporary unavailable and re-checked after ConfirmDelay,
//     four times longer per further failure: a new link and a link that was
//     ok are treated alike.
//   - With FailuresToUnavailable 1 results are reported as checked (the
//     original's way): unavailable re-checked after Interval, temporary
//     after RetryInterval, doubling.
//   - A Retry-After pushes the next check back (at most MaxRetryAfter).
//
// Only the confirmation re-checks come sooner than MinRecheck.
func (p Policy) Next(prev Link, r Result, now time.Time, rnd float64) Outcome {
	p = p.WithDefaults()
	rec := Outcome{URL: prev.URL, Result: r, Checked: now}
	jittered := func(d time.Duration) time.Duration { return backoff.Jittered(d, p.Jitter, rnd) }
	var next time.Duration
	floor := p.MinRecheck
	kind := r.failure()
	switch {
	case !r.State.Failing():
		next = jittered(p.Interval)
	case kind == FailureBlocked || kind == FailureDoubt:
		// A run of blocked (or doubtful) results counts down from -1, so
		// that it never counts toward unavailable: a real failure after it
		// starts its own confirmation at 1.
		rec.Failures = min(prev.Failures, 0) - 1
		rec.Result.State = StateTemporary
		if kind == FailureDoubt {
			// Looked at again like a failure being confirmed: by then the
			// host's probe (under way in another check, or due in the
			// next interval) may settle it.
			next, floor = p.confirmAfter(-rec.Failures), 0
		} else {
			next = jittered(backoff.Doubled(p.RetryInterval, p.Interval, -rec.Failures))
		}
	case p.FailuresToUnavailable == 1:
		rec.Failures = max(prev.Failures, 0) + 1
		if r.State == StateUnavailable {
			next = jittered(p.Interval)
		} else {
			next = jittered(backoff.Doubled(p.RetryInterval, p.Interval, rec.Failures))
		}
	default:
		rec.Failures = max(prev.Failures, 0) + 1
		need := p.FailuresToUnavailable
		if kind == FailureTransient {
			need = p.TransientFailuresToUnavailable
		}
		lasted := prev.State == StateUnavailable || now.Sub(failingSince(prev, now)) >= p.Interval
		if rec.Failures >= need && (lasted || !byNature(r)) {
			rec.Result.State = StateUnavailable
			next = jittered(p.FailingInterval)
		} else {
			rec.Result.State = StateTemporary
			next, floor = p.confirmAfter(rec.Failures), 0
		}
	}
	if r.RetryAfter > 0 {
		next = max(next, min(r.RetryAfter, p.MaxRetryAfter))
	}
	next = max(next, floor)
	rec.NextDue = now.Add(next)
	return rec
}

// byNature reports whether r is a failure temporary by nature, which turns
// a link red only after it has lasted a regular check interval: a transient
// failure without a Retry-After that is not a server's own error answer —
// 502, 503 and 504 (a gateway or a server in maintenance), timeouts,
// resets, refused or dropped connections, a name service that did not
// answer. A 500 and the other 5xx codes say the server is broken; a
// Retry-After says when it will be back: those are confirmed like before.
func byNature(r Result) bool {
	if r.failure() != FailureTransient || r.RetryAfter > 0 {
		return false
	}
	switch r.Code {
	case 502, 503, 504:
		return true
	}
	return r.Code < 500 || r.Code >= 1000 // 0: no answer; 2xx: the body broke off; 4xx: an FTP server's transient reply
}

// failingSince returns when prev's run of failures began, as far as the
// link tells: the time its state turned temporary unavailable if it is in
// a run of failures, else now (this check is the first failure).
func failingSince(prev Link, now time.Time) time.Time {
	if prev.Failures > 0 && prev.State == StateTemporary && !prev.LastChanged.IsZero() {
		return prev.LastChanged
	}
	return now
}
