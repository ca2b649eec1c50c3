package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/linkmonitor/lms"
)

// The buckets of the webhook queues (lms.WebhookStore).
const (
	bHookEvents = "hookevents" // id 0 n(8) → JSON event: a client's events in the order made
	bHookIDs    = "hookids"    // id 0 event id → n(8)
	bHookQueues = "hookqueues" // id → queueHead
	bHookHanded = "hookhanded" // id 0 url → seq(8): pending changes handed to the webhook
)

// hookRecord is the stored form of an event and its hold.
type hookRecord struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Created   int64  `json:"created"`
	Attempts  int    `json:"attempts,omitempty"`
	Status    int    `json:"status,omitempty"`
	Error     string `json:"error,omitempty"`
	Next      int64  `json:"next,omitempty"`
	Delivered int64  `json:"delivered,omitempty"`
	Body      []byte `json:"body"`
	Holder    string `json:"holder,omitempty"`
	Until     int64  `json:"until,omitempty"`
}

func (r hookRecord) event(clientID string) lms.WebhookEvent {
	return lms.WebhookEvent{
		WebhookDelivery: lms.WebhookDelivery{ID: r.ID, ClientID: clientID, Type: r.Type, Created: fromNanos(r.Created), Attempts: r.Attempts,
			Status: r.Status, Error: r.Error, NextAttempt: fromNanos(r.Next), Delivered: fromNanos(r.Delivered)},
		Body: r.Body,
	}
}

func (r hookRecord) pending() bool { return r.Delivered == 0 && r.Next != 0 }

func decodeHook(v []byte) (hookRecord, error) {
	var r hookRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return r, errCorrupt
	}
	return r, nil
}

// queueHead is what a client's queue keeps beside its events: the last
// event number, how many events are still to deliver and how many are
// finished (so that the log is trimmed without reading it).
type queueHead struct {
	last           uint64
	open, finished int64
}

func (t *txn) hookQueue(id string) queueHead {
	var q queueHead
	v := t.b(bHookQueues).Get([]byte(id))
	if len(v) >= 8 {
		q.last = binary.BigEndian.Uint64(v)
		n1, k := binary.Varint(v[8:])
		if k > 0 {
			q.open = n1
			q.finished, _ = binary.Varint(v[8+k:])
		}
	}
	return q
}

func (t *txn) putHookQueue(id string, q queueHead) error {
	v := binary.AppendVarint(binary.AppendVarint(binary.BigEndian.AppendUint64(nil, q.last), q.open), q.finished)
	return t.b(bHookQueues).Put([]byte(id), v)
}

// count adds an event that is pending or not to the head's counts.
func (q *queueHead) count(pending bool, d int64) {
	if pending {
		q.open += d
	} else {
		q.finished += d
	}
}

func hookKey(id string, n uint64) []byte { return binary.BigEndian.AppendUint64(prefix(id), n) }

func (t *txn) clientExists(id string) error {
	if t.b(bClients).Get([]byte(id)) == nil {
		return fmt.Errorf("boltstore: client %q: %w", id, lms.ErrNotFound)
	}
	return nil
}

// EnqueueWebhook implements lms.WebhookStore.
func (s *Store) EnqueueWebhook(ctx context.Context, ev lms.WebhookEvent, handed []lms.PendingUpdate, ack bool) error {
	if ev.ID == "" {
		return fmt.Errorf("boltstore: webhook event without id: %w", lms.ErrInvalid)
	}
	id := ev.ClientID
	return s.update(ctx, func(t *txn) error {
		if err := t.clientExists(id); err != nil {
			return err
		}
		ids := t.b(bHookIDs)
		if ids.Get(join(id, ev.ID)) != nil {
			return fmt.Errorf("boltstore: webhook event %q: %w", ev.ID, lms.ErrExists)
		}
		if err := t.handOver(id, handed, ack); err != nil {
			return err
		}
		q := t.hookQueue(id)
		q.last++
		r := hookRecord{ID: ev.ID, Type: ev.Type, Created: nanos(ev.Created), Attempts: ev.Attempts, Status: ev.Status, Error: ev.Error,
			Next: nanos(ev.NextAttempt), Delivered: nanos(ev.Delivered), Body: ev.Body}
		q.count(r.pending(), 1)
		v, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if err := t.b(bHookEvents).Put(hookKey(id, q.last), v); err != nil {
			return err
		}
		if err := ids.Put(join(id, ev.ID), binary.BigEndian.AppendUint64(nil, q.last)); err != nil {
			return err
		}
		return t.trimHooks(id, q)
	})
}

// handOver acknowledges or marks the handed changes (see EnqueueWebhook)
// and drops the marks of changes no longer pending as marked.
func (t *txn) handOver(id string, handed []lms.PendingUpdate, ack bool) error {
	pend, marks := t.b(bPending), t.b(bHookHanded)
	for _, p := range handed {
		v := pend.Get(join(id, p.URL))
		if v == nil {
			continue
		}
		if _, seq, _, err := decodePending(v); err != nil || seq != p.Seq {
			continue
		}
		if ack {
			if err := t.dropPending(id, p.URL); err != nil {
				return err
			}
			continue
		}
		if err := marks.Put(join(id, p.URL), binary.BigEndian.AppendUint64(nil, p.Seq)); err != nil {
			return err
		}
	}
	pre := prefix(id)
	var stale [][]byte
	c := marks.Cursor()
	for k, v := c.Seek(pre); k != nil && bytes.HasPrefix(k, pre); k, v = c.Next() {
		pv := pend.Get(k) // the same key layout: id 0 url
		if pv == nil || len(v) != 8 {
			stale = append(stale, bytes.Clone(k))
			continue
		}
		if _, seq, _, err := decodePending(pv); err != nil || seq != binary.BigEndian.Uint64(v) {
			stale = append(stale, bytes.Clone(k))
		}
	}
	for _, k := range stale {
		if err := marks.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// trimHooks drops the client's oldest finished events beyond the log size
// (they are mostly at the head of its events: only then are events read)
// and stores the queue head q.
func (t *txn) trimHooks(id string, q queueHead) error {
	if q.finished > lms.WebhookLogSize {
		pre := prefix(id)
		var drop [][]byte
		var ids []string
		c := t.b(bHookEvents).Cursor()
		for k, v := c.Seek(pre); k != nil && bytes.HasPrefix(k, pre) && q.finished-int64(len(drop)) > lms.WebhookLogSize; k, v = c.Next() {
			r, err := decodeHook(v)
			if err != nil {
				return err
			}
			if !r.pending() {
				drop, ids = append(drop, bytes.Clone(k)), append(ids, r.ID)
			}
		}
		for i, k := range drop {
			if err := t.b(bHookEvents).Delete(k); err != nil {
				return err
			}
			if err := t.b(bHookIDs).Delete(join(id, ids[i])); err != nil {
				return err
			}
		}
		q.finished -= int64(len(drop))
	}
	return t.putHookQueue(id, q)
}

// dropWebhooks removes the client's events, queue and marks (DeleteClient).
func (t *txn) dropWebhooks(id string) error {
	pre := prefix(id)
	for _, name := range []string{bHookEvents, bHookIDs, bHookHanded} {
		b := t.b(name)
		var keys [][]byte
		c := b.Cursor()
		for k, _ := c.Seek(pre); k != nil && bytes.HasPrefix(k, pre); k, _ = c.Next() {
			keys = append(keys, bytes.Clone(k))
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
	}
	return t.b(bHookQueues).Delete([]byte(id))
}

// UnhandedUpdates implements lms.WebhookStore.
func (s *Store) UnhandedUpdates(ctx context.Context, clientID string, ps []lms.PendingUpdate) ([]lms.PendingUpdate, error) {
	out := []lms.PendingUpdate{}
	err := s.view(ctx, func(t *txn) error {
		if err := t.clientExists(clientID); err != nil {
			return err
		}
		marks := t.b(bHookHanded)
		for _, p := range ps {
			if v := marks.Get(join(clientID, p.URL)); len(v) == 8 && binary.BigEndian.Uint64(v) == p.Seq {
				continue
			}
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

// WebhookClients implements lms.WebhookStore.
func (s *Store) WebhookClients(ctx context.Context) ([]string, error) {
	out := []string{}
	err := s.view(ctx, func(t *txn) error {
		return t.b(bHookQueues).ForEach(func(k, _ []byte) error {
			if t.hookQueue(string(k)).open > 0 {
				out = append(out, string(k))
			}
			return nil
		})
	})
	return out, err
}

// oldestHook returns the key and record of the client's oldest event still
// to deliver; a nil key if none.
func (t *txn) oldestHook(id string) ([]byte, hookRecord, error) {
	if t.hookQueue(id).open <= 0 {
		return nil, hookRecord{}, nil
	}
	pre := prefix(id)
	c := t.b(bHookEvents).Cursor()
	for k, v := c.Seek(pre); k != nil && bytes.HasPrefix(k, pre); k, v = c.Next() {
		r, err := decodeHook(v)
		if err != nil {
			return nil, r, err
		}
		if r.pending() {
			return bytes.Clone(k), r, nil
		}
	}
	return nil, hookRecord{}, nil
}

// ClaimWebhook implements lms.WebhookStore.
func (s *Store) ClaimWebhook(ctx context.Context, clientID, holder string, now time.Time, lease time.Duration) (lms.WebhookEvent, bool, error) {
	if lease <= 0 {
		return lms.WebhookEvent{}, false, fmt.Errorf("boltstore: claim webhook for %v: %w", lease, lms.ErrInvalid)
	}
	var ev lms.WebhookEvent
	ok := false
	// Through Batch: the claims and records of many clients' deliveries
	// share commits (both are idempotent, as Batch asks).
	err := s.batch(ctx, func(t *txn) error {
		ok = false
		if err := t.clientExists(clientID); err != nil {
			return err
		}
		k, r, err := t.oldestHook(clientID)
		n := nanos(now)
		if err != nil || k == nil || n < r.Next || (r.Holder != "" && r.Holder != holder && n < r.Until) {
			return err
		}
		r.Holder, r.Until = holder, nanos(now.Add(lease))
		v, err := json.Marshal(r)
		if err != nil {
			return err
		}
		ev, ok = r.event(clientID), true
		return t.b(bHookEvents).Put(k, v)
	})
	if err != nil {
		return lms.WebhookEvent{}, false, err
	}
	return ev, ok, nil
}

// RecordWebhookAttempt implements lms.WebhookStore.
func (s *Store) RecordWebhookAttempt(ctx context.Context, clientID string, d lms.WebhookDelivery) error {
	return s.batch(ctx, func(t *txn) error {
		if err := t.clientExists(clientID); err != nil {
			return err
		}
		nv := t.b(bHookIDs).Get(join(clientID, d.ID))
		if len(nv) != 8 {
			return fmt.Errorf("boltstore: webhook event %q: %w", d.ID, lms.ErrNotFound)
		}
		k := hookKey(clientID, binary.BigEndian.Uint64(nv))
		r, err := decodeHook(t.b(bHookEvents).Get(k))
		if err != nil {
			return err
		}
		was := r.pending()
		r.Attempts, r.Status, r.Error, r.Next, r.Delivered = d.Attempts, d.Status, d.Error, nanos(d.NextAttempt), nanos(d.Delivered)
		r.Holder, r.Until = "", 0
		v, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if err := t.b(bHookEvents).Put(k, v); err != nil {
			return err
		}
		q := t.hookQueue(clientID)
		q.count(was, -1)
		q.count(r.pending(), 1)
		return t.trimHooks(clientID, q)
	})
}

// WebhookDeliveries implements lms.WebhookStore.
func (s *Store) WebhookDeliveries(ctx context.Context, clientID string, limit int) ([]lms.WebhookDelivery, error) {
	if limit < 0 {
		return nil, fmt.Errorf("boltstore: webhook deliveries limit %d: %w", limit, lms.ErrInvalid)
	}
	out := []lms.WebhookDelivery{}
	err := s.view(ctx, func(t *txn) error {
		if err := t.clientExists(clientID); err != nil {
			return err
		}
		pre := prefix(clientID)
		c := t.b(bHookEvents).Cursor()
		// Seek past the client's last key and walk back.
		k, v := c.Seek(append([]byte(clientID), 1)) // ids hold no control bytes
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, pre) && (limit == 0 || len(out) < limit); k, v = c.Prev() {
			r, err := decodeHook(v)
			if err != nil {
				return err
			}
			out = append(out, r.event(clientID).WebhookDelivery)
		}
		return nil
	})
	return out, err
}
