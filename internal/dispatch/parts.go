package dispatch

import "time"

// The Dispatcher's parts, changed only from dispatch.go: the slot counter,
// the throughput estimate and the heap of hosts.

// slots counts the requests in progress, at most its capacity. A check
// takes a slot to start, gives it back while a redirect hop waits for its
// host (taking one again when the dispatcher grants it), and gives it back
// when it ends.
type slots struct{ ch chan struct{} }

func newSlots(n int) slots { return slots{ch: make(chan struct{}, n)} }

// take takes a slot if one is free.
func (s slots) take() bool {
	select {
	case s.ch <- struct{}{}:
		return true
	default:
		return false
	}
}

// takeWait takes a slot, waiting for one.
func (s slots) takeWait() { s.ch <- struct{}{} }

// give gives a slot back.
func (s slots) give() { <-s.ch }

// free reports whether a slot is free.
func (s slots) free() bool { return len(s.ch) < cap(s.ch) }

// throughput estimates a counter's rate per second, over windows of at
// least a second, each averaged with the estimate before it.
type throughput struct {
	at   time.Time // the window's start
	n    int64     // the counter then
	rate float64
}

// observe takes the counter's value n at now and returns the estimate.
func (t *throughput) observe(now time.Time, n int64) float64 {
	if t.at.IsZero() {
		t.at, t.n = now, n
		return t.rate
	}
	if el := now.Sub(t.at); el >= time.Second {
		t.rate = (t.rate + float64(n-t.n)/el.Seconds()) / 2
		t.at, t.n = now, n
	}
	return t.rate
}

// queueHeap orders hosts by when they may get their next request
// (container/heap), ties by name.
type queueHeap[T any] []*hostQueue[T]

func (h queueHeap[T]) Len() int { return len(h) }
func (h queueHeap[T]) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].host < h[j].host
}
func (h queueHeap[T]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *queueHeap[T]) Push(x any) {
	q := x.(*hostQueue[T])
	q.index = len(*h)
	*h = append(*h, q)
}
func (h *queueHeap[T]) Pop() any {
	old := *h
	q := old[len(old)-1]
	old[len(old)-1] = nil
	q.index = -1
	*h = old[:len(old)-1]
	return q
}
