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

// fakeThrottles is an lms.ThrottleStore in memory that earns nothing back
// (Every is ignored) and counts its ReserveFailures calls: the shared mode
// inside a synctest bubble, where a PostgreSQL store cannot run (pgstore's
// TestThrottleSharedQueues runs the queue against the real one).
type fakeThrottles struct {
	mu       sync.Mutex
	used     map[string]int
	reserves int
}

func (f *fakeThrottles) ReserveFailures(_ context.Context, keys []lms.ThrottleKey) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reserves++
	for _, k := range keys {
		if f.used[k.Key]+1 > k.Burst {
			return false, nil
		}
	}
	for _, k := range keys {
		f.used[k.Key]++
	}
	return true, nil
}

func (f *fakeThrottles) SettleFailures(_ context.Context, keys []lms.ThrottleKey, failed bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !failed {
		for _, k := range keys {
			f.used[k.Key]--
		}
	}
	return nil
}

func (f *fakeThrottles) reserveCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reserves
}

// TestThrottleWaitersWakeForTheirKeys: checks waiting for the guesses of
// one id are not woken by the settlements of other ids from other
// addresses; in the shared mode each wake is a store round trip, so that
// waking every waiter on every settlement multiplies the store's load by
// the number waiting.
func TestThrottleWaitersWakeForTheirKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &fakeThrottles{used: map[string]int{}}
		g := New(Config{IDBurst: 2, AddrBurst: 100, Delay: -1, Shared: store})
		th := g.Throttle
		const waiting = 20
		release := make(chan struct{})
		errs := make(chan error, 2+waiting)
		guess := func() {
			errs <- th.Check(context.Background(), "a", "client\x00victim", "guess", func() error {
				<-release
				return fmt.Errorf("no: %w", lms.ErrUnauthorized)
			})
		}
		// The burst first, so that the others find its checks being made
		// (in the shared mode, a check is counted only once the store
		// has answered: see Throttle.reserve).
		for range 2 {
			go guess()
		}
		synctest.Wait()
		for range waiting {
			go guess()
		}
		synctest.Wait()
		if n := len(th.queued); n != waiting {
			t.Fatalf("%d callers waiting, want %d", n, waiting)
		}
		before := store.reserveCalls()
		const others = 10
		for i := range others {
			if err := th.Check(context.Background(), fmt.Sprintf("b%d", i), fmt.Sprintf("client\x00other-%d", i), "good", func() error { return nil }); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}
		if n := store.reserveCalls() - before; n > others {
			t.Errorf("%d good checks of other ids from other addresses cost %d reservations in the store, want %d (the waiters woke for them)", others, n, others)
		}
		close(release)
		refused := 0
		for range 2 + waiting {
			switch err := <-errs; {
			case errors.Is(err, ErrThrottled):
				refused++
			case !errors.Is(err, lms.ErrUnauthorized):
				t.Errorf("Check: %v", err)
			}
		}
		if refused != waiting {
			t.Errorf("%d refused, want %d", refused, waiting)
		}
		if !th.checking.idle() {
			t.Error("checks still counted after every call returned")
		}
	})
}

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

// TestThrottleStaleGoodCredentials: the last good credentials of an id
// pass the throttle unreserved; once they fail (the password was changed,
// or the token revoked) they are forgotten, so that an old secret does
// not buy unthrottled checks.
func TestThrottleStaleGoodCredentials(t *testing.T) {
	g := New(Config{IDBurst: 2, AddrBurst: 100, Delay: -1})
	th := g.Throttle
	ctx := context.Background()
	if err := th.Check(ctx, "a", "client\x00c", "old", func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	checks := 0
	changed := func() error { checks++; return fmt.Errorf("no: %w", lms.ErrUnauthorized) }
	for range 10 {
		_ = th.Check(ctx, "a", "client\x00c", "old", changed)
	}
	if checks > 3 {
		t.Errorf("the old password, after it was changed, was checked %d times; want at most 3 (once as the last good one, then the burst of 2)", checks)
	}
}

// TestThrottleWaitsForTheRefusingKey: a call refused because its address
// has used up its failures is refused at once, even while its id is being
// checked from elsewhere (and the other way round): the end of those checks
// cannot let it in.
func TestThrottleWaitsForTheRefusingKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := New(Config{IDBurst: 1, AddrBurst: 1, Delay: -1})
		th := g.Throttle
		ctx := context.Background()
		wrong := func() error { return fmt.Errorf("no: %w", lms.ErrUnauthorized) }
		// Address a and id spent are used up; id busy and address busy are being checked.
		_ = th.Check(ctx, "a", "client\x00spent", "guess", wrong)
		release := make(chan struct{})
		done := make(chan error, 2)
		go func() {
			done <- th.Check(ctx, "b", "client\x00busy", "guess", func() error { <-release; return wrong() })
		}()
		go func() {
			done <- th.Check(ctx, "busy", "client\x00other", "guess", func() error { <-release; return wrong() })
		}()
		synctest.Wait()
		for _, c := range []struct{ addr, id string }{{"a", "busy"}, {"busy", "spent"}} {
			start := time.Now()
			if err := th.Check(ctx, c.addr, "client\x00"+c.id, "guess", wrong); !errors.Is(err, ErrThrottled) {
				t.Errorf("id %s from %s: %v, want ErrThrottled", c.id, c.addr, err)
			}
			if d := time.Since(start); d > 0 {
				t.Errorf("id %s from %s: refused after %v, want at once", c.id, c.addr, d)
			}
		}
		close(release)
		<-done
		<-done
	})
}

// TestThrottleQueueBounds: at most MaxDelayed callers wait, the others are
// refused at once; a caller waits at most queueWait, or until its request
// is cancelled; and nothing stays counted or queued afterwards.
func TestThrottleQueueBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := New(Config{IDBurst: 1, AddrBurst: 100, MaxDelayed: 3, Delay: -1})
		th := g.Throttle
		wrong := func() error { return fmt.Errorf("no: %w", lms.ErrUnauthorized) }
		release := make(chan struct{})
		first := make(chan error, 1)
		go func() {
			first <- th.Check(context.Background(), "a", "client\x00c", "guess", func() error { <-release; return wrong() })
		}()
		synctest.Wait()
		ctx, cancel := context.WithCancel(context.Background())
		errs := make(chan error, 5)
		for i := range 5 {
			c := context.Background()
			if i == 0 {
				c = ctx
			}
			go func() { errs <- th.Check(c, "a", "client\x00c", "guess", wrong) }()
			synctest.Wait()
		}
		if n := len(th.queued); n != 3 {
			t.Fatalf("%d callers waiting, want MaxDelayed (3)", n)
		}
		for range 2 {
			if err := <-errs; !errors.Is(err, ErrThrottled) {
				t.Errorf("over MaxDelayed: %v, want ErrThrottled at once", err)
			}
		}
		cancel()
		if err := <-errs; !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled while waiting: %v, want context.Canceled", err)
		}
		start := time.Now()
		for range 2 {
			if err := <-errs; !errors.Is(err, ErrThrottled) {
				t.Errorf("after the wait: %v, want ErrThrottled", err)
			}
		}
		if d := time.Since(start); d != queueWait {
			t.Errorf("waited %v, want queueWait (%v)", d, queueWait)
		}
		close(release)
		if err := <-first; !errors.Is(err, lms.ErrUnauthorized) {
			t.Errorf("the first guess: %v", err)
		}
		if n := len(th.queued); n != 0 || !th.checking.idle() {
			t.Errorf("%d callers still queued, checking idle %v; want none, true", n, th.checking.idle())
		}
	})
}
