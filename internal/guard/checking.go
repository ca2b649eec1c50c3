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
//
// A caller watches only its own id and address: the settlement of another
// key cannot let it in, and waking it for one would cost a reservation
// attempt (in the shared mode, a store round trip) per caller waiting.
type checking struct {
	mu   sync.Mutex
	keys map[string]*checkingKey // the keys being checked or watched
}

// checkingKey is one key's checks being made and the callers watching it.
type checkingKey struct {
	n        int           // checks being made
	watchers int           // callers watching
	settled  chan struct{} // closed, and replaced, when watchers may try again
}

func newChecking() *checking {
	return &checking{keys: map[string]*checkingKey{}}
}

// checkingKeys names a check's id and address in one map.
func checkingKeys(key, addr string) [2]string { return [2]string{"id\x00" + key, "addr\x00" + addr} }

// entry returns k's entry, made if there is none. Call with c.mu held.
func (c *checking) entry(k string) *checkingKey {
	e := c.keys[k]
	if e == nil {
		e = &checkingKey{settled: make(chan struct{})}
		c.keys[k] = e
	}
	return e
}

// drop forgets k's entry once nothing is checked or watched of it. Call
// with c.mu held.
func (c *checking) drop(k string, e *checkingKey) {
	if e.n <= 0 && e.watchers <= 0 {
		delete(c.keys, k)
	}
}

// begin marks a check of key from addr as reserved.
func (c *checking) begin(key, addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.beginLocked(key, addr)
}

// beginIf marks a check of key from addr as reserved if reserve, run with
// c.mu held, reports that it reserved its failures: a caller refused for
// the budget that reserve took then finds the check being made (busy),
// and waits for it rather than being refused.
func (c *checking) beginIf(key, addr string, reserve func() bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !reserve() {
		return false
	}
	c.beginLocked(key, addr)
	return true
}

func (c *checking) beginLocked(key, addr string) {
	for _, k := range checkingKeys(key, addr) {
		c.entry(k).n++
	}
}

// end marks the check as settled. The watchers of its id and address wake
// when it gave its reservation back (good credentials), and those of a key
// when it was the key's last check: after a failure the budget did not
// grow, and trying again then would only cost the store a round trip per
// waiter.
func (c *checking) end(key, addr string, gaveBack bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range checkingKeys(key, addr) {
		e := c.keys[k]
		if e == nil {
			continue // not begun: nothing to end
		}
		e.n--
		if (gaveBack || e.n <= 0) && e.watchers > 0 {
			close(e.settled)
			e.settled = make(chan struct{})
		}
		c.drop(k, e)
	}
}

// busy reports whether a check of key, and one from addr, is being made:
// if not, nothing reserved against it will be given back.
func (c *checking) busy(key, addr string) (id, address bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b [2]bool
	for i, k := range checkingKeys(key, addr) {
		e := c.keys[k]
		b[i] = e != nil && e.n > 0
	}
	return b[0], b[1]
}

// watch is a caller's watch of the checks of one id and one address.
type watch struct {
	c       *checking
	keys    [2]string
	settled [2]<-chan struct{} // of the id, of the address
}

// watch starts watching the checks of key and from addr: w.settled are
// closed when one of them settles in a way that may let the caller in.
// End it with w.stop.
func (c *checking) watch(key, addr string) *watch {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := &watch{c: c, keys: checkingKeys(key, addr)}
	for i, k := range w.keys {
		e := c.entry(k)
		e.watchers++
		w.settled[i] = e.settled
	}
	return w
}

// fired reports whether a check watched has settled since the watch began
// in a way that may let the caller in.
func (w *watch) fired() bool { return closed(w.settled[0]) || closed(w.settled[1]) }

// stop ends the watch.
func (w *watch) stop() {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	for _, k := range w.keys {
		if e := w.c.keys[k]; e != nil {
			e.watchers--
			w.c.drop(k, e)
		}
	}
}

// closed reports whether ch is closed.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
