// Package storebench holds the Store benchmarks that memstore and boltstore
// both run: subscribing many URLs, due selection at growing totals, and
// concurrent result writes.
package storebench

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
)

// Open returns a store; fast asks for one tuned for bulk set-up (no fsync),
// and the same path may be opened again.
type Open func(b *testing.B, fast bool) lms.Store

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// URL is the n-th benchmark URL, spread over hosts.
func URL(n, hosts int) string {
	return fmt.Sprintf("http://h%05d.example.org/section/page-%07d.html", n%hosts, n)
}

// Populate subscribes total URLs over clients and hosts.
func Populate(b testing.TB, s lms.Store, total, clients, hosts int) {
	b.Helper()
	ctx := context.Background()
	per := total / clients
	for c := range clients {
		id := fmt.Sprintf("client%04d", c)
		if err := s.CreateClient(ctx, lms.Client{ID: id}); err != nil {
			b.Fatal(err)
		}
		urls := make([]string, 0, per)
		for i := range per {
			urls = append(urls, URL(c*per+i, hosts))
		}
		for i := 0; i < len(urls); i += 1000 {
			if _, err := s.Subscribe(ctx, id, urls[i:min(i+1000, len(urls))], t0); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// Subscribe measures subscribing total URLs over 1,000 clients and 10,000
// hosts (1,000 URLs per call), reporting URLs per second.
func Subscribe(b *testing.B, open func(b *testing.B) lms.Store, total int) {
	for b.Loop() {
		b.StopTimer()
		s := open(b)
		b.StartTimer()
		start := time.Now()
		Populate(b, s, total, 1000, 10_000)
		b.ReportMetric(float64(total)/time.Since(start).Seconds(), "urls/s")
		b.StopTimer()
		_ = s.Close()
		b.StartTimer()
	}
}

// ClaimDue measures handing out due links with total links stored (all
// due), 100 per call (the checker pool's batch with default settings) and
// 1,000: its cost must not grow with total. Between timed claims the
// claimed links are handed back (untimed), as a checker's results would,
// so that the store is in its steady state: a few thousand leases at most.
func ClaimDue(b *testing.B, s lms.Store) {
	ctx := context.Background()
	now := t0.Add(time.Hour)
	for _, limit := range []int{100, 1000} {
		b.Run(fmt.Sprintf("limit=%d", limit), func(b *testing.B) {
			for b.Loop() {
				now = now.Add(time.Second)
				ls, err := s.ClaimDue(ctx, now, lms.ClaimOptions{Limit: limit, PerHost: 3, Lease: time.Minute})
				if err != nil {
					b.Fatal(err)
				}
				if len(ls) != limit {
					b.Fatalf("claimed %d links, want %d", len(ls), limit)
				}
				b.StopTimer()
				recs := make([]lms.Outcome, len(ls))
				for i, l := range ls {
					recs[i] = lms.Outcome{URL: l.URL, Hold: true, NextDue: now}
				}
				if err := s.RecordResults(ctx, recs); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// RecordResults measures result writes from 20 concurrent writers, each
// write one link's result, reporting writes per second.
func RecordResults(b *testing.B, s lms.Store, total int) {
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(max(1, 20/max(1, testingProcs())))
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(n.Add(1))
			st := lms.StateOK
			if i%3 == 0 {
				st = lms.StateUnavailable
			}
			rec := lms.Outcome{URL: URL(i%total, 10_000), Checked: t0, NextDue: t0.Add(24 * time.Hour), Result: lms.Result{State: st, Reason: string(st)}}
			if err := s.RecordResults(ctx, []lms.Outcome{rec}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "writes/s")
}
