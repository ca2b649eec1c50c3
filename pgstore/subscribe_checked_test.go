package pgstore_test

import (
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/pgtest"
)

// TestSubscribeChecked: SubscribeChecked adds what Subscribe adds and
// answers what LookupLinks says after it, less the links never checked:
// for links new to the store, links new to the client (checked or not),
// links the client had already, and duplicates.
func TestSubscribeChecked(t *testing.T) {
	s := open(t, pgtest.Start(t))
	mustClient(t, s, "a")
	mustClient(t, s, "b")
	u := urls(8, 3)
	if _, err := s.Subscribe(bg(), "a", u[:6], t0); err != nil {
		t.Fatal(err)
	}
	var recs []lms.Outcome
	for _, x := range []string{u[0], u[1], u[4]} {
		recs = append(recs, lms.Outcome{URL: x, Checked: t0, NextDue: t0.Add(time.Hour),
			Result: lms.Result{State: lms.StateOK, Reason: "OK", Code: 200}})
	}
	if err := s.RecordResults(bg(), recs); err != nil {
		t.Fatal(err)
	}
	for i, step := range []struct {
		client string
		urls   []string
		added  int
	}{
		{"b", []string{u[0], u[2], u[6], u[0]}, 3},       // checked, unchecked, new link; a duplicate
		{"b", []string{u[0], u[1], u[2], u[7]}, 2},       // had u[0], u[2]; u[1] checked, u[7] new
		{"a", []string{u[4], u[5], u[3]}, 0},             // all subscribed already
		{"b", []string{u[7], u[6], u[5], u[4], u[4]}, 2}, // unchecked new to b, checked new to b
	} {
		added, got, err := s.SubscribeChecked(bg(), step.client, step.urls, t0.Add(time.Minute))
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if added != step.added {
			t.Errorf("step %d: added %d, want %d", i, added, step.added)
		}
		want, err := s.LookupLinks(bg(), step.urls)
		if err != nil {
			t.Fatal(err)
		}
		maps.DeleteFunc(want, func(_ string, l lms.Link) bool { return l.LastChecked.IsZero() })
		if !reflect.DeepEqual(got, want) {
			t.Errorf("step %d: answered %v, want %v", i, slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
		}
		if len(want) == 0 {
			t.Errorf("step %d: no checked link among %v: the step tests nothing", i, step.urls)
		}
	}
	if _, _, err := s.SubscribeChecked(bg(), "nobody", u[:1], t0); err == nil {
		t.Error("SubscribeChecked for an unknown client succeeded")
	}
}
