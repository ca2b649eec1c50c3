package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/pgtest"
)

// TestFrozenServer: with the server frozen (SIGSTOP: it keeps its sockets
// but answers nothing, and its statement_timeout cannot act) for longer than
// the call timeout, every kind of call fails within the call timeout with
// ErrTimeout, and the LISTEN connection notices; once the server is thawed
// the store works again at once, everything acknowledged before is there,
// and the wake-ups of another process arrive again.
func TestFrozenServer(t *testing.T) {
	ctx := context.Background()
	srv := pgtest.New(t, pgtest.Config{})
	dsn := srv.CreateSchema(t)
	const callTimeout = time.Second
	const slack = 2 * time.Second // scheduling on a loaded machine, -race
	opt := Options{CallTimeout: callTimeout, ConnectTimeout: callTimeout}
	s, err := Open(ctx, dsn, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	other, err := Open(ctx, dsn, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	s.listenQuiet = 200 * time.Millisecond
	ended := make(chan error, 64)
	s.listenEnded = ended
	thawed := false
	t.Cleanup(func() {
		if !thawed {
			_ = srv.Thaw()
		}
	})

	if err := s.CreateClient(ctx, lms.Client{ID: "c"}); err != nil {
		t.Fatal(err)
	}
	var acked []string
	for i := range 50 {
		acked = append(acked, testURL(i, 7))
	}
	if _, err := s.Subscribe(ctx, "c", acked, t0); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wake := s.Wakeups(wctx)
	// The listener is connected once another process's write wakes it. A
	// write made before its LISTEN took effect wakes nobody, so the write
	// is repeated each second the wake-up does not come.
	waitWake := func(what string) {
		t.Helper()
		deadline := time.NewTimer(15 * time.Second)
		defer deadline.Stop()
		for try := 0; ; try++ {
			u := fmt.Sprintf("http://other.example/%s/%d", what, try)
			if _, err := other.Subscribe(ctx, "c", []string{u}, t0); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			acked = append(acked, u)
			again := time.NewTimer(time.Second)
			for waiting := true; waiting; {
				select {
				case w := <-wake:
					if w&lms.WakeLinksAdded != 0 {
						again.Stop()
						return
					}
				case <-again.C:
					waiting = false
				case <-deadline.C:
					t.Fatalf("%s: no wake-up within 15 s", what)
				}
			}
		}
	}
	waitWake("before")

	if err := srv.Freeze(); err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"GetClient", func(ctx context.Context) error { _, err := s.GetClient(ctx, "c"); return err }},
		{"Subscribe", func(ctx context.Context) error {
			_, err := s.Subscribe(ctx, "c", []string{"http://frozen.example/new"}, t0)
			return err
		}},
		{"RecordResults", func(ctx context.Context) error {
			return s.RecordResults(ctx, []lms.Outcome{{URL: acked[0], Checked: t0, NextDue: t0.Add(time.Hour),
				Result: lms.Result{State: lms.StateOK, Reason: "OK"}}})
		}},
		{"ClaimDue", func(ctx context.Context) error {
			_, err := s.ClaimDue(ctx, t0.Add(time.Hour), lms.ClaimOptions{Limit: 10, PerHost: 2, Lease: time.Minute, Holder: "p"})
			return err
		}},
		{"PendingUpdates", func(ctx context.Context) error { _, err := s.PendingUpdates(ctx, "c", 10); return err }},
		{"LinkCounts", func(ctx context.Context) error { _, err := s.LinkCounts(ctx); return err }},
		{"UpdateClient", func(ctx context.Context) error {
			_, err := s.UpdateClient(ctx, "c", func(c *lms.Client) error { c.ContactName = "frozen"; return nil })
			return err
		}},
	}
	// A bound of the test's own: without the call timeout a call would
	// wait for the thaw, which comes after.
	bound, cancelBound := context.WithTimeout(ctx, 30*time.Second)
	defer cancelBound()
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Go(func() {
			start := time.Now()
			err := c.fn(bound)
			d := time.Since(start)
			t.Logf("%s with the server frozen: %v after %v", c.name, err, d.Round(time.Millisecond))
			if !errors.Is(err, ErrTimeout) {
				t.Errorf("%s with the server frozen: %v, want ErrTimeout", c.name, err)
			}
			if d > callTimeout+slack {
				t.Errorf("%s with the server frozen took %v, want at most the call timeout %v (+%v)", c.name, d, callTimeout, slack)
			}
		})
	}
	wg.Wait()
	// The caller's own deadline, shorter than the call timeout, is the
	// caller's error.
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	_, err = s.GetClient(short, "c")
	cancelShort()
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTimeout) {
		t.Errorf("GetClient with a 100 ms context, server frozen: %v, want the context's deadline", err)
	}
	select {
	case err := <-ended:
		t.Logf("the LISTEN connection noticed: %v", err)
	case <-time.After(s.listenQuiet + callTimeout + 10*time.Second):
		t.Fatal("the LISTEN connection did not notice the frozen server")
	}

	if err := srv.Thaw(); err != nil {
		t.Fatal(err)
	}
	thawed = true
	c, err := s.GetClient(ctx, "c")
	if err != nil {
		t.Fatalf("GetClient after the thaw: %v", err)
	}
	if c.ContactName != "" {
		t.Errorf("contact name %q: the update that failed was applied", c.ContactName)
	}
	links, err := s.ClientLinks(ctx, "c", lms.Page{})
	if err != nil {
		t.Fatalf("ClientLinks after the thaw: %v", err)
	}
	have := map[string]bool{}
	for _, l := range links {
		have[l.URL] = true
	}
	for _, u := range acked {
		if !have[u] {
			t.Errorf("acknowledged link %s lost", u)
		}
	}
	if err := s.RecordResults(ctx, []lms.Outcome{{URL: acked[0], Checked: t0, NextDue: t0.Add(time.Hour),
		Result: lms.Result{State: lms.StateOK, Reason: "OK"}}}); err != nil {
		t.Errorf("RecordResults after the thaw: %v", err)
	}
	waitWake("after")
}

// TestCallDeadline: a call's deadline is the call timeout for up to
// callItems items and grows in proportion past them; its cause names the
// server and the bound, and wraps ErrTimeout; a negative call timeout sets
// no deadline.
func TestCallDeadline(t *testing.T) {
	s := &Store{callTimeout: 2 * time.Second, addr: "db.example:5432"}
	for _, c := range []struct {
		n    int
		want time.Duration
	}{{0, 2 * time.Second}, {callItems, 2 * time.Second}, {4 * callItems, 8 * time.Second}} {
		start := time.Now()
		ctx, cancel := s.callN(context.Background(), c.n)
		dl, ok := ctx.Deadline()
		cancel()
		if got := dl.Sub(start); !ok || got < c.want || got > c.want+time.Second {
			t.Errorf("%d items: deadline in %v (set: %v), want %v", c.n, got, ok, c.want)
		}
		if err := context.Cause(ctx); err != context.Canceled {
			t.Errorf("%d items: cause after cancel %v", c.n, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cctx, ccancel := s.call(ctx)
	defer ccancel()
	if err := s.wrap(cctx, "op", errors.New("x")); !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Errorf("the caller's cancellation: %v", err)
	}
	s.callTimeout = time.Millisecond
	tctx, tcancel := s.call(context.Background())
	defer tcancel()
	<-tctx.Done()
	err := s.wrap(tctx, "op", errors.New("x"))
	if !errors.Is(err, ErrTimeout) || err.Error() != "pgstore: op: PostgreSQL at db.example:5432: no answer within the call timeout (1ms)" {
		t.Errorf("the call timeout: %v", err)
	}
	s.callTimeout = -1
	nctx, ncancel := s.call(context.Background())
	defer ncancel()
	if _, ok := nctx.Deadline(); ok {
		t.Error("a negative call timeout set a deadline")
	}
}
