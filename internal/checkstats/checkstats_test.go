package checkstats

import (
	"slices"
	"testing"
	"time"
)

func TestStats(t *testing.T) {
	t.Parallel()
	s := New()
	s.Observe("http", "ok", 3*time.Millisecond)
	s.Observe("http", "ok", 10*time.Millisecond) // on the bound: counted at or below it
	s.Observe("ftp", "unavailable", time.Minute) // above every bound
	got := s.Snapshot()
	if got.Total != 3 || got.LastMinute != 3 {
		t.Errorf("total %d, last minute %d; want 3, 3", got.Total, got.LastMinute)
	}
	slices.SortFunc(got.Counts, func(a, b Count) int { return int(b.Count) - int(a.Count) })
	want := []Count{{"http", "ok", 2}, {"ftp", "unavailable", 1}}
	if !slices.Equal(got.Counts, want) {
		t.Errorf("counts = %v, want %v", got.Counts, want)
	}
	h := got.Duration
	if h.Count != 3 || h.Counts[0] != 1 || h.Counts[1] != 1 || h.Counts[len(h.Counts)-1] != 1 || len(h.Counts) != len(h.Bounds)+1 {
		t.Errorf("histogram = %+v", h)
	}
	if d := h.Sum - 60.013; d > 1e-9 || d < -1e-9 {
		t.Errorf("sum = %v, want 60.013", h.Sum)
	}
	// The snapshot is a copy.
	h.Counts[0] = 99
	if s.Snapshot().Duration.Counts[0] != 1 {
		t.Error("the snapshot shares its counts with the live histogram")
	}
}
