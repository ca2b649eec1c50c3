package memstore

// Notifications: the pending updates of each client and their
// acknowledgement.

import (
	"context"
	"slices"
	"strings"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/storerules"
)

// PendingClients implements lms.NotificationStore.
func (s *Store) PendingClients(ctx context.Context) ([]string, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.pending))
	for c := range s.pending {
		out = append(out, c.c.ID)
	}
	slices.Sort(out)
	return out, nil
}

// PendingUpdates implements lms.NotificationStore.
func (s *Store) PendingUpdates(ctx context.Context, clientID string, limit int) ([]lms.PendingUpdate, error) {
	c, err := s.beginClient(ctx, clientID)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]lms.PendingUpdate, 0, len(c.pending))
	for l, p := range c.pending {
		out = append(out, storerules.Pending(l.url, p.state, p.reason, p.seq))
	}
	slices.SortFunc(out, func(a, b lms.PendingUpdate) int { return strings.Compare(a.URL, b.URL) })
	if limit > 0 && len(out) > limit {
		out = out[:limit:limit]
	}
	return out, nil
}

// PendingCount implements lms.NotificationStore.
func (s *Store) PendingCount(ctx context.Context, clientID string) (int, error) {
	c, err := s.beginClient(ctx, clientID)
	if err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	return len(c.pending), nil
}

// AckUpdates implements lms.NotificationStore.
func (s *Store) AckUpdates(ctx context.Context, clientID string, delivered []lms.PendingUpdate) error {
	c, err := s.beginClient(ctx, clientID)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	for _, d := range delivered {
		l := s.links[d.URL]
		if l == nil {
			continue
		}
		if p, ok := c.pending[l]; ok && p.seq == d.Seq {
			delete(c.pending, l)
		}
	}
	if len(c.pending) == 0 {
		delete(s.pending, c)
	}
	return nil
}
