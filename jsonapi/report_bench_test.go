package jsonapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/boltstore"
	"github.com/linkmonitor/lms/internal/guard"
	"github.com/linkmonitor/lms/jsonapi"
	"github.com/linkmonitor/lms/memstore"
)

// BenchmarkReport streams the report of a client with 100,000 links (a
// tenth of them unavailable, a hundred ignored, five of every hundred
// in a source) over memstore and boltstore, as CSV and JSON, from a loopback
// server into io.Discard. Beside the time and the bytes allocated per
// report it reports the peak of the heap above the store's while one more
// report streams (peakHeap), and the answer's size.
func BenchmarkReport(b *testing.B) {
	const n = 100_000
	for _, st := range []struct {
		name string
		open func(b *testing.B) lms.Store
	}{
		{"mem", func(*testing.B) lms.Store { return memstore.New() }},
		{"bolt", func(b *testing.B) lms.Store {
			s, err := boltstore.Open(filepath.Join(b.TempDir(), "lms.db"), boltstore.Options{NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
	} {
		b.Run(st.name, func(b *testing.B) {
			store := st.open(b)
			defer store.Close()
			e, err := lms.New(store, lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			if _, err := e.RegisterClient(ctx, adminSecret, lms.Registration{ID: "site", ContactName: "s", ContactEmail: "s@example.org", CallbackURL: "http://127.0.0.1:1/"}); err != nil {
				b.Fatal(err)
			}
			urls := make([]string, n)
			for i := range urls {
				urls[i] = fmt.Sprintf("https://host%04d.example.org/section/page-%06d.html", i%5000, i)
			}
			for part := range slices.Chunk(urls, lms.MaxURLsPerCall) {
				if _, err := e.RegisterLinks(ctx, "site", part); err != nil {
					b.Fatal(err)
				}
			}
			now := time.Now()
			var recs []lms.Outcome
			for i := 0; i < n; i += 10 {
				recs = append(recs, lms.Outcome{URL: urls[i], Checked: now, NextDue: now.Add(time.Hour), Result: lms.Result{State: lms.StateUnavailable, Reason: "The page was not found (404).", Code: 404}})
			}
			for part := range slices.Chunk(recs, 1000) {
				if err := store.RecordResults(ctx, part); err != nil {
					b.Fatal(err)
				}
			}
			for i := 0; i < 1000; i++ {
				if _, _, err := e.PutSource(ctx, "site", lms.Source{SourceRef: lms.SourceRef{ID: fmt.Sprintf("node-%d", i), Title: "A page", EditURL: "https://cms.example/edit"}, Links: urls[i*100 : i*100+5]}); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := e.Ignore(ctx, "site", urls[:100], true); err != nil {
				b.Fatal(err)
			}
			tok, _, err := e.CreateToken(ctx, "site", "bench")
			if err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(jsonapi.New(e, jsonapi.Config{Guard: guard.New(guard.Config{})}))
			defer srv.Close()
			get := func(b *testing.B, format string) int64 {
				req, _ := http.NewRequest("GET", srv.URL+"/api/v1/report?format="+format, nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				defer resp.Body.Close()
				size, err := io.Copy(io.Discard, resp.Body)
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("report: %d %v", resp.StatusCode, err)
				}
				return size
			}
			for _, format := range []string{"csv", "json"} {
				b.Run(format, func(b *testing.B) {
					var size int64
					b.ReportAllocs()
					for b.Loop() {
						size = get(b, format)
					}
					b.StopTimer()
					b.ReportMetric(float64(peakHeap(func() { get(b, format) }))/(1<<20), "peak-heap-MiB")
					b.ReportMetric(float64(size)/(1<<20), "answer-MiB")
				})
			}
		})
	}
}

// peakHeap runs fn with a tight GC target (GOGC 10, so that the heap is
// close to what is live, not garbage waiting for the collector) and
// returns the peak of the heap above its size before, sampled every 5 ms.
func peakHeap(fn func()) uint64 {
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var top atomic.Uint64
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				if m.HeapAlloc > base && m.HeapAlloc-base > top.Load() {
					top.Store(m.HeapAlloc - base)
				}
			}
		}
	}()
	fn()
	close(stop)
	<-sampled
	return top.Load()
}
