package dispatch

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/linkmonitor/lms/internal/pace"
)

// item is a claimed item of the tests: a host and the end of its lease.
type item struct {
	host  string
	lease time.Time
}

// recorder is a Worker that checks like the root's pool: it waits for the
// host's pacer, takes 100 ms, and records when each check of each host ran
// and how many ran at once.
type recorder struct {
	pacer *pace.Pacer

	mu       sync.Mutex
	running  int
	most     int
	starts   map[string][]time.Time
	ends     map[string][]time.Time
	given    []item
	finished chan struct{}
}

func (r *recorder) Check(ctx context.Context, j *Job[item]) {
	host := j.Item.host
	if err := r.pacer.Wait(ctx, host); err != nil {
		j.Release()
		j.Finish()
		return
	}
	r.mu.Lock()
	r.running++
	r.most = max(r.most, r.running)
	r.starts[host] = append(r.starts[host], time.Now())
	r.mu.Unlock()
	<-time.After(100 * time.Millisecond) // the answer, in the bubble's virtual time
	r.mu.Lock()
	r.running--
	r.ends[host] = append(r.ends[host], time.Now())
	r.mu.Unlock()
	r.pacer.Done(host)
	j.Release()
	j.Finish()
	r.finished <- struct{}{}
	j.Next(ctx)
}

// released is the store of the test's holds: it records the hosts
// released at the stop.
type released []pace.Release

func (*released) HoldHost(context.Context, string, string, time.Time, time.Duration) (time.Time, bool, error) {
	return time.Time{}, false, nil
}

func (r *released) Release(_ context.Context, _ string, hosts []pace.Release) error {
	*r = append(*r, hosts...)
	return nil
}

func (r *recorder) GiveBack(_ context.Context, items []item) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.given = append(r.given, items...)
}

// TestDispatchSlotsAndHosts: at most Concurrency checks run at once, one
// at a time per host, each the interval after the host's previous answer;
// hosts that are ready go before a host's further items (every small host
// is asked within its first round, before the big host's second request);
// what is still queued at the stop is given back and the hosts released
// with their next allowed times.
func TestDispatchSlotsAndHosts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		const interval = time.Second
		pacer := pace.New(interval)
		var store released
		holds := pace.NewHolds(pace.HoldsConfig{Store: &store, Pacer: pacer, Lease: time.Hour, Margin: time.Second, Now: time.Now})
		w := &recorder{pacer: pacer, starts: map[string][]time.Time{}, ends: map[string][]time.Time{}, finished: make(chan struct{}, 16)}
		lease := time.Now().Add(time.Hour)
		var items []item
		for range 4 {
			items = append(items, item{"big", lease})
		}
		for _, h := range []string{"b", "c", "d", "e", "f"} {
			items = append(items, item{h, lease})
		}
		claimed := false
		d := New(Config[item]{
			Concurrency: 3, Pacer: pacer, Holds: holds, Worker: w,
			Host:  func(it item) string { return it.host },
			Lease: func(it item) time.Time { return it.lease },
			Claim: func(_ context.Context, limit int) ([]item, error) {
				if claimed {
					return nil, nil
				}
				claimed = true
				return items, nil
			},
			Poll: 250 * time.Millisecond, Added: make(chan struct{}), Prune: func(context.Context) {}, PruneEvery: time.Hour,
		})
		var wg sync.WaitGroup
		wg.Go(func() { d.Run(ctx) })
		wg.Go(func() { d.RunClaims(ctx) })
		start := time.Now()
		for i := range 8 { // the small hosts and three of the big host's items
			select {
			case <-w.finished:
			case <-time.After(time.Minute): // virtual time: the checks take 3 s
				cancel()
				wg.Wait()
				t.Fatalf("%d checks finished within a minute, want 8", i)
			}
		}
		cancel()
		wg.Wait()
		if err := d.ReleaseQueued(); err != nil {
			t.Fatal(err)
		}
		if w.most != 3 {
			t.Errorf("at most %d checks at once, want 3 (the slots, all used)", w.most)
		}
		for _, h := range []string{"b", "c", "d", "e", "f"} {
			if s := w.starts[h]; len(s) != 1 || s[0].Sub(start) > 100*time.Millisecond {
				t.Errorf("host %s asked at %v, want once within the first round", h, s)
			}
		}
		big, ends := w.starts["big"], w.ends["big"]
		if len(big) != 3 || len(ends) != 3 {
			t.Fatalf("big host: %d requests, %d answers, want 3", len(big), len(ends))
		}
		for i := 1; i < len(big); i++ {
			if gap := big[i].Sub(ends[i-1]); gap < interval {
				t.Errorf("big host: request %d %v after the previous answer, want at least %v", i+1, gap, interval)
			}
		}
		if len(w.given) != 1 || w.given[0].host != "big" {
			t.Errorf("given back %v, want the big host's last item", w.given)
		}
		if len(store) != 6 {
			t.Errorf("released %v, want the 6 hosts claimed", store)
		}
		for _, r := range store {
			if r.Host == "big" && !r.NotBefore.Equal(pacer.ReadyAt("big")) {
				t.Errorf("big host released with NotBefore %v, want its next allowed request %v", r.NotBefore, pacer.ReadyAt("big"))
			}
		}
	})
}
