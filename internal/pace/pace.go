// Package pace keeps the politeness of requests per host: a Pacer spaces
// the requests of this process to each host, and Holds makes sure that a
// request to a host is sent only while this process holds the host in the
// store that several processes share, so that they never ask one host at
// once. Hosts are politeness keys; the key "" is never paced.
package pace

import (
	"context"
	"sync"
	"time"
)

// Pacer spaces requests per host: a request may start only once the
// interval (plus a hair for clock granularity) has passed since the
// previous request to the host was answered. The answer comes after the
// host saw the request, so the host can never observe two requests closer
// than the interval, however slow a connection was. Its times are
// time.Now's.
type Pacer struct {
	interval time.Duration
	margin   time.Duration
	mu       sync.Mutex
	next     map[string]time.Time // next allowed request
	backoff  map[string]time.Time // back-off after 429/503
}

// New returns a Pacer spacing requests to a host by interval; 0 paces
// nothing (back-offs still hold).
func New(interval time.Duration) *Pacer {
	return &Pacer{
		interval: interval,
		margin:   min(interval/100, 2*time.Millisecond),
		next:     make(map[string]time.Time),
		backoff:  make(map[string]time.Time),
	}
}

// Paced reports whether requests to host are spaced.
func (p *Pacer) Paced(host string) bool { return host != "" && p.interval > 0 }

// ReadyAt returns when host may get its next request.
func (p *Pacer) ReadyAt(host string) time.Time {
	if host == "" {
		return time.Time{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return laterOf(p.next[host], p.backoff[host])
}

// Wait blocks until a request to host is allowed and reserves it.
func (p *Pacer) Wait(ctx context.Context, host string) error {
	for {
		p.mu.Lock()
		now := time.Now()
		at := laterOf(p.next[host], p.backoff[host])
		if !now.Before(at) {
			if p.Paced(host) {
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

// Done reports that the request to host has been answered: the spacing
// counts from the answer.
func (p *Pacer) Done(host string) {
	if !p.Paced(host) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next[host] = laterOf(p.next[host], time.Now().Add(p.interval+p.margin))
}

// Defer keeps host from further requests until until (a 429 or 503).
func (p *Pacer) Defer(host string, until time.Time) {
	if host == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.backoff[host] = laterOf(p.backoff[host], until)
}

// Prune forgets hosts whose times have passed and returns how many hosts
// are still backed off.
func (p *Pacer) Prune(now time.Time) int {
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
