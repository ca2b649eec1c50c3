package pgstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/linkmonitor/lms/internal/pgtest"
	"github.com/linkmonitor/lms/internal/storebench"
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
		for _, load := range []string{storebench.LoadSubscribe, storebench.LoadPutSource} {
			b.Run(fmt.Sprintf("batch=%d/%s", batch, load), func(b *testing.B) {
				benchPutSource(b, srv.CreateSchema(b), batch, load)
			})
		}
	}
}

func benchPutSource(b *testing.B, dsn string, batch int, load string) {
	storebench.PutSourceLoad(b, open(b, dsn), batch, load)
	if load == storebench.LoadPutSource {
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
