package pgstore

import (
	"context"
	"testing"
	"time"
)

// fakeClocks drives a dbClock by hand: mono is the process's monotonic
// clock, wall its wall clock (what the caller and, on the same machine,
// the database read), dbStep how far the database's clock is from wall.
type fakeClocks struct {
	mono, wall time.Time
	dbStep     time.Duration
	queries    int
}

func (f *fakeClocks) clock() *dbClock {
	return &dbClock{
		local:  func() time.Time { return f.mono },
		caller: func() time.Time { return f.wall },
		query: func(context.Context) (int64, error) {
			f.queries++
			return f.wall.Add(f.dbStep).UnixNano(), nil
		},
	}
}

func (f *fakeClocks) advance(d time.Duration) { f.mono, f.wall = f.mono.Add(d), f.wall.Add(d) }

// offset returns the offset the clock gives a call now.
func offset(t *testing.T, c *dbClock) time.Duration {
	t.Helper()
	f, err := c.current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return time.Duration(f.off)
}

// TestClockStep: a step of the machine's wall clock between two
// measurements (the operating system correcting it) moves the caller's
// clock and the database's alike; the offset stays zero, where following
// the estimate carried forward on the monotonic clock would have taken the
// step for an offset until the next measurement. A jump of the caller's
// clock alone (a process whose clock is set off) is followed at once, also
// by the calls that cannot measure.
func TestClockStep(t *testing.T) {
	f := &fakeClocks{mono: time.Unix(1000, 0), wall: time.Unix(1_800_000_000, 0)}
	c := f.clock()
	if off := offset(t, c); off != 0 || f.queries != clockSamples {
		t.Fatalf("offset %v after %d queries; want 0 after %d", off, f.queries, clockSamples)
	}
	f.advance(time.Second)
	f.wall = f.wall.Add(3 * time.Millisecond) // the machine's clock steps
	if off := offset(t, c); off != 0 {
		t.Errorf("offset %v after a step of the machine's clock; want 0", off)
	}
	if f.queries != 2*clockSamples {
		t.Errorf("%d queries; want the step to be measured again once (%d)", f.queries, 2*clockSamples)
	}
	f.advance(time.Second)
	f.wall = f.wall.Add(5 * time.Minute) // the caller's clock alone jumps
	f.dbStep -= 5 * time.Minute
	if off := time.Duration(c.frame().off); off != -5*time.Minute {
		t.Errorf("a call that cannot measure: offset %v after the caller's clock jumped 5 min ahead; want -5m0s at once", off)
	}
	if off := offset(t, c); off != -5*time.Minute {
		t.Errorf("offset %v after the caller's clock jumped 5 min ahead; want -5m0s", off)
	}
	f.advance(time.Second)
	if off := offset(t, c); off != -5*time.Minute || f.queries != 3*clockSamples {
		t.Errorf("offset %v after %d queries; want -5m0s kept without measuring (%d)", off, f.queries, 3*clockSamples)
	}
}
