package memstore

// Subscriptions: links shared between clients, indexed per host.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/btree"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/storerules"
)

// Subscribe implements lms.SubscriptionStore.
func (s *Store) Subscribe(ctx context.Context, clientID string, urls []string, now time.Time) (int, error) {
	if err := storerules.CheckURLs(urls); err != nil {
		return 0, fmt.Errorf("memstore: %w", err)
	}
	c, err := s.beginClient(ctx, clientID)
	if err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	return s.subscribeAll(c, urls, now), nil
}

// subscribeAll subscribes c to urls and returns how many subscriptions
// were added.
func (s *Store) subscribeAll(c *client, urls []string, now time.Time) int {
	added := 0
	for _, u := range urls {
		if s.subscribe(c, u, now) {
			added++
		}
	}
	return added
}

func (s *Store) hostOf(name string) *host {
	h := s.hosts[name]
	if h == nil {
		h = &host{name: name, due: btree.NewWithFreeListG(degree, lessDue, s.flLinks)}
		s.hosts[name] = h
		s.bare[h] = struct{}{}
	}
	return h
}

// linkHost returns the host of a new link: it is no longer bare.
func (s *Store) linkHost(name string) *host {
	h := s.hostOf(name)
	delete(s.bare, h)
	return h
}

// reindex removes h from the ready tree, runs fn, and puts h back under its
// new key if it has subscribed links.
func (s *Store) reindex(h *host, fn func()) {
	if h.inReady {
		s.ready.Delete(h)
		h.inReady = false
	}
	fn()
	if m, ok := h.due.Min(); ok {
		h.readyAt = max(m.due, h.notBefore)
		h.inReady = true
		s.ready.ReplaceOrInsert(h)
	}
}

func (s *Store) subscribe(c *client, u string, now time.Time) bool {
	l := s.links[u]
	if l == nil {
		l = &link{url: strings.Clone(u), host: s.linkHost(lms.HostKey(u)), due: nanos(now), Check: storerules.NewCheck()}
		s.links[l.url] = l
	}
	if _, ok := c.subs.ReplaceOrInsert(l); ok {
		return false
	}
	l.subs = append(l.subs, c)
	c.c.Counts.Add(l.State(), 1)
	if len(l.subs) == 1 {
		s.counts.Add(l.State(), 1)
		s.reindex(l.host, func() { l.host.due.ReplaceOrInsert(l) })
	}
	return true
}

func (s *Store) unsubscribe(c *client, l *link) {
	c.subs.Delete(l)
	l.subs = slices.DeleteFunc(l.subs, func(x *client) bool { return x == c })
	c.c.Counts.Add(l.State(), -1)
	delete(c.pending, l)
	if len(c.pending) == 0 {
		delete(s.pending, c)
	}
	if len(l.subs) == 0 {
		l.subs = nil
		s.counts.Add(l.State(), -1)
		s.reindex(l.host, func() { l.host.due.Delete(l) })
	}
}

// Unsubscribe implements lms.SubscriptionStore.
func (s *Store) Unsubscribe(ctx context.Context, clientID string, urls []string) (int, error) {
	c, err := s.beginClient(ctx, clientID)
	if err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	removed := 0
	for _, u := range urls {
		l := s.links[u]
		if l == nil || !c.subs.Has(l) {
			continue
		}
		s.unsubscribe(c, l)
		removed++
	}
	return removed, nil
}

// ReplaceSubscriptions implements lms.SubscriptionStore.
func (s *Store) ReplaceSubscriptions(ctx context.Context, clientID string, urls []string, now time.Time) (int, int, error) {
	if err := storerules.CheckURLs(urls); err != nil {
		return 0, 0, fmt.Errorf("memstore: %w", err)
	}
	c, err := s.beginClient(ctx, clientID)
	if err != nil {
		return 0, 0, err
	}
	defer s.mu.Unlock()
	want := make(map[string]struct{}, len(urls))
	for _, u := range urls {
		want[u] = struct{}{}
	}
	var drop []*link
	c.subs.Ascend(func(l *link) bool {
		if _, ok := want[l.url]; !ok {
			drop = append(drop, l)
		}
		return true
	})
	for _, l := range drop {
		s.unsubscribe(c, l)
	}
	return s.subscribeAll(c, urls, now), len(drop), nil
}

func (l *link) export() lms.Link { return l.Link(l.url, l.host.name, l.due, len(l.subs)) }

// ClientLinks implements lms.SubscriptionStore.
func (s *Store) ClientLinks(ctx context.Context, clientID string, p lms.Page) ([]lms.Link, error) {
	c, err := s.beginClient(ctx, clientID)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []lms.Link
	c.subs.AscendGreaterOrEqual(&link{url: p.After}, func(l *link) bool {
		if storerules.InPage(p, l.url, l.State()) {
			out = append(out, l.export())
		}
		return !storerules.PageFull(p, len(out))
	})
	return out, nil
}

// LookupLinks implements lms.SubscriptionStore.
func (s *Store) LookupLinks(ctx context.Context, urls []string) (map[string]lms.Link, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make(map[string]lms.Link)
	for _, u := range urls {
		if l := s.links[u]; l != nil {
			out[u] = l.export()
		}
	}
	return out, nil
}
