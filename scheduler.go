package lms

import (
	"container/heap"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/linkmonitor/lms/internal/backoff"
)

// Policy is the scheduler's policy of when to check a link again. Its
// methods are pure functions of their arguments (the time and the random
// jitter are passed in), so the policy is tested over fixed instants. The
// zero value means the defaults documented on each field; the delays that
// are not set are derived from Interval and MinRecheck, so that fast
// settings (tests, scenarios) make every timeline fast.
//
// A link's state is what a person following it would experience: a failure
// is reported temporary unavailable and confirmed by re-checks within
// minutes before the link is called unavailable, so a glitch never paints a
// working link red; a link that is unavailable is re-checked every
// FailingInterval, so a fixed link turns ok within hours. See Next.
type Policy struct {
	// Interval between regular checks. Default 24 h.
	Interval time.Duration
	// Jitter spreads regular checks by ±Jitter×Interval, so that links
	// registered together do not stay due together. Default 0.1; negative
	// disables.
	Jitter float64
	// MinRecheck is the shortest time between two regular checks of one
	// link (confirmation re-checks of a new failure excepted: they come
	// after ConfirmDelay). Default 1 h.
	MinRecheck time.Duration
	// ConfirmDelay is the time from a first failure to the re-check that
	// confirms it; each further confirmation of a transient failure waits
	// four times longer (at most FailingInterval). Default MinRecheck/12
	// (5 min with the default MinRecheck).
	ConfirmDelay time.Duration
	// FailuresToUnavailable is how many consecutive failures with a
	// definitive answer (404, 410, no such host, a refused connection, a
	// bad certificate) report a link unavailable; before that it is
	// reported temporary unavailable and re-checked after ConfirmDelay.
	// Default 2. 1 reports every result as the checker gave it, with no
	// confirmation at all (the original's way): unavailable links are then
	// re-checked after Interval, temporary ones after RetryInterval,
	// doubling.
	FailuresToUnavailable int
	// TransientFailuresToUnavailable is how many consecutive failures
	// report a link unavailable when the last one may pass (5xx, a dropped
	// connection, a timeout). Default 4: with the default delays a link
	// that keeps failing is red 1 h 45 min after its first failure.
	TransientFailuresToUnavailable int
	// FailingInterval is how often a link that is reported unavailable is
	// checked again, so that a fixed link turns ok soon. Default
	// Interval/6, at least MinRecheck (4 h with the defaults).
	FailingInterval time.Duration
	// RetryInterval is the first re-check interval of a link that the site
	// blocks or rate-limits (FailureBlocked), and of temporary failures
	// when FailuresToUnavailable is 1; it doubles with each further
	// failure up to Interval. Default 3 h.
	RetryInterval time.Duration
	// MaxRetryAfter caps how far a server's Retry-After can push a link.
	// Default 24 h.
	MaxRetryAfter time.Duration
}

// WithDefaults returns p with zero fields set to their defaults.
func (p Policy) WithDefaults() Policy {
	if p.Interval == 0 {
		p.Interval = 24 * time.Hour
	}
	if p.Jitter == 0 {
		p.Jitter = 0.1
	}
	if p.Jitter < 0 {
		p.Jitter = 0
	}
	if p.MinRecheck == 0 {
		p.MinRecheck = time.Hour
	}
	if p.ConfirmDelay <= 0 {
		p.ConfirmDelay = p.MinRecheck / 12
	}
	if p.RetryInterval == 0 {
		p.RetryInterval = 3 * time.Hour
	}
	if p.FailuresToUnavailable == 0 {
		p.FailuresToUnavailable = 2
	}
	if p.TransientFailuresToUnavailable <= 0 {
		p.TransientFailuresToUnavailable = 4
	}
	if p.FailingInterval <= 0 {
		p.FailingInterval = max(p.Interval/6, p.MinRecheck)
	}
	if p.MaxRetryAfter == 0 {
		p.MaxRetryAfter = 24 * time.Hour
	}
	return p
}

// confirmAfter returns when the check after the failures-th consecutive
// failure runs while the failure is being confirmed: ConfirmDelay, then
// four times longer per further failure, at most FailingInterval.
func (p Policy) confirmAfter(failures int) time.Duration {
	d := p.ConfirmDelay
	for i := 1; i < failures && d < p.FailingInterval; i++ {
		d *= 4
	}
	return min(d, p.FailingInterval)
}

// Next turns a check result into the Outcome to store: the state to report
// and the next due time. prev is the link as it was claimed, now the time of
// the check, and rnd a uniform random number in [-1, 1] for the jitter.
//
// Rules, in order:
//   - ok and unsupported links are due again after Interval (± jitter), at
//     least MinRecheck; the failure count goes back to 0.
//   - A failure increments Failures. A site that blocks automated checks or
//     limits their rate (FailureBlocked) is reported temporary unavailable,
//     never unavailable, and re-checked after RetryInterval, doubling per
//     such result up to Interval; a run of them is counted as -1, -2, …, so
//     it never counts toward unavailable: a real failure after it is
//     confirmed like a first one.
//   - Any other failure is reported unavailable once the link has failed
//     FailuresToUnavailable times in a row (definitive answers) or
//     TransientFailuresToUnavailable times (the last failure may pass), and
//     is then re-checked every FailingInterval (± jitter). Before that it is
//     reported temporary unavailable and re-checked after ConfirmDelay,
//     four times longer per further failure: a new link and a link that was
//     ok are treated alike.
//   - With FailuresToUnavailable 1 results are reported as checked (the
//     original's way): unavailable re-checked after Interval, temporary
//     after RetryInterval, doubling.
//   - A Retry-After pushes the next check back (at most MaxRetryAfter).
//
// Only the confirmation re-checks come sooner than MinRecheck.
func (p Policy) Next(prev Link, r Result, now time.Time, rnd float64) Outcome {
	p = p.WithDefaults()
	rec := Outcome{URL: prev.URL, Result: r, Checked: now}
	jittered := func(d time.Duration) time.Duration { return backoff.Jittered(d, p.Jitter, rnd) }
	var next time.Duration
	floor := p.MinRecheck
	kind := r.failure()
	switch {
	case !r.State.Failing():
		next = jittered(p.Interval)
	case kind == FailureBlocked:
		// A run of blocked results counts down from -1, so that it never
		// counts toward unavailable: a real failure after it starts its
		// own confirmation at 1.
		rec.Failures = min(prev.Failures, 0) - 1
		rec.Result.State = StateTemporary
		next = jittered(backoff.Doubled(p.RetryInterval, p.Interval, -rec.Failures))
	case p.FailuresToUnavailable == 1:
		rec.Failures = max(prev.Failures, 0) + 1
		if r.State == StateUnavailable {
			next = jittered(p.Interval)
		} else {
			next = jittered(backoff.Doubled(p.RetryInterval, p.Interval, rec.Failures))
		}
	default:
		rec.Failures = max(prev.Failures, 0) + 1
		need := p.FailuresToUnavailable
		if kind == FailureTransient {
			need = p.TransientFailuresToUnavailable
		}
		if rec.Failures >= need {
			rec.Result.State = StateUnavailable
			next = jittered(p.FailingInterval)
		} else {
			rec.Result.State = StateTemporary
			next, floor = p.confirmAfter(rec.Failures), 0
		}
	}
	if r.RetryAfter > 0 {
		next = max(next, min(r.RetryAfter, p.MaxRetryAfter))
	}
	next = max(next, floor)
	rec.NextDue = now.Add(next)
	return rec
}

// scheduler is the scheduling half of the checker component: the claim
// loop and the per-host ready queues. It claims due links from the store
// (fairly across hosts, under a lease, holding their hosts for this
// process), keeps them per host, and hands the pool the next link of
// whichever host may get a request soonest. What ClaimDue returns goes in;
// links ready for a request come out (pop).
type scheduler struct {
	store ScheduleStore
	now   func() time.Time
	log   *slog.Logger
	pacer *hostPacer
	holds *hostHolds
	opt   ClaimOptions // Limit is set per call
	poll  time.Duration
	// batch is the most links one claim fetches; the queues hold at most
	// maxQueued. Links waiting for their host's interval do not count
	// against the batch: what matters is whether a free worker finds a
	// host ready.
	batch, maxQueued int

	ready func()      // tells the pool that links may be ready
	idle  func() bool // whether the pool has a free request slot

	added chan struct{} // links were subscribed: claim without waiting for the poll
	want  chan struct{} // the queues run low: claim now

	mu     sync.Mutex
	queues map[string]*hostQueue
	heap   queueHeap // hosts with queued links and no check in flight, by readiness
	queued int
}

// hostQueue holds the claimed links of one host that wait for their turn.
type hostQueue struct {
	host  string
	links []Link
	busy  bool      // a check of this host is in flight
	at    time.Time // heap key: when the host may get its next request
	index int       // in queueHeap, -1 if not there
}

func newScheduler(store ScheduleStore, cfg Config, pacer *hostPacer, holds *hostHolds, ready func(), idle func() bool) *scheduler {
	opt := ClaimOptions{PerHost: 3, HostGap: cfg.HostInterval, Lease: cfg.Lease, Holder: cfg.ProcessID}
	if cfg.Unpaced {
		opt.PerHost, opt.HostGap = 0, 0 // as many per host as the claim's limit
	}
	poll := cfg.ClaimPoll
	if iv := pacer.interval; iv > 0 {
		// Hosts become claimable again one interval ahead of need; polling
		// faster than that keeps every host busy.
		poll = min(poll, max(iv/4, 10*time.Millisecond))
	}
	return &scheduler{
		store: store, now: cfg.Now, log: cfg.Logger, pacer: pacer, holds: holds, opt: opt, poll: poll,
		batch: max(4*cfg.Concurrency, 100), maxQueued: max(50*cfg.Concurrency, 1000),
		ready: ready, idle: idle,
		added:  make(chan struct{}, 1),
		want:   make(chan struct{}, 1),
		queues: make(map[string]*hostQueue),
	}
}

// linksAdded tells the scheduler that new links may be due now (the API,
// the syncer and other processes' wake-ups call it).
func (s *scheduler) linksAdded() { poke(s.added) }

// stock asks for a claim when the queues run low or a free worker finds no
// host ready, so that every due host gets its first request as early as
// possible: hosts waiting for their interval are served later, from the
// queues.
func (s *scheduler) stock() {
	if queued, starving := s.load(time.Now()); starving || queued < s.maxQueued/2 {
		poke(s.want)
	}
}

// poke sends on a wake-up channel of capacity 1 without blocking.
func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// rounds calls round at once, then after every poll and at every wake-up
// (wake may be nil: none), until ctx ends.
func rounds(ctx context.Context, poll time.Duration, wake <-chan struct{}, round func()) {
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

// run is the claim loop: it claims when the pool wants links, when links
// were added, and every poll. After a claim that drained the store it waits
// for the next poll (or new links) rather than asking the store again at
// once. Claiming is a store transaction (an fsync with bbolt): it runs here
// so that dispatching never waits for it.
func (s *scheduler) run(ctx context.Context) error {
	t := time.NewTicker(s.poll)
	defer t.Stop()
	var lastDrained time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.want:
			if time.Since(lastDrained) < s.poll {
				continue
			}
		case <-s.added:
		case <-t.C:
		}
		for {
			queued, _ := s.load(time.Now())
			if queued >= s.maxQueued {
				break
			}
			limit := min(s.batch, s.maxQueued-queued)
			n, err := s.claim(ctx, limit)
			if err != nil && ctx.Err() == nil {
				s.log.Error("claiming due links", "err", err)
			}
			if n > 0 {
				s.ready()
			}
			if err != nil || n < limit {
				lastDrained = time.Now()
				break
			}
			if queued, starving := s.load(time.Now()); !starving && queued >= s.maxQueued/2 {
				break
			}
		}
	}
}

// claim fetches due links into the host queues and returns how many.
func (s *scheduler) claim(ctx context.Context, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	opt := s.opt
	opt.Limit = limit
	if opt.PerHost == 0 {
		opt.PerHost = limit
	}
	links, err := s.store.ClaimDue(ctx, s.now(), opt)
	if err != nil {
		return 0, fmt.Errorf("lms: claim: %w", err)
	}
	for _, l := range links {
		s.holds.claimed(l.Host, l.NextDue)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range links {
		q := s.queues[l.Host]
		if q == nil {
			q = &hostQueue{host: l.Host, index: -1}
			s.queues[l.Host] = q
		}
		q.links = append(q.links, l)
		s.queued++
		if !q.busy && q.index < 0 {
			q.at = s.pacer.readyAt(q.host)
			heap.Push(&s.heap, q)
		}
	}
	return len(links), nil
}

// load returns how many links are queued, and whether a worker is free
// while no queued host may get a request now.
func (s *scheduler) load(now time.Time) (queued int, starving bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queued, s.idle() && !s.readyLocked(now)
}

func (s *scheduler) readyLocked(now time.Time) bool {
	return len(s.heap) > 0 && !s.heap[0].at.After(now)
}

// peek reports whether a queued host may get a request at now, and else
// when the next one may (zero if no host waits).
func (s *scheduler) peek(now time.Time) (readyNow bool, next time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.heap) == 0 {
		return false, time.Time{}
	}
	return !s.heap[0].at.After(now), s.heap[0].at
}

// waiting reports whether links of host wait in its queue.
func (s *scheduler) waiting(host string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[host]
	return q != nil && len(q.links) > 0
}

// pop takes the next link of the readiest host; ok is false if that host's
// queue was emptied meanwhile (a back-off). A paced host is marked busy
// until finished: one request at a time per host.
func (s *scheduler) pop() (l Link, q *hostQueue, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.heap) == 0 {
		return Link{}, nil, false
	}
	q = heap.Pop(&s.heap).(*hostQueue)
	if len(q.links) == 0 {
		s.forgetLocked(q)
		return Link{}, nil, false
	}
	l = q.links[0]
	q.links = q.links[1:]
	s.queued--
	if s.pacer.paced(q.host) {
		q.busy = true
	} else if len(q.links) > 0 {
		heap.Push(&s.heap, q)
	}
	return l, q, true
}

// finished marks the check of q's host done and queues the host again.
func (s *scheduler) finished(q *hostQueue) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q.busy {
		q.busy = false
		if len(q.links) > 0 {
			q.at = s.pacer.readyAt(q.host)
			heap.Push(&s.heap, q)
		}
	}
	s.forgetLocked(q)
}

// forgetLocked drops an empty, idle queue.
func (s *scheduler) forgetLocked(q *hostQueue) {
	if len(q.links) == 0 && !q.busy && q.index < 0 && s.queues[q.host] == q {
		delete(s.queues, q.host)
	}
}

// drop takes every link queued for q's host (the host rests after a 429,
// or its hold ends) and returns them.
func (s *scheduler) drop(q *hostQueue) []Link {
	s.mu.Lock()
	defer s.mu.Unlock()
	links := q.links
	s.queued -= len(links)
	q.links = nil
	return links
}

// releaseAll empties the queues at shutdown and returns what was in them.
func (s *scheduler) releaseAll() []Link {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Link
	for _, q := range s.queues {
		out = append(out, q.links...)
	}
	s.queues, s.heap, s.queued = make(map[string]*hostQueue), nil, 0
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
