package guard

import "sync"

// checking counts, per key (a client id, a source address), this
// process's credential checks whose reservations are not settled yet, and
// wakes the callers that wait for one of them to settle.
//
// A reservation counts as a failure until its check is settled, so that a
// burst of guesses gets at most the burst checked. Legitimate calls come
// in bursts too (fifty sites on one host after lmsd restarts, or one site's
// twenty workers whose credentials lmsd has not seen good yet): those that
// find the budget reserved, not spent, wait for the checks before them
// instead of being refused (Throttle.admit). A good check gives its
// reservation back and lets the next one in; a failed one keeps it, and
// once nothing is being checked the waiters are refused as before.
type checking struct {
	mu      sync.Mutex
	n       map[string]int
	settled chan struct{} // closed, and replaced, when waiters may try again
}

func newChecking() *checking {
	return &checking{n: map[string]int{}, settled: make(chan struct{})}
}

// checkingKeys names a check's id and address in one map.
func checkingKeys(key, addr string) [2]string { return [2]string{"id\x00" + key, "addr\x00" + addr} }

// begin marks a check of key from addr as reserved.
func (c *checking) begin(key, addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range checkingKeys(key, addr) {
		c.n[k]++
	}
}

// end marks the check as settled. The waiters wake when it gave its
// reservation back (good credentials), or when it was the last check of
// its id or address: after a failure the budget did not grow, and trying
// again then would only cost the store a round trip per waiter.
func (c *checking) end(key, addr string, gaveBack bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	wake := gaveBack
	for _, k := range checkingKeys(key, addr) {
		if c.n[k]--; c.n[k] <= 0 {
			delete(c.n, k)
			wake = true
		}
	}
	if wake {
		close(c.settled)
		c.settled = make(chan struct{})
	}
}

// next returns the channel closed when waiters may next try again.
func (c *checking) next() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.settled
}

// busy reports whether a check of key or from addr is being made: if
// not, nothing reserved against them will be given back, and waiting is in
// vain.
func (c *checking) busy(key, addr string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range checkingKeys(key, addr) {
		if c.n[k] > 0 {
			return true
		}
	}
	return false
}
