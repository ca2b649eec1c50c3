package storetest

import (
	"testing"
	"time"

	"github.com/linkmonitor/lms"
)

// testRecordKind: a result's Kind (what kind of "alive but wrong" page the
// check found) is stored with the link, returned by every read, kept by a
// hold and cleared by a later result without one.
func testRecordKind(t *testing.T, s lms.Store) {
	const u = "http://x.example/gone"
	mustClient(t, s, "a")
	mustSubscribe(t, s, "a", u)
	get := func() lms.Link {
		t.Helper()
		ls, err := s.LookupLinks(ctx(), []string{u})
		if err != nil {
			t.Fatalf("LookupLinks: %v", err)
		}
		return ls[u]
	}
	record(t, s, lms.Outcome{URL: u, Checked: t0, NextDue: t0.Add(time.Hour), Failures: 1,
		Result: lms.Result{State: lms.StateTemporary, Reason: "The page says it was not found", Code: 200, Kind: "soft_404"}})
	if l := get(); l.Kind != "soft_404" || l.State != lms.StateTemporary {
		t.Errorf("recorded link = %+v, want kind soft_404", l)
	}
	if ls := allLinks(t, s, "a"); len(ls) != 1 || ls[0].Kind != "soft_404" {
		t.Errorf("ClientLinks = %+v, want kind soft_404", ls)
	}
	record(t, s, lms.Outcome{URL: u, Hold: true, NextDue: t0.Add(2 * time.Hour), Result: lms.Result{State: lms.StateOK, Reason: "OK"}})
	if l := get(); l.Kind != "soft_404" {
		t.Errorf("held record changed the kind: %+v", l)
	}
	record(t, s, lms.Outcome{URL: u, Checked: t0.Add(3 * time.Hour), NextDue: t0.Add(27 * time.Hour),
		Result: lms.Result{State: lms.StateUnavailable, Reason: "The domain is parked or for sale", Code: 200, Kind: "parked"}})
	if l := get(); l.Kind != "parked" {
		t.Errorf("kind after a new verdict = %q, want parked", l.Kind)
	}
	record(t, s, lms.Outcome{URL: u, Checked: t0.Add(4 * time.Hour), NextDue: t0.Add(28 * time.Hour),
		Result: lms.Result{State: lms.StateOK, Reason: "OK", Code: 200}})
	if l := get(); l.Kind != "" {
		t.Errorf("kind after an ok result = %q, want none", l.Kind)
	}
}
