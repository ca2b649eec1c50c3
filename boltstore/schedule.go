package boltstore

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/storerules"
	"github.com/linkmonitor/lms/internal/validate"
)

// ClaimDue implements lms.ScheduleStore.
func (s *Store) ClaimDue(ctx context.Context, now time.Time, opt lms.ClaimOptions) ([]lms.Link, error) {
	if err := storerules.CheckClaim(opt); err != nil {
		return nil, fmt.Errorf("boltstore: %w", err)
	}
	n, lease := nanos(now), nanos(now.Add(opt.Lease))
	var out []lms.Link
	s.holdMu.Lock()
	defer s.holdMu.Unlock()
	err := s.update(ctx, func(t *txn) error {
		out = out[:0]
		if err := t.reapLeases(n); err != nil {
			return err
		}
		// The hosts to visit, each once: ready at now, in order of readiness.
		var hosts []string
		c := t.b(bReady).Cursor()
		for k, _ := c.First(); k != nil && len(hosts) < opt.Limit; k, _ = c.Next() {
			if timeFromKey(k[:8]) > n {
				break
			}
			if h := string(k[8:]); !storerules.HeldByOther(s.holds[h], opt.Holder, now) {
				hosts = append(hosts, h)
			}
		}
		for _, h := range hosts {
			if len(out) >= opt.Limit {
				break
			}
			pre := prefix(h)
			// The host's first due links that are not claimed yet (values
			// are copied: they are valid only until the next change).
			type entry struct {
				url string
				val []byte
			}
			var due []entry
			dc := t.b(bHostDue).Cursor()
			for k, v := dc.Seek(pre); k != nil && bytes.HasPrefix(k, pre) && len(due) < opt.PerHost && len(out)+len(due) < opt.Limit; k, v = dc.Next() {
				if timeFromKey(k[len(pre):len(pre)+8]) > n {
					break
				}
				if u := k[len(pre)+8:]; !t.leased(u) {
					due = append(due, entry{string(u), bytes.Clone(v)})
				}
			}
			for _, e := range due {
				u := e.url
				state, failures, ok := decodeDueValue(e.val)
				if !ok { // written before the index carried the snapshot
					l, err := t.getLink(u)
					if err != nil {
						return err
					}
					if l == nil {
						return fmt.Errorf("due link %q has no record: %w", u, errCorrupt)
					}
					state, failures = l.State(), int64(l.Failures)
				}
				if err := t.lease(h, u, lease); err != nil {
					return err
				}
				out = append(out, lms.Link{URL: u, Host: h, State: state, Failures: int(failures), NextDue: fromNanos(lease)})
			}
			if until, ok := storerules.PacedUntil(h, now, len(due), opt.HostGap); ok {
				if err := t.notBefore(h, nanos(until)); err != nil {
					return err
				}
			}
			t.touched[h] = struct{}{}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.pruneHolds(now)
	for _, l := range out {
		s.holds[l.Host] = lms.Lease{Holder: opt.Holder, Until: l.NextDue}
	}
	return out, nil
}

// pruneHolds forgets ended holds once there are many; holdMu is held.
func (s *Store) pruneHolds(now time.Time) {
	if len(s.holds) < 4096 {
		return
	}
	for h, l := range s.holds {
		if !now.Before(l.Until) {
			delete(s.holds, h)
		}
	}
}

// HoldHost implements lms.ScheduleStore.
func (s *Store) HoldHost(ctx context.Context, holder, host string, now time.Time, lease time.Duration) (time.Time, bool, error) {
	if err := storerules.CheckHold(host, lease); err != nil {
		return time.Time{}, false, fmt.Errorf("boltstore: %w", err)
	}
	var notBefore int64
	err := s.view(ctx, func(t *txn) error {
		h, err := t.getHost(host)
		notBefore = h.notBefore
		return err
	})
	if err != nil {
		return time.Time{}, false, err
	}
	s.holdMu.Lock()
	defer s.holdMu.Unlock()
	if storerules.HeldByOther(s.holds[host], holder, now) {
		return time.Time{}, false, nil
	}
	s.pruneHolds(now)
	if until := now.Add(lease); s.holds[host].Holder != holder || until.After(s.holds[host].Until) {
		s.holds[host] = lms.Lease{Holder: holder, Until: until} // a holder's hold is never shortened
	}
	if notBefore > nanos(now) {
		return fromNanos(notBefore), true, nil
	}
	return time.Time{}, true, nil
}

// RecordResults implements lms.ScheduleStore. Concurrent calls share
// commits.
func (s *Store) RecordResults(ctx context.Context, recs []lms.Outcome) error {
	if err := storerules.CheckOutcomes(recs); err != nil {
		return fmt.Errorf("boltstore: %w", err)
	}
	return s.batch(ctx, func(t *txn) error {
		for _, r := range recs {
			if validate.URL(r.URL) != nil {
				continue
			}
			l, err := t.getLink(r.URL)
			if err != nil {
				return err
			}
			if l == nil {
				continue
			}
			if !r.Hold {
				if err := t.apply(r.URL, l, r); err != nil {
					return err
				}
			}
			if err := t.setDue(r.URL, l, nanos(r.NextDue)); err != nil {
				return err
			}
			if err := t.putLink(r.URL, l); err != nil {
				return err
			}
		}
		return nil
	})
}

func (t *txn) apply(url string, l *link, r lms.Outcome) error {
	old, changed := l.Apply(r)
	if !changed || l.subs == 0 {
		return nil
	}
	st := l.State()
	g, err := t.globalCounts()
	if err != nil {
		return err
	}
	storerules.Move(g, old, st)
	ids, err := collect(t.b(bLinkSubs), prefix(url))
	if err != nil {
		return err
	}
	pend := t.b(bPending)
	seq, err := pend.NextSequence()
	if err != nil {
		return err
	}
	val := encodePending(st, seq, l.Reason)
	for _, id := range ids {
		c, err := t.getClient(id)
		if err != nil {
			return err
		}
		storerules.Move(&c.Counts, old, st)
		k := join(id, url)
		if pend.Get(k) == nil {
			if err := t.addPendCount(id, 1); err != nil {
				return err
			}
		}
		if err := pend.Put(k, val); err != nil {
			return err
		}
	}
	return nil
}

// DeferHost implements lms.ScheduleStore.
func (s *Store) DeferHost(ctx context.Context, host string, until time.Time) error {
	return s.update(ctx, func(t *txn) error { return t.notBefore(host, nanos(until)) })
}

// LinkCounts implements lms.ScheduleStore.
func (s *Store) LinkCounts(ctx context.Context) (lms.StateCounts, error) {
	var out lms.StateCounts
	err := s.view(ctx, func(t *txn) error {
		c, err := decodeCounts(t.b(bCounts).Get([]byte(keyTotal)))
		out = c
		return err
	})
	return out, err
}

// DueCount implements lms.ScheduleStore.
func (s *Store) DueCount(ctx context.Context, now time.Time, limit int) (int, error) {
	n, count := nanos(now), 0
	err := s.view(ctx, func(t *txn) error {
		rc := t.b(bReady).Cursor()
		for k, _ := rc.First(); k != nil && count < limit; k, _ = rc.Next() {
			if timeFromKey(k[:8]) > n {
				break
			}
			pre := prefix(string(k[8:]))
			dc := t.b(bHostDue).Cursor()
			for dk, _ := dc.Seek(pre); dk != nil && bytes.HasPrefix(dk, pre) && count < limit; dk, _ = dc.Next() {
				if timeFromKey(dk[len(pre):len(pre)+8]) > n {
					break
				}
				if !t.leased(dk[len(pre)+8:]) {
					count++
				}
			}
		}
		return nil
	})
	return count, err
}
