package boltstore

// The editors' role (lms.EditorStore): each link's history of state
// changes (bucket history: url 0 time(8) → entry), re-check now, and
// ignores per client (bucket ignored: id 0 url → mode).

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/storerules"
	"github.com/linkmonitor/lms/internal/validate"
)

var _ lms.EditorStore = (*Store)(nil)

func encodeEntry(e lms.HistoryEntry) []byte {
	b := make([]byte, 0, 8+len(e.Reason)+len(e.FinalURL))
	b = append(b, storerules.StateIndex(e.State))
	b = binary.AppendVarint(b, int64(e.Code))
	b = binary.AppendUvarint(b, uint64(len(e.Reason)))
	b = append(b, e.Reason...)
	return append(b, e.FinalURL...)
}

func decodeEntry(at int64, b []byte) (lms.HistoryEntry, error) {
	if len(b) < 3 {
		return lms.HistoryEntry{}, errCorrupt
	}
	code, n := binary.Varint(b[1:])
	if n <= 0 {
		return lms.HistoryEntry{}, errCorrupt
	}
	rest := b[1+n:]
	rl, m := binary.Uvarint(rest)
	if m <= 0 || uint64(len(rest)-m) < rl {
		return lms.HistoryEntry{}, errCorrupt
	}
	return lms.HistoryEntry{
		Time: fromNanos(at), State: storerules.StateAt(b[0]), Code: int(code),
		Reason: string(rest[m : m+int(rl)]), FinalURL: string(rest[m+int(rl):]),
	}, nil
}

// historyKey is the key of url's change at the Unix nanosecond at.
func historyKey(url string, at int64) []byte { return append(join(url, ""), timeKey(at)...) }

// record appends the change Apply just made to l's history and trims it.
func (t *txn) record(url string, l *link, keep lms.HistoryRetention) error {
	if keep.MaxChanges < 0 {
		return nil
	}
	h := t.b(bHistory)
	at := l.Checked
	for h.Get(historyKey(url, at)) != nil { // two changes in one nanosecond
		at++
	}
	if err := h.Put(historyKey(url, at), encodeEntry(l.Entry())); err != nil {
		return err
	}
	// Newest first: the first entries stay, from the first one that does
	// not, all go (collected first: never delete under a cursor).
	pre := join(url, "")
	var drop [][]byte
	c := h.Cursor()
	i := 0
	for k, _ := c.Seek(historyKey(url, at)); k != nil && bytes.HasPrefix(k, pre); k, _ = c.Prev() {
		if len(drop) > 0 || !storerules.Keep(keep, i, timeFromKey(k[len(pre):]), at) {
			drop = append(drop, bytes.Clone(k))
		}
		i++
	}
	for _, k := range drop {
		if err := h.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// notifies tells whether a change of url is notified to the client id, and
// ends an ignore that lasts until the change.
func (t *txn) notifies(id, url string) (bool, error) {
	k := join(id, url)
	v := t.b(bIgnored).Get(k)
	if len(v) != 1 {
		return true, nil
	}
	notify, after := storerules.Ignored(lms.IgnoreMode(v[0]))
	if after == lms.NotIgnored {
		return notify, t.b(bIgnored).Delete(k)
	}
	return notify, nil
}

// LinkHistory implements lms.EditorStore.
func (s *Store) LinkHistory(ctx context.Context, url string, before time.Time, limit int) ([]lms.HistoryEntry, error) {
	if err := storerules.CheckHistory(limit); err != nil {
		return nil, fmt.Errorf("boltstore: %w", err)
	}
	out := []lms.HistoryEntry{}
	err := s.view(ctx, func(t *txn) error {
		if validate.URL(url) != nil || t.b(bLinks).Get([]byte(url)) == nil {
			return fmt.Errorf("boltstore: link %q: %w", url, lms.ErrNotFound)
		}
		pre := join(url, "")
		c := t.b(bHistory).Cursor()
		var k, v []byte
		if before.IsZero() {
			// The last key of the prefix: seek past it, step back.
			k, v = c.Seek(append(join(url, ""), bytes.Repeat([]byte{0xff}, 9)...))
			if k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
		} else {
			k, v = c.Seek(historyKey(url, nanos(before)))
			if k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
		}
		for ; k != nil && bytes.HasPrefix(k, pre) && (limit == 0 || len(out) < limit); k, v = c.Prev() {
			if len(k) != len(pre)+8 {
				return fmt.Errorf("history key of %q: %w", url, errCorrupt)
			}
			e, err := decodeEntry(timeFromKey(k[len(pre):]), v)
			if err != nil {
				return fmt.Errorf("history of %q: %w", url, err)
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RecheckLinks implements lms.EditorStore. A link claimed at that moment
// is left alone: its result is on its way.
func (s *Store) RecheckLinks(ctx context.Context, clientID string, urls []string, now time.Time) (int, error) {
	count := 0
	err := s.update(ctx, func(t *txn) error {
		count = 0
		if _, err := t.getClient(clientID); err != nil {
			return err
		}
		delete(t.clients, clientID) // read only
		n := nanos(now)
		for _, u := range urls {
			if t.b(bSubs).Get(join(clientID, u)) == nil {
				continue
			}
			l, err := t.getLink(u)
			if err != nil {
				return err
			}
			if l == nil || l.lease != 0 || l.due <= n {
				continue
			}
			if err := t.moveDue(u, l, n); err != nil {
				return err
			}
			if err := t.putLink(u, l); err != nil {
				return err
			}
			count++
		}
		return nil
	})
	return count, err
}

// SetIgnore implements lms.EditorStore.
func (s *Store) SetIgnore(ctx context.Context, clientID string, urls []string, mode lms.IgnoreMode) (int, error) {
	if err := storerules.CheckIgnore(mode); err != nil {
		return 0, fmt.Errorf("boltstore: %w", err)
	}
	count := 0
	err := s.update(ctx, func(t *txn) error {
		count = 0
		if _, err := t.getClient(clientID); err != nil {
			return err
		}
		delete(t.clients, clientID) // read only
		ig := t.b(bIgnored)
		for _, u := range urls {
			k := join(clientID, u)
			if t.b(bSubs).Get(k) == nil {
				continue
			}
			old := lms.NotIgnored
			if v := ig.Get(k); len(v) == 1 {
				old = lms.IgnoreMode(v[0])
			}
			if old == mode {
				continue
			}
			count++
			if mode == lms.NotIgnored {
				if err := ig.Delete(k); err != nil {
					return err
				}
				continue
			}
			if err := ig.Put(k, []byte{byte(mode)}); err != nil {
				return err
			}
			if err := t.dropPending(clientID, u); err != nil {
				return err
			}
		}
		return nil
	})
	return count, err
}

// ClientLink implements lms.EditorStore.
func (s *Store) ClientLink(ctx context.Context, clientID, url string) (lms.IgnoredLink, error) {
	var out lms.IgnoredLink
	err := s.view(ctx, func(t *txn) error {
		if _, err := t.getClient(clientID); err != nil {
			return err
		}
		k := join(clientID, url)
		if t.b(bSubs).Get(k) == nil {
			return fmt.Errorf("boltstore: client %q, link %q: %w", clientID, url, lms.ErrNotFound)
		}
		l, err := t.getLink(url)
		if err != nil {
			return err
		}
		if l == nil {
			return fmt.Errorf("subscription to missing link %q: %w", url, errCorrupt)
		}
		out = lms.IgnoredLink{Link: l.export(url)}
		if v := t.b(bIgnored).Get(k); len(v) == 1 {
			out.Mode = lms.IgnoreMode(v[0])
		}
		return nil
	})
	return out, err
}

// IgnoredLinks implements lms.EditorStore.
func (s *Store) IgnoredLinks(ctx context.Context, clientID string, p lms.Page) ([]lms.IgnoredLink, error) {
	out := []lms.IgnoredLink{}
	err := s.view(ctx, func(t *txn) error {
		if _, err := t.getClient(clientID); err != nil {
			return err
		}
		pre := prefix(clientID)
		c := t.b(bIgnored).Cursor()
		for k, v := c.Seek(join(clientID, p.After)); k != nil && bytes.HasPrefix(k, pre); k, v = c.Next() {
			url := string(k[len(pre):])
			l, err := t.getLink(url)
			if err != nil {
				return err
			}
			if l == nil || len(v) != 1 {
				return fmt.Errorf("ignore of %q: %w", url, errCorrupt)
			}
			if !storerules.InPage(p, url, l.State()) {
				continue
			}
			out = append(out, lms.IgnoredLink{Link: l.export(url), Mode: lms.IgnoreMode(v[0])})
			if storerules.PageFull(p, len(out)) {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
