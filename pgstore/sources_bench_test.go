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
// Both report the bytes the whole store takes per URL registered
// (store-bytes/url: every table with its indexes and TOAST, less what the
// 10,000 hosts' first registration wrote before the load).
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
	var before int64
	storebench.PutSourceLoad(b, open(b, dsn), batch, load, func() {
		before = storeBytes(b, dsn)
		checkpoint(b, dsn) // each load starts from the same state of the server
	})
	b.ReportMetric(float64(storeBytes(b, dsn)-before)/float64(b.N*batch), "store-bytes/url")
}

func checkpoint(b *testing.B, dsn string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CHECKPOINT`); err != nil {
		b.Fatal(err)
	}
}

// storeBytes returns the size of the schema's tables with their indexes
// and TOAST.
func storeBytes(b *testing.B, dsn string) int64 {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c
		WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace `).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}
