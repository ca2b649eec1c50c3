package xmlrpcapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/boltstore"
	"github.com/linkmonitor/lms/memstore"
	"github.com/linkmonitor/lms/xmlrpcapi"
)

// BenchmarkRegisterURLs measures registerURLs through the XML-RPC handler
// over real HTTP: 50 concurrent clients, batches of 100 and 1,000 fresh URLs,
// on memstore and boltstore. It reports URLs per second and the p99 latency
// of one call.
func BenchmarkRegisterURLs(b *testing.B) {
	stores := map[string]func(b *testing.B) lms.Store{
		"memstore": func(*testing.B) lms.Store { return memstore.New() },
		"boltstore": func(b *testing.B) lms.Store {
			s, err := boltstore.Open(filepath.Join(b.TempDir(), "lms.db"), boltstore.Options{})
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
	}
	for _, name := range []string{"memstore", "boltstore"} {
		for _, batch := range []int{100, 1000} {
			b.Run(fmt.Sprintf("%s/batch=%d", name, batch), func(b *testing.B) {
				benchRegister(b, stores[name](b), batch)
			})
		}
	}
}

func benchRegister(b *testing.B, st lms.Store, batch int) {
	const clients = 50
	defer st.Close()
	ctx := context.Background()
	e, err := lms.New(st, lms.Config{AdminSecret: secret, Components: lms.RunChecker})
	if err != nil {
		b.Fatal(err)
	}
	pws := make([]string, clients)
	for c := range clients {
		if pws[c], err = e.RegisterClient(ctx, secret, lms.Registration{ID: fmt.Sprintf("c%02d", c), ContactEmail: "a@example.org", CallbackURL: "http://example.org/"}); err != nil {
			b.Fatal(err)
		}
	}
	srv := httptest.NewServer(xmlrpcapi.NewServer(e, xmlrpcapi.ServerConfig{}))
	defer srv.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
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
				base := seq.Add(int64(batch)) - int64(batch)
				for i := range urls {
					n := base + int64(i)
					urls[i] = fmt.Sprintf("http://h%05d.example.org/page-%08d.html", n%10000, n)
				}
				body, err := xmlrpcapi.EncodeCall("registerURLs", fmt.Sprintf("c%02d", c), pws[c], urls)
				if err != nil {
					b.Error(err)
					return
				}
				t := time.Now()
				resp, err := hc.Post(srv.URL+"/RPC2", "text/xml", bytes.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil {
					b.Error(err)
					return
				}
				d := time.Since(t)
				if resp.StatusCode != 200 {
					b.Errorf("status %d", resp.StatusCode)
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
