package pgstore_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/pgtest"
)

// BenchmarkPutSource compares what PUT /api/v1/sources/{id} and
// registerURLs cost the store: 50 clients at once, each call a fresh
// source (PutSource) or a plain registration (Subscribe) of batch fresh
// URLs over 10,000 hosts that exist already, on a fresh durable schema.
// PutSource also reports the bytes the source tables and their indexes
// take per source link (source-bytes/link).
func BenchmarkPutSource(b *testing.B) {
	srv := pgtest.New(b, pgtest.Config{Durable: true})
	for _, batch := range []int{100, 1000} {
		for _, load := range []string{"Subscribe", "PutSource"} {
			b.Run(fmt.Sprintf("batch=%d/%s", batch, load), func(b *testing.B) {
				benchPutSource(b, srv.CreateSchema(b), batch, load)
			})
		}
	}
}

func benchPutSource(b *testing.B, dsn string, batch int, load string) {
	s := open(b, dsn)
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
				if load == "Subscribe" {
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
	if load == "PutSource" {
		b.ReportMetric(float64(sourceBytes(b, dsn))/float64(b.N*batch), "source-bytes/link")
	}
}

// sourceBytes returns the size of the tables that record sources (those
// named source…; not subscriptions and links, which a plain registration
// writes too), with their indexes and TOAST.
func sourceBytes(b *testing.B, dsn string) int64 {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c
		WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace AND c.relname LIKE 'source%'`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}
