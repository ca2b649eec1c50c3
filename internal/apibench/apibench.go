// Package apibench holds the XML-RPC load that the benchmarks of xmlrpcapi
// (the handler over httptest) and of examples/lmsd (the whole server, on
// bolt and PostgreSQL) both measure: concurrent clients registering fresh
// URLs.
package apibench

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linkmonitor/lms/internal/lmsdproc"
	"github.com/linkmonitor/lms/xmlrpcapi"
)

// Client is one registered client of the XML-RPC server.
type Client struct {
	ID, Password string
}

// RegisterURLs measures registerURLs calls to the XML-RPC endpoint url,
// one client a goroutine, each call registering batch fresh URLs (spread
// over 10,000 hosts). A fault or an answer other than 200 OK fails the
// benchmark. It reports URLs per second and the p99 latency of one call.
func RegisterURLs(b *testing.B, url string, clients []Client, batch int) {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: len(clients)}}
	defer hc.CloseIdleConnections()
	var seq atomic.Int64
	var failed atomic.Bool
	var mu sync.Mutex
	var lat []time.Duration
	calls := make(chan int)
	var wg sync.WaitGroup
	// call registers the next batch of URLs for c and returns how long the
	// call took, from the request to the decoded answer.
	call := func(c Client) (time.Duration, error) {
		urls := make([]any, batch)
		first := seq.Add(int64(batch)) - int64(batch)
		for i := range urls {
			n := first + int64(i)
			urls[i] = fmt.Sprintf("http://h%05d.example.org/page-%08d.html", n%10000, n)
		}
		body, err := xmlrpcapi.EncodeCall("registerURLs", c.ID, c.Password, urls)
		if err != nil {
			return 0, err
		}
		t := time.Now()
		if _, err := lmsdproc.Post(context.Background(), hc, url, body); err != nil {
			return 0, fmt.Errorf("registerURLs: %w", err)
		}
		return time.Since(t), nil
	}
	for _, c := range clients {
		wg.Go(func() {
			for range calls {
				d, err := call(c)
				if err != nil {
					if failed.CompareAndSwap(false, true) {
						b.Error(err) // once; the others go on taking calls, so that the loop ends
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
		return // reported above
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat)*batch)/elapsed.Seconds(), "urls/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
