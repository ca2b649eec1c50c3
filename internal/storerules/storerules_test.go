package storerules

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func TestApplyNotifiesOnlyStateChanges(t *testing.T) {
	c := NewCheck()
	if c.State() != lms.StateUnknown {
		t.Fatalf("new link state %q, want unknown", c.State())
	}
	res := lms.Outcome{Checked: t0, Failures: 1, Result: lms.Result{State: lms.StateTemporary, Reason: "Service Unavailable", Code: 503, ResponseTime: time.Second}}
	if old, changed := c.Apply(res); !changed || old != lms.StateUnknown {
		t.Errorf("first result: old %q, changed %v; want unknown, true", old, changed)
	}
	if c.State() != lms.StateTemporary || c.Changed != c.Checked || c.Code != 503 || c.Failures != 1 {
		t.Errorf("after the first result: %+v", c)
	}
	// The same state with another reason, code and failure count: recorded,
	// not a change.
	res2 := lms.Outcome{Checked: t0.Add(time.Hour), Failures: 2, Result: lms.Result{State: lms.StateTemporary, Reason: "Gateway Timeout", Code: 504}}
	if old, changed := c.Apply(res2); changed || old != lms.StateTemporary {
		t.Errorf("reason-only change: old %q, changed %v; want temporary, false", old, changed)
	}
	l := c.Link("http://x.example/", "x.example", 0, 3)
	if l.Reason != "Gateway Timeout" || l.Code != 504 || l.Failures != 2 || !l.LastChecked.Equal(t0.Add(time.Hour)) || !l.LastChanged.Equal(t0) || l.Subscribers != 3 {
		t.Errorf("link after a reason-only change: %+v", l)
	}
	if !l.NextDue.IsZero() || l.ResponseTime != 0 {
		t.Errorf("zero times and durations must stay zero: %+v", l)
	}
}

func TestStateIndexRoundTrips(t *testing.T) {
	for i, s := range lms.States() {
		if StateIndex(s) != uint8(i) || StateAt(uint8(i)) != s {
			t.Errorf("state %q: index %d, back %q", s, StateIndex(s), StateAt(uint8(i)))
		}
	}
	if StateAt(StateIndex("nonsense")) != lms.StateUnknown || StateAt(200) != lms.StateUnknown {
		t.Error("unknown states and indexes must read as unknown")
	}
}

func TestHeldByOther(t *testing.T) {
	h := lms.Lease{Holder: "", Until: t0.Add(time.Minute)}
	if !HeldByOther(h, "p1", t0) {
		t.Error(`a host held by "" must be held for p1 ("" is a holder like any other)`)
	}
	if HeldByOther(h, "", t0) {
		t.Error(`"" must not be kept from its own host`)
	}
	if HeldByOther(h, "p1", t0.Add(time.Minute)) {
		t.Error("a hold ends at Until")
	}
	if HeldByOther(lms.Lease{}, "p1", t0) {
		t.Error("the zero Lease holds nothing")
	}
}

func TestPacedUntil(t *testing.T) {
	for _, tc := range []struct {
		host    string
		claimed int
		gap     time.Duration
		want    time.Duration
		ok      bool
	}{
		{"h.example", 1, time.Second, time.Second, true},
		{"h.example", 3, time.Second, 2 * time.Second, true},
		{"h.example", 0, time.Second, time.Second, true},
		{"", 3, time.Second, 0, false},
		{"h.example", 3, 0, 0, false},
	} {
		until, ok := PacedUntil(tc.host, t0, tc.claimed, tc.gap)
		if ok != tc.ok || (ok && !until.Equal(t0.Add(tc.want))) {
			t.Errorf("PacedUntil(%q, %d, %v) = %v, %v; want t0+%v, %v", tc.host, tc.claimed, tc.gap, until, ok, tc.want, tc.ok)
		}
	}
}

func TestPages(t *testing.T) {
	p := lms.Page{After: "b", State: lms.StateOK, Limit: 2}
	if InPage(p, "b", lms.StateOK) || InPage(p, "c", lms.StateUnknown) || !InPage(p, "c", lms.StateOK) {
		t.Error("InPage must drop After and other states")
	}
	if !InPage(lms.Page{}, "a", lms.StateUnknown) {
		t.Error("the zero Page takes everything")
	}
	if PageFull(p, 1) || !PageFull(p, 2) || PageFull(lms.Page{}, 1000) {
		t.Error("PageFull")
	}
}

func TestPendingReasonIsNeverEmpty(t *testing.T) {
	if p := Pending("u", lms.StateOK, "", 7); p.Reason != "unknown" || p.Seq != 7 || p.URL != "u" {
		t.Errorf("Pending = %+v", p)
	}
	if p := Pending("u", lms.StateOK, "OK", 7); p.Reason != "OK" {
		t.Errorf("Pending = %+v", p)
	}
}

func TestClients(t *testing.T) {
	if _, err := NewClient(lms.Client{ID: ""}); !errors.Is(err, lms.ErrInvalid) {
		t.Errorf("NewClient with no id: %v", err)
	}
	in := lms.Client{ID: "a", Counts: lms.StateCounts{OK: 3}, Outbox: []lms.OutboxMail{{Kind: lms.MailRegistration}}}
	c, err := NewClient(in)
	if err != nil || c.Counts != (lms.StateCounts{}) {
		t.Fatalf("NewClient = %+v, %v", c, err)
	}
	in.Outbox[0].Kind = "mutated"
	if c.Outbox[0].Kind != lms.MailRegistration {
		t.Error("NewClient shares the outbox with its argument")
	}
	c.Counts = lms.StateCounts{OK: 1}
	got, err := UpdateClient(c, func(c *lms.Client) error {
		c.ID, c.Counts, c.ContactName = "b", lms.StateCounts{}, "Ann"
		c.Outbox[0].Kind = "mutated"
		return nil
	})
	if err != nil || got.ID != "a" || got.Counts.OK != 1 || got.ContactName != "Ann" || c.Outbox[0].Kind != lms.MailRegistration {
		t.Errorf("UpdateClient = %+v, %v (original outbox %+v)", got, err, c.Outbox)
	}
	boom := errors.New("boom")
	if _, err := UpdateClient(c, func(*lms.Client) error { return boom }); err != boom {
		t.Errorf("UpdateClient returned %v, want fn's error", err)
	}
}

func TestChecks(t *testing.T) {
	if err := CheckURLs([]string{"http://ok.example/", "not a url"}); !errors.Is(err, lms.ErrInvalid) {
		t.Errorf("CheckURLs: %v", err)
	}
	if err := CheckURLs([]string{"http://ok.example/"}); err != nil {
		t.Errorf("CheckURLs: %v", err)
	}
	good := lms.ClaimOptions{Limit: 1, PerHost: 1, Lease: time.Minute}
	if err := CheckClaim(good); err != nil {
		t.Errorf("CheckClaim(%+v): %v", good, err)
	}
	for _, bad := range []lms.ClaimOptions{{PerHost: 1, Lease: time.Minute}, {Limit: 1, Lease: time.Minute}, {Limit: 1, PerHost: 1}, {Limit: 1, PerHost: 1, Lease: time.Minute, HostGap: -1}} {
		if err := CheckClaim(bad); !errors.Is(err, lms.ErrInvalid) {
			t.Errorf("CheckClaim(%+v): %v", bad, err)
		}
	}
	if err := CheckHold("h", 0); !errors.Is(err, lms.ErrInvalid) || !strings.Contains(err.Error(), `"h"`) {
		t.Errorf("CheckHold: %v", err)
	}
	if err := CheckOutcomes([]lms.Outcome{{URL: "u", Hold: true}, {URL: "v", Result: lms.Result{State: "broken"}}}); !errors.Is(err, lms.ErrInvalid) || !strings.Contains(err.Error(), `"v"`) {
		t.Errorf("CheckOutcomes: %v", err)
	}
}
