package boltstore

import (
	"bytes"
	"fmt"
)

// leased reports whether the link is claimed.
func (t *txn) leased(url []byte) bool { return t.b(bLeases).Get(url) != nil }

// endLease ends the link's lease, if any.
func (t *txn) endLease(url string, l *link) error {
	if l.lease == 0 {
		return nil
	}
	if err := t.b(bLeases).Delete([]byte(url)); err != nil {
		return err
	}
	if err := t.b(bLeaseExp).Delete(append(timeKey(l.lease), url...)); err != nil {
		return err
	}
	l.lease = 0
	return nil
}

// releaseLeases ends every lease. Version 1 files (old) moved a claimed
// link's due-index entry to its lease time; the link record kept the due
// time, and the entry goes back there.
func (t *txn) releaseLeases(old bool) error {
	var urls []string
	if err := t.b(bLeases).ForEach(func(k, _ []byte) error {
		urls = append(urls, string(k))
		return nil
	}); err != nil {
		return err
	}
	for _, u := range urls {
		l, err := t.getLink(u)
		if err != nil {
			return err
		}
		if l == nil {
			if err := t.b(bLeases).Delete([]byte(u)); err != nil {
				return err
			}
			continue
		}
		if old && l.subs > 0 {
			hd := t.b(bHostDue)
			if err := hd.Delete(dueKey(l.host, l.lease, u)); err != nil {
				return err
			}
			if err := hd.Put(dueKey(l.host, l.due, u), dueValue(l)); err != nil {
				return err
			}
		}
		if err := t.endLease(u, l); err != nil {
			return err
		}
		t.touched[l.host] = struct{}{}
	}
	return nil
}

func (t *txn) getHost(name string) (hostRec, error) {
	v := t.b(bHosts).Get(hostKey(name))
	if v == nil {
		return hostRec{}, nil
	}
	return decodeHost(v)
}

// notBefore keeps the host from being offered before until (a later
// deferral stays).
func (t *txn) notBefore(name string, until int64) error {
	h, err := t.getHost(name)
	if err != nil {
		return err
	}
	h.notBefore = max(h.notBefore, until)
	t.touched[name] = struct{}{}
	return t.b(bHosts).Put(hostKey(name), h.encode())
}

// fixHost recomputes the host's place in the ready index from its earliest
// due link and its deferral.
func (t *txn) fixHost(name string) error {
	h, err := t.getHost(name)
	if err != nil {
		return err
	}
	ready := t.b(bReady)
	if h.inReady {
		if err := ready.Delete(readyKey(h.readyAt, name)); err != nil {
			return err
		}
		h.inReady = false
	}
	// The host is ready at its first link that is not claimed; claimed ones
	// (the first few) come back through a result or the expiry of their
	// lease.
	p := prefix(name)
	c := t.b(bHostDue).Cursor()
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
		if t.leased(k[len(p)+8:]) {
			continue
		}
		due := timeFromKey(k[len(p) : len(p)+8])
		h.readyAt, h.inReady = max(due, h.notBefore), true
		if err := ready.Put(readyKey(h.readyAt, name), mark()); err != nil {
			return err
		}
		break
	}
	return t.b(bHosts).Put(hostKey(name), h.encode())
}

// setDue moves the link to due in the host's due index and ends a lease;
// the caller writes the link record.
func (t *txn) setDue(url string, l *link, due int64) error {
	if err := t.moveDue(url, l, due); err != nil {
		return err
	}
	return t.endLease(url, l)
}

// lease claims a link until until. Its record and its due-index entry stay
// as they are: a claim neither reads nor rewrites pages spread over the
// file, only the small leases buckets.
func (t *txn) lease(host, url string, until int64) error {
	if err := t.b(bLeases).Put([]byte(url), timeKey(until)); err != nil {
		return err
	}
	t.touched[host] = struct{}{}
	return t.b(bLeaseExp).Put(append(timeKey(until), url...), append([]byte{1}, host...))
}

// reapLeases ends the leases that expired by now, so that their links can
// be claimed again (their checker crashed or gave up). That is rare:
// results end leases. It reads no link record.
func (t *txn) reapLeases(now int64) error {
	type expired struct {
		key  []byte // until(8) url
		host string
	}
	var ex []expired
	c := t.b(bLeaseExp).Cursor()
	for k, v := c.First(); k != nil && timeFromKey(k[:8]) <= now; k, v = c.Next() {
		if len(v) == 0 {
			return fmt.Errorf("lease expiry %q: %w", k, errCorrupt)
		}
		ex = append(ex, expired{bytes.Clone(k), string(v[1:])})
	}
	hosts := map[string]struct{}{}
	for _, e := range ex {
		if err := t.b(bLeaseExp).Delete(e.key); err != nil {
			return err
		}
		if err := t.b(bLeases).Delete(e.key[8:]); err != nil {
			return err
		}
		hosts[e.host] = struct{}{}
	}
	for h := range hosts {
		t.touched[h] = struct{}{}
		if err := t.fixHost(h); err != nil { // ready for this very claim
			return err
		}
	}
	return nil
}

func (t *txn) moveDue(url string, l *link, due int64) error {
	if l.subs > 0 {
		hd := t.b(bHostDue)
		if err := hd.Delete(dueKey(l.host, l.due, url)); err != nil {
			return err
		}
		if err := hd.Put(dueKey(l.host, due, url), dueValue(l)); err != nil {
			return err
		}
		t.touched[l.host] = struct{}{}
	}
	l.due = due
	return nil
}
