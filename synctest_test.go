package lms_test

import (
	"context"
	"fmt"
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
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		calls := map[string][]time.Time{}
		inFlight, peak := 0, 0
		checker := lms.CheckerFunc(func(ctx context.Context, u string) lms.Result {
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
		done := make(chan error)
		go func() { done <- e.Run(ctx) }()
		time.Sleep(30 * time.Second)
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
