package quota

import (
	"context"
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

// The bucket holds perHour items, refilled over an hour; a refusal takes
// nothing and says when the call would pass.
func TestTake(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := New(60)
	if wait, err := q.Take(ctx, nil, "a", 50, t0); wait != 0 || err != nil {
		t.Fatalf("first take: %v, %v", wait, err)
	}
	if wait, _ := q.Take(ctx, nil, "a", 20, t0); wait != 10*time.Minute {
		t.Fatalf("over the cap: wait %v, want 10m", wait)
	}
	if wait, _ := q.Take(ctx, nil, "a", 10, t0); wait != 0 {
		t.Fatalf("the refused call took items: wait %v", wait)
	}
	if wait, _ := q.Take(ctx, nil, "b", 60, t0); wait != 0 {
		t.Fatalf("another client's bucket is full: wait %v", wait)
	}
	if wait, _ := q.Take(ctx, nil, "a", 5, t0.Add(5*time.Minute)); wait != 0 {
		t.Fatalf("refilled after 5 min: wait %v", wait)
	}
	if wait, _ := New(-1).Take(ctx, nil, "a", 1e6, t0); wait != 0 {
		t.Fatalf("no cap: wait %v", wait)
	}
}

// A shared store is asked for the bucket of the whole deployment.
func TestTakeShared(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var asked []int
	ok, fail := true, error(nil)
	shared := func(_ context.Context, burst int, every time.Duration, cost int) (bool, error) {
		asked = append(asked, burst, int(every/time.Second), cost)
		return ok, fail
	}
	q := New(3600)
	if wait, err := q.Take(ctx, shared, "a", 7, t0); wait != 0 || err != nil {
		t.Fatalf("take: %v, %v", wait, err)
	}
	ok = false
	if wait, _ := q.Take(ctx, shared, "a", 7, t0); wait != 7*time.Second {
		t.Fatalf("refused: wait %v, want the time 7 items take to come back", wait)
	}
	fail = errors.New("down")
	if _, err := q.Take(ctx, shared, "a", 1, t0); !errors.Is(err, fail) {
		t.Fatalf("store error %v", err)
	}
	if want := []int{3600, 1, 7}; len(asked) < 3 || asked[0] != want[0] || asked[1] != want[1] || asked[2] != want[2] {
		t.Errorf("asked %v, want burst, every (s), cost %v", asked, want)
	}
}
