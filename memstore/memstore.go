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
	bare    map[*host]struct{}   // hosts no link uses (see PruneHosts)
	ready   *btree.BTreeG[*host] // hosts with subscribed links, by (readyAt, name)
	counts  lms.StateCounts      // subscribed links by state
	seq     uint64
	pending map[*client]struct{} // clients with pending notifications
	flLinks *btree.FreeListG[*link]

	// The editors' part (editors.go): each link's state changes, oldest
	// first, trimmed to retention.
	hist      map[*link][]lms.HistoryEntry
	retention lms.HistoryRetention
	archived  map[*link]lms.ArchivedCopy // archive look-ups (archive.go)
}

type client struct {
	c       lms.Client
	subs    *btree.BTreeG[*link] // by URL
	pending map[*link]pend
	src     sources                  // see sources.go
	hooks   hookQueue                // webhooks.go
	ignored map[*link]lms.IgnoreMode // links the client ignores (editors.go); nil until one is
	daily   []lms.DailyCounts        // by day, oldest first (dailycounts.go)
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

// New returns an empty store that keeps the default history
// (lms.HistoryRetention); NewWithOptions chooses.
func New() *Store { return NewWithOptions(Options{}) }

// Options configure NewWithOptions. The zero value is ready to use.
type Options struct {
	// History bounds each link's history of state changes; zero fields
	// are lms.HistoryRetention's defaults.
	History lms.HistoryRetention
}

// NewWithOptions returns an empty store configured by opt.
func NewWithOptions(opt Options) *Store {
	return &Store{
		clients: make(map[string]*client),
		links:   make(map[string]*link),
		hosts:   make(map[string]*host),
		bare:    make(map[*host]struct{}),
		ready:   btree.NewG(degree, lessReady),
		pending: make(map[*client]struct{}),
		flLinks: btree.NewFreeListG[*link](btree.DefaultFreeListSize),

		hist:      make(map[*link][]lms.HistoryEntry),
		retention: opt.History.WithDefaults(),
		archived:  make(map[*link]lms.ArchivedCopy),
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
