package boltstore_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
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

// fill writes a store file of n links over clients (and 10,000 hosts),
// without fsync, and returns its path.
func fill(b *testing.B, n, clients int) string {
	path := filepath.Join(b.TempDir(), "lms.db")
	fast, err := boltstore.Open(path, boltstore.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	storebench.Populate(b, fast, n, clients, 10_000)
	if err := fast.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// populated returns a durable store holding n links, filled without fsync.
func populated(b *testing.B, n int) lms.Store {
	s, err := boltstore.Open(fill(b, n, 100), boltstore.Options{MaxResident: maxResident()})
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

// BenchmarkOpen opens and closes a store of n links: with the check of the
// file, without it (OpenUnchecked; bbolt still walks every page in use to
// rebuild its freelist), and the check alone, with the file in the page
// cache and (Linux) out of it. LMS_BENCH_LARGE=1 adds n = 1,000,000, a
// file of about 700 MB filled with Subscribe (minutes).
func BenchmarkOpen(b *testing.B) {
	sizes := []int{100_000}
	if os.Getenv("LMS_BENCH_LARGE") != "" {
		sizes = append(sizes, 1_000_000)
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("stored=%d", n), func(b *testing.B) {
			path := fill(b, n, 1000)
			fi, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}
			openClose := func(open func(string, boltstore.Options) (*boltstore.Store, error)) func() error {
				return func() error {
					s, err := open(path, boltstore.Options{})
					if err != nil {
						return err
					}
					return s.Close()
				}
			}
			for _, m := range []struct {
				name string
				run  func() error
			}{
				{"checked", openClose(boltstore.Open)},
				{"unchecked", openClose(boltstore.OpenUnchecked)},
				{"check-only", func() error { return boltstore.VerifyFile(path) }},
			} {
				for _, cold := range []bool{false, true} {
					if cold && !canDropCache() {
						continue
					}
					name := m.name + "/warm"
					if cold {
						name = m.name + "/cold"
					}
					b.Run(name, func(b *testing.B) {
						for b.Loop() {
							if cold {
								b.StopTimer()
								if err := dropCache(path); err != nil {
									b.Fatal(err)
								}
								b.StartTimer()
							}
							if err := m.run(); err != nil {
								b.Fatal(err)
							}
						}
						b.ReportMetric(float64(fi.Size())/1e6, "MB")
					})
				}
			}
		})
	}
}

// BenchmarkHistory measures result writes that change state, with the
// history kept (and off, for the difference), over 10,000 links, and the
// history's storage per change (the pages of its bucket in use).
func BenchmarkHistory(b *testing.B) {
	for _, keep := range []int{0, -1} {
		name := "history=on"
		if keep < 0 {
			name = "history=off"
		}
		b.Run(name, func(b *testing.B) {
			s, err := boltstore.Open(filepath.Join(b.TempDir(), "lms.db"), boltstore.Options{History: lms.HistoryRetention{MaxChanges: keep}})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			storebench.HistoryChanges(b, s, 10_000)
			if bytes, n, err := boltstore.HistoryBytes(s); err == nil && n > 0 {
				b.ReportMetric(float64(bytes)/float64(n), "bytes/change")
			}
		})
	}
}

// BenchmarkPutSource compares what PUT /api/v1/sources/{id} and
// registerURLs cost the store: 50 clients at once, each call a fresh
// source (PutSource) or a plain registration (Subscribe) of batch fresh
// URLs over 10,000 hosts that exist already, on a durable file that holds
// stored links already. Both report how much the file grew per URL
// (file-bytes/url).
func BenchmarkPutSource(b *testing.B) {
	for _, stored := range []int{0, 300_000} {
		for _, batch := range []int{100, 1000} {
			for _, load := range []string{storebench.LoadSubscribe, storebench.LoadPutSource} {
				b.Run(fmt.Sprintf("stored=%d/batch=%d/%s", stored, batch, load), func(b *testing.B) {
					benchPutSource(b, stored, batch, load)
				})
			}
		}
	}
}

func benchPutSource(b *testing.B, stored, batch int, load string) {
	path := filepath.Join(b.TempDir(), "lms.db")
	if stored > 0 {
		path = fill(b, stored, 50)
	}
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var before int64
	storebench.PutSourceLoad(b, s, batch, load, func() { before = fileSize(b, path) })
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(fileSize(b, path)-before)/float64(b.N*batch), "file-bytes/url")
}

func fileSize(b *testing.B, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}

// BenchmarkHistoryPerLink reports the history's storage per link and per
// change after LMS_BENCH_HISTORY_LINKS links were each checked once and 5 %
// of them changed 10 times more (storebench.HistoryPerLink); it skips when
// the variable is unset. Subscribing is without fsync, the results durable.
func BenchmarkHistoryPerLink(b *testing.B) {
	links := historyLinks(b)
	for b.Loop() {
		path := filepath.Join(b.TempDir(), "lms.db")
		fast, err := boltstore.Open(path, boltstore.Options{NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		var s *boltstore.Store
		load := storebench.HistoryPerLink(b, fast, func() lms.Store {
			if err := fast.Close(); err != nil {
				b.Fatal(err)
			}
			if s, err = boltstore.Open(path, boltstore.Options{}); err != nil {
				b.Fatal(err)
			}
			return s
		}, links, 5, 10)
		inuse, n, err := boltstore.HistoryBytes(s)
		if err != nil {
			b.Fatal(err)
		}
		if n != load.Changes {
			b.Fatalf("history holds %d entries, want %d", n, load.Changes)
		}
		alloc, err := boltstore.HistoryAlloc(s)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(inuse)/float64(load.Links), "bytes/link")
		b.ReportMetric(float64(inuse)/float64(load.Changes), "bytes/change")
		b.ReportMetric(float64(alloc)/float64(load.Links), "alloc-bytes/link")
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// historyLinks reads storebench.HistoryLinksEnv, skipping when it is unset.
func historyLinks(b *testing.B) int {
	v := os.Getenv(storebench.HistoryLinksEnv)
	if v == "" {
		b.Skipf("set %s to the number of links", storebench.HistoryLinksEnv)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 100 {
		b.Fatalf("%s=%q: want a number of links of at least 100", storebench.HistoryLinksEnv, v)
	}
	return n
}
