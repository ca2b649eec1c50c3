package pgstore_test

import (
	"context"
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
