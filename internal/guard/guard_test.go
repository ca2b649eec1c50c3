package guard

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
)

func TestAcquireShares(t *testing.T) {
	g := New(Config{MaxBodyBytes: 1 << 20, MaxDecodingBytes: 4 << 20, DecodeWait: time.Millisecond})
	// One address holds at most half of the large budget.
	var rel []func()
	for range 2 {
		r, err := g.Acquire(context.Background(), "a", 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		rel = append(rel, r)
	}
	if _, err := g.Acquire(context.Background(), "a", 1<<20); !errors.Is(err, ErrAddrBusy) {
		t.Fatalf("a third MiB for one address: %v, want ErrAddrBusy", err)
	}
	// Others fill the rest, then wait in vain.
	r3, err := g.Acquire(context.Background(), "b", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	r4, err := g.Acquire(context.Background(), "c", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Acquire(context.Background(), "d", 1<<20); !errors.Is(err, ErrBusy) {
		t.Fatalf("over the budget: %v, want ErrBusy", err)
	}
	for _, r := range append(rel, r3, r4, r4) { // releasing twice is harmless
		r()
	}
	if !g.Large.Idle() || !g.Small.Idle() {
		t.Fatal("budget not whole after every release")
	}
	// Small bodies draw from the small budget.
	if g.BudgetFor(100) != g.Small || g.BudgetFor(-1) != g.Large {
		t.Fatal("BudgetFor")
	}
}

func TestThrottle(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	g := New(Config{IDBurst: 2, AddrBurst: 100, Delay: -1, Now: func() time.Time { return now }})
	th := g.Throttle
	wrong := func() error { return fmt.Errorf("no: %w", lms.ErrUnauthorized) }
	right := func() error { return nil }
	if err := th.Check(context.Background(), "addr", "client\x00c", "good", right); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := th.Check(context.Background(), "addr", "client\x00c", "guess", wrong); !errors.Is(err, lms.ErrUnauthorized) {
			t.Fatalf("guess: %v", err)
		}
	}
	calls := 0
	if err := th.Check(context.Background(), "addr", "client\x00c", "guess", func() error { calls++; return wrong() }); !errors.Is(err, ErrThrottled) || calls != 0 {
		t.Fatalf("third guess: %v (checked %d times), want ErrThrottled unchecked", err, calls)
	}
	if err := th.Check(context.Background(), "addr", "client\x00c", "good", right); err != nil {
		t.Fatalf("the last good credentials pass while the id is throttled: %v", err)
	}
	now = now.Add(g.RetryAfter())
	if err := th.Check(context.Background(), "addr", "client\x00c", "guess2", wrong); !errors.Is(err, lms.ErrUnauthorized) {
		t.Fatalf("after Retry-After: %v, want a check again", err)
	}
	if err := th.Check(context.Background(), "addr", "client\x00c", string(make([]byte, 5000)), right); !errors.Is(err, lms.ErrUnauthorized) {
		t.Fatalf("an over-long secret: %v", err)
	}
	if !th.Hold(context.Background()) {
		t.Fatal("Hold without a delay")
	}
}
