package dispatch

import (
	"context"
	"sync"
	"time"
)

// Job is one check the Dispatcher started: its item, the queue of its
// host, and the slot it holds. The Worker reports through it.
type Job[T any] struct {
	Item T // what is checked

	d    *Dispatcher[T]
	wg   *sync.WaitGroup
	q    *hostQueue[T]
	held bool // the job still holds its slot
}

// Pacer returns the pacer of the check's further requests (redirect hops).
func (j *Job[T]) Pacer() *HopPacer[T] { return &HopPacer[T]{d: j.d} }

// Release gives the job's slot back (once).
func (j *Job[T]) Release() {
	if j.held {
		j.held = false
		j.d.slots.give()
	}
}

// Finish ends the check: its host may be queued again.
func (j *Job[T]) Finish() {
	j.d.inflight.Add(-1)
	j.d.finished(j.q)
	j.d.signal()
}

// RestHost takes and returns the items queued for the job's host, which
// rests after a 429 or 503.
func (j *Job[T]) RestHost() []T { return j.d.drop(j.q) }

// Next starts the next checks from the job's goroutine rather than waking
// the dispatcher: one goroutine hand-off less per check.
func (j *Job[T]) Next(ctx context.Context) { j.d.dispatch(ctx, j.wg) }

// HopPacer is the pacer one check sees. The dispatcher reserved the host
// of the check's first request when it started it; for every further
// request (a redirect hop) HopPacer makes sure this process holds the
// hop's host, gives the check's request slot back while the host is not
// ready (so a waiting redirect does not idle a slot), and waits for the
// dispatcher to grant it a slot again once the host is ready.
type HopPacer[T any] struct {
	d *Dispatcher[T]
	// abandoned is set when a hop could not be made politely (its host is
	// held by another process, or the store is unreachable).
	abandoned bool
}

// Abandoned reports whether a hop could not be made politely: the caller
// then keeps the item's state and checks it again soon.
func (h *HopPacer[T]) Abandoned() bool { return h.abandoned }

// Done reports that the request to host has been answered.
func (h *HopPacer[T]) Done(host string) { h.d.pacer.Done(host) }

// Wait blocks until a request to host is allowed, with a slot, and
// reserves it.
func (h *HopPacer[T]) Wait(ctx context.Context, host string) error {
	d := h.d
	if err := d.holds.Acquire(ctx, host); err != nil {
		h.abandoned = true
		return err
	}
	if !d.pacer.ReadyAt(host).After(time.Now()) {
		return d.pacer.Wait(ctx, host)
	}
	d.slots.give()
	d.signal()
	if err := d.pacer.Wait(ctx, host); err != nil {
		d.slots.takeWait() // the check still gives its slot back when it ends
		return err
	}
	return d.awaitSlot(ctx, host)
}
