package storebench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
)

// Registration loads of PutSourceLoad.
const (
	LoadSubscribe = "Subscribe" // plain registrations (registerURLs, PUT /links)
	LoadPutSource = "PutSource" // PUT /api/v1/sources/{id}, a fresh source per call
)

// PutSourceLoad compares what a source and a plain registration cost the
// store: 50 clients at once, each op a call of batch fresh URLs over
// 10,000 hosts that exist already (created by a first registration), as
// load says. It reports urls/s. ready, when not nil, is called once the
// clients and hosts exist, before the load.
func PutSourceLoad(b *testing.B, s lms.Store, batch int, load string, ready func()) {
	ctx := context.Background()
	now := time.Now()
	const clients = 50
	for c := range clients {
		if err := s.CreateClient(ctx, lms.Client{ID: fmt.Sprintf("c%02d", c), ContactEmail: "a@example.org", Notify: true}); err != nil {
			b.Fatal(err)
		}
	}
	warm := make([]string, 10000)
	for i := range warm {
		warm[i] = fmt.Sprintf("http://h%05d.example.org/", i)
	}
	if _, err := s.Subscribe(ctx, "c00", warm, now); err != nil {
		b.Fatal(err)
	}
	if ready != nil {
		ready()
	}
	var seq atomic.Int64
	calls := make(chan struct{})
	var wg sync.WaitGroup
	for c := range clients {
		id := fmt.Sprintf("c%02d", c)
		wg.Go(func() {
			for range calls {
				first := seq.Add(int64(batch)) - int64(batch)
				urls := make([]string, batch)
				for i := range urls {
					n := first + int64(i)
					urls[i] = fmt.Sprintf("http://h%05d.example.org/page-%08d.html", n%10000, n)
				}
				var err error
				if load == LoadSubscribe {
					_, err = s.Subscribe(ctx, id, urls, now)
				} else {
					_, _, err = s.PutSource(ctx, id, lms.Source{SourceRef: lms.SourceRef{ID: fmt.Sprintf("page-%d", first), Title: "A page", EditURL: "https://cms.example.org/edit"}, Links: urls}, now)
				}
				if err != nil {
					b.Error(err)
				}
			}
		})
	}
	start := time.Now()
	for b.Loop() {
		calls <- struct{}{}
	}
	close(calls)
	wg.Wait()
	b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "urls/s")
}
