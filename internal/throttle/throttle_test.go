package throttle

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func TestBurstThenRate(t *testing.T) {
	l := New(Config{Burst: 3, Every: 10 * time.Second})
	for i := range 3 {
		if l.Blocked("a", t0) {
			t.Fatalf("blocked after %d failures, burst is 3", i)
		}
		l.Fail("a", t0)
	}
	if !l.Blocked("a", t0) {
		t.Fatal("not blocked after 3 failures")
	}
	if l.Blocked("b", t0) {
		t.Fatal("another key is blocked")
	}
	if !l.Blocked("a", t0.Add(9*time.Second)) {
		t.Fatal("a failure earned back before Every")
	}
	if l.Blocked("a", t0.Add(10*time.Second)) {
		t.Fatal("no failure earned back after Every")
	}
	l.Fail("a", t0.Add(10*time.Second))
	if !l.Blocked("a", t0.Add(10*time.Second)) {
		t.Fatal("the earned failure counted twice")
	}
}

func TestBlockedDoesNotStore(t *testing.T) {
	l := New(Config{})
	for i := range 100 {
		l.Blocked(fmt.Sprint("k", i), t0)
	}
	if n := l.Len(); n != 0 {
		t.Fatalf("Blocked stored %d keys", n)
	}
}

// TestBounded floods the limiter with distinct keys: the table stays at
// MaxKeys, idle buckets make room, and keys that find it full share the
// overflow bucket, so the flood is throttled as one key.
func TestBounded(t *testing.T) {
	l := New(Config{Burst: 2, Every: time.Minute, MaxKeys: 100})
	for i := range 10_000 {
		l.Fail(fmt.Sprint("flood-", i), t0)
	}
	if n := l.Len(); n != 100 {
		t.Fatalf("%d keys tracked, want MaxKeys = 100", n)
	}
	if !l.Blocked("new-key", t0) {
		t.Fatal("a new key during the flood is not throttled with the overflow")
	}
	// Two minutes later every bucket is full again: a sweep makes room.
	later := t0.Add(2 * time.Minute)
	if l.Blocked("new-key", later) {
		t.Fatal("the overflow bucket did not refill")
	}
	l.Fail("fresh", later)
	if n := l.Len(); n != 1 {
		t.Fatalf("%d keys after the sweep, want the one fresh key", n)
	}
}

func TestConcurrent(t *testing.T) {
	l := New(Config{Burst: 1000, Every: time.Hour, MaxKeys: 50})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				k := fmt.Sprint(g, "-", i%70)
				if !l.Blocked(k, t0) {
					l.Fail(k, t0)
				}
			}
		})
	}
	wg.Wait()
	if n := l.Len(); n > 50 {
		t.Fatalf("%d keys, MaxKeys is 50", n)
	}
}

// TestReserveBoundsASimultaneousBurst: 100 attempts of one key reserved at
// once, before any has been checked, get Burst tickets; good attempts give
// theirs back, failed ones keep it.
func TestReserveBoundsASimultaneousBurst(t *testing.T) {
	l := New(Config{Burst: 10, Every: time.Minute})
	var tickets []*Ticket
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range 100 {
		wg.Go(func() {
			if tk, ok := l.Reserve("id", t0); ok {
				mu.Lock()
				tickets = append(tickets, tk)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(tickets) != 10 {
		t.Fatalf("%d of 100 simultaneous attempts reserved, want Burst = 10", len(tickets))
	}
	if !l.Blocked("id", t0) {
		t.Fatal("not blocked while every failure is reserved")
	}
	tickets[0].Settle(false, t0) // a good attempt costs nothing
	tickets[0].Settle(true, t0)  // settling twice does nothing
	if l.Blocked("id", t0) {
		t.Fatal("a good attempt's reservation was not given back")
	}
	for _, tk := range tickets[1:] {
		tk.Settle(true, t0)
	}
	if tk, ok := l.Reserve("id", t0); !ok {
		t.Fatal("the failure a good attempt gave back cannot be reserved")
	} else {
		tk.Settle(true, t0)
	}
	if _, ok := l.Reserve("id", t0); ok {
		t.Fatal("reserved past Burst failures")
	}
	if _, ok := l.Reserve("id", t0.Add(time.Minute)); !ok {
		t.Fatal("no failure earned back after Every")
	}
}

// TestReservedBucketsSurviveSweeps: a sweep of a full table keeps buckets
// with reservations, so settling them still counts.
func TestReservedBucketsSurviveSweeps(t *testing.T) {
	l := New(Config{Burst: 1, Every: time.Hour, MaxKeys: 2})
	tk, ok := l.Reserve("held", t0)
	if !ok {
		t.Fatal("first reservation refused")
	}
	for i := range 10 {
		l.Fail(fmt.Sprint("other-", i), t0.Add(time.Duration(i+2)*time.Second))
	}
	tk.Settle(true, t0.Add(time.Minute))
	if !l.Blocked("held", t0.Add(time.Minute)) {
		t.Fatal("the settled failure was lost with a swept bucket")
	}
}
