// Package checkstats counts the engine's checks for monitoring: by scheme
// and state, in total, within the last minute, and a histogram of their
// durations.
package checkstats

import (
	"sync"
	"time"
)

// Histogram is a cumulative-friendly histogram: Counts[i] counts
// observations ≤ Bounds[i] (and > Bounds[i-1]); the last count is above
// every bound.
type Histogram struct {
	Bounds []float64
	Counts []uint64
	Count  uint64
	Sum    float64
}

// Count counts checks of one scheme that reported one state.
type Count struct {
	Scheme, State string
	Count         uint64
}

// Snapshot is what Stats has counted.
type Snapshot struct {
	Total      uint64 // checks since start
	LastMinute int    // checks within the last 60 s
	Counts     []Count
	Duration   Histogram // seconds
}

// Stats counts checks; it is safe for concurrent use.
type Stats struct {
	mu       sync.Mutex
	byKey    map[[2]string]uint64 // scheme, reported state
	total    uint64
	minute   [60]uint64 // checks per second, ring
	minuteAt [60]int64  // the second each slot counts
	hist     Histogram
}

// durationBuckets are the upper bounds, in seconds, of the duration
// histogram.
func durationBuckets() []float64 {
	return []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}
}

// New returns empty counts.
func New() *Stats {
	b := durationBuckets()
	return &Stats{byKey: make(map[[2]string]uint64), hist: Histogram{Bounds: b, Counts: make([]uint64, len(b)+1)}}
}

// Observe counts one check of scheme that reported state and took took.
func (s *Stats) Observe(scheme, state string, took time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byKey[[2]string{scheme, state}]++
	s.total++
	sec := time.Now().Unix()
	i := sec % 60
	if s.minuteAt[i] != sec {
		s.minuteAt[i], s.minute[i] = sec, 0
	}
	s.minute[i]++
	secs := took.Seconds()
	j := 0
	for j < len(s.hist.Bounds) && secs > s.hist.Bounds[j] {
		j++
	}
	s.hist.Counts[j]++
	s.hist.Count++
	s.hist.Sum += secs
}

// Snapshot returns a copy of the counts.
func (s *Stats) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Snapshot{Total: s.total}
	now := time.Now().Unix()
	for i, at := range s.minuteAt {
		if now-at < 60 {
			out.LastMinute += int(s.minute[i])
		}
	}
	for k, n := range s.byKey {
		out.Counts = append(out.Counts, Count{Scheme: k[0], State: k[1], Count: n})
	}
	out.Duration = Histogram{Bounds: append([]float64(nil), s.hist.Bounds...), Counts: append([]uint64(nil), s.hist.Counts...), Count: s.hist.Count, Sum: s.hist.Sum}
	return out
}
