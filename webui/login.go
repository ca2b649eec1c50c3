package webui

import (
	"context"
	"sync"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/throttle"
)

// loginGuard throttles guesses at the admin secret on the admin pages, like
// xmlrpcapi does for its management calls: failures count per source
// address (10, then one per 6 s) and for the secret as a whole (30, then one
// per 2 s). A blocked address is refused without its password being
// checked; while the secret as a whole is blocked (guesses from many
// addresses), only addresses that logged in before are checked, so the
// operator keeps working during a distributed attack.
//
// When the engine's store is shared by several processes
// (lms.ThrottleStore, pgstore) the failures are counted there, so that N
// web UIs over one database allow what one allows; the addresses that
// logged in are each process's own. A failure is reserved before the
// secret is checked and given back by a good login, so that guesses sent
// at once cannot all find the budget unspent.
type loginGuard struct {
	addrRule, secretRule throttle.Config
	addrs, secret        *throttle.Limiter // this process's counts
	shared               *throttle.Shared  // nil: this process's counts only

	mu   sync.Mutex
	good map[string]time.Time // addresses with a successful login, when
}

// maxGood bounds the addresses remembered for their successful logins.
const maxGood = 1000

// goodFor is how long a successful login vouches for its address.
const goodFor = 24 * time.Hour

// The shared store's keys of the web UI's login throttle, apart from those
// of the XML-RPC and JSON front doors (whose rules differ).
const (
	sharedAddrKey   = "webui-admin-addr\x00"
	sharedSecretKey = "webui-admin-secret"
)

// newLoginGuard returns the guard of e's admin pages, counting in e's
// store when it is an lms.ThrottleStore.
func newLoginGuard(e *lms.Engine) *loginGuard {
	g := &loginGuard{
		addrRule:   throttle.Config{Burst: 10, Every: 6 * time.Second},
		secretRule: throttle.Config{Burst: 30, Every: 2 * time.Second, MaxKeys: 1},
		good:       make(map[string]time.Time),
	}
	g.addrs, g.secret = throttle.New(g.addrRule), throttle.New(g.secretRule)
	if ts, ok := e.Store().(lms.ThrottleStore); ok {
		g.shared = throttle.NewShared(ts)
	}
	return g
}

// loginAttempt is an attempt begin let through: its reserved failures,
// settled by end.
type loginAttempt struct {
	g      *loginGuard
	addr   string
	now    time.Time
	shared *throttle.SharedTicket
	mem    []*throttle.Ticket
}

// begin reserves a failure for a login attempt from addr at now; ok is
// false if the attempt is refused unchecked. A store that cannot be asked
// leaves the decision to this process's counts.
func (g *loginGuard) begin(ctx context.Context, addr string, now time.Time) (a *loginAttempt, ok bool) {
	a = &loginAttempt{g: g, addr: addr, now: now}
	good := g.wasGood(addr, now)
	if g.shared != nil {
		addrKey := g.addrRule.Key(sharedAddrKey + addr)
		tk, ok, err := g.shared.Reserve(ctx, addrKey, g.secretRule.Key(sharedSecretKey))
		if err == nil && !ok && good {
			tk, ok, err = g.shared.Reserve(ctx, addrKey)
		}
		if err == nil {
			a.shared = tk
			return a, ok
		}
	}
	at, ok := g.addrs.Reserve(addr, now)
	if !ok {
		return nil, false
	}
	a.mem = append(a.mem, at)
	if st, ok := g.secret.Reserve("admin", now); ok {
		a.mem = append(a.mem, st)
	} else if !good {
		at.Settle(false, now)
		return nil, false
	}
	return a, true
}

// end settles the attempt: failed (a wrong secret) keeps its failures, a
// good login gives them back and vouches for its address. Ending a nil
// attempt does nothing.
func (a *loginAttempt) end(ctx context.Context, failed bool) {
	if a == nil {
		return
	}
	// A reservation the store could not settle runs out by itself.
	_ = a.shared.Settle(context.WithoutCancel(ctx), failed)
	for _, t := range a.mem {
		t.Settle(failed, a.now)
	}
	if !failed {
		a.g.succeeded(a.addr, a.now)
	}
}

// wasGood reports whether addr logged in within goodFor before now.
func (g *loginGuard) wasGood(addr string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	at, ok := g.good[addr]
	return ok && now.Sub(at) < goodFor
}

// succeeded records a login from addr.
func (g *loginGuard) succeeded(addr string, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.good[addr]; !ok && len(g.good) >= maxGood {
		for a, at := range g.good {
			if now.Sub(at) >= goodFor {
				delete(g.good, a)
			}
		}
		for a := range g.good { // still full: drop any one
			if len(g.good) < maxGood {
				break
			}
			delete(g.good, a)
		}
	}
	g.good[addr] = now
}
