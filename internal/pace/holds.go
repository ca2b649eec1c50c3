package pace

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Store is what Holds asks of the store that processes share.
type Store interface {
	// HoldHost holds host for holder until now+lease unless another
	// holder holds it (ok false); notBefore is when the host may be asked
	// next as far as the store knows (zero if at once).
	HoldHost(ctx context.Context, holder, host string, now time.Time, lease time.Duration) (notBefore time.Time, ok bool, err error)
	// Release ends holder's holds of hosts at once, each host not offered
	// to others before its NotBefore.
	Release(ctx context.Context, holder string, hosts []Release) error
}

// Release is one host a stopping process gives back.
type Release struct {
	Host      string
	NotBefore time.Time // the host's next allowed request; zero if at once
}

// ErrHostBusy means a request leads to a host that another process holds.
var ErrHostBusy = errors.New("the host is being checked by another process")

// HoldsConfig configures Holds.
type HoldsConfig struct {
	Store  Store
	Pacer  *Pacer           // the spacing of this process's requests
	Holder string           // this process's name in the store
	Lease  time.Duration    // how long a claim holds its hosts
	Margin time.Duration    // no request starts this close to the end of a hold or lease
	Now    func() time.Time // the store's clock
}

// Holds knows which hosts this process holds in the store, and until when:
// a request to a paced host is sent only while this process holds it.
type Holds struct {
	store  Store
	pacer  *Pacer
	now    func() time.Time
	holder string
	// margin: no request starts this close to the end of a hold, so that
	// it is answered (check timeout) and spaced (host interval) before
	// another process may take the host.
	margin time.Duration
	// hopLease is how long a host is held for requests no claim gave this
	// process (redirect hops, probes): long enough for one request within
	// the margin, short enough that a host only a redirect named is let go
	// (and its record can be pruned) soon after.
	hopLease time.Duration

	mu    sync.Mutex
	until map[string]time.Time
	// inUse counts, per host, the requests Acquire let start that Done
	// has not ended (redirect hops, probes): ReleaseIdle keeps their hosts.
	inUse map[string]int
	// gate puts a release's store call before the store calls of the
	// Acquires that follow it, so that a release never ends a newer hold.
	gate sync.RWMutex
}

// NewHolds returns the holds of cfg.Holder, holding none yet.
func NewHolds(cfg HoldsConfig) *Holds {
	return &Holds{
		store: cfg.Store, pacer: cfg.Pacer, now: cfg.Now, holder: cfg.Holder,
		margin: cfg.Margin, hopLease: min(cfg.Lease, 2*cfg.Margin),
		until: make(map[string]time.Time), inUse: make(map[string]int),
	}
}

// Claimed records that a claim holds host until until.
func (h *Holds) Claimed(host string, until time.Time) {
	if host == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.until[host] = laterOf(h.until[host], until)
}

// Usable reports whether a request to host may start now: the host is
// held long enough (or is not paced: key "").
func (h *Holds) Usable(host string) bool {
	if host == "" {
		return true
	}
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.until[host].After(now.Add(h.margin))
}

// Current reports whether a check of a claim whose lease ends at leaseEnd
// may start now: the lease lasts the margin longer, so that the check is
// answered and written before the store may hand the claim out again.
func (h *Holds) Current(leaseEnd time.Time) bool {
	return leaseEnd.After(h.now().Add(h.margin))
}

// Acquire makes sure this process holds host if it is paced, asking the
// store if it does not, and counts the request it lets start until Done;
// it returns ErrHostBusy if another process holds the host. A back-off the
// store knows of rests the host in the Pacer.
func (h *Holds) Acquire(ctx context.Context, host string) error {
	if !h.pacer.Paced(host) || h.use(host) {
		return nil
	}
	h.gate.RLock()
	defer h.gate.RUnlock()
	if h.use(host) {
		return nil
	}
	now := h.now()
	notBefore, ok, err := h.store.HoldHost(ctx, h.holder, host, now, h.hopLease)
	if err != nil {
		return fmt.Errorf("lms: hold host %q: %w", host, err)
	}
	if !ok {
		return ErrHostBusy
	}
	h.mu.Lock()
	h.until[host] = laterOf(h.until[host], now.Add(h.hopLease))
	h.inUse[host]++
	h.mu.Unlock()
	if notBefore.After(now) {
		h.pacer.Defer(host, notBefore)
	}
	return nil
}

// use counts a request to host if this process holds host long enough.
func (h *Holds) use(host string) bool {
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.until[host].After(now.Add(h.margin)) {
		return false
	}
	h.inUse[host]++
	return true
}

// Done ends a request to host that Acquire let start.
func (h *Holds) Done(host string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := h.inUse[host]; n > 1 {
		h.inUse[host] = n - 1
	} else {
		delete(h.inUse, host)
	}
}

// ReleaseIdle hands back, as ReleaseAll does, the hosts this process holds
// that no request uses: none in busy (the hosts of the checks in flight)
// and none a request Acquire let start is still using. A stopping process
// calls it at once, so that only the hosts its last checks use wait for
// them; a host released here and asked for again is held anew through the
// store.
func (h *Holds) ReleaseIdle(ctx context.Context, busy map[string]bool) error {
	return h.release(ctx, busy, false)
}

// ReleaseAll hands every host this process still holds back to the store
// at once, each with the time the Pacer allows its next request, so that
// other processes take them without waiting for the leases; it runs once
// nothing of this process sends requests any more.
func (h *Holds) ReleaseAll(ctx context.Context) error { return h.release(ctx, nil, true) }

// release hands back the hosts held that all says, or that busy and the
// requests in use leave; those the store could not take back stay held.
func (h *Holds) release(ctx context.Context, busy map[string]bool, all bool) error {
	h.gate.Lock()
	defer h.gate.Unlock()
	now := h.now()
	// The Pacer keeps time.Now's times; the store, h.now's.
	shift := now.Sub(time.Now())
	h.mu.Lock()
	var hosts []Release
	gone := make(map[string]time.Time)
	for host, until := range h.until {
		if !all && (busy[host] || h.inUse[host] > 0) {
			continue
		}
		delete(h.until, host)
		if !until.After(now) {
			continue
		}
		gone[host] = until
		r := Release{Host: host}
		if at := h.pacer.ReadyAt(host); at.After(time.Now()) {
			r.NotBefore = at.Add(shift)
		}
		hosts = append(hosts, r)
	}
	if all {
		clear(h.inUse)
	}
	h.mu.Unlock()
	if len(hosts) == 0 {
		return nil
	}
	if err := h.store.Release(ctx, h.holder, hosts); err != nil {
		if !all {
			h.mu.Lock()
			for host, until := range gone {
				h.until[host] = laterOf(h.until[host], until)
			}
			h.mu.Unlock()
		}
		return fmt.Errorf("lms: release %d hosts: %w", len(hosts), err)
	}
	return nil
}

// Prune forgets holds that have ended.
func (h *Holds) Prune() {
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	forgetPast(h.until, now)
}
