package dispatch

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/linkmonitor/lms/internal/pace"
)

// held is a Worker whose checks wait for the test to answer them (answer)
// or for their ctx to end; an item of host "a" makes a redirect hop to
// its own host, one interval after its first answer, and waits for a
// second answer. Like the root's pool, a check whose ctx ended is given
// back, else its result is recorded.
type held struct {
	pacer   *pace.Pacer
	answer  chan struct{}
	started chan string // the host of every request sent

	mu        sync.Mutex
	requests  map[string][]time.Time
	recorded  []item
	given     []item
	cancelled int // checks whose ctx ended before their answer
}

func (w *held) request(ctx context.Context, host string) bool {
	w.mu.Lock()
	w.requests[host] = append(w.requests[host], time.Now())
	w.mu.Unlock()
	w.started <- host
	select {
	case <-w.answer:
		return true
	case <-ctx.Done():
		return false
	}
}

func (w *held) Check(ctx context.Context, j *Job[item]) {
	host := j.Item.host
	ok := w.pacer.Wait(ctx, host) == nil && w.request(ctx, host)
	if ok {
		w.pacer.Done(host)
	}
	if ok && host == "a" {
		hp := j.Pacer()
		ok = hp.Wait(ctx, host) == nil && w.request(ctx, host)
		if ok {
			hp.Done(host)
		}
	}
	j.Release()
	j.Finish()
	w.mu.Lock()
	if ok && ctx.Err() == nil {
		w.recorded = append(w.recorded, j.Item)
	} else {
		w.cancelled++
		w.given = append(w.given, j.Item)
	}
	w.mu.Unlock()
	j.Next(ctx)
}

func (w *held) GiveBack(_ context.Context, items []item) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.given = append(w.given, items...)
}

// startHeld runs a Dispatcher of two slots over w with the items of hosts
// (one each) until ctx ends; it returns the dispatcher and a channel
// closed once Run has returned.
func startHeld(ctx context.Context, w *held, grace time.Duration, store *released, hosts ...string) (*Dispatcher[item], chan struct{}) {
	holds := pace.NewHolds(pace.HoldsConfig{Store: store, Pacer: w.pacer, Lease: time.Hour, Margin: time.Second, Now: time.Now})
	lease := time.Now().Add(time.Hour)
	var items []item
	for _, h := range hosts {
		items = append(items, item{h, lease})
	}
	d := New(Config[item]{
		Concurrency: 2, Pacer: w.pacer, Holds: holds, Worker: w, StopGrace: grace,
		Host:  func(it item) string { return it.host },
		Lease: func(it item) time.Time { return it.lease },
		Claim: func(context.Context, int) ([]item, error) {
			out := items
			items = nil
			return out, nil
		},
		Poll: 250 * time.Millisecond, Added: make(chan struct{}), Prune: func(context.Context) {}, PruneEvery: time.Hour,
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		wg.Go(func() { d.Run(ctx) })
		wg.Go(func() { d.RunClaims(ctx) })
		wg.Wait()
	}()
	return d, done
}

func newHeld() *held {
	return &held{pacer: pace.New(time.Second), answer: make(chan struct{}), started: make(chan string, 8), requests: map[string][]time.Time{}}
}

// TestStopLetsChecksInFlightFinish: when Run's ctx ends, the queued items
// are given back at once and no check starts, but the two checks in
// flight go on within the grace, one of them through a redirect hop that
// waits an interval for its host and then for a slot; their results are
// recorded, none is given back, Run returns only after them, and no host
// gets a request twice except the hop's, an interval apart.
func TestStopLetsChecksInFlightFinish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		w := newHeld()
		var store released
		d, done := startHeld(ctx, w, 10*time.Second, &store, "a", "b", "c", "d")
		first := map[string]bool{<-w.started: true, <-w.started: true}
		if !first["a"] || !first["b"] {
			t.Fatalf("first requests to %v, want a and b (two slots)", first)
		}
		stopAt := time.Now()
		cancel()
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("Run returned with two checks in flight")
		default:
		}
		w.mu.Lock()
		if len(w.given) != 2 || len(w.recorded) != 0 {
			t.Errorf("at the stop: given back %v, recorded %v; want the queued c and d given back, nothing recorded", w.given, w.recorded)
		}
		w.mu.Unlock()
		// The hosts of the queued items go back at once, those of the
		// checks in flight only after them.
		atStop := map[string]bool{}
		for _, r := range store {
			atStop[r.Host] = true
		}
		if !atStop["c"] || !atStop["d"] || atStop["a"] || atStop["b"] || len(store) != 2 {
			t.Errorf("released at the stop %v, want the idle hosts c and d only", store)
		}

		w.answer <- struct{}{} // a's and b's first answers
		w.answer <- struct{}{}
		select {
		case h := <-w.started: // the redirect, an interval later
			if h != "a" {
				t.Fatalf("request to %s after the stop, want only the redirect hop", h)
			}
		case <-done:
			t.Fatal("Run returned before the redirect hop was sent")
		}
		w.answer <- struct{}{}
		<-done
		if took := time.Since(stopAt); took < time.Second || took >= 10*time.Second {
			t.Errorf("Run returned %v after the stop, want after the hop (an interval) and within the grace", took)
		}
		d.ReleaseQueued()
		if w.cancelled != 0 || len(w.recorded) != 2 || len(w.given) != 2 {
			t.Errorf("%d checks cancelled, recorded %v, given back %v; want a and b recorded, c and d given back", w.cancelled, w.recorded, w.given)
		}
		for _, it := range w.given {
			if it.host != "c" && it.host != "d" {
				t.Errorf("given back %v, which was checked", it)
			}
		}
		if len(w.requests) != 2 || len(w.requests["b"]) != 1 || len(w.requests["a"]) != 2 {
			t.Errorf("requests %v, want one to b and two to a", w.requests)
		}
		if r := w.requests["a"]; len(r) == 2 && r[1].Sub(r[0]) < time.Second {
			t.Errorf("redirect hop %v after the first request, want at least the interval", r[1].Sub(r[0]))
		}
		releasedA := false
		for _, r := range store {
			if r.Host == "a" {
				releasedA = true
				if !r.NotBefore.Equal(w.pacer.ReadyAt("a")) {
					t.Errorf("host a released with NotBefore %v, want its next allowed request %v", r.NotBefore, w.pacer.ReadyAt("a"))
				}
			}
		}
		if !releasedA {
			t.Errorf("released %v, want host a among them", store)
		}
	})
}

// TestStopGraceRunsOut: checks unanswered when the grace ends have their
// ctx cancelled and are given back, and Run returns then; without a grace
// at once.
func TestStopGraceRunsOut(t *testing.T) {
	for _, grace := range []time.Duration{3 * time.Second, 0, -1} {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			w := newHeld()
			var store released
			_, done := startHeld(ctx, w, grace, &store, "a", "b", "c")
			<-w.started
			<-w.started
			stopAt := time.Now()
			cancel()
			<-done
			if took, want := time.Since(stopAt), max(grace, 0); took != want {
				t.Errorf("grace %v: Run returned %v after the stop, want %v", grace, took, want)
			}
			if w.cancelled != 2 || len(w.recorded) != 0 || len(w.given) != 3 {
				t.Errorf("grace %v: %d checks cancelled, recorded %v, given back %v; want a and b cancelled and all three given back", grace, w.cancelled, w.recorded, w.given)
			}
			for h, r := range w.requests {
				if len(r) != 1 {
					t.Errorf("grace %v: %d requests to %s, want 1", grace, len(r), h)
				}
			}
		})
	}
}
