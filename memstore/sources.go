package memstore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/storerules"
)

// sources are one client's sources and what the subscription rule of
// lms.SourceStore needs: a subscription lives while it is a plain
// registration or a source uses its URL.
type sources struct {
	byID    map[string]*lms.Source // the client's sources by id
	uses    map[string][]string    // URL → ids of the sources listing it, sorted
	srcOnly map[string]struct{}    // subscribed URLs that are not plain registrations
}

// used reports whether a source lists u.
func (x *sources) used(u string) bool { return len(x.uses[u]) > 0 }

// plain records that urls are plain registrations.
func (x *sources) plain(urls []string) {
	if len(x.srcOnly) == 0 {
		return
	}
	for _, u := range urls {
		delete(x.srcOnly, u)
	}
}

// keep is called when the plain registration of subscribed URL u ends: if a
// source uses u, the subscription stays (now source-only) and keep reports
// true.
func (x *sources) keep(u string) bool {
	if !x.used(u) {
		return false
	}
	if x.srcOnly == nil {
		x.srcOnly = make(map[string]struct{})
	}
	x.srcOnly[u] = struct{}{}
	return true
}

// PutSource implements lms.SourceStore.
func (s *Store) PutSource(ctx context.Context, clientID string, src lms.Source, now time.Time) (int, int, error) {
	src, err := storerules.NewSource(src)
	if err != nil {
		return 0, 0, fmt.Errorf("memstore: %w", err)
	}
	c, err := s.beginClient(ctx, clientID)
	if err != nil {
		return 0, 0, err
	}
	defer s.mu.Unlock()
	src.Updated = now
	var old []string
	if o := c.src.byID[src.ID]; o != nil {
		old = o.Links
	}
	if c.src.byID == nil {
		c.src.byID = make(map[string]*lms.Source)
		c.src.uses = make(map[string][]string)
	}
	c.src.byID[src.ID] = &src
	added := 0
	for _, u := range storerules.Diff(old, src.Links) {
		ids := c.src.uses[u]
		i, _ := slices.BinarySearch(ids, src.ID)
		c.src.uses[u] = slices.Insert(ids, i, src.ID)
		if s.links[u] == nil || !c.subs.Has(s.links[u]) {
			if s.subscribe(c, u, now) {
				added++
			}
			if c.src.srcOnly == nil {
				c.src.srcOnly = make(map[string]struct{})
			}
			c.src.srcOnly[u] = struct{}{}
		}
	}
	return added, s.release(c, src.ID, storerules.Diff(src.Links, old)), nil
}

// release records that source id no longer lists urls and ends the
// subscriptions that nothing holds any more.
func (s *Store) release(c *client, id string, urls []string) int {
	removed := 0
	for _, u := range urls {
		ids := c.src.uses[u]
		if i, ok := slices.BinarySearch(ids, id); ok {
			ids = slices.Delete(ids, i, i+1)
		}
		if len(ids) > 0 {
			c.src.uses[u] = ids
			continue
		}
		delete(c.src.uses, u)
		if _, ok := c.src.srcOnly[u]; !ok {
			continue // a plain registration
		}
		delete(c.src.srcOnly, u)
		if l := s.links[u]; l != nil && c.subs.Has(l) {
			s.unsubscribe(c, l)
			removed++
		}
	}
	return removed
}

// GetSource implements lms.SourceStore.
func (s *Store) GetSource(ctx context.Context, clientID, sourceID string) (lms.Source, error) {
	c, err := s.beginClient(ctx, clientID)
	if err != nil {
		return lms.Source{}, err
	}
	defer s.mu.Unlock()
	src := c.src.byID[sourceID]
	if src == nil {
		return lms.Source{}, fmt.Errorf("memstore: source %q of client %q: %w", sourceID, clientID, lms.ErrNotFound)
	}
	return src.Clone(), nil
}

// DeleteSource implements lms.SourceStore.
func (s *Store) DeleteSource(ctx context.Context, clientID, sourceID string) (int, error) {
	c, err := s.beginClient(ctx, clientID)
	if err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	src := c.src.byID[sourceID]
	if src == nil {
		return 0, fmt.Errorf("memstore: source %q of client %q: %w", sourceID, clientID, lms.ErrNotFound)
	}
	delete(c.src.byID, sourceID)
	return s.release(c, sourceID, src.Links), nil
}

// ListSources implements lms.SourceStore.
func (s *Store) ListSources(ctx context.Context, clientID string, p lms.SourcePage) ([]lms.SourceSummary, error) {
	c, err := s.beginClient(ctx, clientID)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	ids := slices.Sorted(maps.Keys(c.src.byID))
	out := []lms.SourceSummary{}
	for _, id := range ids {
		if id <= p.After {
			continue
		}
		src := c.src.byID[id]
		var n lms.StateCounts
		for _, u := range src.Links {
			if l := s.links[u]; l != nil {
				n.Add(l.State(), 1)
			} else {
				n.Add(lms.StateUnknown, 1)
			}
		}
		if !storerules.InSourcePage(p, id, n) {
			continue
		}
		out = append(out, lms.SourceSummary{SourceRef: src.SourceRef, Counts: n, Updated: src.Updated})
		if p.Limit > 0 && len(out) >= p.Limit {
			break
		}
	}
	return out, nil
}

// LinkSources implements lms.SourceLookup.
func (s *Store) LinkSources(ctx context.Context, clientID string, urls []string) (map[string][]lms.SourceRef, error) {
	c, err := s.beginClient(ctx, clientID)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make(map[string][]lms.SourceRef)
	if len(c.src.uses) == 0 {
		return out, nil
	}
	for _, u := range urls {
		ids := c.src.uses[u]
		if len(ids) == 0 {
			continue
		}
		if _, done := out[u]; done {
			continue
		}
		refs := make([]lms.SourceRef, len(ids))
		for i, id := range ids {
			refs[i] = c.src.byID[id].SourceRef
		}
		out[u] = refs
	}
	return out, nil
}
