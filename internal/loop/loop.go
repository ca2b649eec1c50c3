// Package loop holds the small pieces the engine's background loops share:
// wake-up channels, rounds on a poll and on wake-ups, and per-client
// workers.
package loop

import (
	"context"
	"sync"
	"time"
)

// Poke sends on a wake-up channel of capacity 1 without blocking.
func Poke(c chan<- struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Rounds calls round at once, then after every poll and at every wake-up
// (wake may be nil: none), until ctx ends.
func Rounds(ctx context.Context, poll time.Duration, wake <-chan struct{}, round func()) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		round()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wake:
		}
	}
}

// Workers runs at most one job per client, and per lane at most as many
// jobs at once as the lane has slots; a job that finds its lane full is
// skipped (the next round retries it), so one slow client never delays
// the others.
type Workers struct {
	lanes []chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	busy  map[string]bool
}

// NewWorkers returns workers with one lane per element of slots, each with
// that many slots.
func NewWorkers(slots ...int) *Workers {
	w := &Workers{busy: make(map[string]bool)}
	for _, n := range slots {
		w.lanes = append(w.lanes, make(chan struct{}, n))
	}
	return w
}

// Try starts fn for client id in lane unless the client is busy or the
// lane is full.
func (w *Workers) Try(id string, lane int, fn func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.busy[id] {
		return
	}
	sem := w.lanes[lane]
	select {
	case sem <- struct{}{}:
	default:
		return
	}
	w.busy[id] = true
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer func() {
			w.mu.Lock()
			delete(w.busy, id)
			w.mu.Unlock()
			<-sem
		}()
		fn()
	}()
}

// Wait returns when every started job has finished.
func (w *Workers) Wait() { w.wg.Wait() }
