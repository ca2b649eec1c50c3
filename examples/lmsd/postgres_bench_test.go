package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linkmonitor/lms/internal/pgtest"
	"github.com/linkmonitor/lms/xmlrpcapi"
)

// BenchmarkRegisterURLs measures registerURLs through lmsd, over HTTP and
// XML-RPC, on PostgreSQL (a durable server of the benchmark's own on this
// machine) and, side by side, on bolt: 50 concurrent clients, batches of
// 100 and 1,000 fresh URLs. The checker does not run (it would check the
// URLs); the API and the store do all the work. It reports URLs per second
// and the p99 latency of one call.
func BenchmarkRegisterURLs(b *testing.B) {
	srv := pgtest.New(b, pgtest.Config{Durable: true})
	for _, store := range []string{"postgres", "bolt"} {
		for _, batch := range []int{100, 1000} {
			b.Run(fmt.Sprintf("%s/batch=%d", store, batch), func(b *testing.B) {
				args := []string{"-store", store, "-db", filepath.Join(b.TempDir(), "lms.db")}
				if store == "postgres" {
					args = []string{"-store", "postgres", "-dsn", srv.CreateSchema(b), "-pg-max-conns", "20"}
				}
				benchLmsd(b, args, batch)
			})
		}
	}
}

func benchLmsd(b *testing.B, storeArgs []string, batch int) {
	const clients = 50
	dir := b.TempDir()
	ready := filepath.Join(dir, "ready")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	args := append([]string{"-addr", "127.0.0.1:0", "-admin-secret", secret, "-components", "notifier", "-log-level", "error",
		"-mail-dir", filepath.Join(dir, "mail"), "-ready-file", ready}, storeArgs...)
	go func() { done <- run(ctx, args, os.Getenv, io.Discard) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	base := "http://" + waitFileB(b, ready) + "/RPC2"
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	post := func(method string, params ...any) (time.Duration, error) {
		body, err := xmlrpcapi.EncodeCall(method, params...)
		if err != nil {
			return 0, err
		}
		t := time.Now()
		resp, err := hc.Post(base, "text/xml", bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		v, err := xmlrpcapi.DecodeResponse(resp.Body, xmlrpcapi.Limits{})
		resp.Body.Close()
		if err != nil {
			return 0, fmt.Errorf("%s: %v (%v)", method, err, v)
		}
		return time.Since(t), nil
	}
	for c := range clients {
		if _, err := post("registerClient", secret, fmt.Sprintf("c%02d", c), "http://127.0.0.1:1/db", "n", "a@example.org", fmt.Sprintf("password-%02d", c)); err != nil {
			b.Fatal(err)
		}
	}
	var seq atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	calls := make(chan int)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls {
				urls := make([]any, batch)
				first := seq.Add(int64(batch)) - int64(batch)
				for i := range urls {
					n := first + int64(i)
					urls[i] = fmt.Sprintf("http://h%05d.example.org/page-%08d.html", n%10000, n)
				}
				d, err := post("registerURLs", fmt.Sprintf("c%02d", c), fmt.Sprintf("password-%02d", c), urls)
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	for b.Loop() {
		calls <- 1
	}
	close(calls)
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat)*batch)/elapsed.Seconds(), "urls/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

func waitFileB(b *testing.B, path string) string {
	for range 500 {
		if data, err := os.ReadFile(path); err == nil && len(data) > 0 {
			return string(data)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatalf("%s never appeared", path)
	return ""
}
