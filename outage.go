package lms

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// outageGuard answers "is it us?": when many links fail at the network level
// at once, the server itself may be cut off, and telling every client that
// all its links broke would be wrong. The guard then holds those failures
// back (the links keep their state and are checked again after
// OutageRecheck) until the network works again.
//
// It cannot be tripped by one client: it judges only links that were ok
// before (a client registering hosts that never answered moves nothing),
// any answer from any host while it suspects an outage proves the network
// works, and before it holds anything back for long it asks a probe: the
// operator's reference targets (Config.OutageProbes), then a few of the
// hosts that last answered ok, spread over the last 64 such hosts (so that
// one client's hosts that answered just before dying cannot be all the
// probe asks), are requested again. If any answers, the network works and
// the failures are real; only if none does is it an outage.
//
// The statistics: within window, network failures of links that were ok
// make up at least ratio of the checks of links that were ok, across at
// least minHosts distinct hosts.
type outageGuard struct {
	window   time.Duration
	minHosts int
	ratio    float64
	refs     []string // Config.OutageProbes, tried first
	now      func() time.Time
	log      *slog.Logger
	// probe requests rawURL (paced like any request) and reports whether the
	// host answered at all.
	probe func(ctx context.Context, rawURL string) bool
	ask   chan []string // candidates for the probe loop

	mu       sync.Mutex
	events   []guardEvent // checks of links that were ok, within window
	answered []answered   // the latest URLs that got an answer, one per host
	state    guardState
	since    time.Time // of the current suspicion or outage
	cleared  time.Time // a probe found the network up: no new probe within window
	held     uint64
}

type guardState uint8

const (
	guardIdle    guardState = iota
	guardProbing            // suspected: failures are held back while the probe runs
	guardActive             // confirmed: failures are held back
)

type guardEvent struct {
	at      time.Time
	host    string
	netFail bool
}

type answered struct {
	url, host string
	at        time.Time
}

// maxAnswered is how many hosts that answered ok the guard remembers as
// probe candidates; a probe asks probeNewest of the newest and probeSpread
// more spread over the rest.
const (
	maxAnswered = 64
	probeNewest = 3
	probeSpread = 5
)

func newOutageGuard(cfg Config, probe func(ctx context.Context, rawURL string) bool) *outageGuard {
	return &outageGuard{
		window: cfg.OutageWindow, minHosts: cfg.OutageMinHosts, ratio: cfg.OutageRatio, refs: cfg.OutageProbes,
		now: cfg.Now, log: cfg.Logger, probe: probe, ask: make(chan []string, 1),
	}
}

// observe records one check of l and reports whether its failure must be
// held back.
func (g *outageGuard) observe(now time.Time, l Link, res Result) bool {
	if g.minHosts <= 0 {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !res.NetworkError {
		if res.State == StateOK && l.Host != "" {
			g.remember(answered{l.URL, l.Host, now})
		}
		if g.state != guardIdle && l.Host != "" && res.State != StateUnknown && res.State != StateUnsupported {
			// A host answered: the network works, whatever the statistics.
			g.log.Info("no network outage: a check was answered", "host", l.Host, "since", g.since)
			g.state, g.cleared = guardIdle, now
		}
	}
	if l.State == StateOK {
		g.events = append(g.events, guardEvent{now, l.Host, res.NetworkError})
	}
	cut := 0
	for cut < len(g.events) && now.Sub(g.events[cut].at) > g.window {
		cut++
	}
	g.events = g.events[cut:]
	failing := g.failingHosts()
	suspicious := len(failing) >= g.minHosts && float64(g.failures()) >= g.ratio*float64(len(g.events))
	switch {
	case suspicious && g.state == guardIdle && now.Sub(g.cleared) > g.window:
		g.state, g.since = guardProbing, now
		g.log.Warn("network outage suspected: holding back network failures while probing", "failing_hosts", len(failing), "checks", len(g.events))
		select {
		case g.ask <- g.candidates(failing):
		default:
		}
	case !suspicious && g.state != guardIdle:
		if g.state == guardActive {
			g.log.Info("network outage over", "since", g.since)
		}
		g.state = guardIdle
	}
	if g.state != guardIdle && res.NetworkError {
		g.held++
		return true
	}
	return false
}

func (g *outageGuard) failures() int {
	n := 0
	for _, ev := range g.events {
		if ev.netFail {
			n++
		}
	}
	return n
}

func (g *outageGuard) failingHosts() map[string]bool {
	hosts := map[string]bool{}
	for _, ev := range g.events {
		if ev.netFail {
			hosts[ev.host] = true
		}
	}
	return hosts
}

// remember keeps a as the latest answer of its host.
func (g *outageGuard) remember(a answered) {
	for i, x := range g.answered {
		if x.host == a.host {
			g.answered = append(g.answered[:i], g.answered[i+1:]...)
			break
		}
	}
	if len(g.answered) == maxAnswered {
		g.answered = g.answered[1:]
	}
	g.answered = append(g.answered, a)
}

// candidates returns what the probe asks: the reference targets, then of
// the hosts that answered ok and are not failing now the probeNewest
// newest and probeSpread more spread evenly over the older ones.
func (g *outageGuard) candidates(failing map[string]bool) []string {
	out := append([]string(nil), g.refs...)
	var ok []string // newest first
	for i := len(g.answered) - 1; i >= 0; i-- {
		if a := g.answered[i]; !failing[a.host] {
			ok = append(ok, a.url)
		}
	}
	if len(ok) <= probeNewest+probeSpread {
		return append(out, ok...)
	}
	out = append(out, ok[:probeNewest]...)
	rest := ok[probeNewest:]
	for i := range probeSpread {
		out = append(out, rest[i*(len(rest)-1)/(probeSpread-1)])
	}
	return out
}

// run is the probe loop: it answers each suspicion with a probe.
func (g *outageGuard) run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case cands := <-g.ask:
			up := false
			for _, u := range cands {
				if up = g.probe(ctx, u); up || ctx.Err() != nil {
					break
				}
			}
			if ctx.Err() != nil {
				return nil
			}
			g.probed(up, len(cands))
		}
	}
}

// probed settles a suspicion: the network is up (the failures are real) or
// it is an outage.
func (g *outageGuard) probed(up bool, tried int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state != guardProbing {
		return // the suspicion ended meanwhile
	}
	if up {
		g.state, g.cleared = guardIdle, g.now()
		g.log.Info("no network outage: a probe was answered; the failures are real", "tried", tried)
		return
	}
	g.state = guardActive
	g.log.Warn("network outage: no probe was answered; holding back network failures", "tried", tried, "since", g.since)
}

// snapshot adds the guard's state to st.
func (g *outageGuard) snapshot(st *Stats) {
	g.mu.Lock()
	defer g.mu.Unlock()
	st.Outage, st.OutageSince, st.HeldBack = g.state != guardIdle, g.since, g.held
}
