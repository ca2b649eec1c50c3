package lms_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/memstore"
)

// BenchmarkRecheckLatency measures a re-check from the Recheck call to
// its result recorded, through a real Engine (scheduler, dispatcher,
// pool) over memstore, with a Checker that answers at once for the
// re-checked links (each on a host of its own, not asked for a while) and
// after 500 ms for the "slow" hosts. idle: nothing else to check. busy:
// 100 slow links on 100 hosts kept due, so that the 20 slots are full and
// the queues hold more. It reports the median and the 99th percentile,
// and the slow checks in flight when each re-check was asked (mean).
func BenchmarkRecheckLatency(b *testing.B) {
	for _, busy := range []bool{false, true} {
		name := "idle"
		if busy {
			name = "busy"
		}
		b.Run(name, func(b *testing.B) { benchRecheck(b, busy) })
	}
}

func benchRecheck(b *testing.B, busy bool) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := &signalStore{Store: memstore.New(), recorded: make(chan string, 4096)}
	const slots = 20               // Config.Concurrency's default
	var inFlight atomic.Int32      // slow checks
	full := make(chan struct{}, 1) // a slow check took the last free slot
	checker := lms.CheckerFunc(func(ctx context.Context, u string) lms.Result {
		if strings.Contains(u, "//slow") {
			if inFlight.Add(1) == slots {
				select {
				case full <- struct{}{}:
				default:
				}
			}
			defer inFlight.Add(-1)
			select {
			case <-time.After(500 * time.Millisecond):
			case <-ctx.Done():
			}
		}
		return lms.Result{State: lms.StateOK, Reason: "OK", Code: 200}
	})
	e, err := lms.New(st, lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker, Checker: checker, RecheckPerHour: -1})
	if err != nil {
		b.Fatal(err)
	}
	n := b.N
	fast := make([]string, n)
	for i := range fast {
		fast[i] = fmt.Sprintf("https://fast%d.example/page", i)
	}
	var slow []string
	if busy {
		for i := range 100 {
			slow = append(slow, fmt.Sprintf("https://slow%d.example/page", i))
		}
	}
	if _, err := e.RegisterClient(ctx, adminSecret, lms.Registration{ID: "site", ContactName: "s", ContactEmail: "s@example.org", CallbackURL: "http://127.0.0.1:1/"}); err != nil {
		b.Fatal(err)
	}
	for part := range slices.Chunk(append(slices.Clone(fast), slow...), lms.MaxURLsPerCall) {
		if _, err := e.RegisterURLs(ctx, "site", part); err != nil {
			b.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	// Every link's first check, then the hosts rest past the host interval.
	left := map[string]bool{}
	for _, u := range fast {
		left[u] = true
	}
	for len(left) > 0 {
		delete(left, <-st.recorded)
	}
	firstChecked := time.Now()
	if busy {
		select { // the slots are to be filled from now on
		case <-full:
		default:
		}
		go func() { // keep the slow links due: the slots stay full
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					_, _ = e.Recheck(ctx, "site", slow)
				}
			}
		}()
		// The warm-up: the slow links fill the slots.
		wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
		select {
		case <-full:
		case <-wctx.Done():
			b.Fatal("the slow checks did not fill the slots within 30 s")
		}
		wcancel()
	}
	// The re-checks are of rested hosts: the host interval (1 s) has
	// passed since each one's first check. The engine's pacing tells no
	// one when a host's interval ends.
	time.Sleep(time.Until(firstChecked.Add(1100 * time.Millisecond)))
	lat := make([]time.Duration, 0, n)
	busySlots := 0
	b.ResetTimer()
	for i := range n {
		busySlots += int(inFlight.Load())
		start := time.Now()
		if _, err := e.Recheck(ctx, "site", []string{fast[i]}); err != nil {
			b.Fatal(err)
		}
		for u := range st.recorded {
			if u == fast[i] {
				break
			}
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(busySlots)/float64(n), "slow-in-flight")
	cancel()
	<-done
}
