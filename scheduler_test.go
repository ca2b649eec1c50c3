package lms_test

import (
	"testing"
	"time"

	"github.com/linkmonitor/lms"
)

func TestPolicyNext(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	p := lms.Policy{}
	ok := lms.Result{State: lms.StateOK, Reason: "OK"}
	notFound := lms.Result{State: lms.StateUnavailable, Reason: "Not Found"}
	busy := lms.Result{State: lms.StateTemporary, Reason: "Service Unavailable"}
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
		{"first failure of an ok link is only temporary", lms.Link{State: lms.StateOK}, notFound, 0, lms.StateTemporary, 1, time.Hour},
		{"second failure in a row is unavailable", lms.Link{State: lms.StateTemporary, Failures: 1}, notFound, 0, lms.StateUnavailable, 2, 24 * time.Hour},
		{"a new link that fails is reported at once", lms.Link{State: lms.StateUnknown}, notFound, 0, lms.StateUnavailable, 1, 24 * time.Hour},
		{"temporary: first retry after RetryInterval", lms.Link{State: lms.StateOK}, busy, 0, lms.StateTemporary, 1, 3 * time.Hour},
		{"temporary backs off", lms.Link{State: lms.StateTemporary, Failures: 2}, busy, 0, lms.StateTemporary, 3, 12 * time.Hour},
		{"temporary back-off capped at Interval", lms.Link{State: lms.StateTemporary, Failures: 9}, busy, 0, lms.StateTemporary, 10, 24 * time.Hour},
		{"recovery resets failures", lms.Link{State: lms.StateUnavailable, Failures: 4}, ok, 0, lms.StateOK, 0, 24 * time.Hour},
		{"unsupported is not a failure", lms.Link{State: lms.StateUnknown}, lms.Result{State: lms.StateUnsupported, Reason: lms.ReasonNoHandler}, 0, lms.StateUnsupported, 0, 24 * time.Hour},
		{"retry-after pushes back", lms.Link{State: lms.StateOK}, lms.Result{State: lms.StateTemporary, Reason: "Too Many Requests", RetryAfter: 5 * time.Hour}, 0, lms.StateTemporary, 1, 5 * time.Hour},
		{"retry-after capped", lms.Link{State: lms.StateOK}, lms.Result{State: lms.StateTemporary, RetryAfter: 100 * 24 * time.Hour}, 0, lms.StateTemporary, 1, 24 * time.Hour},
		{"never sooner than MinRecheck", lms.Link{State: lms.StateOK}, lms.Result{State: lms.StateTemporary, RetryAfter: time.Second}, 0, lms.StateTemporary, 1, 3 * time.Hour},
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
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	p := lms.Policy{FailuresToUnavailable: 1, Jitter: -1}
	rec := p.Next(lms.Link{State: lms.StateOK}, lms.Result{State: lms.StateUnavailable, Reason: "Not Found"}, now, 0.7)
	if rec.Result.State != lms.StateUnavailable || !rec.NextDue.Equal(now.Add(24*time.Hour)) {
		t.Errorf("with FailuresToUnavailable 1 and no jitter, got %q due %v", rec.Result.State, rec.NextDue)
	}
}
