package lms_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
)

func TestPolicyNext(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	p := lms.Policy{}
	ok := lms.Result{State: lms.StateOK, Reason: "OK"}
	notFound := lms.Result{State: lms.StateUnavailable, Reason: "Not Found"}
	busy := lms.Result{State: lms.StateTemporary, Reason: "Service Unavailable"}
	walled := lms.Result{State: lms.StateTemporary, Reason: "The site blocks automated checks (Cloudflare challenge)", Failure: lms.FailureBlocked}
	refused := lms.Result{State: lms.StateTemporary, Reason: "The server refused the connection", Failure: lms.FailureTransient, NetworkError: true}
	serverError := lms.Result{State: lms.StateTemporary, Reason: "Internal Server Error", Code: 500}
	doubt := lms.Result{State: lms.StateTemporary, Reason: "The link now leads to the site's home page", Code: 200, Failure: lms.FailureDoubt, Kind: "home_redirect"}
	soft404 := lms.Result{State: lms.StateUnavailable, Reason: "The page says it was not found", Code: 200, Failure: lms.FailureDefinitive, Kind: "soft_404"}
	cases := []struct {
		name      string
		prev      lms.Link
		res       lms.Result
		rnd       float64
		wantState lms.State
		wantFail  int
		wantIn    time.Duration
	}{
		{"new link ok, no jitter", lms.Link{State: lms.StateUnknown}, ok, 0, lms.StateOK, 0, 24 * time.Hour},
		{"jitter +10%", lms.Link{State: lms.StateOK}, ok, 1, lms.StateOK, 0, 24*time.Hour + 144*time.Minute},
		{"jitter -10%", lms.Link{State: lms.StateOK}, ok, -1, lms.StateOK, 0, 24*time.Hour - 144*time.Minute},
		{"first failure of an ok link is only temporary, confirmed within minutes", lms.Link{State: lms.StateOK}, notFound, 0, lms.StateTemporary, 1, 5 * time.Minute},
		{"a new link that fails is confirmed too", lms.Link{State: lms.StateUnknown}, notFound, 0, lms.StateTemporary, 1, 5 * time.Minute},
		{"second definitive failure in a row is unavailable", lms.Link{State: lms.StateTemporary, Failures: 1}, notFound, 0, lms.StateUnavailable, 2, 4 * time.Hour},
		{"unavailable links are re-checked every FailingInterval", lms.Link{State: lms.StateUnavailable, Failures: 7}, notFound, 1, lms.StateUnavailable, 8, 4*time.Hour + 24*time.Minute},
		{"transient: first re-check within minutes", lms.Link{State: lms.StateOK}, busy, 0, lms.StateTemporary, 1, 5 * time.Minute},
		{"transient: confirmations back off ×4", lms.Link{State: lms.StateTemporary, Failures: 2}, busy, 0, lms.StateTemporary, 3, 80 * time.Minute},
		{"temporary by nature: not red after four failures within a day", lms.Link{State: lms.StateTemporary, Failures: 3, LastChanged: now.Add(-105 * time.Minute)}, busy, 0, lms.StateTemporary, 4, 4 * time.Hour},
		{"temporary by nature: red after four failures over a day", lms.Link{State: lms.StateTemporary, Failures: 5, LastChanged: now.Add(-24 * time.Hour)}, busy, 0, lms.StateUnavailable, 6, 4 * time.Hour},
		{"a refused connection is temporary by nature", lms.Link{State: lms.StateTemporary, Failures: 3, LastChanged: now.Add(-2 * time.Hour)}, refused, 0, lms.StateTemporary, 4, 4 * time.Hour},
		{"a 503 with Retry-After: unavailable after four failures", lms.Link{State: lms.StateTemporary, Failures: 3, LastChanged: now.Add(-2 * time.Hour)}, lms.Result{State: lms.StateTemporary, Reason: "Service Unavailable", Code: 503, RetryAfter: time.Minute}, 0, lms.StateUnavailable, 4, 4 * time.Hour},
		{"a 500: unavailable after four failures", lms.Link{State: lms.StateTemporary, Failures: 3, LastChanged: now.Add(-105 * time.Minute)}, serverError, 0, lms.StateUnavailable, 4, 4 * time.Hour},
		{"a 502 after a confirmed 404 stays red", lms.Link{State: lms.StateUnavailable, Failures: 3, LastChanged: now.Add(-time.Hour)}, busy, 0, lms.StateUnavailable, 4, 4 * time.Hour},
		{"weak evidence of a gone page: looked at again within minutes", lms.Link{State: lms.StateOK}, doubt, 0, lms.StateTemporary, -1, 5 * time.Minute},
		{"weak evidence of a gone page is never red", lms.Link{State: lms.StateTemporary, Failures: -5}, doubt, 0, lms.StateTemporary, -6, 4 * time.Hour},
		{"confirmed soft 404: red once confirmed", lms.Link{State: lms.StateTemporary, Failures: 1}, soft404, 0, lms.StateUnavailable, 2, 4 * time.Hour},
		{"transient after a definitive one: the count goes on", lms.Link{State: lms.StateUnavailable, Failures: 9}, busy, 0, lms.StateUnavailable, 10, 4 * time.Hour},
		{"recovery resets failures", lms.Link{State: lms.StateUnavailable, Failures: 4}, ok, 0, lms.StateOK, 0, 24 * time.Hour},
		{"unsupported is not a failure", lms.Link{State: lms.StateUnknown}, lms.Result{State: lms.StateUnsupported, Reason: lms.ReasonNoHandler}, 0, lms.StateUnsupported, 0, 24 * time.Hour},
		{"blocked is never unavailable", lms.Link{State: lms.StateUnknown}, walled, 0, lms.StateTemporary, -1, 3 * time.Hour},
		{"blocked backs off to Interval", lms.Link{State: lms.StateTemporary, Failures: -5}, walled, 0, lms.StateTemporary, -6, 24 * time.Hour},
		{"blocked even if the checker said unavailable", lms.Link{State: lms.StateTemporary, Failures: -40}, lms.Result{State: lms.StateUnavailable, Failure: lms.FailureBlocked}, 0, lms.StateTemporary, -41, 24 * time.Hour},
		{"blocked after failures starts its own run", lms.Link{State: lms.StateTemporary, Failures: 3}, walled, 0, lms.StateTemporary, -1, 3 * time.Hour},
		{"a failure after a blocked run is a first failure", lms.Link{State: lms.StateTemporary, Failures: -7}, lms.Result{State: lms.StateUnavailable, Reason: "Not Found", Code: 404}, 0, lms.StateTemporary, 1, 5 * time.Minute},
		{"retry-after pushes back", lms.Link{State: lms.StateOK}, lms.Result{State: lms.StateTemporary, Reason: "Too Many Requests", RetryAfter: 5 * time.Hour}, 0, lms.StateTemporary, 1, 5 * time.Hour},
		{"retry-after capped", lms.Link{State: lms.StateOK}, lms.Result{State: lms.StateTemporary, RetryAfter: 100 * 24 * time.Hour}, 0, lms.StateTemporary, 1, 24 * time.Hour},
		{"a short retry-after does not delay the confirmation", lms.Link{State: lms.StateOK}, lms.Result{State: lms.StateTemporary, RetryAfter: time.Second}, 0, lms.StateTemporary, 1, 5 * time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.prev.URL = "http://x.example/"
			rec := p.Next(tc.prev, tc.res, now, tc.rnd)
			if rec.Result.State != tc.wantState || rec.Failures != tc.wantFail {
				t.Errorf("state, failures = %q, %d; want %q, %d", rec.Result.State, rec.Failures, tc.wantState, tc.wantFail)
			}
			if got := rec.NextDue.Sub(now); got != tc.wantIn {
				t.Errorf("next due in %v, want %v", got, tc.wantIn)
			}
			if rec.URL != tc.prev.URL || !rec.Checked.Equal(now) || rec.Result.Reason != tc.res.Reason {
				t.Errorf("record = %+v", rec)
			}
		})
	}
}

func TestPolicyOriginalBehaviour(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	p := lms.Policy{FailuresToUnavailable: 1, Jitter: -1}
	rec := p.Next(lms.Link{State: lms.StateOK}, lms.Result{State: lms.StateUnavailable, Reason: "Not Found"}, now, 0.7)
	if rec.Result.State != lms.StateUnavailable || !rec.NextDue.Equal(now.Add(24*time.Hour)) {
		t.Errorf("with FailuresToUnavailable 1 and no jitter, got %q due %v", rec.Result.State, rec.NextDue)
	}
	rec = p.Next(lms.Link{State: lms.StateOK}, lms.Result{State: lms.StateTemporary, Reason: "Bad Gateway"}, now, 0.7)
	if rec.Result.State != lms.StateTemporary || !rec.NextDue.Equal(now.Add(3*time.Hour)) {
		t.Errorf("with FailuresToUnavailable 1 a temporary failure stays temporary: got %q due %v", rec.Result.State, rec.NextDue)
	}
}

func TestPolicyDefaultsDerived(t *testing.T) {
	t.Parallel()
	p := lms.Policy{}.WithDefaults()
	if p.ConfirmDelay != 5*time.Minute || p.FailingInterval != 4*time.Hour || p.TransientFailuresToUnavailable != 4 {
		t.Errorf("defaults: confirm %v, failing interval %v, transient failures %d", p.ConfirmDelay, p.FailingInterval, p.TransientFailuresToUnavailable)
	}
	fast := lms.Policy{Interval: 4 * time.Second, MinRecheck: time.Second}.WithDefaults()
	if fast.ConfirmDelay != time.Second/12 || fast.FailingInterval != time.Second {
		t.Errorf("fast: confirm %v, failing interval %v; want MinRecheck/12 and MinRecheck", fast.ConfirmDelay, fast.FailingInterval)
	}
	set := lms.Policy{ConfirmDelay: time.Minute, FailingInterval: time.Hour}.WithDefaults()
	if set.ConfirmDelay != time.Minute || set.FailingInterval != time.Hour {
		t.Errorf("explicit values were replaced: %+v", set)
	}
}

// step is one check of a simulated timeline: when it ran and what the
// policy reported.
type step struct {
	at    time.Duration
	state lms.State
}

// simulate runs the policy over one link for span: answer gives the
// checker's result at each check (by the time since the start). Jitter is
// off, so the timelines are exact.
func simulate(p lms.Policy, answer func(at time.Duration) lms.Result, span time.Duration) []step {
	p.Jitter = -1
	start := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	l := lms.Link{URL: "http://x.example/", State: lms.StateUnknown}
	var steps []step
	for now := start; now.Sub(start) <= span; {
		at := now.Sub(start)
		rec := p.Next(l, answer(at), now, 0)
		steps = append(steps, step{at, rec.Result.State})
		if rec.Result.State != l.State {
			l.LastChanged = now // as the stores keep it
		}
		l.State, l.Failures = rec.Result.State, rec.Failures
		now = rec.NextDue
	}
	return steps
}

// firstAt returns when a state was first reported at or after from, or -1.
func firstAt(steps []step, st lms.State, from time.Duration) time.Duration {
	for _, s := range steps {
		if s.at >= from && s.state == st {
			return s.at
		}
	}
	return -1
}

func TestPolicyTimelines(t *testing.T) {
	t.Parallel()
	res := func(st lms.State, k lms.FailureKind) lms.Result {
		return lms.Result{State: st, Reason: string(st), Failure: k}
	}
	ok := res(lms.StateOK, 0)
	notFound := res(lms.StateUnavailable, lms.FailureDefinitive)
	badGateway := res(lms.StateTemporary, lms.FailureTransient)
	serverError := lms.Result{State: lms.StateTemporary, Reason: "Internal Server Error", Code: 500, Failure: lms.FailureTransient}
	maintenance := lms.Result{State: lms.StateTemporary, Reason: "Service Unavailable", Code: 503, RetryAfter: 10 * time.Minute, Failure: lms.FailureTransient}
	walled := res(lms.StateTemporary, lms.FailureBlocked)
	until := func(d time.Duration, before, after lms.Result) func(time.Duration) lms.Result {
		return func(at time.Duration) lms.Result {
			if at < d {
				return before
			}
			return after
		}
	}
	always := func(r lms.Result) func(time.Duration) lms.Result { return func(time.Duration) lms.Result { return r } }
	def := lms.Policy{}
	// lmsd's fast settings: -check-interval 4s -min-recheck 1s (RetryInterval follows the interval).
	fast := lms.Policy{Interval: 4 * time.Second, MinRecheck: time.Second, RetryInterval: 4 * time.Second}
	cases := []struct {
		name   string
		p      lms.Policy
		answer func(time.Duration) lms.Result
		span   time.Duration
		// the first report of want at or after from comes within within
		// (never: -1)
		from   time.Duration
		want   lms.State
		within time.Duration
	}{
		{"404: temporary at once", def, always(notFound), 48 * time.Hour, 0, lms.StateTemporary, 0},
		{"404: unavailable once confirmed, 5 min later", def, always(notFound), 48 * time.Hour, time.Second, lms.StateUnavailable, 5 * time.Minute},
		{"502 for good: orange for a day, red at the first check after it (25 h 45 min)", def, always(badGateway), 48 * time.Hour, 0, lms.StateUnavailable, 25*time.Hour + 45*time.Minute},
		{"502 for good: still temporary 21 h 45 min in", def, always(badGateway), 48 * time.Hour, 21*time.Hour + 45*time.Minute, lms.StateTemporary, 0},
		{"502 for good: never red within the day", def, until(24*time.Hour, badGateway, ok), 24 * time.Hour, 0, lms.StateUnavailable, -1},
		{"500 for good: unavailable after 5+20+80 min", def, always(serverError), 48 * time.Hour, 0, lms.StateUnavailable, 105 * time.Minute},
		{"503 with Retry-After 10 min for good: unavailable after 10+20+80 min", def, always(maintenance), 48 * time.Hour, 0, lms.StateUnavailable, 110 * time.Minute},
		{"502 for good: never ok", def, always(badGateway), 48 * time.Hour, 0, lms.StateOK, -1},
		{"one glitch: ok again 5 min later", def, until(time.Second, badGateway, ok), 48 * time.Hour, 5 * time.Minute, lms.StateOK, 0},
		{"one glitch: never red", def, until(time.Second, badGateway, ok), 48 * time.Hour, 0, lms.StateUnavailable, -1},
		{"fixed after 2 days: ok within 4 h", def, until(48*time.Hour, notFound, ok), 96 * time.Hour, 48 * time.Hour, lms.StateOK, 4 * time.Hour},
		{"bot wall: never red in 30 days", def, always(walled), 30 * 24 * time.Hour, 0, lms.StateUnavailable, -1},
		{"weak evidence of a gone page: never red in 30 days", def, always(res(lms.StateTemporary, lms.FailureDoubt)), 30 * 24 * time.Hour, 0, lms.StateUnavailable, -1},
		{"fast 404: confirmed within 100 ms", fast, always(notFound), time.Minute, time.Nanosecond, lms.StateUnavailable, 100 * time.Millisecond},
		{"fast 502: red once it lasted the 4 s interval (4.4 s)", fast, always(badGateway), time.Minute, 0, lms.StateUnavailable, 4500 * time.Millisecond},
		{"fast 502: orange for the first 4 s", fast, until(4*time.Second, badGateway, ok), 4 * time.Second, 0, lms.StateUnavailable, -1},
		{"fast: fixed link ok within 1 s", fast, until(20*time.Second, notFound, ok), time.Minute, 20 * time.Second, lms.StateOK, time.Second},
		{"fast bot wall: never red", fast, always(walled), time.Hour, 0, lms.StateUnavailable, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			steps := simulate(tc.p, tc.answer, tc.span)
			got := firstAt(steps, tc.want, tc.from)
			switch {
			case tc.within < 0 && got >= 0:
				t.Errorf("%q at %v, want never; timeline%s", tc.want, got, fmtSteps(steps))
			case tc.within >= 0 && (got < 0 || got-tc.from > tc.within):
				t.Errorf("first %q at %v, want within %v of %v; timeline%s", tc.want, got, tc.within, tc.from, fmtSteps(steps))
			}
		})
	}
}

func fmtSteps(steps []step) string {
	s := ""
	for i, st := range steps {
		if i == 12 {
			return s + " …"
		}
		s += fmt.Sprintf(" %v:%s", st.at, st.state)
	}
	return s
}
