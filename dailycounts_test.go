package lms_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/memstore"
)

// The Engine records each client's counts once a day and keeps
// DailyCountsKept days.
func TestDailyCounts(t *testing.T) {
	var mu sync.Mutex
	start := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	now := start
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	st := memstore.New()
	e, err := lms.New(st, lms.Config{AdminSecret: "s", Components: lms.RunChecker, Now: clock, NoArchive: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := e.RegisterClient(ctx, "s", lms.Registration{ID: "c", ContactEmail: "c@example.org", CallbackURL: "http://c.example/db"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.RegisterLinks(ctx, "c", []string{"http://a.example/"}); err != nil {
		t.Fatal(err)
	}
	const days = lms.DailyCountsKept + 10
	for day := range days + 1 {
		if day > 0 {
			advance(22 * time.Hour)
		}
		for want := 1; want >= 0; want-- { // twice a day: recorded once
			if n, err := e.RecordDailyCounts(ctx); err != nil || n != want {
				t.Fatalf("day %d: recorded %d, %v; want %d", day, n, err, want)
			}
			advance(time.Hour)
		}
	}
	today := start.Truncate(24*time.Hour).AddDate(0, 0, days)
	ds, err := e.DailyCounts(ctx, "c", lms.DailyCountsKept)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != lms.DailyCountsKept || ds[0].Counts.Unknown != 1 || !ds[len(ds)-1].Day.Equal(today) {
		t.Fatalf("%d days, the last %v, want %d up to %v", len(ds), ds[len(ds)-1].Day, lms.DailyCountsKept, today)
	}
	kept, err := st.DailyCounts(ctx, "c", start.AddDate(-1, 0, 0), today.AddDate(1, 0, 0))
	if err != nil || len(kept) != lms.DailyCountsKept+1 || !kept[0].Day.Equal(today.AddDate(0, 0, -lms.DailyCountsKept)) {
		t.Errorf("the store keeps %d days from %v (%v), want %d", len(kept), kept[0].Day, err, lms.DailyCountsKept+1)
	}
	if _, err := e.DailyCounts(ctx, "nobody", 10); !errors.Is(err, lms.ErrNotFound) {
		t.Errorf("unknown client: %v", err)
	}
	if _, err := e.DailyCounts(ctx, "c", 0); !errors.Is(err, lms.ErrInvalid) {
		t.Errorf("0 days: %v", err)
	}
}

// dayRecorder is a memstore that sends, after each RecordDailyCounts, how
// many clients' counts it recorded (0: the day's were there already); it
// drops what nobody reads once its buffer is full.
type dayRecorder struct {
	*memstore.Store
	recorded chan int
}

func (s *dayRecorder) RecordDailyCounts(ctx context.Context, day time.Time) (int, error) {
	n, err := s.Store.RecordDailyCounts(ctx, day)
	select {
	case s.recorded <- n:
	default:
	}
	return n, err
}

// Run records the day's counts with the syncer, hourly.
func TestDailyCountsRecordedByRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &dayRecorder{Store: memstore.New(), recorded: make(chan int, 100)}
		e, err := lms.New(st, lms.Config{AdminSecret: "s", Components: lms.RunSyncer, NoArchive: true,
			Notifier: lms.NotifierFunc(func(context.Context, lms.Endpoint, []lms.Update) error { return nil }),
			Lister:   lms.LinkListerFunc(func(context.Context, lms.Endpoint) ([]string, error) { return nil, nil })})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		if _, err := e.RegisterClient(ctx, "s", lms.Registration{ID: "c", ContactEmail: "c@example.org", CallbackURL: "http://c.example/db"}); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- e.Run(ctx) }()
		defer cancel()
		// The first day is recorded at the start, the next two within 49 h.
		deadline, stop := context.WithTimeout(ctx, 49*time.Hour)
		defer stop()
		for days := 0; days < 3; {
			select {
			case n := <-st.recorded:
				if n > 0 {
					days++
				}
			case <-deadline.Done():
				t.Fatalf("%d days recorded within 49 h, want 3", days)
			}
			synctest.Wait()
			if ds, _ := e.DailyCounts(context.Background(), "c", 3); len(ds) != days {
				t.Fatalf("%d days recorded, %d in the store", days, len(ds))
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}
