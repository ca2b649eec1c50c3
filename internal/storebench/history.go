package storebench

import (
	"context"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
)

// HistoryChanges measures result writes that each change a link's state
// (so each adds a history entry, lms.EditorStore): total links of one
// client over 1,000 hosts, every op a batch of 100 results that flip 100
// links between ok and unavailable. It reports ns per change; the caller
// reports the storage per change.
func HistoryChanges(b *testing.B, s lms.Store, total int) (changes int) {
	ctx := context.Background()
	Populate(b, s, total, 1, 1000)
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	recs := make([]lms.Outcome, 100)
	b.ResetTimer()
	for i := range b.N {
		for j := range recs {
			n := i*len(recs) + j
			st, code := lms.StateOK, 200
			if (n/total)%2 == 0 {
				st, code = lms.StateUnavailable, 404
			}
			recs[j] = lms.Outcome{URL: URL(n%total, 1000), Checked: t0.Add(time.Duration(n) * time.Second), NextDue: t0.Add(24 * time.Hour),
				Result: lms.Result{State: st, Reason: "Not Found", Code: code}}
			if st == lms.StateOK {
				recs[j].Result.Reason = "OK"
			}
		}
		if err := s.RecordResults(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	changes = b.N * len(recs)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(changes), "ns/change")
	return changes
}

// HistoryLinksEnv names the variable that sets how many links
// HistoryPerLink loads; the benchmarks that use it skip when it is unset,
// so that a plain `go test -bench .` does not load 10^6 links.
const HistoryLinksEnv = "LMS_BENCH_HISTORY_LINKS"

// HistoryLoad is what HistoryPerLink wrote, for the caller's storage
// figures.
type HistoryLoad struct {
	Links   int // links subscribed and checked
	Changes int // history entries written
}

// HistoryPerLink loads the history a store holds after links links (one
// client, 10,000 hosts) were each checked once (unknown→ok, one change
// each, as after the first check in production) and a minority of them
// (flipPercent % of the links, spread evenly) then changed flips times
// each (unavailable and back, one check a day), all in batches of 1,000
// results. It reports the seconds of the three phases (subscribe, first
// checks, flips) and returns what it wrote; the caller measures the
// storage. It subscribes through bulk (a store tuned for bulk set-up) and
// then records the results through the store durable returns, opened on
// the same data (durable may close bulk first).
func HistoryPerLink(b *testing.B, bulk lms.Store, durable func() lms.Store, links, flipPercent, flips int) HistoryLoad {
	ctx := context.Background()
	start := time.Now()
	Populate(b, bulk, links, 1, 10_000)
	record := durable()
	subscribed := time.Now()
	first := t0.Add(time.Hour)
	batch := make([]lms.Outcome, 0, 1000)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if err := record.RecordResults(ctx, batch); err != nil {
			b.Fatal(err)
		}
		batch = batch[:0]
	}
	for n := range links {
		batch = append(batch, lms.Outcome{URL: URL(n, 10_000), Checked: first, NextDue: first.Add(24 * time.Hour),
			Result: lms.Result{State: lms.StateOK, Reason: "OK", Code: 200}})
		if len(batch) == cap(batch) {
			flush()
		}
	}
	flush()
	checked := time.Now()
	flippers := 0
	for day := 1; day <= flips; day++ {
		at := first.Add(time.Duration(day) * 24 * time.Hour)
		res := lms.Result{State: lms.StateUnavailable, Reason: "Not Found", Code: 404}
		if day%2 == 0 {
			res = lms.Result{State: lms.StateOK, Reason: "OK", Code: 200}
		}
		flippers = 0
		for n := 0; n < links; n += 100 {
			for k := range flipPercent {
				if n+k >= links {
					break
				}
				flippers++
				batch = append(batch, lms.Outcome{URL: URL(n+k, 10_000), Checked: at, NextDue: at.Add(24 * time.Hour), Result: res})
				if len(batch) == cap(batch) {
					flush()
				}
			}
		}
		flush()
	}
	flipped := time.Now()
	b.ReportMetric(subscribed.Sub(start).Seconds(), "s-subscribe")
	b.ReportMetric(checked.Sub(subscribed).Seconds(), "s-first-checks")
	b.ReportMetric(flipped.Sub(checked).Seconds(), "s-flips")
	return HistoryLoad{Links: links, Changes: links + flippers*flips}
}
