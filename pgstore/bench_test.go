package pgstore_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/pgtest"
	"github.com/linkmonitor/lms/internal/storebench"
	"github.com/linkmonitor/lms/pgstore"
)

// The benchmarks run on a server of their own with PostgreSQL's durable
// defaults (fsync, synchronous commit), on the same machine, as boltstore's
// fsync every commit.

func BenchmarkSubscribe(b *testing.B) {
	srv := pgtest.New(b, pgtest.Config{Durable: true})
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("urls=%d", n), func(b *testing.B) {
			storebench.Subscribe(b, func(b *testing.B) lms.Store { return open(b, srv.CreateSchema(b)) }, n)
		})
	}
}

// populated returns a durable store holding n links, filled with
// synchronous_commit off, and reports the storage per URL.
func populated(b *testing.B, srv *pgtest.Server, n int) *pgstore.Store {
	dsn := srv.CreateSchema(b)
	fast := open(b, dsn+"&synchronous_commit=off")
	storebench.Populate(b, fast, n, 100, 10_000)
	_ = fast.Close()
	s := open(b, dsn)
	if size, err := s.Size(context.Background()); err == nil {
		b.ReportMetric(float64(size)/float64(n), "bytes/url")
	}
	return s
}

// BenchmarkClaimDue claims 100 and 1,000 due links out of n stored;
// LMS_BENCH_LARGE=1 adds n = 3,000,000.
func BenchmarkClaimDue(b *testing.B) {
	srv := pgtest.New(b, pgtest.Config{Durable: true})
	sizes := []int{10_000, 100_000, 1_000_000}
	if os.Getenv("LMS_BENCH_LARGE") != "" {
		sizes = append(sizes, 3_000_000)
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("stored=%d", n), func(b *testing.B) {
			storebench.ClaimDue(b, populated(b, srv, n))
		})
	}
}

func BenchmarkRecordResults(b *testing.B) {
	srv := pgtest.New(b, pgtest.Config{Durable: true})
	storebench.RecordResults(b, populated(b, srv, 100_000), 100_000)
}

// BenchmarkStorage reports the bytes the tables and indexes take per URL
// stored (one subscriber each), at 10^5 and 10^6 links.
func BenchmarkStorage(b *testing.B) {
	srv := pgtest.New(b, pgtest.Config{Durable: true})
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("urls=%d", n), func(b *testing.B) {
			for b.Loop() {
				populated(b, srv, n)
			}
		})
	}
}
