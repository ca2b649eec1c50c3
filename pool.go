package lms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linkmonitor/lms/internal/validate"
)

// pool is the dispatching half of the checker component: it takes the
// links the scheduler has ready, runs at most Concurrency requests at a
// time through the Checker, applies the Policy and writes the outcomes
// back. It is the one owner of the request slots.
type pool struct {
	sched   *scheduler
	pacer   *hostPacer
	holds   *hostHolds
	guard   *outageGuard
	checker Checker
	store   ScheduleStore
	policy  Policy
	stats   *checkStats
	log     *slog.Logger
	now     func() time.Time

	hostBackoff, maxHostBackoff, outageRecheck time.Duration

	slots    slots
	inflight atomic.Int64 // checks in progress, waiting for a host or not
	// shared: other processes share the store (it is a Waker), so a check
	// keeps its slot until its result is written (see check).
	shared bool

	mu   sync.Mutex // serialises dispatching; guards hops
	hops []*hopWait // ready redirect hops waiting for a slot, oldest first
	wake chan struct{}
}

func newPool(store ScheduleStore, cfg Config, pacer *hostPacer, holds *hostHolds) *pool {
	return &pool{
		pacer: pacer, holds: holds, checker: cfg.Checker, store: store, policy: cfg.Policy, shared: sharedStore(store),
		stats: newCheckStats(), log: cfg.Logger, now: cfg.Now,
		hostBackoff: cfg.HostBackoff, maxHostBackoff: cfg.MaxHostBackoff, outageRecheck: cfg.OutageRecheck,
		slots: newSlots(cfg.Concurrency),
		wake:  make(chan struct{}, 1),
	}
}

// sharedStore reports whether other processes share store: the stores
// made for that implement Waker.
func sharedStore(store ScheduleStore) bool {
	_, ok := store.(Waker)
	return ok
}

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

// signal wakes the dispatcher.
func (p *pool) signal() { poke(p.wake) }

// run dispatches until ctx ends, then waits for every check it started.
func (p *pool) run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	prune := time.NewTicker(time.Minute)
	defer prune.Stop()
	for {
		p.sched.stock()
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
			p.holds.prune()
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// dispatch starts as many checks as the limits allow and returns when the
// next queued host becomes ready (zero if none waits).
func (p *pool) dispatch(ctx context.Context, wg *sync.WaitGroup) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if ctx.Err() != nil {
			return time.Time{}
		}
		now := time.Now()
		freshReady, nextAt := p.sched.peek(now)
		hop := p.nextHop(now, freshReady)
		if hop < 0 && !freshReady {
			return nextAt
		}
		if !p.slots.take() {
			return time.Time{} // every slot busy; a finishing check wakes us
		}
		if hop >= 0 {
			close(p.hops[hop].grant)
			p.hops = slices.Delete(p.hops, hop, hop+1)
			continue
		}
		l, q, ok := p.sched.pop()
		if !ok { // emptied by a back-off while waiting
			p.slots.give()
			continue
		}
		if p.pacer.paced(q.host) && !p.holds.usable(q.host) {
			// The host's hold ends before a check could be answered: give
			// its links back for whoever holds the host next.
			p.slots.give()
			links := append([]Link{l}, p.sched.drop(q)...)
			p.sched.finished(q)
			wg.Add(1)
			go func() {
				defer wg.Done()
				now := p.now()
				p.write(context.WithoutCancel(ctx), holdAll(links, now, now)...)
			}()
			continue
		}
		if !p.holds.current(l) {
			// The claim's lease ends before a check could be answered and
			// written: the link is the store's again (claimed again, it may
			// be queued here a second time already, or be another
			// process's). It is neither checked nor written back.
			p.slots.give()
			p.sched.finished(q)
			continue
		}
		p.inflight.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.check(ctx, wg, q, l)
		}()
	}
}

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

// check runs one check in the slot dispatch took for it.
func (p *pool) check(ctx context.Context, wg *sync.WaitGroup, q *hostQueue, l Link) {
	abandon := func() {
		p.finish(q)
		now := p.now()
		p.write(context.WithoutCancel(ctx), holdAll([]Link{l}, now, now)...)
	}
	if err := p.pacer.Wait(ctx, l.Host); err != nil {
		p.slots.give()
		abandon()
		return
	}
	start := time.Now()
	hp := &hopPacer{p: p}
	res := p.safeCheck(ContextWithPacer(ctx, hp), l.URL)
	took := time.Since(start)
	p.pacer.Done(l.Host)
	// The slot goes back now, or, when other processes share the store,
	// once the result is written: then at most Concurrency checks are
	// unfinished at any time, so a process that dies leaves at most that
	// many links whose requests were sent and whose results are lost, the
	// only ones another process asks for again within the interval (a
	// redirect waiting for its hop's host lends its slot; see hopPacer).
	// Alone on a store the slot goes back at once: a crash is followed by
	// this same process, and with bbolt a write waits for a shared,
	// fsynced commit (holding the slot through it took a fifth off the
	// concurrency-bound workload 1b through lmsd).
	release := p.slots.give
	if !p.shared {
		release()
		release = func() {}
	}
	if ctx.Err() != nil {
		// Shutting down: the check is abandoned and due again at once.
		release()
		abandon()
		return
	}
	if res.Detail != "" {
		p.log.Debug("check failed", "url", l.URL, "reason", res.Reason, "detail", res.Detail)
	}
	now := p.now()
	recs := []Outcome{p.policy.Next(l, res, now, rand.Float64()*2-1)}
	switch {
	case hp.abandoned:
		// A redirect led to a host another process holds: try again once
		// that process is likely done with it.
		recs[0] = Outcome{URL: l.URL, Hold: true, NextDue: now.Add(p.policy.MinRecheck)}
	case p.guard.observe(now, l, res):
		recs[0] = Outcome{URL: l.URL, Hold: true, NextDue: now.Add(p.outageRecheck)}
	}
	// 429 always rests the host; 503 only when the server says for how
	// long (a single broken page answering 503 says nothing of the host).
	if res.Code == 429 || (res.Code == 503 && res.RetryAfter > 0) {
		d := res.RetryAfter
		if d <= 0 {
			d = p.hostBackoff
		}
		until := now.Add(min(d, p.maxHostBackoff))
		p.pacer.deferHost(l.Host, until)
		if err := p.store.DeferHost(context.WithoutCancel(ctx), l.Host, until); err != nil {
			p.log.Error("deferring host", "host", l.Host, "err", err)
		}
		recs = append(recs, holdAll(p.sched.drop(q), until, now)...)
	}
	// The host is free for its next request before the result is durable.
	p.finish(q)
	if p.shared {
		p.write(context.WithoutCancel(ctx), recs...)
		release()
	}
	// Start the next check from here rather than waking the dispatcher:
	// one goroutine hand-off less per check (≈ 10 ms sooner for the 500
	// first requests of the skew workload).
	p.dispatch(ctx, wg)
	if !p.shared {
		p.write(context.WithoutCancel(ctx), recs...)
	}
	p.stats.observe(schemeOf(l.URL), recs[0], res, took)
}

// probe requests rawURL once for the outage guard, paced like any request
// (and only while this process holds the host), and reports whether the
// host answered at all. A redirect is an answer: the probe follows none.
func (p *pool) probe(ctx context.Context, rawURL string) bool {
	host := HostKey(rawURL)
	if p.pacer.paced(host) && !p.holds.usable(host) {
		if err := p.holds.acquire(ctx, host, p.pacer); err != nil {
			return false
		}
	}
	if err := p.pacer.Wait(ctx, host); err != nil {
		return false
	}
	defer p.pacer.Done(host)
	r := p.safeCheck(ContextWithPacer(ctx, noHops{}), rawURL)
	return !r.NetworkError && r.State != StateUnknown
}

// noHops is the Pacer of a probe: it allows no further request.
type noHops struct{}

func (noHops) Wait(context.Context, string) error { return errNoHops }
func (noHops) Done(string)                        {}

var errNoHops = errors.New("probe: no redirects followed")

// finish ends a check: its host may be queued again.
func (p *pool) finish(q *hostQueue) {
	p.inflight.Add(-1)
	p.sched.finished(q)
	p.signal()
}

func (p *pool) write(ctx context.Context, recs ...Outcome) {
	if len(recs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := p.store.RecordResults(ctx, recs); err != nil {
		p.log.Error("recording results", "url", recs[0].URL, "err", err)
	}
}

// releaseQueued makes claimed links that were never started due again now;
// it runs once the scheduler and the pool have stopped.
func (p *pool) releaseQueued() {
	now := p.now()
	p.write(context.Background(), holdAll(p.sched.releaseAll(), now, now)...)
}

// safeCheck runs the checker and turns a panic into a result.
func (p *pool) safeCheck(ctx context.Context, u string) (r Result) {
	defer func() {
		if v := recover(); v != nil {
			p.log.Error("checker panicked", "url", u, "panic", v, "stack", string(debug.Stack()))
			r = Result{State: StateUnsupported, Reason: fmt.Sprintf("Internal error while checking: %v", v)}
		}
	}()
	r = p.checker.Check(ctx, u)
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
