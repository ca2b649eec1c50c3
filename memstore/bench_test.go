package memstore_test

import (
	"fmt"
	"testing"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/storebench"
	"github.com/linkmonitor/lms/memstore"
)

func BenchmarkSubscribe(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("urls=%d", n), func(b *testing.B) {
			storebench.Subscribe(b, func(*testing.B) lms.Store { return memstore.New() }, n)
		})
	}
}

func BenchmarkClaimDue(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("stored=%d", n), func(b *testing.B) {
			s := memstore.New()
			storebench.Populate(b, s, n, 100, 10_000)
			storebench.ClaimDue(b, s)
		})
	}
}

func BenchmarkRecordResults(b *testing.B) {
	s := memstore.New()
	storebench.Populate(b, s, 100_000, 100, 10_000)
	storebench.RecordResults(b, s, 100_000)
}
