package webui

import (
	"sync"
	"time"

	"github.com/linkmonitor/lms/internal/throttle"
)

// loginGuard throttles guesses at the admin secret on the admin pages, like
// xmlrpcapi does for its management calls: failures count per source
// address (10, then one per 6 s) and for the secret as a whole (30, then one
// per 2 s). A blocked address is refused without its password being
// checked; while the secret as a whole is blocked (guesses from many
// addresses), only addresses that logged in before are checked, so the
// operator keeps working during a distributed attack.
type loginGuard struct {
	addrs, secret *throttle.Limiter

	mu   sync.Mutex
	good map[string]time.Time // addresses with a successful login, when
}

// maxGood bounds the addresses remembered for their successful logins.
const maxGood = 1000

// goodFor is how long a successful login vouches for its address.
const goodFor = 24 * time.Hour

func newLoginGuard() *loginGuard {
	return &loginGuard{
		addrs:  throttle.New(throttle.Config{Burst: 10, Every: 6 * time.Second}),
		secret: throttle.New(throttle.Config{Burst: 30, Every: 2 * time.Second, MaxKeys: 1}),
		good:   make(map[string]time.Time),
	}
}

// allow reports whether a login attempt from addr may be checked at now.
func (g *loginGuard) allow(addr string, now time.Time) bool {
	if g.addrs.Blocked(addr, now) {
		return false
	}
	if !g.secret.Blocked("admin", now) {
		return true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	at, ok := g.good[addr]
	return ok && now.Sub(at) < goodFor
}

// failed records a wrong secret from addr.
func (g *loginGuard) failed(addr string, now time.Time) {
	g.addrs.Fail(addr, now)
	g.secret.Fail("admin", now)
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
