package boltstore

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/storerules"
)

// getSource returns the client's source id, or nil if there is none. The
// record is decoded afresh, so it does not alias the file.
func (t *txn) getSource(clientID, id string) (*sourceRecord, error) {
	v := t.b(bSources).Get(join(clientID, id))
	if v == nil {
		return nil, nil
	}
	r, err := t.records.decode(v)
	if err != nil {
		return nil, fmt.Errorf("source %q of client %q: %w", id, clientID, errCorrupt)
	}
	return &r, nil
}

// A client's subscription says itself where its uses are. Its value is
// inlineUse(id) when source id is its only use and it is no plain
// registration (most links of a page): then neither bSrcUses nor bSrcOnly
// has it, and a source's new URL costs no entry beyond the subscription
// a plain registration writes too. Otherwise its value is mark(), its uses
// are bSrcUses entries, and bSrcOnly says it is not plain. A second use or a
// plain registration moves an inline use there (spreadUse), for good.

// inlineUse is the bSubs value of a subscription whose only use is source
// id.
func inlineUse(id string) []byte { return append([]byte{'s'}, id...) }

// inlined returns the source of a bSubs value made by inlineUse.
func inlined(v []byte) (string, bool) {
	if len(v) > 1 && v[0] == 's' {
		return string(v[1:]), true
	}
	return "", false
}

// spreadUse moves the inline use by source id of the client's
// subscription to url to bSrcUses; with sourceOnly the subscription stays
// source-only, else it is a plain registration now.
func (t *txn) spreadUse(clientID, url, id string, sourceOnly bool) error {
	sk := join(clientID, url)
	if err := t.b(bSrcUses).Put(useKey(clientID, url, id), mark()); err != nil {
		return err
	}
	if sourceOnly {
		if err := t.b(bSrcOnly).Put(sk, mark()); err != nil {
			return err
		}
	}
	return t.b(bSubs).Put(sk, mark())
}

// useKey is the bSrcUses key of source id using url.
func useKey(clientID, url, id string) []byte {
	return append(join(clientID, url), append([]byte{0}, id...)...)
}

// usedSpread reports whether bSrcUses has a use of url by a source of the
// client (for a subscription whose value is not inlineUse).
func (t *txn) usedSpread(clientID, url string) bool {
	p := append(join(clientID, url), 0)
	k, _ := t.b(bSrcUses).Cursor().Seek(p)
	return k != nil && bytes.HasPrefix(k, p)
}

// plain records that urls are plain registrations of the client.
func (t *txn) plain(clientID string, urls []string) error {
	b := t.b(bSrcOnly)
	if k, _ := b.Cursor().Seek(prefix(clientID)); k == nil || !bytes.HasPrefix(k, prefix(clientID)) {
		return nil // no source-only subscriptions: nothing to change
	}
	for _, u := range urls {
		if err := b.Delete(join(clientID, u)); err != nil {
			return err
		}
	}
	return nil
}

// keepForSource is called when the plain registration of subscribed URL u
// ends: if a source uses u, the subscription stays (source-only) and it
// reports true.
func (t *txn) keepForSource(clientID, u string) (bool, error) {
	if _, ok := inlined(t.b(bSubs).Get(join(clientID, u))); ok {
		return true, nil // source-only already
	}
	if !t.usedSpread(clientID, u) {
		return false, nil
	}
	return true, t.b(bSrcOnly).Put(join(clientID, u), mark())
}

// release records that source id no longer uses urls and ends the
// subscriptions nothing holds any more.
func (t *txn) release(c *lms.Client, id string, urls []string) (int, error) {
	removed := 0
	for _, u := range urls {
		if only, ok := inlined(t.b(bSubs).Get(join(c.ID, u))); ok {
			if only == id { // its only use, and not plain
				if err := t.unsubscribe(c, u); err != nil {
					return removed, err
				}
				removed++
			}
			continue
		}
		if err := t.b(bSrcUses).Delete(useKey(c.ID, u, id)); err != nil {
			return removed, err
		}
		if t.usedSpread(c.ID, u) || t.b(bSrcOnly).Get(join(c.ID, u)) == nil {
			continue // another source uses it, or it is a plain registration
		}
		if err := t.b(bSrcOnly).Delete(join(c.ID, u)); err != nil {
			return removed, err
		}
		if t.b(bSubs).Get(join(c.ID, u)) != nil {
			if err := t.unsubscribe(c, u); err != nil {
				return removed, err
			}
			removed++
		}
	}
	return removed, nil
}

// deleteSources removes every source of the client (DeleteClient).
func (t *txn) deleteSources(clientID string) error {
	for _, name := range []string{bSources, bSrcUses, bSrcOnly} {
		keys, err := collect(t.b(name), prefix(clientID))
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := t.b(name).Delete(join(clientID, k)); err != nil {
				return err
			}
		}
	}
	return nil
}

// PutSource implements lms.SourceStore.
func (s *Store) PutSource(ctx context.Context, clientID string, src lms.Source, now time.Time) (int, int, error) {
	src, err := storerules.NewSource(src)
	if err != nil {
		return 0, 0, fmt.Errorf("boltstore: %w", err)
	}
	// The record is encoded (and compressed) before the transaction: bolt
	// has one writer, and what it does while it holds the file is what
	// limits them all.
	rec, err := s.records.encode(sourceRecord{Title: src.Title, EditURL: src.EditURL, Owner: src.Owner, Links: src.Links, Updated: nanos(now)})
	if err != nil {
		return 0, 0, fmt.Errorf("boltstore: %w", err)
	}
	added, removed := 0, 0
	err = s.update(ctx, func(t *txn) error {
		added, removed = 0, 0
		c, err := t.getClient(clientID)
		if err != nil {
			return err
		}
		var old []string
		if o, err := t.getSource(clientID, src.ID); err != nil {
			return err
		} else if o != nil {
			old = o.Links
		}
		if err := t.b(bSources).Put(join(clientID, src.ID), rec); err != nil {
			return err
		}
		use := inlineUse(src.ID)
		for _, u := range storerules.Diff(old, src.Links) {
			sk := join(clientID, u)
			v := t.b(bSubs).Get(sk)
			if v == nil { // a new subscription, with this source as its only use
				if err := t.addSub(c, sk, u, nanos(now), use); err != nil {
					return err
				}
				added++
				continue
			}
			if other, ok := inlined(v); ok { // a second use
				if err := t.spreadUse(clientID, u, other, true); err != nil {
					return err
				}
			}
			if err := t.b(bSrcUses).Put(useKey(clientID, u, src.ID), mark()); err != nil {
				return err
			}
		}
		removed, err = t.release(c, src.ID, storerules.Diff(src.Links, old))
		return err
	})
	return added, removed, err
}

// GetSource implements lms.SourceStore.
func (s *Store) GetSource(ctx context.Context, clientID, sourceID string) (lms.Source, error) {
	var out lms.Source
	err := s.view(ctx, func(t *txn) error {
		if _, err := t.getClient(clientID); err != nil {
			return err
		}
		r, err := t.getSource(clientID, sourceID)
		if err != nil {
			return err
		}
		if r == nil {
			return fmt.Errorf("boltstore: source %q of client %q: %w", sourceID, clientID, lms.ErrNotFound)
		}
		out = r.source(sourceID)
		return nil
	})
	return out, err
}

// DeleteSource implements lms.SourceStore.
func (s *Store) DeleteSource(ctx context.Context, clientID, sourceID string) (int, error) {
	removed := 0
	err := s.update(ctx, func(t *txn) error {
		c, err := t.getClient(clientID)
		if err != nil {
			return err
		}
		r, err := t.getSource(clientID, sourceID)
		if err != nil {
			return err
		}
		if r == nil {
			return fmt.Errorf("boltstore: source %q of client %q: %w", sourceID, clientID, lms.ErrNotFound)
		}
		if err := t.b(bSources).Delete(join(clientID, sourceID)); err != nil {
			return err
		}
		removed, err = t.release(c, sourceID, r.Links)
		return err
	})
	return removed, err
}

// ListSources implements lms.SourceStore.
func (s *Store) ListSources(ctx context.Context, clientID string, p lms.SourcePage) ([]lms.SourceSummary, error) {
	out := []lms.SourceSummary{}
	err := s.view(ctx, func(t *txn) error {
		out = out[:0]
		if _, err := t.getClient(clientID); err != nil {
			return err
		}
		pre := prefix(clientID)
		cur := t.b(bSources).Cursor()
		for k, v := cur.Seek(join(clientID, p.After)); k != nil && bytes.HasPrefix(k, pre); k, v = cur.Next() {
			id := string(k[len(pre):])
			if id <= p.After {
				continue
			}
			r, err := t.records.decode(v)
			if err != nil {
				return fmt.Errorf("source %q of client %q: %w", id, clientID, errCorrupt)
			}
			var n lms.StateCounts
			for _, u := range r.Links {
				l, err := t.getLink(u)
				if err != nil {
					return err
				}
				if l == nil {
					n.Add(lms.StateUnknown, 1)
				} else {
					n.Add(l.State(), 1)
				}
			}
			if !storerules.InSourcePage(p, id, n) {
				continue
			}
			src := r.source(id)
			out = append(out, lms.SourceSummary{SourceRef: src.SourceRef, Counts: n, Updated: src.Updated})
			if p.Limit > 0 && len(out) >= p.Limit {
				break
			}
		}
		return nil
	})
	return out, err
}

// LinkSources implements lms.SourceLookup.
func (s *Store) LinkSources(ctx context.Context, clientID string, urls []string) (map[string][]lms.SourceRef, error) {
	out := make(map[string][]lms.SourceRef)
	err := s.view(ctx, func(t *txn) error {
		clear(out)
		if _, err := t.getClient(clientID); err != nil {
			return err
		}
		refs := make(map[string]lms.SourceRef)
		cur := t.b(bSrcUses).Cursor()
		for _, u := range urls {
			if _, done := out[u]; done {
				continue
			}
			p := append(join(clientID, u), 0)
			var ids []string
			if id, ok := inlined(t.b(bSubs).Get(join(clientID, u))); ok {
				ids = append(ids, id)
			}
			for k, _ := cur.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = cur.Next() {
				ids = append(ids, string(k[len(p):]))
			}
			var list []lms.SourceRef
			for _, id := range ids {
				ref, ok := refs[id]
				if !ok {
					r, err := t.getSource(clientID, id)
					if err != nil {
						return err
					}
					if r == nil {
						return fmt.Errorf("use of missing source %q: %w", id, errCorrupt)
					}
					ref = r.source(id).SourceRef
					refs[id] = ref
				}
				list = append(list, ref)
			}
			if len(list) > 0 {
				out[u] = list
			}
		}
		return nil
	})
	return out, err
}
