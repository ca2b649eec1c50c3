package storetest

// The daily counts' contract (lms.DailyCountStore): one record per client
// and day, ranges, pruning, and the records going with their client.

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
)

func testDailyCounts(t *testing.T, s lms.Store) {
	ds, ok := s.(lms.DailyCountStore)
	if !ok {
		t.Fatalf("%T does not implement lms.DailyCountStore", s)
	}
	d0 := t0.Truncate(24 * time.Hour)
	d1, d2 := d0.AddDate(0, 0, 1), d0.AddDate(0, 0, 2)
	mustClient(t, s, "a")
	mustClient(t, s, "b")
	mustSubscribe(t, s, "a", "http://1.example/", "http://2.example/")
	recordDay := func(day time.Time, want int) {
		t.Helper()
		if n, err := ds.RecordDailyCounts(ctx(), day); err != nil || n != want {
			t.Fatalf("RecordDailyCounts(%s) = %d, %v; want %d", day.Format(time.DateOnly), n, err, want)
		}
	}
	recordDay(d0, 2)
	recordDay(d0, 0) // once a day, whatever the counts do meanwhile
	record(t, s, result("http://1.example/", lms.StateOK, "OK", t0), result("http://2.example/", lms.StateUnavailable, "Not Found", t0))
	recordDay(d0, 0)
	recordDay(d2, 2) // days may be missing
	recordDay(d1, 2) // and come in any order

	got, err := ds.DailyCounts(ctx(), "a", d0, d2.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	now := lms.StateCounts{OK: 1, Unavailable: 1}
	want := []lms.DailyCounts{{Day: d0, Counts: lms.StateCounts{Unknown: 2}}, {Day: d1, Counts: now}, {Day: d2, Counts: now}}
	if len(got) != len(want) {
		t.Fatalf("DailyCounts(a) = %+v, want %+v", got, want)
	}
	for i := range want {
		if !got[i].Day.Equal(want[i].Day) || got[i].Counts != want[i].Counts {
			t.Errorf("DailyCounts(a)[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	got[0].Counts.OK = 99 // no aliasing
	if again, _ := ds.DailyCounts(ctx(), "a", d0, d1); len(again) != 1 || again[0].Counts != want[0].Counts {
		t.Errorf("DailyCounts(a, d0..d1) = %+v, want the first day only, unchanged", again)
	}
	if got, err := ds.DailyCounts(ctx(), "b", d0, d2); err != nil || len(got) != 2 || got[0].Counts != (lms.StateCounts{}) {
		t.Errorf("DailyCounts(b) = %+v, %v; want two empty days", got, err)
	}
	if _, err := ds.DailyCounts(ctx(), "nobody", d0, d2); !errors.Is(err, lms.ErrNotFound) {
		t.Errorf("DailyCounts of an unknown client: %v, want ErrNotFound", err)
	}
	for _, bad := range []time.Time{{}, d0.Add(time.Hour), d0.In(time.FixedZone("x", 3600))} {
		if _, err := ds.RecordDailyCounts(ctx(), bad); !errors.Is(err, lms.ErrInvalid) {
			t.Errorf("RecordDailyCounts(%v): %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := ds.DailyCounts(ctx(), "a", d2, d0); !errors.Is(err, lms.ErrInvalid) {
		t.Errorf("DailyCounts with to before from: %v, want ErrInvalid", err)
	}

	if n, err := ds.PruneDailyCounts(ctx(), d1); err != nil || n != 2 {
		t.Fatalf("PruneDailyCounts(d1) = %d, %v; want 2 (d0 of a and b)", n, err)
	}
	if got, _ := ds.DailyCounts(ctx(), "a", d0, d2.AddDate(0, 0, 1)); len(got) != 2 || !got[0].Day.Equal(d1) {
		t.Errorf("after pruning: %+v, want d1 and d2", got)
	}

	if err := s.DeleteClient(ctx(), "b"); err != nil {
		t.Fatal(err)
	}
	mustClient(t, s, "b")
	if got, err := ds.DailyCounts(ctx(), "b", d0, d2.AddDate(0, 0, 1)); err != nil || len(got) != 0 {
		t.Errorf("a client created again has the records of the deleted one: %+v, %v", got, err)
	}

	cctx, cancel := context.WithCancel(ctx())
	cancel()
	if _, err := ds.RecordDailyCounts(cctx, d0.AddDate(0, 0, 5)); err == nil {
		t.Error("RecordDailyCounts with a cancelled context: no error")
	}
	if n, _ := ds.RecordDailyCounts(ctx(), d0.AddDate(0, 0, 5)); n != 2 {
		t.Errorf("the cancelled RecordDailyCounts recorded something: then %d recorded, want 2", n)
	}
}
