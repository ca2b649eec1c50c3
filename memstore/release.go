package memstore

import (
	"context"

	"github.com/linkmonitor/lms"
)

// ReleaseHosts implements lms.ScheduleStore.
func (s *Store) ReleaseHosts(ctx context.Context, holder string, hosts []lms.HostRelease) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	for _, r := range hosts {
		h := s.hosts[r.Host]
		if r.Host == "" || h == nil || h.hold.Holder != holder || h.hold.Until.IsZero() {
			continue
		}
		nb := nanos(r.NotBefore)
		s.reindex(h, func() {
			h.hold = lms.Lease{}
			h.deferred = max(h.deferred, nb)
			h.notBefore = h.deferred
		})
	}
	return nil
}
