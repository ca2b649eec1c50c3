package backoff

import (
	"testing"
	"time"
)

func TestRetry(t *testing.T) {
	t.Parallel()
	cases := []struct {
		n    int
		want time.Duration
	}{{1, 15 * time.Second}, {2, 30 * time.Second}, {3, time.Minute}, {6, 8 * time.Minute}, {7, 10 * time.Minute}, {20, 10 * time.Minute}}
	for _, tc := range cases {
		if got := Retry(15*time.Second, 10*time.Minute, tc.n, 0.5); got != tc.want {
			t.Errorf("backoff after %d failures = %v, want %v", tc.n, got, tc.want)
		}
	}
	lo, hi := Retry(time.Minute, time.Hour, 1, 0), Retry(time.Minute, time.Hour, 1, 0.999)
	if lo != 48*time.Second || hi < 71*time.Second || hi > 72*time.Second {
		t.Errorf("jitter range = %v..%v, want 48s..72s", lo, hi)
	}
}
