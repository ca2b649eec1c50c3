package memstore

// Scheduling: claiming due links host by host, recording results, host
// deferrals and holds, counts.

import (
	"context"
	"fmt"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/storerules"
)

// ClaimDue implements lms.ScheduleStore.
func (s *Store) ClaimDue(ctx context.Context, now time.Time, opt lms.ClaimOptions) ([]lms.Link, error) {
	if err := storerules.CheckClaim(opt); err != nil {
		return nil, fmt.Errorf("memstore: %w", err)
	}
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	n := nanos(now)
	lease := nanos(now.Add(opt.Lease))
	var out []lms.Link
	// Each host is visited once per call: taken out of the ready tree while
	// its links are claimed, and put back under its new key at the end.
	var visited []*host
	for len(out) < opt.Limit {
		h, ok := s.ready.Min()
		if !ok || h.readyAt > n {
			break
		}
		s.ready.Delete(h)
		h.inReady = false
		visited = append(visited, h)
		if storerules.HeldByOther(h.hold, opt.Holder, now) {
			continue
		}
		h.hold = lms.Lease{Holder: opt.Holder, Until: fromNanos(lease)}
		k := 0
		for k < opt.PerHost && len(out) < opt.Limit {
			l, ok := h.due.Min()
			if !ok || l.due > n {
				break
			}
			h.due.Delete(l)
			l.due = lease
			h.due.ReplaceOrInsert(l)
			out = append(out, l.export())
			k++
		}
		if until, ok := storerules.PacedUntil(h.name, now, k, opt.HostGap); ok {
			h.notBefore = max(h.notBefore, nanos(until))
		}
	}
	for _, h := range visited {
		s.reindex(h, func() {})
	}
	return out, nil
}

// RecordResults implements lms.ScheduleStore.
func (s *Store) RecordResults(ctx context.Context, recs []lms.Outcome) error {
	if err := storerules.CheckOutcomes(recs); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	for _, r := range recs {
		l := s.links[r.URL]
		if l == nil {
			continue
		}
		if !r.Hold {
			s.apply(l, r)
		}
		due := nanos(r.NextDue)
		if len(l.subs) == 0 {
			l.due = due
			continue
		}
		s.reindex(l.host, func() {
			l.host.due.Delete(l)
			l.due = due
			l.host.due.ReplaceOrInsert(l)
		})
	}
	return nil
}

func (s *Store) apply(l *link, r lms.Outcome) {
	old, changed := l.Apply(r)
	if !changed {
		return
	}
	st := l.State()
	if len(l.subs) > 0 {
		storerules.Move(&s.counts, old, st)
	}
	s.seq++
	for _, c := range l.subs {
		storerules.Move(&c.c.Counts, old, st)
		c.pending[l] = pend{state: st, reason: l.Reason, seq: s.seq}
		s.pending[c] = struct{}{}
	}
}

// DeferHost implements lms.ScheduleStore.
func (s *Store) DeferHost(ctx context.Context, name string, until time.Time) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	h := s.hostOf(name)
	s.reindex(h, func() {
		h.notBefore = max(h.notBefore, nanos(until))
		h.deferred = max(h.deferred, nanos(until))
	})
	return nil
}

// HoldHost implements lms.ScheduleStore.
func (s *Store) HoldHost(ctx context.Context, holder, name string, now time.Time, lease time.Duration) (time.Time, bool, error) {
	if err := storerules.CheckHold(name, lease); err != nil {
		return time.Time{}, false, fmt.Errorf("memstore: %w", err)
	}
	if err := s.begin(ctx); err != nil {
		return time.Time{}, false, err
	}
	defer s.mu.Unlock()
	n := nanos(now)
	h := s.hostOf(name)
	if storerules.HeldByOther(h.hold, holder, now) {
		return time.Time{}, false, nil
	}
	if until := now.Add(lease); h.hold.Holder != holder || until.After(h.hold.Until) {
		h.hold = lms.Lease{Holder: holder, Until: until} // a holder's hold is never shortened
	}
	if h.deferred > n {
		return fromNanos(h.deferred), true, nil
	}
	return time.Time{}, true, nil
}

// LinkCounts implements lms.ScheduleStore.
func (s *Store) LinkCounts(ctx context.Context) (lms.StateCounts, error) {
	if err := s.begin(ctx); err != nil {
		return lms.StateCounts{}, err
	}
	defer s.mu.Unlock()
	return s.counts, nil
}

// DueCount implements lms.ScheduleStore.
func (s *Store) DueCount(ctx context.Context, now time.Time, limit int) (int, error) {
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	n, count := nanos(now), 0
	// Only hosts ready at now can hand out links; a deferred host's links
	// wait for the host, not for the checker.
	s.ready.Ascend(func(h *host) bool {
		if h.readyAt > n {
			return false
		}
		h.due.Ascend(func(l *link) bool {
			if l.due > n || count >= limit {
				return false
			}
			count++
			return true
		})
		return count < limit
	})
	return min(count, limit), nil
}

// PruneHosts implements lms.ScheduleStore: links are never removed, so a
// host no link was ever created on is one that only hops, probes or
// back-offs named.
func (s *Store) PruneHosts(ctx context.Context, now time.Time, limit int) (int, error) {
	if err := storerules.CheckPrune(limit); err != nil {
		return 0, fmt.Errorf("memstore: %w", err)
	}
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	n, removed := nanos(now), 0
	for h := range s.bare {
		if removed == limit {
			break
		}
		if h.notBefore > n || h.deferred > n || h.hold.Until.After(now) {
			continue
		}
		delete(s.bare, h)
		delete(s.hosts, h.name)
		removed++
	}
	return removed, nil
}
