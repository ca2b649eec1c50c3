package pgstore_test

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/pgtest"
	"github.com/linkmonitor/lms/internal/storebench"
	"github.com/linkmonitor/lms/pgstore"
)

// BenchmarkHistory measures durable result writes that change state, with
// the history kept (and off, for the difference), over 10,000 links, and
// the history's storage per change (link_history with its primary key).
func BenchmarkHistory(b *testing.B) {
	srv := pgtest.New(b, pgtest.Config{Durable: true})
	for _, keep := range []int{0, -1} {
		name := "history=on"
		if keep < 0 {
			name = "history=off"
		}
		b.Run(name, func(b *testing.B) {
			dsn := srv.CreateSchema(b)
			s, err := pgstore.Open(context.Background(), dsn, pgstore.Options{History: lms.HistoryRetention{MaxChanges: keep}})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			storebench.HistoryChanges(b, s, 10_000)
			c, err := pgx.Connect(context.Background(), dsn)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close(context.Background())
			var size, n int64
			if err := c.QueryRow(context.Background(), `SELECT pg_total_relation_size('link_history'), (SELECT count(*) FROM link_history)`).Scan(&size, &n); err != nil {
				b.Fatal(err)
			}
			if n > 0 {
				b.ReportMetric(float64(size)/float64(n), "bytes/change")
			}
		})
	}
}

// BenchmarkHistoryPerLink reports the history's storage per link and per
// change (link_history with its primary key) after LMS_BENCH_HISTORY_LINKS
// links were each checked once and 5 % of them changed 10 times more
// (storebench.HistoryPerLink); it skips when the variable is unset.
// Subscribing is with synchronous_commit off, the results durable.
func BenchmarkHistoryPerLink(b *testing.B) {
	v := os.Getenv(storebench.HistoryLinksEnv)
	if v == "" {
		b.Skipf("set %s to the number of links", storebench.HistoryLinksEnv)
	}
	links, err := strconv.Atoi(v)
	if err != nil || links < 100 {
		b.Fatalf("%s=%q: want a number of links of at least 100", storebench.HistoryLinksEnv, v)
	}
	srv := pgtest.New(b, pgtest.Config{Durable: true})
	ctx := context.Background()
	for b.Loop() {
		dsn := srv.CreateSchema(b)
		load := storebench.HistoryPerLink(b, open(b, dsn+"&synchronous_commit=off"), func() lms.Store { return open(b, dsn) }, links, 5, 10)
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			b.Fatal(err)
		}
		var size, n int64
		err = c.QueryRow(ctx, `SELECT pg_total_relation_size('link_history'), (SELECT count(*) FROM link_history)`).Scan(&size, &n)
		_ = c.Close(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if n != int64(load.Changes) {
			b.Fatalf("link_history holds %d rows, want %d", n, load.Changes)
		}
		b.ReportMetric(float64(size)/float64(load.Links), "bytes/link")
		b.ReportMetric(float64(size)/float64(load.Changes), "bytes/change")
	}
}
