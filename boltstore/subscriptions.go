package boltstore

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/storerules"
	"github.com/linkmonitor/lms/internal/validate"
)

// subscribePart is how many URLs of a call one transaction of Subscribe
// writes at most (see there).
const subscribePart = 250

// Subscribe implements lms.SubscriptionStore.
func (s *Store) Subscribe(ctx context.Context, clientID string, urls []string, now time.Time) (int, error) {
	if err := storerules.CheckURLs(urls); err != nil {
		return 0, fmt.Errorf("boltstore: %w", err)
	}
	// Large calls commit in parts: committing rewrites every page a
	// transaction touched, and with 1,000 random URLs that pages ~75 MB of
	// the mapped file in at once (see Options.MaxResident). Every part is
	// durable before the call returns, and subscribing is idempotent, so a
	// failed call can simply be repeated.
	total := 0
	for len(urls) > 0 {
		n := min(subscribePart, len(urls))
		added := 0
		err := s.update(ctx, func(t *txn) error {
			c, err := t.getClient(clientID)
			if err != nil {
				return err
			}
			if err := t.plain(clientID, urls[:n]); err != nil {
				return err
			}
			added, err = t.subscribeAll(c, urls[:n], nanos(now))
			return err
		})
		if err != nil {
			return total, err
		}
		total += added
		urls = urls[n:]
	}
	return total, nil
}

// subscribeAll subscribes c to urls and returns how many subscriptions
// were added.
func (t *txn) subscribeAll(c *lms.Client, urls []string, now int64) (int, error) {
	added := 0
	for _, u := range urls {
		ok, err := t.subscribe(c, u, now)
		if err != nil {
			return added, err
		}
		if ok {
			added++
		}
	}
	return added, nil
}

// subscribe subscribes c to url as a plain registration and reports
// whether that added a subscription. A subscription whose only use was
// inline (a source's) keeps that use in bSrcUses and is plain now too.
func (t *txn) subscribe(c *lms.Client, url string, now int64) (bool, error) {
	sk := join(c.ID, url)
	subs := t.b(bSubs)
	if v := subs.Get(sk); v != nil {
		if id, ok := inlined(v); ok {
			return false, t.spreadUse(c.ID, url, id, false)
		}
		return false, nil
	}
	return true, t.addSub(c, sk, url, now, mark())
}

// addSub adds the subscription sk of c to url, which it does not have,
// with the bSubs value val, and its link if there is none yet.
func (t *txn) addSub(c *lms.Client, sk []byte, url string, now int64, val []byte) error {
	l, err := t.getLink(url)
	if err != nil {
		return err
	}
	if l == nil {
		l = &link{host: lms.HostKey(url), due: now, Check: storerules.NewCheck()}
	}
	if err := t.b(bSubs).Put(sk, val); err != nil {
		return err
	}
	if err := t.b(bLinkSubs).Put(join(url, c.ID), mark()); err != nil {
		return err
	}
	l.subs++
	c.Counts.Add(l.State(), 1)
	if l.subs == 1 {
		g, err := t.globalCounts()
		if err != nil {
			return err
		}
		g.Add(l.State(), 1)
		if err := t.b(bHostDue).Put(dueKey(l.host, l.due, url), dueValue(l)); err != nil {
			return err
		}
		t.touched[l.host] = struct{}{}
	}
	return t.putLink(url, l)
}

func (t *txn) unsubscribe(c *lms.Client, url string) error {
	sk := join(c.ID, url)
	if t.b(bSubs).Get(sk) == nil {
		return nil
	}
	l, err := t.getLink(url)
	if err != nil {
		return err
	}
	if l == nil {
		return fmt.Errorf("subscription to missing link %q: %w", url, errCorrupt)
	}
	if err := t.b(bSubs).Delete(sk); err != nil {
		return err
	}
	if err := t.b(bLinkSubs).Delete(join(url, c.ID)); err != nil {
		return err
	}
	if err := t.dropPending(c.ID, url); err != nil {
		return err
	}
	if err := t.b(bIgnored).Delete(sk); err != nil {
		return err
	}
	c.Counts.Add(l.State(), -1)
	l.subs--
	if l.subs == 0 {
		g, err := t.globalCounts()
		if err != nil {
			return err
		}
		g.Add(l.State(), -1)
		if err := t.b(bHostDue).Delete(dueKey(l.host, l.due, url)); err != nil {
			return err
		}
		if err := t.endLease(url, l); err != nil {
			return err
		}
		t.touched[l.host] = struct{}{}
	}
	return t.putLink(url, l)
}

// Unsubscribe implements lms.SubscriptionStore.
func (s *Store) Unsubscribe(ctx context.Context, clientID string, urls []string) (int, error) {
	removed := 0
	err := s.update(ctx, func(t *txn) error {
		removed = 0
		c, err := t.getClient(clientID)
		if err != nil {
			return err
		}
		for _, u := range urls {
			if t.b(bSubs).Get(join(clientID, u)) == nil {
				continue
			}
			if kept, err := t.keepForSource(clientID, u); err != nil || kept {
				if err != nil {
					return err
				}
				continue
			}
			if err := t.unsubscribe(c, u); err != nil {
				return err
			}
			removed++
		}
		return nil
	})
	return removed, err
}

// ReplaceSubscriptions implements lms.SubscriptionStore.
func (s *Store) ReplaceSubscriptions(ctx context.Context, clientID string, urls []string, now time.Time) (int, int, error) {
	if err := storerules.CheckURLs(urls); err != nil {
		return 0, 0, fmt.Errorf("boltstore: %w", err)
	}
	added, removed := 0, 0
	err := s.update(ctx, func(t *txn) error {
		added, removed = 0, 0
		c, err := t.getClient(clientID)
		if err != nil {
			return err
		}
		want := make(map[string]struct{}, len(urls))
		for _, u := range urls {
			want[u] = struct{}{}
		}
		have, err := collect(t.b(bSubs), prefix(clientID))
		if err != nil {
			return err
		}
		for _, u := range have {
			if _, ok := want[u]; ok {
				continue
			}
			if kept, err := t.keepForSource(clientID, u); err != nil || kept {
				if err != nil {
					return err
				}
				continue
			}
			if err := t.unsubscribe(c, u); err != nil {
				return err
			}
			removed++
		}
		if err := t.plain(clientID, urls); err != nil {
			return err
		}
		added, err = t.subscribeAll(c, urls, nanos(now))
		return err
	})
	return added, removed, err
}

// ClientLinks implements lms.SubscriptionStore.
func (s *Store) ClientLinks(ctx context.Context, clientID string, p lms.Page) ([]lms.Link, error) {
	var out []lms.Link
	err := s.view(ctx, func(t *txn) error {
		if _, err := t.getClient(clientID); err != nil {
			return err
		}
		pre := prefix(clientID)
		c := t.b(bSubs).Cursor()
		for k, _ := c.Seek(join(clientID, p.After)); k != nil && bytes.HasPrefix(k, pre); k, _ = c.Next() {
			url := string(k[len(pre):])
			l, err := t.getLink(url)
			if err != nil {
				return err
			}
			if l == nil {
				return fmt.Errorf("subscription to missing link %q: %w", url, errCorrupt)
			}
			if !storerules.InPage(p, url, l.State()) {
				continue
			}
			out = append(out, l.export(url))
			if storerules.PageFull(p, len(out)) {
				break
			}
		}
		return nil
	})
	return out, err
}

// LookupLinks implements lms.SubscriptionStore.
func (s *Store) LookupLinks(ctx context.Context, urls []string) (map[string]lms.Link, error) {
	out := make(map[string]lms.Link)
	err := s.view(ctx, func(t *txn) error {
		for _, u := range urls {
			if validate.URL(u) != nil {
				continue // cannot be stored, so it is not there
			}
			l, err := t.getLink(u)
			if err != nil {
				return err
			}
			if l != nil {
				out[u] = l.export(u)
			}
		}
		return nil
	})
	return out, err
}
