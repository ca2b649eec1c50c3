// Package outage answers "is it us?": when many links fail at the network
// level at once, the server itself may be cut off, and telling every client
// that all its links broke would be wrong. A Guard then holds those
// failures back (the caller keeps the links' state and checks them again
// later) until the network works again.
//
// A Guard cannot be tripped by one client: it judges only links that were
// ok before (a client registering hosts that never answered moves
// nothing), any answer from any host while it suspects an outage proves the
// network works, and before it holds anything back for long it asks a
// probe: the operator's reference targets (Config.Probes), then a few of
// the hosts that last answered ok, spread over the last 64 such hosts (so
// that one client's hosts that answered just before dying cannot be all
// the probe asks), are requested again. If any answers, the network works
// and the failures are real; only if none does is it an outage.
//
// The statistics: within Window, network failures of links that were ok
// make up at least Ratio of the checks of links that were ok, across at
// least MinHosts distinct hosts.
package outage

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Config sets up a Guard.
type Config struct {
	Window   time.Duration // the statistics' window
	MinHosts int           // failing hosts needed to suspect an outage; ≤ 0 disables the guard
	Ratio    float64       // share of failed checks needed to suspect an outage
	Probes   []string      // the operator's reference targets, tried first
	Now      func() time.Time
	Logger   *slog.Logger
	// Probe requests rawURL (paced like any request) and reports whether
	// the host answered at all.
	Probe func(ctx context.Context, rawURL string) bool
}

// Check is what the guard sees of one check of a link.
type Check struct {
	URL, Host    string // the link and its politeness key ("" for links checked without network)
	WasOK        bool   // the link was ok before this check
	NetworkError bool   // the check failed at the network level
	OK           bool   // the check found the link ok
	Answered     bool   // the check got an answer it could judge (its state is neither unknown nor unsupported)
}

// Snapshot is the guard's state for monitoring.
type Snapshot struct {
	Active bool      // failures are held back
	Since  time.Time // of the current suspicion or outage
	Held   uint64    // failures held back since start
}

// Guard is the "is it us?" guard; Observe is safe for concurrent use, Run
// is its probe loop.
type Guard struct {
	cfg Config
	ask chan []string // candidates for the probe loop

	mu       sync.Mutex
	events   []event    // checks of links that were ok, within the window
	answered []answered // the latest URLs that got an answer, one per host
	state    state
	since    time.Time // of the current suspicion or outage
	cleared  time.Time // a probe found the network up: no new probe within the window
	held     uint64
}

type state uint8

const (
	idle    state = iota
	probing       // suspected: failures are held back while the probe runs
	active        // confirmed: failures are held back
)

type event struct {
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

// New returns a guard; cfg.Now, cfg.Logger and cfg.Probe must be set.
func New(cfg Config) *Guard {
	return &Guard{cfg: cfg, ask: make(chan []string, 1)}
}

// Observe records one check and reports whether its failure must be held
// back.
func (g *Guard) Observe(now time.Time, c Check) bool {
	if g.cfg.MinHosts <= 0 {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !c.NetworkError {
		if c.OK && c.Host != "" {
			g.remember(answered{c.URL, c.Host, now})
		}
		if g.state != idle && c.Host != "" && c.Answered {
			// A host answered: the network works, whatever the statistics.
			g.cfg.Logger.Info("no network outage: a check was answered", "host", c.Host, "since", g.since)
			g.state, g.cleared = idle, now
		}
	}
	if c.WasOK {
		g.events = append(g.events, event{now, c.Host, c.NetworkError})
	}
	cut := 0
	for cut < len(g.events) && now.Sub(g.events[cut].at) > g.cfg.Window {
		cut++
	}
	g.events = g.events[cut:]
	failing := g.failingHosts()
	suspicious := len(failing) >= g.cfg.MinHosts && float64(g.failures()) >= g.cfg.Ratio*float64(len(g.events))
	switch {
	case suspicious && g.state == idle && now.Sub(g.cleared) > g.cfg.Window:
		g.state, g.since = probing, now
		g.cfg.Logger.Warn("network outage suspected: holding back network failures while probing", "failing_hosts", len(failing), "checks", len(g.events))
		select {
		case g.ask <- g.candidates(failing):
		default:
		}
	case !suspicious && g.state != idle:
		if g.state == active {
			g.cfg.Logger.Info("network outage over", "since", g.since)
		}
		g.state = idle
	}
	if g.state != idle && c.NetworkError {
		g.held++
		return true
	}
	return false
}

func (g *Guard) failures() int {
	n := 0
	for _, ev := range g.events {
		if ev.netFail {
			n++
		}
	}
	return n
}

func (g *Guard) failingHosts() map[string]bool {
	hosts := map[string]bool{}
	for _, ev := range g.events {
		if ev.netFail {
			hosts[ev.host] = true
		}
	}
	return hosts
}

// remember keeps a as the latest answer of its host.
func (g *Guard) remember(a answered) {
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
func (g *Guard) candidates(failing map[string]bool) []string {
	out := append([]string(nil), g.cfg.Probes...)
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

// Run is the probe loop: it answers each suspicion with a probe, until ctx
// ends.
func (g *Guard) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case cands := <-g.ask:
			up := false
			for _, u := range cands {
				if up = g.cfg.Probe(ctx, u); up || ctx.Err() != nil {
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
func (g *Guard) probed(up bool, tried int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state != probing {
		return // the suspicion ended meanwhile
	}
	if up {
		g.state, g.cleared = idle, g.cfg.Now()
		g.cfg.Logger.Info("no network outage: a probe was answered; the failures are real", "tried", tried)
		return
	}
	g.state = active
	g.cfg.Logger.Warn("network outage: no probe was answered; holding back network failures", "tried", tried, "since", g.since)
}

// Snapshot returns the guard's state.
func (g *Guard) Snapshot() Snapshot {
	g.mu.Lock()
	defer g.mu.Unlock()
	return Snapshot{Active: g.state != idle, Since: g.since, Held: g.held}
}
