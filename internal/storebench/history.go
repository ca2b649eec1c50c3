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
