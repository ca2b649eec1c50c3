package boltstore

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/linkmonitor/lms/internal/storerules"
)

// pruneScan is how many host records one PruneHosts call looks at per
// host it may remove, so that a call costs O(limit) whatever the store holds.
const pruneScan = 4

// PruneHosts implements lms.ScheduleStore. A host record without a
// subscribed link in the due index, not in the ready index, whose spacing
// and back-off have passed and that no process holds is removed; a missing
// record reads as a fresh host, so removing one changes nothing a claim
// sees. Each call goes on from where the last one stopped.
func (s *Store) PruneHosts(ctx context.Context, now time.Time, limit int) (int, error) {
	if err := storerules.CheckPrune(limit); err != nil {
		return 0, fmt.Errorf("boltstore: %w", err)
	}
	s.pruneMu.Lock()
	defer s.pruneMu.Unlock()
	n := nanos(now)
	held := s.heldHosts(now)
	removed := 0
	err := s.update(ctx, func(t *txn) error {
		removed = 0
		var drop [][]byte
		c := t.b(bHosts).Cursor()
		k, v := c.Seek(s.pruneFrom)
		if k == nil {
			k, v = c.First()
		}
		for seen := 0; k != nil && seen < pruneScan*limit && len(drop) < limit; k, v = c.Next() {
			seen++
			s.pruneFrom = append(s.pruneFrom[:0], k...)
			h, err := decodeHost(v)
			if err != nil {
				return err
			}
			name := string(k[1:])
			if h.inReady || h.notBefore > n || held[name] {
				continue
			}
			if dk, _ := t.b(bHostDue).Cursor().Seek(prefix(name)); dk != nil && bytes.HasPrefix(dk, prefix(name)) {
				continue
			}
			drop = append(drop, bytes.Clone(k))
		}
		if k == nil {
			s.pruneFrom = s.pruneFrom[:0]
		}
		for _, k := range drop {
			if err := t.b(bHosts).Delete(k); err != nil {
				return err
			}
		}
		removed = len(drop)
		return nil
	})
	return removed, err
}

// heldHosts returns the hosts a process holds at now.
func (s *Store) heldHosts(now time.Time) map[string]bool {
	s.holdMu.Lock()
	defer s.holdMu.Unlock()
	held := make(map[string]bool, len(s.holds))
	for h, l := range s.holds {
		if l.Until.After(now) {
			held[h] = true
		}
	}
	return held
}
