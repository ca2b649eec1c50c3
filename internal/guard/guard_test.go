package guard

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

// queueLoad runs n checks at once from addr, client ids addr-0…addr-(n-1),
// whose check is good or not; each waits in the check until the first burst have
// entered it. It returns how many were refused and the most checks that
// ran at once.
func queueLoad(t *testing.T, th *Throttle, addr string, n, burst int, good bool) (refused, most int) {
	t.Helper()
	var mu sync.Mutex
	cur := 0
	entered := make(chan struct{}, n)
	release := make(chan struct{})
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- th.Check(context.Background(), addr, fmt.Sprintf("client\x00%s-%d", addr, i), "secret", func() error {
				mu.Lock()
				cur++
				most = max(most, cur)
				mu.Unlock()
				entered <- struct{}{}
				<-release
				mu.Lock()
				cur--
				mu.Unlock()
				if !good {
					return fmt.Errorf("no: %w", lms.ErrUnauthorized)
				}
				return nil
			})
		}()
	}
	for range burst {
		<-entered
	}
	close(release)
	for range n {
		switch err := <-errs; {
		case errors.Is(err, ErrThrottled):
			refused++
		case good && err != nil, !good && !errors.Is(err, lms.ErrUnauthorized):
			t.Errorf("Check: %v", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return refused, most
}

// TestThrottleQueues: checks from one address that find its budget
// reserved by checks still being made wait for them: good credentials all
// pass, at most the burst checked at once; guesses still get at most the
// burst checked, and the rest are refused once those have failed.
func TestThrottleQueues(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	g := New(Config{IDBurst: 2, AddrBurst: 3, Delay: -1, Now: func() time.Time { return now }})
	if refused, most := queueLoad(t, g.Throttle, "a", 12, 3, true); refused != 0 || most > 3 {
		t.Errorf("12 good first checks from one address: %d refused, %d at once; want 0 refused, at most 3 at once", refused, most)
	}
	if refused, most := queueLoad(t, g.Throttle, "b", 12, 3, false); refused != 9 || most != 3 {
		t.Errorf("12 guesses from one address: %d refused, %d checked at once; want 9 refused, 3 checked", refused, most)
	}
	if !g.Throttle.checking.idle() {
		t.Error("checks still counted after every call returned")
	}
}

// idle reports whether no check is being made.
func (c *checking) idle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.keys) == 0
}
