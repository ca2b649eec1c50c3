package memstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/linkmonitor/lms"
)

// hookQueue is a client's webhook events in the order they were made (those
// still to deliver and the last lms.WebhookLogSize finished ones), and the
// pending changes handed to its webhook while they stay pending for the
// callback (URL → Seq).
type hookQueue struct {
	events []*hookEvent
	handed map[string]uint64
}

type hookEvent struct {
	ev     lms.WebhookEvent
	holder string
	until  int64 // hold ends (Unix ns)
}

func cloneEvent(ev lms.WebhookEvent) lms.WebhookEvent {
	ev.Body = slices.Clone(ev.Body)
	return ev
}

// EnqueueWebhook implements lms.WebhookStore.
func (s *Store) EnqueueWebhook(ctx context.Context, ev lms.WebhookEvent, handed []lms.PendingUpdate, ack bool) error {
	if ev.ID == "" {
		return fmt.Errorf("memstore: webhook event without id: %w", lms.ErrInvalid)
	}
	c, err := s.beginClient(ctx, ev.ClientID)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	q := &c.hooks
	for _, e := range q.events {
		if e.ev.ID == ev.ID {
			return fmt.Errorf("memstore: webhook event %q: %w", ev.ID, lms.ErrExists)
		}
	}
	for _, p := range handed {
		l := s.links[p.URL]
		if l == nil {
			continue
		}
		if pd, ok := c.pending[l]; !ok || pd.seq != p.Seq {
			continue
		}
		if ack {
			delete(c.pending, l)
			continue
		}
		if q.handed == nil {
			q.handed = make(map[string]uint64)
		}
		q.handed[p.URL] = p.Seq
	}
	if len(c.pending) == 0 {
		delete(s.pending, c)
	}
	// Marks of changes that were acknowledged or replaced since are void.
	for u, seq := range q.handed {
		if l := s.links[u]; l == nil || c.pending[l].seq != seq {
			delete(q.handed, u)
		}
	}
	q.events = append(q.events, &hookEvent{ev: cloneEvent(ev)})
	q.trim()
	return nil
}

// trim drops the oldest finished events beyond the log size.
func (q *hookQueue) trim() {
	finished := 0
	for _, e := range q.events {
		if !e.ev.Pending() {
			finished++
		}
	}
	if finished <= lms.WebhookLogSize {
		return
	}
	drop := finished - lms.WebhookLogSize
	q.events = slices.DeleteFunc(q.events, func(e *hookEvent) bool {
		if drop > 0 && !e.ev.Pending() {
			drop--
			return true
		}
		return false
	})
}

// UnhandedUpdates implements lms.WebhookStore.
func (s *Store) UnhandedUpdates(ctx context.Context, clientID string, ps []lms.PendingUpdate) ([]lms.PendingUpdate, error) {
	c, err := s.beginClient(ctx, clientID)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := []lms.PendingUpdate{}
	for _, p := range ps {
		if seq, ok := c.hooks.handed[p.URL]; !ok || seq != p.Seq {
			out = append(out, p)
		}
	}
	return out, nil
}

// WebhookClients implements lms.WebhookStore.
func (s *Store) WebhookClients(ctx context.Context) ([]string, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := []string{}
	for id, c := range s.clients {
		if c.hooks.next() != nil {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, nil
}

// next returns the oldest event still to deliver, nil if none.
func (q *hookQueue) next() *hookEvent {
	for _, e := range q.events {
		if e.ev.Pending() {
			return e
		}
	}
	return nil
}

// ClaimWebhook implements lms.WebhookStore.
func (s *Store) ClaimWebhook(ctx context.Context, clientID, holder string, now time.Time, lease time.Duration) (lms.WebhookEvent, bool, error) {
	if lease <= 0 {
		return lms.WebhookEvent{}, false, fmt.Errorf("memstore: claim webhook for %v: %w", lease, lms.ErrInvalid)
	}
	c, err := s.beginClient(ctx, clientID)
	if err != nil {
		return lms.WebhookEvent{}, false, err
	}
	defer s.mu.Unlock()
	e := c.hooks.next()
	if e == nil || now.Before(e.ev.NextAttempt) || (e.holder != "" && e.holder != holder && nanos(now) < e.until) {
		return lms.WebhookEvent{}, false, nil
	}
	e.holder, e.until = holder, nanos(now.Add(lease))
	return cloneEvent(e.ev), true, nil
}

// RecordWebhookAttempt implements lms.WebhookStore.
func (s *Store) RecordWebhookAttempt(ctx context.Context, clientID string, d lms.WebhookDelivery) error {
	c, err := s.beginClient(ctx, clientID)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	for _, e := range c.hooks.events {
		if e.ev.ID == d.ID {
			e.ev.Attempts, e.ev.Status, e.ev.Error = d.Attempts, d.Status, d.Error
			e.ev.NextAttempt, e.ev.Delivered = d.NextAttempt, d.Delivered
			e.holder, e.until = "", 0
			c.hooks.trim()
			return nil
		}
	}
	return fmt.Errorf("memstore: webhook event %q: %w", d.ID, lms.ErrNotFound)
}

// WebhookDeliveries implements lms.WebhookStore.
func (s *Store) WebhookDeliveries(ctx context.Context, clientID string, limit int) ([]lms.WebhookDelivery, error) {
	if limit < 0 {
		return nil, fmt.Errorf("memstore: webhook deliveries limit %d: %w", limit, lms.ErrInvalid)
	}
	c, err := s.beginClient(ctx, clientID)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := []lms.WebhookDelivery{}
	for i := len(c.hooks.events) - 1; i >= 0 && (limit == 0 || len(out) < limit); i-- {
		out = append(out, c.hooks.events[i].ev.WebhookDelivery)
	}
	return out, nil
}
