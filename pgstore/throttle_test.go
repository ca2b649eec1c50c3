package pgstore_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/guard"
	"github.com/linkmonitor/lms/internal/pgtest"
)

// TestThrottleShared: the guessing throttle of two Stores (two API
// processes) over one database is one throttle: a key's failures count
// wherever they happen, a good attempt gives its reservation back, a
// reservation of several keys is all or nothing, and simultaneous attempts
// from both get exactly Burst through.
func TestThrottleShared(t *testing.T) {
	dsn := pgtest.Start(t)
	a, b := open(t, dsn), open(t, dsn)
	id := lms.ThrottleKey{Key: "client\x00c", Burst: 3, Every: time.Hour}
	addr := lms.ThrottleKey{Key: "192.0.2.1", Burst: 5, Every: time.Hour}
	reserve := func(s lms.ThrottleStore, keys ...lms.ThrottleKey) bool {
		t.Helper()
		ok, err := s.ReserveFailures(bg(), keys)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	settle := func(s lms.ThrottleStore, failed bool, keys ...lms.ThrottleKey) {
		t.Helper()
		if err := s.SettleFailures(bg(), keys, failed); err != nil {
			t.Fatal(err)
		}
	}
	// Three failures of the id, from both processes, use it up.
	for i, s := range []lms.ThrottleStore{a, b, a} {
		if !reserve(s, id, addr) {
			t.Fatalf("attempt %d refused", i+1)
		}
		settle(s, true, id, addr)
	}
	if reserve(b, id, addr) || reserve(a, id) {
		t.Fatal("a fourth failure of the id was let through")
	}
	// The refused reservation of both keys took nothing from the address:
	// it has two failures left (5 − 3).
	for i := range 2 {
		if !reserve(a, addr) {
			t.Fatalf("address attempt %d refused", i+1)
		}
	}
	if reserve(b, addr) {
		t.Fatal("the address had more than 5 failures")
	}
	// A good attempt gives its reservation back.
	settle(a, false, addr)
	if !reserve(b, addr) {
		t.Fatal("a good attempt's reservation was not given back")
	}

	// Simultaneous attempts from both processes: exactly Burst pass.
	burst := lms.ThrottleKey{Key: "admin", Burst: 5, Every: time.Hour}
	var passed atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := []lms.ThrottleStore{a, b}[i%2]
			ok, err := s.ReserveFailures(bg(), []lms.ThrottleKey{burst})
			if err != nil {
				t.Error(err)
			}
			if ok {
				passed.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := passed.Load(); n != 5 {
		t.Errorf("%d of 20 simultaneous attempts passed, want 5", n)
	}

	// A bucket earns a failure back after Every.
	fast := lms.ThrottleKey{Key: "fast", Burst: 1, Every: 200 * time.Millisecond}
	if !reserve(a, fast) || reserve(b, fast) {
		t.Fatal("burst 1: want the first attempt through and the second refused")
	}
	// The bucket refills by the database's clock (clock_timestamp()), which
	// only real time moves: no signal tells when Every has passed.
	time.Sleep(fast.Every)
	if !reserve(b, fast) {
		t.Fatal("the bucket did not refill after Every (200 ms)")
	}

	if _, err := a.ReserveFailures(bg(), []lms.ThrottleKey{{Key: "x"}}); !errors.Is(err, lms.ErrInvalid) {
		t.Errorf("burst 0: %v, want ErrInvalid", err)
	}
}

// TestThrottleSharedQueues: over the shared throttle, twenty good first
// checks at once from one address (twenty sites on one host after lmsd
// restarted) all pass, at most the address's burst of them checked at
// once: those that find its budget reserved wait for the checks before
// them instead of getting 429.
func TestThrottleSharedQueues(t *testing.T) {
	g := guard.New(guard.Config{IDBurst: 2, AddrBurst: 3, Delay: -1, Shared: open(t, pgtest.Start(t))})
	var mu sync.Mutex
	cur, most, opened := 0, 0, false
	three := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			err := g.Throttle.Check(bg(), "192.0.2.1", fmt.Sprintf("client\x00c%d", i), "secret", func() error {
				mu.Lock()
				cur++
				most = max(most, cur)
				if cur == 3 && !opened {
					opened = true
					close(three) // the first three checks end together
				}
				mu.Unlock()
				<-three
				mu.Lock()
				cur--
				mu.Unlock()
				return nil
			})
			if err != nil {
				t.Errorf("check %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if most != 3 {
		t.Errorf("%d checks ran at once; want the address's burst, 3", most)
	}
}
