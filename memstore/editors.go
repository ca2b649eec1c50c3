package memstore

// The editors' role (lms.EditorStore): each link's history of state
// changes, re-check now, and ignores per client.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/storerules"
)

var _ lms.EditorStore = (*Store)(nil)

// record appends the change Apply just made to l's history; s.mu is held.
func (s *Store) record(l *link) {
	if s.retention.MaxChanges < 0 {
		return
	}
	s.hist[l] = storerules.Trim(s.retention, append(s.hist[l], l.Entry()))
}

// notifies tells whether a change of l is notified to c, and ends an
// ignore that lasts until the change; s.mu is held.
func (c *client) notifies(l *link) bool {
	m, ok := c.ignored[l]
	if !ok {
		return true
	}
	notify, after := storerules.Ignored(m)
	if after == lms.NotIgnored {
		delete(c.ignored, l)
	}
	return notify
}

// LinkHistory implements lms.EditorStore.
func (s *Store) LinkHistory(ctx context.Context, url string, before time.Time, limit int) ([]lms.HistoryEntry, error) {
	if err := storerules.CheckHistory(limit); err != nil {
		return nil, fmt.Errorf("memstore: %w", err)
	}
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	l := s.links[url]
	if l == nil {
		return nil, fmt.Errorf("memstore: link %q: %w", url, lms.ErrNotFound)
	}
	return storerules.HistoryPage(s.hist[l], before, limit), nil
}

// RecheckLinks implements lms.EditorStore. A link claimed at that moment
// (its due time is the end of the claim's lease) is made due too, and may
// be checked once more after the check in flight, paced like any other.
func (s *Store) RecheckLinks(ctx context.Context, clientID string, urls []string, now time.Time) (int, error) {
	c, err := s.beginClient(ctx, clientID)
	if err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	n, count := nanos(now), 0
	for _, u := range urls {
		l := s.links[u]
		if l == nil || !c.subs.Has(l) || l.due <= n {
			continue
		}
		s.reindex(l.host, func() {
			l.host.due.Delete(l)
			l.due = n
			l.host.due.ReplaceOrInsert(l)
		})
		count++
	}
	return count, nil
}

// SetIgnore implements lms.EditorStore.
func (s *Store) SetIgnore(ctx context.Context, clientID string, urls []string, mode lms.IgnoreMode) (int, error) {
	if err := storerules.CheckIgnore(mode); err != nil {
		return 0, fmt.Errorf("memstore: %w", err)
	}
	c, err := s.beginClient(ctx, clientID)
	if err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	count := 0
	for _, u := range urls {
		l := s.links[u]
		if l == nil || !c.subs.Has(l) || c.ignored[l] == mode {
			continue
		}
		count++
		if mode == lms.NotIgnored {
			delete(c.ignored, l)
			continue
		}
		if c.ignored == nil {
			c.ignored = make(map[*link]lms.IgnoreMode)
		}
		c.ignored[l] = mode
		delete(c.pending, l)
	}
	if len(c.pending) == 0 {
		delete(s.pending, c)
	}
	return count, nil
}

// ClientLink implements lms.EditorStore.
func (s *Store) ClientLink(ctx context.Context, clientID, url string) (lms.IgnoredLink, error) {
	c, err := s.beginClient(ctx, clientID)
	if err != nil {
		return lms.IgnoredLink{}, err
	}
	defer s.mu.Unlock()
	l := s.links[url]
	if l == nil || !c.subs.Has(l) {
		return lms.IgnoredLink{}, fmt.Errorf("memstore: client %q, link %q: %w", clientID, url, lms.ErrNotFound)
	}
	return lms.IgnoredLink{Link: l.export(), Mode: c.ignored[l]}, nil
}

// IgnoredLinks implements lms.EditorStore. It costs O(ignored links of the
// client) per page.
func (s *Store) IgnoredLinks(ctx context.Context, clientID string, p lms.Page) ([]lms.IgnoredLink, error) {
	c, err := s.beginClient(ctx, clientID)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := []lms.IgnoredLink{}
	for l, m := range c.ignored {
		if l.url >= p.After && storerules.InPage(p, l.url, l.State()) {
			out = append(out, lms.IgnoredLink{Link: l.export(), Mode: m})
		}
	}
	slices.SortFunc(out, func(a, b lms.IgnoredLink) int { return strings.Compare(a.URL, b.URL) })
	if p.Limit > 0 && len(out) > p.Limit {
		out = out[:p.Limit:p.Limit]
	}
	return out, nil
}
