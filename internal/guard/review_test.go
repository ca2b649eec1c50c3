package guard

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/linkmonitor/lms"
)

// TestThrottleSettlesAtItsTime: a failure is counted when its check ends,
// not at the time of its reservation: counting it at an earlier time than
// a failure already counted rewinds the bucket's clock, and the time in
// between is earned twice.
func TestThrottleSettlesAtItsTime(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	g := New(Config{IDBurst: 2, IDEvery: 6 * time.Second, AddrBurst: 100, Delay: -1, Now: clock})
	th := g.Throttle
	ctx := context.Background()
	wrong := func() error { return fmt.Errorf("no: %w", lms.ErrUnauthorized) }
	const key = "client\x00c"
	if err := th.Check(ctx, "a", key, "g0", wrong); !errors.Is(err, lms.ErrUnauthorized) {
		t.Fatalf("first guess: %v", err)
	}
	entered, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() {
		done <- th.Check(ctx, "a", key, "g1", func() error { close(entered); <-release; return wrong() })
	}()
	<-entered
	mu.Lock()
	now = now.Add(6 * time.Second) // one failure earned back
	mu.Unlock()
	if err := th.Check(ctx, "a", key, "g2", wrong); !errors.Is(err, lms.ErrUnauthorized) {
		t.Fatalf("guess after one was earned back: %v", err)
	}
	close(release)
	if err := <-done; !errors.Is(err, lms.ErrUnauthorized) {
		t.Fatalf("slow guess: %v", err)
	}
	calls := 0
	if err := th.Check(ctx, "a", key, "g3", func() error { calls++; return wrong() }); !errors.Is(err, ErrThrottled) || calls != 0 {
		t.Errorf("a fourth guess within 6 s (burst 2, one earned back): %v, checked %d times; want ErrThrottled unchecked", err, calls)
	}
}

// TestThrottleCheckPanics: a check that panics settles its reservation
// (as a failure): otherwise its id and address would stay reserved, and
// every refused call for them would wait in vain the full queueWait.
func TestThrottleCheckPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := New(Config{IDBurst: 1, AddrBurst: 100, Delay: -1})
		th := g.Throttle
		func() {
			defer func() {
				if recover() == nil {
					t.Error("the check's panic did not reach the caller")
				}
			}()
			_ = th.Check(context.Background(), "a", "client\x00c", "guess", func() error { panic("boom") })
		}()
		if !th.checking.idle() {
			t.Error("a check that panicked is still counted as being made")
		}
		start := time.Now()
		if err := th.Check(context.Background(), "a", "client\x00c", "guess2", func() error { return nil }); !errors.Is(err, ErrThrottled) {
			t.Errorf("after a failure (burst 1): %v, want ErrThrottled", err)
		}
		if d := time.Since(start); d > 0 {
			t.Errorf("refused after %v, want at once", d)
		}
	})
}
