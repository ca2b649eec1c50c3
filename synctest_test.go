package lms_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/memstore"
)

// TestPoolVirtualTime runs the checker loop in a synctest bubble with a fake
// checker: exact spacing per host, the concurrency cap, every link checked
// once, and the next due times the policy sets, all on virtual time.
func TestPoolVirtualTime(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		calls := map[string][]time.Time{}
		inFlight, peak := 0, 0
		fin := newFinished()
		checker := lms.CheckerFunc(func(ctx context.Context, u string) lms.Result {
			defer fin.done()
			host := lms.HostKey(u)
			mu.Lock()
			calls[host] = append(calls[host], time.Now())
			inFlight++
			peak = max(peak, inFlight)
			mu.Unlock()
			time.Sleep(300 * time.Millisecond) // the host takes its time to answer
			mu.Lock()
			inFlight--
			mu.Unlock()
			return lms.Result{State: lms.StateOK, Reason: "OK", Code: 200}
		})
		st := memstore.New()
		e, err := lms.New(st, lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker, Checker: checker, Concurrency: 2, HostInterval: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		var urls []string
		for h := range 3 {
			for i := range 5 {
				urls = append(urls, fmt.Sprintf("http://host%d.example/%d", h, i))
			}
		}
		register(t, e, "a", urls)
		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- e.Run(ctx) }()
		fin.await(t, len(urls), 30*time.Second)
		assertIdle(t, e)
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		if peak > 2 {
			t.Errorf("%d checks in flight, cap is 2", peak)
		}
		total := 0
		for host, ts := range calls {
			total += len(ts)
			for i := 1; i < len(ts); i++ {
				// The next request starts the interval after the previous answer.
				if gap := ts[i].Sub(ts[i-1]); gap < 1300*time.Millisecond {
					t.Errorf("%s: requests %v apart", host, gap)
				}
			}
			if last := ts[len(ts)-1].Sub(start); last > 6*time.Second {
				t.Errorf("%s: last request after %v, want about 4 × 1.3 s", host, last)
			}
		}
		if total != len(urls) {
			t.Errorf("%d checks for %d links", total, len(urls))
		}
		ls, _ := e.ClientLinks(context.Background(), "a", lms.Page{})
		for _, l := range ls {
			if d := l.NextDue.Sub(l.LastChecked); l.State != lms.StateOK || d < 21*time.Hour || d > 27*time.Hour {
				t.Errorf("%s: state %s, next due %v after the check", l.URL, l.State, d)
			}
		}
	})
}

// TestPoolRedirectHopOrder checks, on virtual time, when a redirect hop gets
// its request slot back: after the new checks that are ready (each of them
// may redirect too), unless its host has more links waiting or it has
// waited five seconds.
func TestPoolRedirectHopOrder(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		fresh   int  // single-link hosts besides the redirecting one
		sibling bool // the redirecting host has a second link
		// the hop must start within [lo, hi] seconds of the first request
		lo, hi float64
	}{
		{"new checks first", 20, false, 2.0, 2.2},
		{"host has links waiting", 20, true, 1.1, 1.25},
		{"waited long enough", 100, false, 6.1, 6.3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				var mu sync.Mutex
				var hopAt time.Time
				var starts []time.Time
				fin := newFinished()
				checker := lms.CheckerFunc(func(ctx context.Context, u string) lms.Result {
					defer fin.done()
					mu.Lock()
					starts = append(starts, time.Now())
					mu.Unlock()
					// Each request, the link's and then its redirect hop's,
					// takes 100 ms to answer.
					for hop := false; ; hop = true {
						time.Sleep(100 * time.Millisecond)
						if hop || !strings.HasSuffix(u, "/moved") {
							return lms.Result{State: lms.StateOK, Reason: "OK", Code: 200}
						}
						// The answer is a 301 to the same host: the hop is
						// paced like any request (see HTTPChecker).
						pacer, host := lms.PacerFromContext(ctx), lms.HostKey(u)
						pacer.Done(host)
						if err := pacer.Wait(ctx, host); err != nil {
							return lms.Result{State: lms.StateTemporary, Reason: err.Error()}
						}
						mu.Lock()
						hopAt = time.Now()
						mu.Unlock()
					}
				})
				clock := newLaggingClock(time.Millisecond) // b's links become due after a's
				e, err := lms.New(memstore.New(), lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker, Checker: checker, Concurrency: 1, HostInterval: time.Second,
					Now: clock.now})
				if err != nil {
					t.Fatal(err)
				}
				urls := []string{"http://a.example/moved"}
				if tc.sibling {
					urls = append(urls, "http://a.example/other")
				}
				register(t, e, "a", urls)
				clock.catchUp()
				var fresh []string
				for i := range tc.fresh {
					fresh = append(fresh, fmt.Sprintf("http://host%d.example/", i))
				}
				register(t, e, "b", fresh)
				start := time.Now()
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				done := make(chan error, 1)
				go func() { done <- e.Run(ctx) }()
				want := len(urls) + tc.fresh
				fin.await(t, want, time.Duration(tc.fresh+10)*150*time.Millisecond)
				assertIdle(t, e)
				cancel()
				if err := <-done; err != nil {
					t.Fatalf("Run: %v", err)
				}
				if hopAt.IsZero() {
					t.Fatal("the redirect was never followed")
				}
				if got := hopAt.Sub(start).Seconds(); got < tc.lo || got > tc.hi {
					t.Errorf("hop after %.2f s, want %.1f–%.1f s", got, tc.lo, tc.hi)
				}
				if len(starts) != want {
					t.Errorf("%d checks, want %d", len(starts), want)
				}
			})
		})
	}
}

// TestCustomSchemePaced registers a scheme of its own ("gemini") through a
// Mux: every URL with a host is paced by its politeness key whatever its
// scheme, and hosts are served fairly (a host with many links does not
// hold up the others), while authority-less URLs (mailto:) stay unpaced.
func TestCustomSchemePaced(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		calls := map[string][]time.Time{} // by the host in the URL, "" for mailto
		fin := newFinished()
		record := func(u string) {
			host := ""
			if _, rest, ok := strings.Cut(u, "://"); ok {
				host, _, _ = strings.Cut(rest, "/")
			}
			mu.Lock()
			calls[host] = append(calls[host], time.Now())
			mu.Unlock()
		}
		mux := lms.NewMux()
		mux.Handle("gemini", lms.CheckerFunc(func(ctx context.Context, u string) lms.Result {
			defer fin.done()
			record(u)
			time.Sleep(100 * time.Millisecond) // the host takes its time to answer
			return lms.Result{State: lms.StateOK, Reason: "OK"}
		}))
		mux.Handle("mailto", lms.CheckerFunc(func(ctx context.Context, u string) lms.Result {
			defer fin.done()
			record(u)
			return lms.Result{State: lms.StateOK, Reason: "OK"}
		}))
		interval := time.Second
		st := memstore.New()
		clock := newLaggingClock(time.Millisecond) // the small hosts' links become due after all of the big host's
		e, err := lms.New(st, lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker, Checker: mux, Concurrency: 2, HostInterval: interval, Now: clock.now})
		if err != nil {
			t.Fatal(err)
		}
		var big, small, mails []string
		for i := range 8 {
			big = append(big, fmt.Sprintf("gemini://Big.example/%d", i))
			mails = append(mails, fmt.Sprintf("mailto:user%d@example.org", i))
		}
		for h := range 6 {
			small = append(small, fmt.Sprintf("gemini://small%d.example:1965/", h))
		}
		register(t, e, "big", append(big, mails...))
		clock.catchUp()
		register(t, e, "small", small)
		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- e.Run(ctx) }()
		fin.await(t, len(big)+len(mails)+len(small), 20*time.Second)
		assertIdle(t, e)
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		if n := len(calls["Big.example"]); n != len(big) {
			t.Fatalf("big host: %d requests for %d links", n, len(big))
		}
		for host, ts := range calls {
			if host == "" {
				continue
			}
			for i := 1; i < len(ts); i++ {
				// The next request starts the interval after the previous answer.
				if gap := ts[i].Sub(ts[i-1]); gap < interval+100*time.Millisecond {
					t.Errorf("%s: requests %v apart, interval %v", host, gap, interval)
				}
			}
		}
		// Fair: the big host needs 7 intervals; the small hosts share the
		// second slot meanwhile and are all asked within the first second.
		for h := range 6 {
			host := fmt.Sprintf("small%d.example:1965", h)
			if ts := calls[host]; len(ts) != 1 || ts[0].Sub(start) > interval {
				t.Errorf("%s: requests at %v after start, want one within %v", host, ts, interval)
			}
		}
		// Unpaced: the mailto links need no interval between them.
		if ts := calls[""]; len(ts) != len(mails) || ts[len(ts)-1].Sub(start) > interval {
			t.Errorf("mailto: %d checks, the last %v after start; want %d within %v", len(ts), ts[len(ts)-1].Sub(start), len(mails), interval)
		}
		ls, err := e.ClientLinks(context.Background(), "big", lms.Page{})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range ls {
			want := ""
			if strings.HasPrefix(l.URL, "gemini:") {
				want = "big.example"
			}
			if l.Host != want || l.State != lms.StateOK {
				t.Errorf("%s: stored host key %q, state %s; want %q, ok", l.URL, l.Host, l.State, want)
			}
		}
	})
}

// finished is a fake checker's signal: one value for each check it ends.
type finished chan struct{}

func newFinished() finished { return make(finished, 1000) }

// done signals the end of a check (the engine records its result next).
func (f finished) done() {
	select {
	case f <- struct{}{}:
	default: // more checks than any test here expects: await has failed already
	}
}

// await waits until n checks have ended, or fails t once within (virtual
// time) has passed; then it waits until every goroutine of the bubble is
// blocked, so that their results are recorded.
func (f finished) await(t *testing.T, n int, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for i := range n {
		select {
		case <-f:
		case <-ctx.Done():
			t.Fatalf("%d of %d checks ended within %v", i, n, within)
		}
	}
	synctest.Wait()
}

// assertIdle fails t unless e has no check running and no link due: once
// every expected check has ended, no other one is on its way.
func assertIdle(t *testing.T, e *lms.Engine) {
	t.Helper()
	st, err := e.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.InFlight != 0 || st.DueBacklog != 0 {
		t.Errorf("after the expected checks: %d in flight, %d links due; want none", st.InFlight, st.DueBacklog)
	}
}
