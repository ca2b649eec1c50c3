package softfail

import (
	"sync"
	"time"
)

// ProbeCache keeps one probe answer per host for a check interval, so that
// a host gets at most one made-up-path request per interval however many of
// its links give a reason to doubt them. It is safe for concurrent use.
//
// A checker asks Lookup first: a fresh answer is used as it is; otherwise
// the first caller in the interval is allowed to probe (its claim counts as
// the interval's probe even before the answer arrives) and stores the
// analysis with Store; other callers meanwhile may wait for it (Pending)
// or go without one and get the weaker verdict.
type ProbeCache struct {
	ttl time.Duration
	max int

	mu sync.Mutex
	m  map[string]probeEntry
}

// probeEntry is a host's probe: claimed at a time, answered or not yet.
type probeEntry struct {
	at   time.Time
	a    *Analysis     // nil while the probe is under way
	done chan struct{} // closed when the claimed probe is stored (or dropped)
}

// NewProbeCache returns a cache whose entries last ttl (the check
// interval) and which holds at most size hosts (at least 1); when full, it
// drops expired entries, then the oldest.
func NewProbeCache(ttl time.Duration, size int) *ProbeCache {
	return &ProbeCache{ttl: ttl, max: max(size, 1), m: make(map[string]probeEntry)}
}

// Lookup returns host's probe analysis if one was stored within the ttl
// before now. If there is none and no probe of host was claimed within the
// ttl, may is true and the call claims the probe for this interval: the
// caller should send it (paced like any request) and Store its analysis.
func (c *ProbeCache) Lookup(host string, now time.Time) (a *Analysis, may bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[host]
	if ok && now.Sub(e.at) < c.ttl {
		return e.a, false
	}
	if ok {
		e.release()
	}
	c.put(host, probeEntry{at: now, done: make(chan struct{})})
	return nil, true
}

// Pending returns a channel that is closed once the probe of host claimed
// by another caller is stored, or nil if no probe of host is under way.
// A caller that waits on it (bounded by its own deadline) then finds the
// answer with Lookup.
func (c *ProbeCache) Pending(host string) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[host]; ok && e.a == nil && e.done != nil {
		return e.done
	}
	return nil
}

// Store records host's probe analysis at now. A failed probe is stored too
// (its analysis says nothing, and the host is not asked again within the
// interval).
func (c *ProbeCache) Store(host string, a *Analysis, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[host]; ok {
		e.release()
	}
	c.put(host, probeEntry{at: now, a: a})
}

// release wakes the callers waiting for e's probe. The caller holds c.mu.
func (e probeEntry) release() {
	if e.done != nil {
		select {
		case <-e.done:
		default:
			close(e.done)
		}
	}
}

// put sets an entry, making room when the cache is full. The caller holds
// c.mu.
func (c *ProbeCache) put(host string, e probeEntry) {
	if _, ok := c.m[host]; !ok && len(c.m) >= c.max {
		for h, old := range c.m {
			if e.at.Sub(old.at) >= c.ttl {
				old.release()
				delete(c.m, h)
			}
		}
		if len(c.m) >= c.max {
			var oldest string
			for h, old := range c.m {
				if oldest == "" || old.at.Before(c.m[oldest].at) {
					oldest = h
				}
			}
			c.m[oldest].release()
			delete(c.m, oldest)
		}
	}
	c.m[host] = e
}

// Len returns the number of hosts held.
func (c *ProbeCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
