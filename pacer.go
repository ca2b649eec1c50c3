package lms

import (
	"context"
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
	for h, t := range p.next {
		if t.Before(now) {
			delete(p.next, h)
		}
	}
	for h, t := range p.backoff {
		if t.Before(now) {
			delete(p.backoff, h)
		}
	}
	return len(p.backoff)
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// hopPacer is the Pacer checks see: it releases the check's request slot
// while waiting for a host, so a waiting redirect does not idle a worker.
type hopPacer struct{ p *checkPool }

func (h hopPacer) Done(host string) { h.p.pacer.Done(host) }

func (h hopPacer) Wait(ctx context.Context, host string) error {
	if !h.p.pacer.readyAt(host).After(time.Now()) {
		return h.p.pacer.Wait(ctx, host)
	}
	<-h.p.slots
	h.p.signal()
	if err := h.p.pacer.Wait(ctx, host); err != nil {
		h.p.slots <- struct{}{} // the caller still returns its slot
		return err
	}
	return h.p.awaitSlot(ctx, host)
}
