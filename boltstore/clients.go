package boltstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/storerules"
)

func (t *txn) getClient(id string) (*lms.Client, error) {
	if c := t.clients[id]; c != nil {
		return c, nil
	}
	v := t.b(bClients).Get([]byte(id))
	if v == nil {
		return nil, fmt.Errorf("boltstore: client %q: %w", id, lms.ErrNotFound)
	}
	c := new(lms.Client)
	if err := json.Unmarshal(v, c); err != nil {
		return nil, fmt.Errorf("client %q: %w", id, errCorrupt)
	}
	if t.touched != nil { // write transaction: keep it for flush
		t.clients[id] = c
	}
	return c, nil
}

func (t *txn) putClient(c *lms.Client) error {
	v, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return t.b(bClients).Put([]byte(c.ID), v)
}

// CreateClient implements lms.ClientStore.
func (s *Store) CreateClient(ctx context.Context, c lms.Client) error {
	c, err := storerules.NewClient(c)
	if err != nil {
		return fmt.Errorf("boltstore: %w", err)
	}
	return s.update(ctx, func(t *txn) error {
		if t.b(bClients).Get([]byte(c.ID)) != nil {
			return fmt.Errorf("boltstore: client %q: %w", c.ID, lms.ErrExists)
		}
		return t.putClient(&c)
	})
}

// GetClient implements lms.ClientStore.
func (s *Store) GetClient(ctx context.Context, id string) (lms.Client, error) {
	var out lms.Client
	err := s.view(ctx, func(t *txn) error {
		c, err := t.getClient(id)
		if err == nil {
			out = *c
		}
		return err
	})
	return out, err
}

// ListClients implements lms.ClientStore.
func (s *Store) ListClients(ctx context.Context) ([]lms.Client, error) {
	var out []lms.Client
	err := s.view(ctx, func(t *txn) error {
		return t.b(bClients).ForEach(func(k, v []byte) error {
			var c lms.Client
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("client %q: %w", k, errCorrupt)
			}
			out = append(out, c)
			return nil
		})
	})
	return out, err
}

// UpdateClient implements lms.ClientStore.
func (s *Store) UpdateClient(ctx context.Context, id string, fn func(*lms.Client) error) (lms.Client, error) {
	var out lms.Client
	err := s.update(ctx, func(t *txn) error {
		c, err := t.getClient(id)
		if err != nil {
			return err
		}
		cp, err := storerules.UpdateClient(*c, fn)
		if err != nil {
			return err
		}
		*c, out = cp, cp
		return nil
	})
	return out, err
}

// DeleteClient implements lms.ClientStore.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return s.update(ctx, func(t *txn) error {
		c, err := t.getClient(id)
		if err != nil {
			return err
		}
		if err := t.deleteSources(id); err != nil {
			return err
		}
		urls, err := collect(t.b(bSubs), prefix(id))
		if err != nil {
			return err
		}
		for _, u := range urls {
			if err := t.unsubscribe(c, u); err != nil {
				return err
			}
		}
		delete(t.clients, id)
		if err := t.dropWebhooks(id); err != nil {
			return err
		}
		if err := t.dropDailyCounts(id); err != nil {
			return err
		}
		if err := t.b(bPendCount).Delete([]byte(id)); err != nil {
			return err
		}
		return t.b(bClients).Delete([]byte(id))
	})
}
