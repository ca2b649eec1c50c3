package apibench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// PutJSON measures the JSON API's registration through the server at base
// ("http://host:port"), one client (an API token) a goroutine, each call
// carrying batch fresh URLs spread over 10,000 hosts, like RegisterURLs:
// PUT /api/v1/links, or with sources PUT /api/v1/sources/{id} of a fresh
// source each call. The URLs differ from those of RegisterURLs, so that
// each load registers links the store does not have yet. An answer other than 200 fails the benchmark. It
// reports URLs per second and the p99 latency of one call.
func PutJSON(b *testing.B, base string, tokens []string, batch int, sources bool) {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: len(tokens)}}
	defer hc.CloseIdleConnections()
	var seq atomic.Int64
	var failed atomic.Bool
	var mu sync.Mutex
	var lat []time.Duration
	calls := make(chan int)
	var wg sync.WaitGroup
	kind := "links"
	if sources {
		kind = "source"
	}
	call := func(tok string) (time.Duration, error) {
		urls := make([]string, batch)
		first := seq.Add(int64(batch)) - int64(batch)
		for i := range urls {
			n := first + int64(i)
			urls[i] = fmt.Sprintf("http://h%05d.example.org/%s-%08d.html", n%10000, kind, n)
		}
		path, body := "/api/v1/links", any(map[string]any{"urls": urls})
		if sources {
			path = fmt.Sprintf("/api/v1/sources/page-%d", first)
			body = map[string]any{"title": "A page", "url": "https://cms.example.org/edit", "links": urls}
		}
		j, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		req, err := http.NewRequest(http.MethodPut, base+path, bytes.NewReader(j))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		t := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		msg, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, err
		}
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("PUT %s: %d %s", path, resp.StatusCode, msg)
		}
		return time.Since(t), nil
	}
	for _, tok := range tokens {
		wg.Go(func() {
			for range calls {
				d, err := call(tok)
				if err != nil {
					if failed.CompareAndSwap(false, true) {
						b.Error(err)
					}
					continue
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		})
	}
	start := time.Now()
	for b.Loop() {
		calls <- 1
	}
	close(calls)
	wg.Wait()
	elapsed := time.Since(start)
	if failed.Load() {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat)*batch)/elapsed.Seconds(), "urls/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
