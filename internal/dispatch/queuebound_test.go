package dispatch

import (
	"testing"
	"time"

	"github.com/linkmonitor/lms/internal/pace"
)

// TestThroughput: the estimate follows the counter's rate over windows of
// at least a second.
func TestThroughput(t *testing.T) {
	var tp throughput
	t0 := time.Unix(1_000_000, 0)
	if r := tp.observe(t0, 0); r != 0 {
		t.Fatalf("first observation: %v, want 0", r)
	}
	if r := tp.observe(t0.Add(500*time.Millisecond), 50); r != 0 {
		t.Fatalf("within the first second: %v, want 0 (no window ended)", r)
	}
	if r := tp.observe(t0.Add(time.Second), 100); r != 50 {
		t.Fatalf("after 100 in 1 s: %v, want 50 (the average with 0)", r)
	}
	for i := 2; i <= 10; i++ {
		tp.observe(t0.Add(time.Duration(i)*time.Second), int64(100*i))
	}
	if r := tp.rate; r < 99 || r > 100 {
		t.Fatalf("after 10 s at 100/s: %v", r)
	}
}

// TestQueueBound: the queues are bounded by queueHorizon of the links taken
// from them, at least one claim's batch and at most maxQueued, and by
// maxQueued while a free slot finds no host ready.
func TestQueueBound(t *testing.T) {
	d := New(Config[string]{Concurrency: 20, Pacer: pace.New(time.Second)})
	batch, maxQueued := Limits(20)
	now := time.Unix(1_000_000, 0)
	// Nothing queued, a slot free: starving.
	if _, limit, starving := d.load(now); !starving || limit != maxQueued {
		t.Fatalf("empty: limit %d starving %v, want %d true", limit, starving, maxQueued)
	}
	// Slots all busy: not starving; no throughput yet, so one batch.
	for d.slots.take() {
	}
	if _, limit, starving := d.load(now); starving || limit != batch {
		t.Fatalf("busy, no rate: limit %d starving %v, want %d false", limit, starving, batch)
	}
	// 100 links a second taken for 10 s: about 3 s of them.
	for i := 1; i <= 10; i++ {
		d.mu.Lock()
		d.popped += 100
		d.mu.Unlock()
		d.load(now.Add(time.Duration(i) * time.Second))
	}
	_, limit, _ := d.load(now.Add(10 * time.Second))
	if want := int(100 * queueHorizon.Seconds()); limit < want-5 || limit > want {
		t.Fatalf("at 100/s: limit %d, want ≈ %d", limit, want)
	}
	// 10,000 a second: capped at maxQueued.
	for i := 11; i <= 20; i++ {
		d.mu.Lock()
		d.popped += 10_000
		d.mu.Unlock()
		d.load(now.Add(time.Duration(i) * time.Second))
	}
	if _, limit, _ := d.load(now.Add(20 * time.Second)); limit != maxQueued {
		t.Fatalf("at 10,000/s: limit %d, want %d", limit, maxQueued)
	}
}
