package boltstore_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/boltstore"
	"github.com/linkmonitor/lms/internal/storebench"
)

func BenchmarkSubscribe(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("urls=%d", n), func(b *testing.B) {
			storebench.Subscribe(b, func(b *testing.B) lms.Store {
				s, err := boltstore.Open(filepath.Join(b.TempDir(), "lms.db"), boltstore.Options{})
				if err != nil {
					b.Fatal(err)
				}
				return s
			}, n)
		})
	}
}

// populated returns a durable store holding n links, filled without fsync.
func populated(b *testing.B, n int) lms.Store {
	path := filepath.Join(b.TempDir(), "lms.db")
	fast, err := boltstore.Open(path, boltstore.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	storebench.Populate(b, fast, n, 100, 10_000)
	if err := fast.Close(); err != nil {
		b.Fatal(err)
	}
	s, err := boltstore.Open(path, boltstore.Options{MaxResident: maxResident()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkClaimDue claims 1,000 due links out of n stored;
// LMS_BENCH_LARGE=1 adds n = 3,000,000 (about five minutes to fill).
func BenchmarkClaimDue(b *testing.B) {
	sizes := []int{10_000, 100_000, 1_000_000}
	if os.Getenv("LMS_BENCH_LARGE") != "" {
		sizes = append(sizes, 3_000_000)
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("stored=%d", n), func(b *testing.B) {
			storebench.ClaimDue(b, populated(b, n))
		})
	}
}

func BenchmarkRecordResults(b *testing.B) {
	storebench.RecordResults(b, populated(b, 100_000), 100_000)
}

// maxResident lets a run compare with trimming off: LMS_BENCH_NO_TRIM=1.
func maxResident() int64 {
	if os.Getenv("LMS_BENCH_NO_TRIM") != "" {
		return -1
	}
	return 0
}
