package main

// Workload 3: scale, a million URLs registered through XML-RPC.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/boltstore"
	"github.com/linkmonitor/lms/internal/lmsdproc"
	"github.com/linkmonitor/lms/memstore"
	"github.com/linkmonitor/lms/xmlrpcapi"
)

// scaleWorkload runs workload 3 once per store of -stores.
func scaleWorkload(o *options) error {
	for _, st := range strings.Split(o.stores, ",") {
		if err := scale(st, o.urls); err != nil {
			return err
		}
	}
	return nil
}

// scale registers total URLs of 1,000 clients through XML-RPC into store
// and measures the time, the memory per URL and the cost of a claim.
func scale(store string, total int) error {
	const clients, hosts = 1000, 10_000
	perClient := total / clients
	runtime.GC()
	debug.FreeOSMemory()
	rss0, _, _ := rss()
	var st lms.Store
	dbPath := ""
	switch store {
	case "memory":
		st = memstore.New()
	case "bolt":
		dir, err := os.MkdirTemp("", "lms-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dbPath = filepath.Join(dir, "lms.db")
		bs, err := boltstore.Open(dbPath, boltstore.Options{})
		if err != nil {
			return err
		}
		st = bs
	}
	defer st.Close()
	e, err := lms.New(st, lms.Config{AdminSecret: "bench", Components: lms.RunChecker})
	if err != nil {
		return err
	}
	srv := httptest.NewServer(xmlrpcapi.NewServer(e, xmlrpcapi.ServerConfig{}))
	defer srv.Close()
	ctx := context.Background()
	pws := make([]string, clients)
	for c := range clients {
		pw, err := e.RegisterClient(ctx, "bench", lms.Registration{ID: fmt.Sprintf("client%04d", c), ContactEmail: "a@example.org", CallbackURL: "http://example.org/"})
		if err != nil {
			return err
		}
		pws[c] = pw
	}
	// Each client registers its links in batches of 1,000 through XML-RPC,
	// 8 clients at a time.
	const batch, workers = 1000, 8
	type job struct{ c, from int }
	jobs := make(chan job)
	var wg sync.WaitGroup
	var failed atomic.Value
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	var peak, peakAnon, peakFile atomic.Int64
	sampling := make(chan struct{})
	go func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-sampling:
				return
			case <-t.C:
				r, a, f := rss()
				for _, m := range []struct {
					v   int64
					max *atomic.Int64
				}{{r, &peak}, {a, &peakAnon}, {f, &peakFile}} {
					if m.v > m.max.Load() {
						m.max.Store(m.v)
					}
				}
			}
		}
	}()
	start := now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				urls := make([]any, 0, batch)
				for i := j.from; i < min(j.from+batch, perClient); i++ {
					n := j.c*perClient + i
					urls = append(urls, fmt.Sprintf("http://h%05d.example.org/c%04d/page-%07d.html", n%hosts, j.c, n))
				}
				body, _ := xmlrpcapi.EncodeCall("registerURLs", fmt.Sprintf("client%04d", j.c), pws[j.c], urls)
				if _, err := lmsdproc.Post(ctx, hc, srv.URL+"/RPC2", body); err != nil {
					failed.Store(fmt.Errorf("registerURLs: %w", err)) // one type for the atomic.Value
				}
			}
		}()
	}
	for c := range clients {
		for from := 0; from < perClient; from += batch {
			jobs <- job{c, from}
		}
	}
	close(jobs)
	wg.Wait()
	end := now()
	close(sampling)
	if err, _ := failed.Load().(error); err != nil {
		return err
	}
	counts, err := st.LinkCounts(ctx)
	if err != nil {
		return err
	}
	n := counts.Total()
	elapsed := end.at.Sub(start.at)
	srv.Close()
	hc.CloseIdleConnections()
	runtime.GC()
	debug.FreeOSMemory()
	rss1, anon1, file1 := rss()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	// The scheduler's cost: claim 1,000 due links (every link is due).
	var claimCost time.Duration
	const claims = 20
	for i := range claims {
		t := time.Now()
		ls, err := st.ClaimDue(ctx, time.Now().Add(time.Duration(i)*time.Hour), lms.ClaimOptions{Limit: 1000, PerHost: 3, Lease: time.Nanosecond})
		if err != nil {
			return err
		}
		if len(ls) != 1000 {
			return fmt.Errorf("claimed %d", len(ls))
		}
		claimCost += time.Since(t)
	}
	size := int64(0)
	if dbPath != "" {
		if fi, err := os.Stat(dbPath); err == nil {
			size = fi.Size()
		}
	}
	fmt.Printf("## Workload 3: scale — %d URLs over %d clients and %d hosts, store %s\n", n, clients, hosts, store)
	fmt.Printf("| registration through XML-RPC | CPU | peak RSS while registering (anon, file) | RSS after (anon + file) | RSS per URL | Go heap per URL | bolt file | ClaimDue(1000) |\n|---|---|---|---|---|---|---|---|\n")
	fileCol := "—"
	if size > 0 {
		fileCol = mb(size)
	}
	fmt.Printf("| %.0f URLs/s (%.1f s) | %.1f s | %s (%s, %s) | %s (%s + %s) | %.0f B | %.0f B | %s | %v |\n\n",
		float64(n)/elapsed.Seconds(), elapsed.Seconds(), (end.cpu - start.cpu).Seconds(), mb(peak.Load()), mb(peakAnon.Load()), mb(peakFile.Load()), mb(rss1), mb(anon1), mb(file1),
		float64(rss1-rss0)/float64(n), float64(ms.HeapInuse)/float64(n), fileCol, (claimCost / claims).Round(time.Microsecond))
	return nil
}
