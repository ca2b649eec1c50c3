package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/storerules"
)

func (t *txn) addPendCount(id string, d int64) error {
	pc := t.b(bPendCount)
	var n int64
	if v := pc.Get([]byte(id)); v != nil {
		n, _ = binary.Varint(v)
	}
	n += d
	if n <= 0 {
		return pc.Delete([]byte(id))
	}
	return pc.Put([]byte(id), binary.AppendVarint(nil, n))
}

func (t *txn) dropPending(id, url string) error {
	k := join(id, url)
	p := t.b(bPending)
	if p.Get(k) == nil {
		return nil
	}
	if err := p.Delete(k); err != nil {
		return err
	}
	return t.addPendCount(id, -1)
}

// PendingClients implements lms.NotificationStore.
func (s *Store) PendingClients(ctx context.Context) ([]string, error) {
	var out []string
	err := s.view(ctx, func(t *txn) error {
		return t.b(bPendCount).ForEach(func(k, _ []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out, err
}

// PendingUpdates implements lms.NotificationStore.
func (s *Store) PendingUpdates(ctx context.Context, clientID string, limit int) ([]lms.PendingUpdate, error) {
	var out []lms.PendingUpdate
	err := s.view(ctx, func(t *txn) error {
		if _, err := t.getClient(clientID); err != nil {
			return err
		}
		pre := prefix(clientID)
		c := t.b(bPending).Cursor()
		for k, v := c.Seek(pre); k != nil && bytes.HasPrefix(k, pre); k, v = c.Next() {
			st, seq, reason, err := decodePending(v)
			if err != nil {
				return err
			}
			out = append(out, storerules.Pending(string(k[len(pre):]), st, reason, seq))
			if limit > 0 && len(out) >= limit {
				break
			}
		}
		return nil
	})
	return out, err
}

// PendingCount implements lms.NotificationStore.
func (s *Store) PendingCount(ctx context.Context, clientID string) (int, error) {
	var n int64
	err := s.view(ctx, func(t *txn) error {
		if _, err := t.getClient(clientID); err != nil {
			return err
		}
		if v := t.b(bPendCount).Get([]byte(clientID)); v != nil {
			n, _ = binary.Varint(v)
		}
		return nil
	})
	return int(n), err
}

// AckUpdates implements lms.NotificationStore.
func (s *Store) AckUpdates(ctx context.Context, clientID string, delivered []lms.PendingUpdate) error {
	return s.update(ctx, func(t *txn) error {
		if _, err := t.getClient(clientID); err != nil {
			return err
		}
		delete(t.clients, clientID) // read only: no need to rewrite it
		pend := t.b(bPending)
		for _, d := range delivered {
			k := join(clientID, d.URL)
			v := pend.Get(k)
			if v == nil {
				continue
			}
			if _, seq, _, err := decodePending(v); err != nil || seq != d.Seq {
				continue
			}
			if err := t.dropPending(clientID, d.URL); err != nil {
				return err
			}
		}
		return nil
	})
}
