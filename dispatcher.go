package lms

import (
	"container/heap"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linkmonitor/lms/internal/loop"
)

// dispatcher decides which request starts next, and is the one owner of
// what that decision needs: the request slots (at most Concurrency
// requests at a time), the claimed links queued per host in order of their
// hosts' readiness, and the redirect hops waiting for a slot. The
// scheduler adds what it claims (add) and is asked to claim through want;
// the pacer answers when a host may get its next request; the pool runs
// every check the dispatcher starts (worker.check) and reports back through
// the check's job.
type dispatcher struct {
	pacer *hostPacer
	holds *hostHolds
	work  worker
	now   func() time.Time // the engine's clock, for the leases of written outcomes
	// maxQueued is the most links the queues hold (the scheduler claims up
	// to the bound load gives, at most this); below half of that bound, or
	// when a free slot finds no host ready, the dispatcher asks for a
	// claim.
	maxQueued int
	batch     int             // the most links one claim fetches
	want      chan<- struct{} // asks the scheduler to claim now

	slots    slots
	inflight atomic.Int64 // checks in progress, waiting for a host or not
	wake     chan struct{}

	dmu  sync.Mutex // serialises dispatching; guards hops
	hops []*hopWait // ready redirect hops waiting for a slot, oldest first

	mu     sync.Mutex // guards the queues
	queues map[string]*hostQueue
	heap   queueHeap // hosts with queued links and no check in flight, by readiness
	queued int
	popped int64      // links taken from the queues, for rate
	rate   throughput // of popped
}

// worker runs what the dispatcher starts: the pool.
type worker interface {
	// check runs the check of j.link in the slot j holds and writes its
	// outcome; it ends the job (job.finish, job.release).
	check(ctx context.Context, j *job)
	// write records outcomes in the store.
	write(ctx context.Context, recs ...Outcome)
}

// hostQueue holds the claimed links of one host that wait for their turn.
type hostQueue struct {
	host  string
	links []Link
	busy  bool      // a check of this host is in flight
	at    time.Time // heap key: when the host may get its next request
	index int       // in queueHeap, -1 if not there
}

// queueLimits returns the most links one claim fetches (batch) and the most
// the queues hold. Links waiting for their host's interval do not count
// against the batch: what matters is whether a free slot finds a host
// ready.
func queueLimits(cfg Config) (batch, maxQueued int) {
	return max(4*cfg.Concurrency, 100), max(50*cfg.Concurrency, 1000)
}

// queueHorizon is how much of the process's own throughput its queues
// hold: enough that a slot never waits for a claim (a few ms to a few
// hundred), little enough that processes sharing a store run dry
// together instead of one finishing another's thousand queued links.
const queueHorizon = 3 * time.Second

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

func newDispatcher(cfg Config, pacer *hostPacer, holds *hostHolds, want chan<- struct{}, work worker) *dispatcher {
	batch, maxQueued := queueLimits(cfg)
	return &dispatcher{
		pacer: pacer, holds: holds, work: work, now: cfg.Now, maxQueued: maxQueued, batch: batch, want: want,
		slots:  newSlots(cfg.Concurrency),
		wake:   make(chan struct{}, 1),
		queues: make(map[string]*hostQueue),
	}
}

// slots counts the requests in progress, at most its capacity. A check
// takes a slot to start, gives it back while a redirect hop waits for its
// host (taking one again when the dispatcher grants it), and gives it back
// when it ends. Only the dispatcher's methods touch it.
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

// signal wakes the dispatcher.
func (d *dispatcher) signal() { loop.Poke(d.wake) }

// inFlight returns how many checks are in progress.
func (d *dispatcher) inFlight() int { return int(d.inflight.Load()) }

// run dispatches until ctx ends, then waits for every check it started.
func (d *dispatcher) run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	prune := time.NewTicker(time.Minute)
	defer prune.Stop()
	for {
		d.stock()
		wait := time.Duration(-1)
		if nextAt := d.dispatch(ctx, &wg); !nextAt.IsZero() {
			wait = max(0, time.Until(nextAt))
		}
		var tc <-chan time.Time
		if wait >= 0 {
			timer.Reset(wait)
			tc = timer.C
		}
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake:
		case <-tc:
		case <-prune.C:
			d.pacer.prune(time.Now())
			d.holds.prune()
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
func (d *dispatcher) stock() {
	if queued, limit, starving := d.load(time.Now()); starving || queued < limit/2 {
		loop.Poke(d.want)
	}
}

// dispatch starts as many checks as the limits allow and returns when the
// next queued host becomes ready (zero if none waits).
func (d *dispatcher) dispatch(ctx context.Context, wg *sync.WaitGroup) time.Time {
	d.dmu.Lock()
	defer d.dmu.Unlock()
	for {
		if ctx.Err() != nil {
			return time.Time{}
		}
		now := time.Now()
		freshReady, nextAt := d.peek(now)
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
		l, q, ok := d.pop()
		if !ok { // emptied by a back-off while waiting
			d.slots.give()
			continue
		}
		if d.pacer.paced(q.host) && !d.holds.usable(q.host) {
			// The host's hold ends before a check could be answered: give
			// its links back for whoever holds the host next.
			d.slots.give()
			links := append([]Link{l}, d.drop(q)...)
			d.finished(q)
			wg.Add(1)
			go func() {
				defer wg.Done()
				now := d.now()
				d.work.write(context.WithoutCancel(ctx), holdAll(links, now, now)...)
			}()
			continue
		}
		if !d.holds.current(l) {
			// The claim's lease ends before a check could be answered and
			// written: the link is the store's again (claimed again, it may
			// be queued here a second time already, or be another
			// process's). It is neither checked nor written back.
			d.slots.give()
			d.finished(q)
			continue
		}
		d.inflight.Add(1)
		j := &job{d: d, wg: wg, q: q, link: l, held: true}
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.work.check(ctx, j)
		}()
	}
}

// job is one check the dispatcher started: its link, the queue of its
// host, and the slot it holds. The pool reports through it.
type job struct {
	d    *dispatcher
	wg   *sync.WaitGroup
	q    *hostQueue
	link Link
	held bool // the job still holds its slot
}

// pacer returns the Pacer of the check's further requests (redirect hops).
func (j *job) pacer() *hopPacer { return &hopPacer{d: j.d} }

// release gives the job's slot back (once).
func (j *job) release() {
	if j.held {
		j.held = false
		j.d.slots.give()
	}
}

// finish ends the check: its host may be queued again.
func (j *job) finish() {
	j.d.inflight.Add(-1)
	j.d.finished(j.q)
	j.d.signal()
}

// restHost takes the links queued for the job's host, which rests until
// until after a 429 or 503, and returns the outcomes that hold them.
func (j *job) restHost(until, now time.Time) []Outcome {
	return holdAll(j.d.drop(j.q), until, now)
}

// next starts the next checks from the job's goroutine rather than waking
// the dispatcher: one goroutine hand-off less per check (≈ 10 ms sooner
// for the 500 first requests of the skew workload).
func (j *job) next(ctx context.Context) { j.d.dispatch(ctx, j.wg) }

// holdAll returns outcomes that make links due at due, their state kept,
// for those of links still leased to this process at now (NextDue is the
// end of a claimed link's lease): a link whose lease has ended may have
// been claimed again since, and is not this process's to write.
func holdAll(links []Link, due, now time.Time) []Outcome {
	out := make([]Outcome, 0, len(links))
	for _, l := range links {
		if l.NextDue.After(now) {
			out = append(out, Outcome{URL: l.URL, Hold: true, NextDue: due})
		}
	}
	return out
}

// releaseQueued hands this process's work back once the scheduler and the
// dispatcher have stopped: claimed links that were never started are due
// again now, then the hosts it holds are released with their next allowed
// times (hostHolds.release), so other processes take both at once.
func (d *dispatcher) releaseQueued() error {
	now := d.now()
	d.work.write(context.Background(), holdAll(d.releaseAll(), now, now)...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return d.holds.release(ctx, d.pacer)
}

// hopPacer is the Pacer one check sees. The dispatcher reserved the host of
// the check's first request when it started it; for every further request
// (a redirect hop) hopPacer makes sure this process holds the hop's host,
// gives the check's request slot back while the host is not ready (so a
// waiting redirect does not idle a slot), and waits for the dispatcher to
// grant it a slot again once the host is ready.
type hopPacer struct {
	d *dispatcher
	// abandoned is set when a hop could not be made politely (its host is
	// held by another process, or the store is unreachable): the pool then
	// keeps the link's state and checks it again soon.
	abandoned bool
}

// Done implements Pacer.
func (h *hopPacer) Done(host string) { h.d.pacer.Done(host) }

// Wait implements Pacer.
func (h *hopPacer) Wait(ctx context.Context, host string) error {
	d := h.d
	if d.pacer.paced(host) {
		if err := d.holds.acquire(ctx, host, d.pacer); err != nil {
			h.abandoned = true
			return err
		}
	}
	if !d.pacer.readyAt(host).After(time.Now()) {
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
func (d *dispatcher) awaitSlot(ctx context.Context, host string) error {
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
// later, so new checks go first and hops fill the gaps (a round of 2,000
// first checks with 10 % same-host redirects ends 5 % sooner). A hop goes
// first when its host has more links waiting (the hop holds them up) or
// when it has waited maxHopDefer. d.dmu is held.
func (d *dispatcher) nextHop(now time.Time, freshReady bool) int {
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

// add queues claimed links behind their hosts and wakes the dispatcher.
func (d *dispatcher) add(links []Link) {
	if len(links) == 0 {
		return
	}
	d.mu.Lock()
	for _, l := range links {
		q := d.queues[l.Host]
		if q == nil {
			q = &hostQueue{host: l.Host, index: -1}
			d.queues[l.Host] = q
		}
		q.links = append(q.links, l)
		d.queued++
		if !q.busy && q.index < 0 {
			q.at = d.pacer.readyAt(q.host)
			heap.Push(&d.heap, q)
		}
	}
	d.mu.Unlock()
	d.signal()
}

// load returns how many links are queued, how many the queues should hold
// (queueHorizon of the links taken from them, at least one claim's batch,
// at most maxQueued), and whether a slot is free while no queued host may
// get a request now: then the bound is maxQueued, so that a process whose
// queued hosts wait for their intervals is not held to the rate they
// allow.
func (d *dispatcher) load(now time.Time) (queued, limit int, starving bool) {
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

func (d *dispatcher) readyLocked(now time.Time) bool {
	return len(d.heap) > 0 && !d.heap[0].at.After(now)
}

// peek reports whether a queued host may get a request at now, and else
// when the next one may (zero if no host waits).
func (d *dispatcher) peek(now time.Time) (readyNow bool, next time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.heap) == 0 {
		return false, time.Time{}
	}
	return !d.heap[0].at.After(now), d.heap[0].at
}

// waiting reports whether links of host wait in its queue.
func (d *dispatcher) waiting(host string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	q := d.queues[host]
	return q != nil && len(q.links) > 0
}

// pop takes the next link of the readiest host; ok is false if that host's
// queue was emptied meanwhile (a back-off). A paced host is marked busy
// until finished: one request at a time per host.
func (d *dispatcher) pop() (l Link, q *hostQueue, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.heap) == 0 {
		return Link{}, nil, false
	}
	q = heap.Pop(&d.heap).(*hostQueue)
	if len(q.links) == 0 {
		d.forgetLocked(q)
		return Link{}, nil, false
	}
	l = q.links[0]
	q.links = q.links[1:]
	d.queued--
	d.popped++
	if d.pacer.paced(q.host) {
		q.busy = true
	} else if len(q.links) > 0 {
		heap.Push(&d.heap, q)
	}
	return l, q, true
}

// finished marks the check of q's host done and queues the host again.
func (d *dispatcher) finished(q *hostQueue) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if q.busy {
		q.busy = false
		if len(q.links) > 0 {
			q.at = d.pacer.readyAt(q.host)
			heap.Push(&d.heap, q)
		}
	}
	d.forgetLocked(q)
}

// forgetLocked drops an empty, idle queue.
func (d *dispatcher) forgetLocked(q *hostQueue) {
	if len(q.links) == 0 && !q.busy && q.index < 0 && d.queues[q.host] == q {
		delete(d.queues, q.host)
	}
}

// drop takes every link queued for q's host (the host rests after a 429,
// or its hold ends) and returns them.
func (d *dispatcher) drop(q *hostQueue) []Link {
	d.mu.Lock()
	defer d.mu.Unlock()
	links := q.links
	d.queued -= len(links)
	q.links = nil
	return links
}

// releaseAll empties the queues at shutdown and returns what was in them.
func (d *dispatcher) releaseAll() []Link {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Link
	for _, q := range d.queues {
		out = append(out, q.links...)
	}
	d.queues, d.heap, d.queued = make(map[string]*hostQueue), nil, 0
	return out
}

type queueHeap []*hostQueue

func (h queueHeap) Len() int { return len(h) }
func (h queueHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].host < h[j].host
}
func (h queueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *queueHeap) Push(x any) {
	q := x.(*hostQueue)
	q.index = len(*h)
	*h = append(*h, q)
}
func (h *queueHeap) Pop() any {
	old := *h
	q := old[len(old)-1]
	old[len(old)-1] = nil
	q.index = -1
	*h = old[:len(old)-1]
	return q
}
