package lms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"strings"
	"time"

	"github.com/linkmonitor/lms/internal/checkstats"
	"github.com/linkmonitor/lms/internal/dispatch"
	"github.com/linkmonitor/lms/internal/outage"
	"github.com/linkmonitor/lms/internal/pace"
	"github.com/linkmonitor/lms/internal/validate"
)

// pool is the checking half of the checker component (the Worker of
// internal/dispatch): it runs each check the dispatcher starts, in the
// slot the check's job holds, applies the Policy and the outage guard to
// its result, rests the host after a 429 or 503, and writes the outcome
// back.
type pool struct {
	pacer   *pace.Pacer
	guard   *outage.Guard
	checker Checker
	store   ScheduleStore
	policy  Policy
	stats   *checkstats.Stats
	log     *slog.Logger
	now     func() time.Time

	hostBackoff, maxHostBackoff, outageRecheck time.Duration

	// shared: other processes share the store (it is a Waker), so a check
	// keeps its slot until its result is handed to the store's write, and
	// uncommitted (Concurrency tokens) bounds the results handed over and
	// not yet committed (see Check). Nil when the store is this process's
	// alone.
	shared      bool
	uncommitted chan struct{}
}

func newPool(store ScheduleStore, cfg Config, pacer *pace.Pacer, guard *outage.Guard) *pool {
	_, shared := store.(Waker)
	p := &pool{
		pacer: pacer, guard: guard, checker: cfg.Checker, store: store, policy: cfg.Policy, shared: shared,
		stats: checkstats.New(), log: cfg.Logger, now: cfg.Now,
		hostBackoff: cfg.HostBackoff, maxHostBackoff: cfg.MaxHostBackoff, outageRecheck: cfg.OutageRecheck,
	}
	if shared {
		p.uncommitted = make(chan struct{}, max(cfg.Concurrency, 1))
	}
	return p
}

// Check runs the check of j.Item in the slot the dispatcher took for it.
func (p *pool) Check(ctx context.Context, j *dispatch.Job[Link]) {
	l := j.Item
	abandon := func() {
		j.Finish()
		p.GiveBack(context.WithoutCancel(ctx), []Link{l})
	}
	if err := p.pacer.Wait(ctx, l.Host); err != nil {
		j.Release()
		abandon()
		return
	}
	start := time.Now()
	hp := j.Pacer()
	res := safeCheck(ContextWithPacer(ctx, hp), p.checker, p.log, l.URL)
	took := time.Since(start)
	p.pacer.Done(l.Host)
	// The slot goes back now, or, when other processes share the store,
	// once the result is handed to the store's write (its group commit):
	// a check whose result cannot be handed over, because Concurrency
	// results are being committed already, waits for one of those commits
	// in its slot. So at most Concurrency checks hold a slot and at most
	// Concurrency results wait for their commit, and a process that dies
	// leaves at most 2 × Concurrency links whose requests were sent and
	// whose results are lost, the only ones another process asks for again
	// within the interval (a redirect waiting for its hop's host lends its
	// slot; see dispatch.HopPacer), while a slow commit does not idle the
	// slots. Alone on a store the slot goes back at once: a crash is
	// followed by this same process, and with bbolt a write waits for a
	// shared, fsynced commit that would idle the slot.
	if !p.shared {
		j.Release()
	}
	if ctx.Err() != nil {
		// The stop's grace (Config.StopGrace) ran out before the answer:
		// the check is abandoned and due again at once.
		j.Release()
		abandon()
		return
	}
	if res.Detail != "" {
		p.log.Debug("check failed", "url", l.URL, "reason", res.Reason, "detail", res.Detail)
	}
	now := p.now()
	recs := []Outcome{p.policy.Next(l, res, now, rand.Float64()*2-1)}
	switch {
	case hp.Abandoned():
		// A redirect led to a host another process holds: try again once
		// that process is likely done with it.
		recs[0] = Outcome{URL: l.URL, Hold: true, NextDue: now.Add(p.policy.MinRecheck)}
	case p.guard.Observe(now, guardCheck(l, res)):
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
		p.pacer.Defer(l.Host, until)
		if err := p.store.DeferHost(context.WithoutCancel(ctx), l.Host, until); err != nil {
			p.log.Error("deferring host", "host", l.Host, "err", err)
		}
		recs = append(recs, holdAll(j.RestHost(), until, now)...)
	}
	// The host is free for its next request before the result is durable.
	j.Finish()
	if p.shared {
		p.uncommitted <- struct{}{} // waits for a write in progress, whatever ctx says
	}
	j.Release()
	j.Next(ctx)
	p.write(context.WithoutCancel(ctx), recs...)
	if p.shared {
		<-p.uncommitted
	}
	p.stats.Observe(schemeOf(l.URL), checkState(recs[0], res), took)
}

// GiveBack makes claimed links that are not checked now due again at once.
func (p *pool) GiveBack(ctx context.Context, links []Link) {
	now := p.now()
	p.write(ctx, holdAll(links, now, now)...)
}

// write records outcomes in the store.
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

// newProbe returns the outage guard's probe: it requests rawURL once,
// paced like any request (and only while this process holds the host),
// and reports whether the host answered at all. A redirect is an answer:
// the probe follows none.
func newProbe(cfg Config, pacer *pace.Pacer, holds *pace.Holds) func(ctx context.Context, rawURL string) bool {
	return func(ctx context.Context, rawURL string) bool {
		host := HostKey(rawURL)
		if err := holds.Acquire(ctx, host); err != nil {
			return false
		}
		defer holds.Done(host)
		if err := pacer.Wait(ctx, host); err != nil {
			return false
		}
		defer pacer.Done(host)
		r := safeCheck(ContextWithPacer(ctx, noHops{}), cfg.Checker, cfg.Logger, rawURL)
		return !r.NetworkError && r.State != StateUnknown
	}
}

// noHops is the Pacer of a probe: it allows no further request.
type noHops struct{}

func (noHops) Wait(context.Context, string) error { return errNoHops }
func (noHops) Done(string)                        {}

var errNoHops = errors.New("probe: no redirects followed")

// safeCheck runs checker and turns a panic into a result.
func safeCheck(ctx context.Context, checker Checker, log *slog.Logger, u string) (r Result) {
	defer func() {
		if v := recover(); v != nil {
			log.Error("checker panicked", "url", u, "panic", v, "stack", string(debug.Stack()))
			r = Result{State: StateUnsupported, Reason: fmt.Sprintf("Internal error while checking: %v", v)}
		}
	}()
	r = checker.Check(ctx, u)
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
