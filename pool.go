package lms

import (
	"container/heap"
	"context"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/linkmonitor/lms/internal/validate"
)

// hostQueue holds the claimed links of one host that wait for their turn.
type hostQueue struct {
	host  string
	links []Link
	busy  bool      // a check of this host is in flight
	at    time.Time // heap key: when the host may get its next request
	index int       // in queueHeap, -1 if not there
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

// checkPool is the checker component: it claims due links from the store,
// keeps them in per-host queues, dispatches at most Concurrency checks at a
// time and at most one request per host per HostInterval, and writes the
// results back.
type checkPool struct {
	e     *Engine
	pacer *hostPacer
	guard *outageGuard
	stats *checkStats

	// slots holds one token per request in progress: at most Concurrency.
	// A check waiting for its redirect hop's host gives its token back.
	slots chan struct{}

	mu       sync.Mutex
	queues   map[string]*hostQueue
	ready    queueHeap
	queued   int
	inflight int        // checks in progress, waiting or not
	hops     []*hopWait // ready redirect hops waiting for a slot, oldest first

	added chan struct{} // links were subscribed: claim without waiting for the poll
	wake  chan struct{}
}

// maxHopDefer bounds how long a ready redirect hop may leave its slot to
// new checks (see checkPool.nextHop); it is far below the check timeout.
const maxHopDefer = 5 * time.Second

// hopWait is a redirect hop whose host is ready and that waits for a slot.
type hopWait struct {
	host  string
	since time.Time
	grant chan struct{} // closed when the dispatcher hands it a slot
}

// awaitSlot queues a ready redirect hop for a request slot; the dispatcher
// hands it one.
func (p *checkPool) awaitSlot(ctx context.Context, host string) error {
	w := &hopWait{host: host, since: time.Now(), grant: make(chan struct{})}
	p.mu.Lock()
	p.hops = append(p.hops, w)
	p.mu.Unlock()
	p.signal()
	select {
	case <-w.grant:
		return nil
	case <-ctx.Done():
	}
	p.mu.Lock()
	i := slices.Index(p.hops, w)
	if i >= 0 {
		p.hops = slices.Delete(p.hops, i, i+1)
	}
	p.mu.Unlock()
	if i >= 0 { // not granted: the caller still returns a slot
		p.slots <- struct{}{}
	}
	return ctx.Err()
}

// nextHop returns the index of the waiting hop to run next, or -1 to give
// the slot to a new check (freshReady says one may start). Every new check
// may itself end in a redirect that needs another request one interval
// later, so new checks go first and hops fill the gaps (a round of 2,000
// first checks with 10 % same-host redirects ends 5 % sooner). A hop goes
// first when its host has more links waiting (the hop holds them up) or
// when it has waited maxHopDefer.
func (p *checkPool) nextHop(now time.Time, freshReady bool) int {
	for i, w := range p.hops {
		if q := p.queues[w.host]; (q != nil && len(q.links) > 0) || now.Sub(w.since) >= maxHopDefer {
			return i
		}
	}
	if len(p.hops) > 0 && !freshReady {
		return 0
	}
	return -1
}

func newCheckPool(e *Engine) *checkPool {
	return &checkPool{
		e:     e,
		pacer: newHostPacer(hostInterval(e.cfg)),
		guard: &outageGuard{
			window: e.cfg.OutageWindow, minHosts: e.cfg.OutageMinHosts, ratio: e.cfg.OutageRatio, log: e.log,
		},
		stats:  newCheckStats(),
		slots:  make(chan struct{}, e.cfg.Concurrency),
		queues: make(map[string]*hostQueue),
		wake:   make(chan struct{}, 1),
		added:  make(chan struct{}, 1),
	}
}

// linksAdded tells the claimer that new links may be due now.
func (p *checkPool) linksAdded() {
	select {
	case p.added <- struct{}{}:
	default:
	}
}

func (p *checkPool) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *checkPool) run(ctx context.Context) error {
	cfg := p.e.cfg
	// One claim fetches up to batch links; the queues hold at most maxQueued.
	// Links waiting for their host's interval do not count against the
	// batch: what matters is whether a free worker finds a host ready.
	batch := max(4*cfg.Concurrency, 100)
	maxQueued := max(50*cfg.Concurrency, 1000)
	poll := cfg.ClaimPoll
	if iv := hostInterval(cfg); iv > 0 {
		// Hosts become claimable again one interval ahead of need; polling
		// faster than that keeps every host busy.
		poll = min(poll, max(iv/4, 10*time.Millisecond))
	}
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		p.releaseQueued()
	}()
	// Claiming is a store transaction (an fsync with bbolt): it runs in its
	// own goroutine so that dispatching never waits for it.
	want := make(chan struct{}, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.claimLoop(ctx, want, batch, maxQueued, poll)
	}()
	timer := time.NewTimer(0)
	defer timer.Stop()
	prune := time.NewTicker(time.Minute)
	defer prune.Stop()
	for {
		// Keep the queues stocked, so that every due host gets its first
		// request as early as possible: hosts waiting for their interval
		// are served later, from the queue.
		if queued, starving := p.load(time.Now()); starving || queued < maxQueued/2 {
			select {
			case want <- struct{}{}:
			default:
			}
		}
		wait := time.Duration(-1)
		if nextAt := p.dispatch(ctx, &wg); !nextAt.IsZero() {
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
		case <-p.wake:
		case <-tc:
		case <-prune.C:
			p.pacer.prune(time.Now())
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// claimLoop fetches due links when the dispatcher wants them, when links
// were added, and every poll. After a claim that drained the store it waits
// for the next poll (or new links) rather than asking the store again at
// once.
func (p *checkPool) claimLoop(ctx context.Context, want <-chan struct{}, batch, maxQueued int, poll time.Duration) {
	t := time.NewTicker(poll)
	defer t.Stop()
	var lastDrained time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-want:
			if time.Since(lastDrained) < poll {
				continue
			}
		case <-p.added:
		case <-t.C:
		}
		for {
			queued, _ := p.load(time.Now())
			if queued >= maxQueued {
				break
			}
			limit := min(batch, maxQueued-queued)
			n, err := p.claim(ctx, limit)
			if err != nil && ctx.Err() == nil {
				p.e.log.Error("claiming due links", "err", err)
			}
			if n > 0 {
				p.signal()
			}
			if err != nil || n < limit {
				lastDrained = time.Now()
				break
			}
			if queued, starving := p.load(time.Now()); !starving && queued >= maxQueued/2 {
				break
			}
		}
	}
}

// load returns how many links are queued, and whether a worker is free
// while no queued host may get a request now.
func (p *checkPool) load(now time.Time) (queued int, starving bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	readyNow := len(p.ready) > 0 && !p.ready[0].at.After(now)
	return p.queued, len(p.slots) < cap(p.slots) && !readyNow
}

// claim fetches due links into the host queues and returns how many.
func (p *checkPool) claim(ctx context.Context, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	perHost, gap := 3, p.e.cfg.HostInterval
	if p.e.cfg.Unpaced {
		perHost, gap = limit, 0
	}
	links, err := p.e.store.ClaimDue(ctx, p.e.now(), ClaimOptions{
		Limit: limit, PerHost: perHost, HostGap: gap, Lease: p.e.cfg.Lease,
	})
	if err != nil {
		return 0, fmt.Errorf("lms: claim: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range links {
		q := p.queues[l.Host]
		if q == nil {
			q = &hostQueue{host: l.Host, index: -1}
			p.queues[l.Host] = q
		}
		q.links = append(q.links, l)
		p.queued++
		if !q.busy && q.index < 0 {
			q.at = p.pacer.readyAt(q.host)
			heap.Push(&p.ready, q)
		}
	}
	return len(links), nil
}

// dispatch starts as many checks as the limits allow and returns when the
// next queued host becomes ready (zero if none waits).
func (p *checkPool) dispatch(ctx context.Context, wg *sync.WaitGroup) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if ctx.Err() != nil {
			return time.Time{}
		}
		now := time.Now()
		freshReady := len(p.ready) > 0 && !p.ready[0].at.After(now)
		hop := p.nextHop(now, freshReady)
		if hop < 0 && !freshReady {
			if len(p.ready) > 0 {
				return p.ready[0].at
			}
			return time.Time{}
		}
		select {
		case p.slots <- struct{}{}:
		default:
			return time.Time{} // every slot busy; a finishing check wakes us
		}
		if hop >= 0 {
			close(p.hops[hop].grant)
			p.hops = slices.Delete(p.hops, hop, hop+1)
			continue
		}
		q := p.ready[0]
		heap.Pop(&p.ready)
		if len(q.links) == 0 { // emptied by a back-off while waiting
			<-p.slots
			if !q.busy && p.queues[q.host] == q {
				delete(p.queues, q.host)
			}
			continue
		}
		l := q.links[0]
		q.links = q.links[1:]
		if p.pacer.paced(q.host) {
			q.busy = true // one request at a time per paced host
		} else if len(q.links) > 0 {
			heap.Push(&p.ready, q)
		}
		p.queued--
		p.inflight++
		p.stats.setInflight(p.inflight)
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.check(ctx, wg, q, l)
		}()
	}
}

func (p *checkPool) check(ctx context.Context, wg *sync.WaitGroup, q *hostQueue, l Link) {
	if err := p.pacer.Wait(ctx, l.Host); err != nil {
		<-p.slots
		p.done(q)
		p.write(context.WithoutCancel(ctx), Outcome{URL: l.URL, Hold: true, NextDue: p.e.now()})
		return
	}
	start := time.Now()
	res := p.safeCheck(ContextWithPacer(ctx, hopPacer{p}), l.URL)
	took := time.Since(start)
	p.pacer.Done(l.Host)
	<-p.slots
	if ctx.Err() != nil {
		// Shutting down: the check is abandoned and due again at once.
		p.done(q)
		p.write(context.WithoutCancel(ctx), Outcome{URL: l.URL, Hold: true, NextDue: p.e.now()})
		return
	}
	now := p.e.now()
	rec := p.e.cfg.Policy.Next(l, res, now, rand.Float64()*2-1)
	recs := []Outcome{rec}
	if p.guard.observe(now, l.Host, res.NetworkError) {
		recs[0] = Outcome{URL: l.URL, Hold: true, NextDue: now.Add(p.e.cfg.OutageRecheck)}
	}
	// 429 always rests the host; 503 only when the server says for how
	// long (a single broken page answering 503 says nothing of the host).
	if res.Code == 429 || (res.Code == 503 && res.RetryAfter > 0) {
		d := res.RetryAfter
		if d <= 0 {
			d = p.e.cfg.HostBackoff
		}
		until := now.Add(min(d, p.e.cfg.MaxHostBackoff))
		p.pacer.deferHost(l.Host, until)
		if err := p.e.store.DeferHost(context.WithoutCancel(ctx), l.Host, until); err != nil {
			p.e.log.Error("deferring host", "host", l.Host, "err", err)
		}
		p.mu.Lock()
		for _, ql := range q.links {
			recs = append(recs, Outcome{URL: ql.URL, Hold: true, NextDue: until})
		}
		p.queued -= len(q.links)
		q.links = nil
		p.mu.Unlock()
	}
	// The host is free for its next request before the result is durable:
	// with bbolt a write waits for a shared, fsynced commit.
	p.done(q)
	// Start the next check from here rather than waking the dispatcher:
	// one goroutine hand-off less per check (≈ 10 ms sooner for the 500
	// first requests of the skew workload).
	p.dispatch(ctx, wg)
	p.write(context.WithoutCancel(ctx), recs...)
	p.stats.observe(schemeOf(l.URL), recs[0], res, took)
}

// done marks the host's check finished and re-queues the host.
func (p *checkPool) done(q *hostQueue) {
	p.mu.Lock()
	p.inflight--
	p.stats.setInflight(p.inflight)
	if q.busy {
		q.busy = false
		if len(q.links) > 0 {
			q.at = p.pacer.readyAt(q.host)
			heap.Push(&p.ready, q)
		}
	}
	if len(q.links) == 0 && !q.busy && q.index < 0 && p.queues[q.host] == q {
		delete(p.queues, q.host)
	}
	p.mu.Unlock()
	p.signal()
}

func (p *checkPool) write(ctx context.Context, recs ...Outcome) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := p.e.store.RecordResults(ctx, recs); err != nil {
		p.e.log.Error("recording results", "url", recs[0].URL, "err", err)
	}
}

// releaseQueued makes claimed links that were never started due again now.
func (p *checkPool) releaseQueued() {
	p.mu.Lock()
	var recs []Outcome
	now := p.e.now()
	for _, q := range p.queues {
		for _, l := range q.links {
			recs = append(recs, Outcome{URL: l.URL, Hold: true, NextDue: now})
		}
	}
	p.queues, p.ready, p.queued = make(map[string]*hostQueue), nil, 0
	p.mu.Unlock()
	if len(recs) > 0 {
		p.write(context.Background(), recs...)
	}
}

// safeCheck runs the checker and turns a panic into a result.
func (p *checkPool) safeCheck(ctx context.Context, u string) (r Result) {
	defer func() {
		if v := recover(); v != nil {
			p.e.log.Error("checker panicked", "url", u, "panic", v, "stack", string(debug.Stack()))
			r = Result{State: StateUnsupported, Reason: fmt.Sprintf("Internal error while checking: %v", v)}
		}
	}()
	r = p.e.checker.Check(ctx, u)
	if !r.State.Valid() {
		r = Result{State: StateUnsupported, Reason: fmt.Sprintf("Internal error: checker returned state %q", r.State)}
	}
	if r.Reason == "" {
		r.Reason = string(r.State)
	}
	return r
}

func schemeOf(u string) string {
	s, _, ok := strings.Cut(u, ":")
	if !ok || validate.URL(u) != nil {
		return "invalid"
	}
	s = strings.ToLower(s)
	switch s {
	case "http", "https", "ftp", "mailto":
		return s
	}
	return "other"
}

// checkStats counts checks for Stats.
type checkStats struct {
	mu       sync.Mutex
	inflight int
	byKey    map[[2]string]uint64 // scheme, reported state
	total    uint64
	minute   [60]uint64 // checks per second, ring
	minuteAt [60]int64  // the second each slot counts
	hist     Histogram
}

// durationBuckets are the upper bounds, in seconds, of the check duration
// histogram in Stats.
func durationBuckets() []float64 {
	return []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}
}

func newCheckStats() *checkStats {
	b := durationBuckets()
	return &checkStats{byKey: make(map[[2]string]uint64), hist: Histogram{Bounds: b, Counts: make([]uint64, len(b)+1)}}
}

func (s *checkStats) setInflight(n int) {
	s.mu.Lock()
	s.inflight = n
	s.mu.Unlock()
}

func (s *checkStats) observe(scheme string, rec Outcome, res Result, took time.Duration) {
	st := res.State
	if !rec.Hold {
		st = rec.Result.State
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byKey[[2]string{scheme, string(st)}]++
	s.total++
	sec := time.Now().Unix()
	i := sec % 60
	if s.minuteAt[i] != sec {
		s.minuteAt[i], s.minute[i] = sec, 0
	}
	s.minute[i]++
	secs := took.Seconds()
	j := 0
	for j < len(s.hist.Bounds) && secs > s.hist.Bounds[j] {
		j++
	}
	s.hist.Counts[j]++
	s.hist.Count++
	s.hist.Sum += secs
}

func (s *checkStats) fill(st *Stats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st.InFlight = s.inflight
	st.ChecksTotal = s.total
	now := time.Now().Unix()
	for i, at := range s.minuteAt {
		if now-at < 60 {
			st.ChecksLastMinute += int(s.minute[i])
		}
	}
	for k, n := range s.byKey {
		st.Checks = append(st.Checks, CheckCount{Scheme: k[0], State: State(k[1]), Count: n})
	}
	st.CheckDuration = Histogram{Bounds: append([]float64(nil), s.hist.Bounds...), Counts: append([]uint64(nil), s.hist.Counts...), Count: s.hist.Count, Sum: s.hist.Sum}
}
