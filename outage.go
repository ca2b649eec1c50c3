package lms

import (
	"log/slog"
	"sync"
	"time"
)

// outageGuard watches network-level failures across hosts: when, within
// window, failures of at least minHosts distinct hosts make up at least
// ratio of all checks, the server itself is probably cut off.
type outageGuard struct {
	window   time.Duration
	minHosts int
	ratio    float64
	log      *slog.Logger

	mu     sync.Mutex
	events []guardEvent
	active bool
	since  time.Time
	held   uint64
}

type guardEvent struct {
	at      time.Time
	host    string
	netFail bool
}

// observe records one check and reports whether its failure must be held
// back.
func (g *outageGuard) observe(now time.Time, l Link, res Result) bool {
	host, netFail := l.Host, res.NetworkError
	if g.minHosts <= 0 {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.events = append(g.events, guardEvent{now, host, netFail})
	cut := 0
	for cut < len(g.events) && now.Sub(g.events[cut].at) > g.window {
		cut++
	}
	g.events = g.events[cut:]
	fails, hosts := 0, map[string]struct{}{}
	for _, ev := range g.events {
		if ev.netFail {
			fails++
			hosts[ev.host] = struct{}{}
		}
	}
	active := len(hosts) >= g.minHosts && float64(fails) >= g.ratio*float64(len(g.events))
	switch {
	case active && !g.active:
		g.since = now
		g.log.Warn("network outage suspected: holding back network failures", "failing_hosts", len(hosts), "checks", len(g.events))
	case !active && g.active:
		g.log.Info("network outage over", "since", g.since)
	}
	g.active = active
	if active && netFail {
		g.held++
		return true
	}
	return false
}

// snapshot adds the guard's state to st.
func (g *outageGuard) snapshot(st *Stats) {
	g.mu.Lock()
	defer g.mu.Unlock()
	st.Outage, st.OutageSince, st.HeldBack = g.active, g.since, g.held
}

func newOutageGuard(cfg Config) *outageGuard {
	return &outageGuard{window: cfg.OutageWindow, minHosts: cfg.OutageMinHosts, ratio: cfg.OutageRatio, log: cfg.Logger}
}
