package lms

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Pacer spaces requests to one host: a request may start only once the
// interval has passed since the previous request to the host was answered,
// so that the host never sees two requests closer than the interval. The
// checker pool hands its Pacer to checkers through the context; a checker
// that makes further requests within one check (redirect hops) calls Done
// for the answered request and Wait before the next one, so politeness
// holds for every request, not only the first.
type Pacer interface {
	// Wait blocks until a request to host is allowed and reserves it.
	Wait(ctx context.Context, host string) error
	// Done reports that the request to host has been answered.
	Done(host string)
}

type pacerKey struct{}

// ContextWithPacer returns a context carrying p.
func ContextWithPacer(ctx context.Context, p Pacer) context.Context {
	return context.WithValue(ctx, pacerKey{}, p)
}

// PacerFromContext returns the Pacer carried by ctx, or one that never
// waits.
func PacerFromContext(ctx context.Context) Pacer {
	if p, ok := ctx.Value(pacerKey{}).(Pacer); ok {
		return p
	}
	return noPacer{}
}

type noPacer struct{}

func (noPacer) Wait(context.Context, string) error { return nil }
func (noPacer) Done(string)                        {}

// hostPacer implements Pacer: per host, the earliest time of the next
// request, the interval (plus a hair for clock granularity) after the
// previous request was answered. The answer comes after the host saw the
// request, so the host can never observe two requests closer than the
// interval, however slow a connection was.
type hostPacer struct {
	interval time.Duration
	margin   time.Duration
	mu       sync.Mutex
	next     map[string]time.Time // next allowed request
	backoff  map[string]time.Time // back-off after 429/503
}

func newHostPacer(interval time.Duration) *hostPacer {
	return &hostPacer{
		interval: interval,
		margin:   min(interval/100, 2*time.Millisecond),
		next:     make(map[string]time.Time),
		backoff:  make(map[string]time.Time),
	}
}

func (p *hostPacer) paced(host string) bool { return host != "" && p.interval > 0 }

func hostInterval(c Config) time.Duration {
	if c.Unpaced {
		return 0
	}
	return c.HostInterval
}

// readyAt returns when host may get its next request.
func (p *hostPacer) readyAt(host string) time.Time {
	if host == "" {
		return time.Time{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return laterOf(p.next[host], p.backoff[host])
}

// Wait implements Pacer.
func (p *hostPacer) Wait(ctx context.Context, host string) error {
	for {
		p.mu.Lock()
		now := time.Now()
		at := laterOf(p.next[host], p.backoff[host])
		if !now.Before(at) {
			if p.paced(host) {
				p.next[host] = now.Add(p.interval + p.margin)
			}
			p.mu.Unlock()
			return nil
		}
		p.mu.Unlock()
		t := time.NewTimer(at.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Done implements Pacer: spacing counts from the answer.
func (p *hostPacer) Done(host string) {
	if !p.paced(host) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next[host] = laterOf(p.next[host], time.Now().Add(p.interval+p.margin))
}

// deferHost keeps host from further requests until until.
func (p *hostPacer) deferHost(host string, until time.Time) {
	if host == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.backoff[host] = laterOf(p.backoff[host], until)
}

// prune forgets hosts whose times have passed and returns how many hosts
// are still backed off.
func (p *hostPacer) prune(now time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	forgetPast(p.next, now)
	forgetPast(p.backoff, now)
	return len(p.backoff)
}

// forgetPast deletes the entries of m whose time is not after now.
func forgetPast(m map[string]time.Time, now time.Time) {
	for k, t := range m {
		if !t.After(now) {
			delete(m, k)
		}
	}
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// hostHolds knows which hosts this process holds in the store, and until
// when (ClaimOptions.Holder, ScheduleStore.HoldHost): a request to a paced
// host is sent only while this process holds it, so that several processes
// sharing a store never ask one host at once.
type hostHolds struct {
	store  ScheduleStore
	now    func() time.Time // the engine's clock, as the store's leases
	holder string
	lease  time.Duration
	// margin: no request starts this close to the end of a hold, so that it
	// is answered (check timeout) and spaced (host interval) before another
	// process may take the host.
	margin time.Duration
	// hopLease is how long a host is held for requests no claim gave this
	// process (redirect hops, probes): long enough for one request within
	// the margin, short enough that a host only a redirect named is let go
	// (and its record can be pruned) soon after.
	hopLease time.Duration

	mu    sync.Mutex
	until map[string]time.Time
}

// errHostBusy means a redirect leads to a host that another process holds:
// the check is abandoned and made due again soon.
var errHostBusy = errors.New("the host is being checked by another process")

func newHostHolds(store ScheduleStore, cfg Config) *hostHolds {
	margin := min(cfg.CheckerConfig.Timeout+cfg.HostInterval, cfg.Lease/2)
	return &hostHolds{
		store: store, now: cfg.Now, holder: cfg.ProcessID, lease: cfg.Lease,
		margin: margin, hopLease: min(cfg.Lease, 2*margin),
		until: make(map[string]time.Time),
	}
}

// claimed records that a claim holds host until until.
func (h *hostHolds) claimed(host string, until time.Time) {
	if host == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.until[host] = laterOf(h.until[host], until)
}

// usable reports whether a request to host may start now: the host is held
// long enough (or is not paced: key "").
func (h *hostHolds) usable(host string) bool {
	if host == "" {
		return true
	}
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.until[host].After(now.Add(h.margin))
}

// current reports whether a check of the claimed link l may start now:
// its lease (l.NextDue) lasts the margin longer, so that the check is
// answered and written before the store may hand the link out again.
func (h *hostHolds) current(l Link) bool {
	return l.NextDue.After(h.now().Add(h.margin))
}

// acquire makes sure this process holds host, asking the store if it does
// not; it returns errHostBusy if another process holds it. A back-off the
// store knows of rests the host in pacer.
func (h *hostHolds) acquire(ctx context.Context, host string, pacer *hostPacer) error {
	if h.usable(host) {
		return nil
	}
	now := h.now()
	notBefore, ok, err := h.store.HoldHost(ctx, h.holder, host, now, h.hopLease)
	if err != nil {
		return fmt.Errorf("lms: hold host %q: %w", host, err)
	}
	if !ok {
		return errHostBusy
	}
	h.claimed(host, now.Add(h.hopLease))
	if notBefore.After(now) {
		pacer.deferHost(host, notBefore)
	}
	return nil
}

// release hands every host this process still holds back to the store at
// once (ScheduleStore.ReleaseHosts), each with the time pacer allows its
// next request, so that other processes take them without waiting for the
// leases; it runs once nothing of this process sends requests any more.
func (h *hostHolds) release(ctx context.Context, pacer *hostPacer) error {
	now := h.now()
	// The pacer keeps time.Now's times; the store, the engine's clock's.
	shift := now.Sub(time.Now())
	h.mu.Lock()
	var hosts []HostRelease
	for host, until := range h.until {
		if !until.After(now) {
			continue
		}
		r := HostRelease{Host: host}
		if at := pacer.readyAt(host); at.After(time.Now()) {
			r.NotBefore = at.Add(shift)
		}
		hosts = append(hosts, r)
	}
	clear(h.until)
	h.mu.Unlock()
	if len(hosts) == 0 {
		return nil
	}
	if err := h.store.ReleaseHosts(ctx, h.holder, hosts); err != nil {
		return fmt.Errorf("lms: release %d hosts: %w", len(hosts), err)
	}
	return nil
}

// prune forgets holds that have ended.
func (h *hostHolds) prune() {
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	forgetPast(h.until, now)
}
