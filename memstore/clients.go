package memstore

// Clients: create, read, list, update and delete.

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/btree"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/storerules"
)

// beginClient is begin followed by the lookup of client id; on success the
// caller defers s.mu.Unlock().
func (s *Store) beginClient(ctx context.Context, id string) (*client, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	c := s.clients[id]
	if c == nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("memstore: client %q: %w", id, lms.ErrNotFound)
	}
	return c, nil
}

// CreateClient implements lms.ClientStore.
func (s *Store) CreateClient(ctx context.Context, c lms.Client) error {
	c, err := storerules.NewClient(c)
	if err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if s.clients[c.ID] != nil {
		return fmt.Errorf("memstore: client %q: %w", c.ID, lms.ErrExists)
	}
	s.clients[c.ID] = &client{
		c:       c,
		subs:    btree.NewWithFreeListG(degree, lessURL, s.flLinks),
		pending: make(map[*link]pend),
	}
	return nil
}

// GetClient implements lms.ClientStore.
func (s *Store) GetClient(ctx context.Context, id string) (lms.Client, error) {
	c, err := s.beginClient(ctx, id)
	if err != nil {
		return lms.Client{}, err
	}
	defer s.mu.Unlock()
	return c.c.Clone(), nil
}

// ListClients implements lms.ClientStore.
func (s *Store) ListClients(ctx context.Context) ([]lms.Client, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]lms.Client, 0, len(s.clients))
	for _, c := range s.clients {
		out = append(out, c.c.Clone())
	}
	slices.SortFunc(out, func(a, b lms.Client) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// UpdateClient implements lms.ClientStore.
func (s *Store) UpdateClient(ctx context.Context, id string, fn func(*lms.Client) error) (lms.Client, error) {
	c, err := s.beginClient(ctx, id)
	if err != nil {
		return lms.Client{}, err
	}
	defer s.mu.Unlock()
	cp, err := storerules.UpdateClient(c.c, fn)
	if err != nil {
		return lms.Client{}, err
	}
	c.c = cp.Clone()
	return cp, nil
}

// DeleteClient implements lms.ClientStore.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	c, err := s.beginClient(ctx, id)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	var all []*link
	c.subs.Ascend(func(l *link) bool { all = append(all, l); return true })
	for _, l := range all {
		s.unsubscribe(c, l)
	}
	delete(s.pending, c)
	delete(s.clients, id)
	return nil
}
