// Package memstore is an in-memory lms.Store: fast, safe for concurrent use,
// and gone when the process ends. Use it for tests, for embedding where the
// client systems re-register their links after a restart anyway (the daily
// sync does that), and as the reference implementation of the Store contract.
//
// Links are indexed per host in B-trees ordered by due time, and hosts in a
// B-tree ordered by when they are ready, so ClaimDue costs O(log n) per link
// it returns, whatever the number of stored links.
package memstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/btree"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/storerules"
	"github.com/linkmonitor/lms/internal/unixnano"
)

const degree = 16

// Store is the in-memory lms.Store. Create it with New.
type Store struct {
	mu      sync.Mutex
	closed  bool
	clients map[string]*client
	links   map[string]*link
	hosts   map[string]*host
	ready   *btree.BTreeG[*host] // hosts with subscribed links, by (readyAt, name)
	counts  lms.StateCounts      // subscribed links by state
	seq     uint64
	pending map[*client]struct{} // clients with pending notifications
	flLinks *btree.FreeListG[*link]
}

type client struct {
	c       lms.Client
	subs    *btree.BTreeG[*link] // by URL
	pending map[*link]pend
	src     sources // see sources.go
}

type pend struct {
	state  lms.State
	reason string
	seq    uint64
}

// link keeps times as Unix nanoseconds (0 = zero time) to stay small: a
// million links must fit in a few hundred megabytes.
type link struct {
	url  string
	host *host
	subs []*client
	due  int64
	storerules.Check
}

type host struct {
	name      string
	due       *btree.BTreeG[*link] // subscribed links by (due, url)
	notBefore int64                // not offered before (claim spacing and back-off)
	deferred  int64                // back-off of DeferHost alone
	hold      lms.Lease            // the claimer holding the host
	readyAt   int64                // key in Store.ready while inReady
	inReady   bool
}

func lessURL(a, b *link) bool { return a.url < b.url }

func lessDue(a, b *link) bool {
	if a.due != b.due {
		return a.due < b.due
	}
	return a.url < b.url
}

func lessReady(a, b *host) bool {
	if a.readyAt != b.readyAt {
		return a.readyAt < b.readyAt
	}
	return a.name < b.name
}

// New returns an empty store.
func New() *Store {
	return &Store{
		clients: make(map[string]*client),
		links:   make(map[string]*link),
		hosts:   make(map[string]*host),
		ready:   btree.NewG(degree, lessReady),
		pending: make(map[*client]struct{}),
		flLinks: btree.NewFreeListG[*link](btree.DefaultFreeListSize),
	}
}

var _ lms.Store = (*Store)(nil)

func nanos(t time.Time) int64 { return unixnano.From(t) }

func fromNanos(n int64) time.Time { return unixnano.To(n) }

// begin locks the store after checking ctx; callers defer s.mu.Unlock().
func (s *Store) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return lms.ErrClosed
	}
	return nil
}

// Close implements lms.Store.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// beginClient is begin followed by the lookup of client id; on success the
// caller defers s.mu.Unlock().
func (s *Store) beginClient(ctx context.Context, id string) (*client, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	c := s.clients[id]
	if c == nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("memstore: client %q: %w", id, lms.ErrNotFound)
	}
	return c, nil
}

// CreateClient implements lms.ClientStore.
func (s *Store) CreateClient(ctx context.Context, c lms.Client) error {
	c, err := storerules.NewClient(c)
	if err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if s.clients[c.ID] != nil {
		return fmt.Errorf("memstore: client %q: %w", c.ID, lms.ErrExists)
	}
	s.clients[c.ID] = &client{
		c:       c,
		subs:    btree.NewWithFreeListG(degree, lessURL, s.flLinks),
		pending: make(map[*link]pend),
	}
	return nil
}

// GetClient implements lms.ClientStore.
func (s *Store) GetClient(ctx context.Context, id string) (lms.Client, error) {
	c, err := s.beginClient(ctx, id)
	if err != nil {
		return lms.Client{}, err
	}
	defer s.mu.Unlock()
	return c.c.Clone(), nil
}

// ListClients implements lms.ClientStore.
func (s *Store) ListClients(ctx context.Context) ([]lms.Client, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]lms.Client, 0, len(s.clients))
	for _, c := range s.clients {
		out = append(out, c.c.Clone())
	}
	slices.SortFunc(out, func(a, b lms.Client) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// UpdateClient implements lms.ClientStore.
func (s *Store) UpdateClient(ctx context.Context, id string, fn func(*lms.Client) error) (lms.Client, error) {
	c, err := s.beginClient(ctx, id)
	if err != nil {
		return lms.Client{}, err
	}
	defer s.mu.Unlock()
	cp, err := storerules.UpdateClient(c.c, fn)
	if err != nil {
		return lms.Client{}, err
	}
	c.c = cp.Clone()
	return cp, nil
}

// DeleteClient implements lms.ClientStore.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	c, err := s.beginClient(ctx, id)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	var all []*link
	c.subs.Ascend(func(l *link) bool { all = append(all, l); return true })
	for _, l := range all {
		s.unsubscribe(c, l)
	}
	delete(s.pending, c)
	delete(s.clients, id)
	return nil
}

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
	c.src.plain(urls)
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
	}
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
		l = &link{url: strings.Clone(u), host: s.hostOf(lms.HostKey(u)), due: nanos(now), Check: storerules.NewCheck()}
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
		if l == nil || !c.subs.Has(l) || c.src.keep(l.url) {
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
		if _, ok := want[l.url]; !ok && !c.src.keep(l.url) {
			drop = append(drop, l)
		}
		return true
	})
	for _, l := range drop {
		s.unsubscribe(c, l)
	}
	c.src.plain(urls)
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

// ClaimDue implements lms.ScheduleStore.
func (s *Store) ClaimDue(ctx context.Context, now time.Time, opt lms.ClaimOptions) ([]lms.Link, error) {
	if err := storerules.CheckClaim(opt); err != nil {
		return nil, fmt.Errorf("memstore: %w", err)
	}
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	n := nanos(now)
	lease := nanos(now.Add(opt.Lease))
	var out []lms.Link
	// Each host is visited once per call: taken out of the ready tree while
	// its links are claimed, and put back under its new key at the end.
	var visited []*host
	for len(out) < opt.Limit {
		h, ok := s.ready.Min()
		if !ok || h.readyAt > n {
			break
		}
		s.ready.Delete(h)
		h.inReady = false
		visited = append(visited, h)
		if storerules.HeldByOther(h.hold, opt.Holder, now) {
			continue
		}
		h.hold = lms.Lease{Holder: opt.Holder, Until: fromNanos(lease)}
		k := 0
		for k < opt.PerHost && len(out) < opt.Limit {
			l, ok := h.due.Min()
			if !ok || l.due > n {
				break
			}
			h.due.Delete(l)
			l.due = lease
			h.due.ReplaceOrInsert(l)
			out = append(out, l.export())
			k++
		}
		if until, ok := storerules.PacedUntil(h.name, now, k, opt.HostGap); ok {
			h.notBefore = max(h.notBefore, nanos(until))
		}
	}
	for _, h := range visited {
		s.reindex(h, func() {})
	}
	return out, nil
}

// RecordResults implements lms.ScheduleStore.
func (s *Store) RecordResults(ctx context.Context, recs []lms.Outcome) error {
	if err := storerules.CheckOutcomes(recs); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	for _, r := range recs {
		l := s.links[r.URL]
		if l == nil {
			continue
		}
		if !r.Hold {
			s.apply(l, r)
		}
		due := nanos(r.NextDue)
		if len(l.subs) == 0 {
			l.due = due
			continue
		}
		s.reindex(l.host, func() {
			l.host.due.Delete(l)
			l.due = due
			l.host.due.ReplaceOrInsert(l)
		})
	}
	return nil
}

func (s *Store) apply(l *link, r lms.Outcome) {
	old, changed := l.Apply(r)
	if !changed {
		return
	}
	st := l.State()
	if len(l.subs) > 0 {
		storerules.Move(&s.counts, old, st)
	}
	s.seq++
	for _, c := range l.subs {
		storerules.Move(&c.c.Counts, old, st)
		c.pending[l] = pend{state: st, reason: l.Reason, seq: s.seq}
		s.pending[c] = struct{}{}
	}
}

// DeferHost implements lms.ScheduleStore.
func (s *Store) DeferHost(ctx context.Context, name string, until time.Time) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	h := s.hostOf(name)
	s.reindex(h, func() {
		h.notBefore = max(h.notBefore, nanos(until))
		h.deferred = max(h.deferred, nanos(until))
	})
	return nil
}

// HoldHost implements lms.ScheduleStore.
func (s *Store) HoldHost(ctx context.Context, holder, name string, now time.Time, lease time.Duration) (time.Time, bool, error) {
	if err := storerules.CheckHold(name, lease); err != nil {
		return time.Time{}, false, fmt.Errorf("memstore: %w", err)
	}
	if err := s.begin(ctx); err != nil {
		return time.Time{}, false, err
	}
	defer s.mu.Unlock()
	n := nanos(now)
	h := s.hostOf(name)
	if storerules.HeldByOther(h.hold, holder, now) {
		return time.Time{}, false, nil
	}
	h.hold = lms.Lease{Holder: holder, Until: now.Add(lease)}
	if h.deferred > n {
		return fromNanos(h.deferred), true, nil
	}
	return time.Time{}, true, nil
}

// LinkCounts implements lms.ScheduleStore.
func (s *Store) LinkCounts(ctx context.Context) (lms.StateCounts, error) {
	if err := s.begin(ctx); err != nil {
		return lms.StateCounts{}, err
	}
	defer s.mu.Unlock()
	return s.counts, nil
}

// DueCount implements lms.ScheduleStore.
func (s *Store) DueCount(ctx context.Context, now time.Time, limit int) (int, error) {
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	n, count := nanos(now), 0
	// Only hosts ready at now can hand out links; a deferred host's links
	// wait for the host, not for the checker.
	s.ready.Ascend(func(h *host) bool {
		if h.readyAt > n {
			return false
		}
		h.due.Ascend(func(l *link) bool {
			if l.due > n || count >= limit {
				return false
			}
			count++
			return true
		})
		return count < limit
	})
	return min(count, limit), nil
}

// PendingClients implements lms.NotificationStore.
func (s *Store) PendingClients(ctx context.Context) ([]string, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.pending))
	for c := range s.pending {
		out = append(out, c.c.ID)
	}
	slices.Sort(out)
	return out, nil
}

// PendingUpdates implements lms.NotificationStore.
func (s *Store) PendingUpdates(ctx context.Context, clientID string, limit int) ([]lms.PendingUpdate, error) {
	c, err := s.beginClient(ctx, clientID)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]lms.PendingUpdate, 0, len(c.pending))
	for l, p := range c.pending {
		out = append(out, storerules.Pending(l.url, p.state, p.reason, p.seq))
	}
	slices.SortFunc(out, func(a, b lms.PendingUpdate) int { return strings.Compare(a.URL, b.URL) })
	if limit > 0 && len(out) > limit {
		out = out[:limit:limit]
	}
	return out, nil
}

// PendingCount implements lms.NotificationStore.
func (s *Store) PendingCount(ctx context.Context, clientID string) (int, error) {
	c, err := s.beginClient(ctx, clientID)
	if err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	return len(c.pending), nil
}

// AckUpdates implements lms.NotificationStore.
func (s *Store) AckUpdates(ctx context.Context, clientID string, delivered []lms.PendingUpdate) error {
	c, err := s.beginClient(ctx, clientID)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	for _, d := range delivered {
		l := s.links[d.URL]
		if l == nil {
			continue
		}
		if p, ok := c.pending[l]; ok && p.seq == d.Seq {
			delete(c.pending, l)
		}
	}
	if len(c.pending) == 0 {
		delete(s.pending, c)
	}
	return nil
}
