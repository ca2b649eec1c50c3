package lms_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/boltstore"
	"github.com/linkmonitor/lms/memstore"
)

// BenchmarkDigest makes the digest of a client with 100,000 links
// (Engine.Digest: the work of a due digest but the store write that owes
// it): 1,000 pages of 100 links, a third of them owned by a mail address;
// before the window 6 % of the links broken, in it 1 % broke and 1 %
// recovered. One op is one whole digest: the contact's mail and the
// owners'.
func BenchmarkDigest(b *testing.B) {
	for _, s := range []struct {
		name string
		open func(b *testing.B) lms.Store
	}{
		{"mem", func(*testing.B) lms.Store { return memstore.New() }},
		{"bolt", func(b *testing.B) lms.Store {
			st, err := boltstore.Open(filepath.Join(b.TempDir(), "lms.db"), boltstore.Options{NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			return st
		}},
	} {
		b.Run(s.name, func(b *testing.B) {
			st := s.open(b)
			defer st.Close()
			e, mails := digestOf100k(b, st)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for b.Loop() {
				ms, err := e.Digest(context.Background(), "site")
				if err != nil || len(ms) != mails {
					b.Fatalf("Digest: %d mails, %v; want %d", len(ms), err, mails)
				}
			}
			// The machine is shared: CPU time says more than wall time.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
		})
	}
}

// digestOf100k fills st and returns an Engine whose clock is a day after
// the client's last digest, and how many mails its digest holds.
func digestOf100k(b *testing.B, st lms.Store) (*lms.Engine, int) {
	const pages, perPage = 1000, 100
	ctx := context.Background()
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	e, err := lms.New(st, lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker, Now: func() time.Time { return start.Add(24 * time.Hour) }})
	if err != nil {
		b.Fatal(err)
	}
	a, err := e.Admin(adminSecret)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := a.RegisterClient(ctx, lms.Registration{ID: "site", ContactEmail: "web@site.example", CallbackOptional: true, Digest: lms.DigestDaily}); err != nil {
		b.Fatal(err)
	}
	if _, err := st.UpdateClient(ctx, "site", func(c *lms.Client) error { c.DigestCovered = start; return nil }); err != nil {
		b.Fatal(err)
	}
	url := func(i int) string { return fmt.Sprintf("https://host%03d.example/section/page-%06d.html", i%500, i) }
	for p := range pages {
		links := make([]string, perPage)
		for j := range links {
			links[j] = url(p*perPage + j)
		}
		owner := fmt.Sprintf("editor%d", p%7)
		if p%3 == 0 {
			owner = fmt.Sprintf("editor%d@site.example", p%30)
		}
		src := lms.Source{SourceRef: lms.SourceRef{ID: fmt.Sprintf("page-%04d", p), Title: fmt.Sprintf("Page %d", p), EditURL: fmt.Sprintf("https://cms.site.example/page/%d/edit", p), Owner: owner}, Links: links}
		if _, _, err := st.PutSource(ctx, "site", src, start.Add(-48*time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
	record := func(at time.Time, st0 lms.State, from, to, step int) {
		var recs []lms.Outcome
		for i := from; i < to; i += step {
			reason := "OK"
			if st0 == lms.StateUnavailable {
				reason = "The page was not found (404)."
			}
			recs = append(recs, lms.Outcome{URL: url(i), Result: lms.Result{State: st0, Reason: reason, Code: 404}, Checked: at, NextDue: at.Add(30 * 24 * time.Hour)})
			if len(recs) == 10_000 {
				if err := st.RecordResults(ctx, recs); err != nil {
					b.Fatal(err)
				}
				recs = recs[:0]
			}
		}
		if err := st.RecordResults(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	n := pages * perPage
	before, in := start.Add(-time.Hour), start.Add(time.Hour)
	record(before, lms.StateOK, 0, n, 1)
	record(before.Add(time.Minute), lms.StateUnavailable, 0, n, 16) // 6.25 % broken before
	record(in, lms.StateOK, 0, n, 160)                              // 0.6 % recover
	record(in.Add(time.Minute), lms.StateUnavailable, 1, n, 100)    // 1 % break
	ms, err := e.Digest(ctx, "site")
	if err != nil || len(ms) < 2 || !strings.Contains(ms[0].Subject, "1000 links broke, 625 recovered, 5625 still broken") {
		b.Fatalf("the digest: %d mails (%v), subject %q", len(ms), err, func() string {
			if len(ms) > 0 {
				return ms[0].Subject
			}
			return ""
		}())
	}
	return e, len(ms)
}
