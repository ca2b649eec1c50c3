// Package dispatch decides which request of the link checker starts next.
// A Dispatcher is the one owner of what that decision needs: the request
// slots (at most Concurrency requests at a time), the claimed items queued
// per host in order of their hosts' readiness, and the redirect hops
// waiting for a slot. It runs the claim loop that fills its queues, starts
// each check in a Worker, and hands the check a Job through which it
// reports back. The per-host spacing and the hosts' holds come from
// package pace. Items are the caller's (the root's claimed links): the
// Dispatcher knows of them only their host and the end of their lease.
package dispatch

import (
	"container/heap"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linkmonitor/lms/internal/loop"
	"github.com/linkmonitor/lms/internal/pace"
)

// Worker runs the checks a Dispatcher starts.
type Worker[T any] interface {
	// Check runs the check of j.Item in the slot j holds and writes its
	// outcome; it ends the job (Job.Finish, Job.Release).
	Check(ctx context.Context, j *Job[T])
	// GiveBack makes items that will not be checked now due again at
	// once (their host's hold ends, or the process stops).
	GiveBack(ctx context.Context, items []T)
}

// Config configures a Dispatcher.
type Config[T any] struct {
	Concurrency int // request slots
	Pacer       *pace.Pacer
	Holds       *pace.Holds
	Worker      Worker[T]
	Host        func(T) string    // an item's politeness key ("" is not paced)
	Lease       func(T) time.Time // when an item's claim ends

	// The claim loop (RunClaims): Claim fetches at most limit due items;
	// the loop calls it when the queues run low, at every Added, and every
	// Poll. Prune runs every PruneEvery.
	Claim      func(ctx context.Context, limit int) ([]T, error)
	Poll       time.Duration
	Added      <-chan struct{}
	Prune      func(ctx context.Context)
	PruneEvery time.Duration

	// StopGrace is how long the checks in flight when Run's ctx ends may
	// go on (their redirect hops too) before their ctx is cancelled; zero
	// or negative cancels them at once.
	StopGrace time.Duration
}

// Dispatcher starts checks: see the package comment.
type Dispatcher[T any] struct {
	cfg   Config[T]
	pacer *pace.Pacer
	holds *pace.Holds
	// maxQueued is the most items the queues hold (the claim loop claims up
	// to the bound load gives, at most this); below half of that bound, or
	// when a free slot finds no host ready, the dispatcher asks for a
	// claim (want).
	maxQueued int
	batch     int // the most items one claim fetches
	want      chan struct{}

	slots    slots
	inflight atomic.Int64 // checks in progress, waiting for a host or not
	wake     chan struct{}

	dmu  sync.Mutex // serialises dispatching; guards hops
	hops []*hopWait // ready redirect hops waiting for a slot, oldest first

	mu     sync.Mutex // guards the queues
	queues map[string]*hostQueue[T]
	heap   queueHeap[T] // hosts with queued items and no check in flight, by readiness
	queued int
	popped int64      // items taken from the queues, for rate
	rate   throughput // of popped
}

// hostQueue holds the claimed items of one host that wait for their turn.
type hostQueue[T any] struct {
	host  string
	items []T
	busy  bool      // a check of this host is in flight
	at    time.Time // heap key: when the host may get its next request
	index int       // in queueHeap, -1 if not there
}

// Limits returns the most items one claim fetches (batch) and the most the
// queues hold, for concurrency request slots. Items waiting for their
// host's interval do not count against the batch: what matters is whether
// a free slot finds a host ready.
func Limits(concurrency int) (batch, maxQueued int) {
	return max(4*concurrency, 100), max(50*concurrency, 1000)
}

// queueHorizon is how much of the process's own throughput its queues
// hold: enough that a slot never waits for a claim (a few ms to a few
// hundred), little enough that processes sharing a store run dry
// together instead of one finishing another's thousand queued links.
const queueHorizon = 3 * time.Second

// New returns a Dispatcher of cfg with empty queues.
func New[T any](cfg Config[T]) *Dispatcher[T] {
	batch, maxQueued := Limits(cfg.Concurrency)
	return &Dispatcher[T]{
		cfg: cfg, pacer: cfg.Pacer, holds: cfg.Holds, maxQueued: maxQueued, batch: batch,
		want:   make(chan struct{}, 1),
		slots:  newSlots(cfg.Concurrency),
		wake:   make(chan struct{}, 1),
		queues: make(map[string]*hostQueue[T]),
	}
}

// signal wakes the dispatcher.
func (d *Dispatcher[T]) signal() { loop.Poke(d.wake) }

// InFlight returns how many checks are in progress.
func (d *Dispatcher[T]) InFlight() int { return int(d.inflight.Load()) }

// run is one call of Run: the checks it started, and the contexts that
// stop it.
type run struct {
	stop   context.Context // Run's: once it ends no check starts
	checks context.Context // the checks': ends Config.StopGrace after stop
	wg     sync.WaitGroup  // the checks and give-backs started
}

// Run dispatches until ctx ends. Then it starts no check and gives the
// queued items back at once (Worker.GiveBack), lets the checks in flight
// finish, granting their redirect hops slots, for up to Config.StopGrace
// before it cancels their ctx, and returns once every check it started
// has ended.
func (d *Dispatcher[T]) Run(ctx context.Context) error {
	checks, cancelChecks := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelChecks()
	r := &run{stop: ctx, checks: checks}
	defer r.wg.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	prune := time.NewTicker(time.Minute)
	defer prune.Stop()
	stop := ctx.Done()
	var idle chan struct{}        // closed once every check has ended, after the stop
	var graceEnd <-chan time.Time // the stop's grace runs out
	for {
		if stop != nil {
			d.stock()
		}
		wait := time.Duration(-1)
		if nextAt := d.dispatch(checks, r); !nextAt.IsZero() {
			wait = max(0, time.Until(nextAt))
		}
		var tc <-chan time.Time
		if wait >= 0 {
			timer.Reset(wait)
			tc = timer.C
		}
		select {
		case <-stop:
			stop = nil
			items, busy := d.releaseAll()
			d.cfg.Worker.GiveBack(context.WithoutCancel(ctx), items)
			// The hosts no check in flight uses go back at once; the
			// others once their checks end (ReleaseQueued).
			r.wg.Go(func() {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
				defer cancel()
				_ = d.holds.ReleaseIdle(rctx, busy) // on failure ReleaseQueued tries again
			})
			idle = make(chan struct{})
			go func() { r.wg.Wait(); close(idle) }()
			if d.cfg.StopGrace <= 0 {
				cancelChecks()
				break
			}
			grace := time.NewTimer(d.cfg.StopGrace)
			defer grace.Stop()
			graceEnd = grace.C
		case <-graceEnd:
			graceEnd = nil
			cancelChecks()
		case <-idle:
			return nil
		case <-d.wake:
		case <-tc:
		case <-prune.C:
			d.pacer.Prune(time.Now())
			d.holds.Prune()
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// stock asks for a claim when the queues run low or a free slot finds no
// host ready, so that every due host gets its first request as early as
// possible: hosts waiting for their interval are served later, from the
// queues.
func (d *Dispatcher[T]) stock() {
	if queued, limit, starving := d.load(time.Now()); starving || queued < limit/2 {
		loop.Poke(d.want)
	}
}

// dispatch starts as many checks as the limits allow and returns when the
// next queued host becomes ready (zero if none waits). Once r stops it
// only grants the hops of the checks in flight their slots; once ctx (the
// checks') ends, nothing.
func (d *Dispatcher[T]) dispatch(ctx context.Context, r *run) time.Time {
	d.dmu.Lock()
	defer d.dmu.Unlock()
	for {
		if ctx.Err() != nil {
			return time.Time{}
		}
		now := time.Now()
		freshReady, nextAt := d.peek(now)
		if r.stop.Err() != nil {
			freshReady, nextAt = false, time.Time{}
		}
		hop := d.nextHop(now, freshReady)
		if hop < 0 && !freshReady {
			return nextAt
		}
		if !d.slots.take() {
			return time.Time{} // every slot busy; a finishing check wakes us
		}
		if hop >= 0 {
			close(d.hops[hop].grant)
			d.hops = slices.Delete(d.hops, hop, hop+1)
			continue
		}
		it, q, ok := d.pop()
		if !ok { // emptied by a back-off while waiting
			d.slots.give()
			continue
		}
		if d.pacer.Paced(q.host) && !d.holds.Usable(q.host) {
			// The host's hold ends before a check could be answered: give
			// its items back for whoever holds the host next.
			d.slots.give()
			items := append([]T{it}, d.drop(q)...)
			d.finished(q)
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				d.cfg.Worker.GiveBack(context.WithoutCancel(ctx), items)
			}()
			continue
		}
		if !d.holds.Current(d.cfg.Lease(it)) {
			// The claim's lease ends before a check could be answered and
			// written: the item is the store's again (claimed again, it may
			// be queued here a second time already, or be another
			// process's). It is neither checked nor written back.
			d.slots.give()
			d.finished(q)
			continue
		}
		d.inflight.Add(1)
		j := &Job[T]{Item: it, d: d, run: r, q: q, held: true}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			d.cfg.Worker.Check(ctx, j)
		}()
	}
}

// Job is one check the Dispatcher started: its item, the queue of its
// host, and the slot it holds. The Worker reports through it.
type Job[T any] struct {
	Item T // what is checked

	d    *Dispatcher[T]
	run  *run
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
// the dispatcher: one goroutine hand-off less per check. ctx is the
// check's.
func (j *Job[T]) Next(ctx context.Context) { j.d.dispatch(ctx, j.run) }

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

	mu    sync.Mutex     // an AIA fetch may pace from another goroutine
	using map[string]int // hosts Wait acquired (pace.Holds) and Done has not ended
}

// Abandoned reports whether a hop could not be made politely: the caller
// then keeps the item's state and checks it again soon.
func (h *HopPacer[T]) Abandoned() bool { return h.abandoned }

// Done reports that the request to host has been answered.
func (h *HopPacer[T]) Done(host string) {
	h.d.pacer.Done(host)
	h.unuse(host)
}

// unuse ends the hold's use Wait counted for a request to host, if any.
func (h *HopPacer[T]) unuse(host string) {
	h.mu.Lock()
	n := h.using[host]
	if n > 0 {
		h.using[host] = n - 1
	}
	h.mu.Unlock()
	if n > 0 {
		h.d.holds.Done(host)
	}
}

// Wait blocks until a request to host is allowed, with a slot, and
// reserves it.
func (h *HopPacer[T]) Wait(ctx context.Context, host string) error {
	d := h.d
	if err := d.holds.Acquire(ctx, host); err != nil {
		h.abandoned = true
		return err
	}
	h.mu.Lock()
	if h.using == nil {
		h.using = make(map[string]int)
	}
	h.using[host]++
	h.mu.Unlock()
	err := h.wait(ctx, host)
	if err != nil {
		h.unuse(host) // no request: Done will not come
	}
	return err
}

// wait is Wait once the host is held.
func (h *HopPacer[T]) wait(ctx context.Context, host string) error {
	d := h.d
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

// maxHopDefer bounds how long a ready redirect hop may leave its slot to
// new checks (see nextHop); it is far below the check timeout.
const maxHopDefer = 5 * time.Second

// hopWait is a redirect hop whose host is ready and that waits for a slot.
type hopWait struct {
	host  string
	since time.Time
	grant chan struct{} // closed when the dispatcher hands it a slot
}

// awaitSlot queues a ready redirect hop for a request slot; the dispatcher
// hands it one.
func (d *Dispatcher[T]) awaitSlot(ctx context.Context, host string) error {
	w := &hopWait{host: host, since: time.Now(), grant: make(chan struct{})}
	d.dmu.Lock()
	d.hops = append(d.hops, w)
	d.dmu.Unlock()
	d.signal()
	select {
	case <-w.grant:
		return nil
	case <-ctx.Done():
	}
	d.dmu.Lock()
	i := slices.Index(d.hops, w)
	if i >= 0 {
		d.hops = slices.Delete(d.hops, i, i+1)
	}
	d.dmu.Unlock()
	if i >= 0 { // not granted: the check still gives a slot back when it ends
		d.slots.takeWait()
	}
	return ctx.Err()
}

// nextHop returns the index of the waiting hop to run next, or -1 to give
// the slot to a new check (freshReady says one may start). Every new check
// may itself end in a redirect that needs another request one interval
// later, so new checks go first and hops fill the gaps. A hop goes first
// when its host has more items waiting (the hop holds them up) or when it
// has waited maxHopDefer. d.dmu is held.
func (d *Dispatcher[T]) nextHop(now time.Time, freshReady bool) int {
	for i, w := range d.hops {
		if d.waiting(w.host) || now.Sub(w.since) >= maxHopDefer {
			return i
		}
	}
	if len(d.hops) > 0 && !freshReady {
		return 0
	}
	return -1
}

// Add queues claimed items behind their hosts, records the holds their
// claim gave (until the end of its lease), and wakes the dispatcher.
func (d *Dispatcher[T]) Add(items []T) {
	if len(items) == 0 {
		return
	}
	for _, it := range items {
		d.holds.Claimed(d.cfg.Host(it), d.cfg.Lease(it))
	}
	d.mu.Lock()
	for _, it := range items {
		host := d.cfg.Host(it)
		q := d.queues[host]
		if q == nil {
			q = &hostQueue[T]{host: host, index: -1}
			d.queues[host] = q
		}
		q.items = append(q.items, it)
		d.queued++
		if !q.busy && q.index < 0 {
			q.at = d.pacer.ReadyAt(q.host)
			heap.Push(&d.heap, q)
		}
	}
	d.mu.Unlock()
	d.signal()
}

// load returns how many items are queued, how many the queues should hold
// (queueHorizon of the items taken from them, at least one claim's batch,
// at most maxQueued), and whether a slot is free while no queued host may
// get a request now: then the bound is maxQueued, so that a process whose
// queued hosts wait for their intervals is not held to the rate they
// allow.
func (d *Dispatcher[T]) load(now time.Time) (queued, limit int, starving bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	starving = d.slots.free() && !d.readyLocked(now)
	want := int(d.rate.observe(now, d.popped) * queueHorizon.Seconds())
	limit = min(max(want, d.batch), d.maxQueued)
	if starving {
		limit = d.maxQueued
	}
	return d.queued, limit, starving
}

func (d *Dispatcher[T]) readyLocked(now time.Time) bool {
	return len(d.heap) > 0 && !d.heap[0].at.After(now)
}

// peek reports whether a queued host may get a request at now, and else
// when the next one may (zero if no host waits).
func (d *Dispatcher[T]) peek(now time.Time) (readyNow bool, next time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.heap) == 0 {
		return false, time.Time{}
	}
	return !d.heap[0].at.After(now), d.heap[0].at
}

// waiting reports whether items of host wait in its queue.
func (d *Dispatcher[T]) waiting(host string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	q := d.queues[host]
	return q != nil && len(q.items) > 0
}

// pop takes the next item of the readiest host; ok is false if that host's
// queue was emptied meanwhile (a back-off). A paced host is marked busy
// until finished: one request at a time per host.
func (d *Dispatcher[T]) pop() (it T, q *hostQueue[T], ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.heap) == 0 {
		return it, nil, false
	}
	q = heap.Pop(&d.heap).(*hostQueue[T])
	if len(q.items) == 0 {
		d.forgetLocked(q)
		return it, nil, false
	}
	it = q.items[0]
	q.items = q.items[1:]
	d.queued--
	d.popped++
	if d.pacer.Paced(q.host) {
		q.busy = true
	} else if len(q.items) > 0 {
		heap.Push(&d.heap, q)
	}
	return it, q, true
}

// finished marks the check of q's host done and queues the host again.
func (d *Dispatcher[T]) finished(q *hostQueue[T]) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if q.busy {
		q.busy = false
		if len(q.items) > 0 {
			q.at = d.pacer.ReadyAt(q.host)
			heap.Push(&d.heap, q)
		}
	}
	d.forgetLocked(q)
}

// forgetLocked drops an empty, idle queue.
func (d *Dispatcher[T]) forgetLocked(q *hostQueue[T]) {
	if len(q.items) == 0 && !q.busy && q.index < 0 && d.queues[q.host] == q {
		delete(d.queues, q.host)
	}
}

// drop takes every item queued for q's host (the host rests after a 429,
// or its hold ends) and returns them.
func (d *Dispatcher[T]) drop(q *hostQueue[T]) []T {
	d.mu.Lock()
	defer d.mu.Unlock()
	items := q.items
	d.queued -= len(items)
	q.items = nil
	return items
}

// releaseAll empties the queues at shutdown and returns what was in them.
func (d *Dispatcher[T]) releaseAll() (items []T, busy map[string]bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	busy = make(map[string]bool)
	for _, q := range d.queues {
		items = append(items, q.items...)
		if q.busy {
			busy[q.host] = true
		}
	}
	d.queues, d.heap, d.queued = make(map[string]*hostQueue[T]), nil, 0
	return items, busy
}
