package boltstore

import (
	"context"

	"github.com/linkmonitor/lms"
)

// ReleaseHosts implements lms.ScheduleStore. The holds live in memory (one
// process per file); a host's next allowed time is kept as a deferral.
func (s *Store) ReleaseHosts(ctx context.Context, holder string, hosts []lms.HostRelease) error {
	var rest []lms.HostRelease
	s.holdMu.Lock()
	for _, r := range hosts {
		if hold, ok := s.holds[r.Host]; ok && r.Host != "" && hold.Holder == holder {
			delete(s.holds, r.Host)
			if !r.NotBefore.IsZero() {
				rest = append(rest, r)
			}
		}
	}
	s.holdMu.Unlock()
	return s.update(ctx, func(t *txn) error {
		for _, r := range rest {
			if err := t.notBefore(r.Host, nanos(r.NotBefore)); err != nil {
				return err
			}
		}
		return nil
	})
}
