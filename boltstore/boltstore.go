// Package boltstore is an lms.Store in one bbolt file: durable (every
// acknowledged write is fsynced), safe for concurrent use, and usable from
// several components of one process. Another process opening the same file
// gets a clear error after Options.Timeout instead of hanging.
//
// Due links are indexed per host by due time, and hosts by the time they are
// ready, so ClaimDue costs O(log n) per link it returns. A claim writes only
// two small lease buckets: the index entries carry what the checker needs,
// and claimed entries stay in place, skipped until a result or the expiry of
// the lease ends it (Open ends the leases of the previous process).
// Concurrent result writes are coalesced into shared transactions with
// bbolt's Batch. Large Subscribe calls commit in parts of 250 URLs, and the
// store keeps the mapped file's share of the process's RSS bounded (see
// Options.MaxResident).
package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/validate"
)

// Options configure Open. The zero value is ready to use.
type Options struct {
	// Timeout is how long Open waits for the file lock held by another
	// process. Default 1 s.
	Timeout time.Duration
	// MaxResident bounds, in bytes, the file-backed part of the process's
	// resident memory: bbolt reads the file through mmap, and random access
	// makes every touched page of the file count in the process's RSS. When
	// the bound is exceeded the store releases its mapped pages (they stay
	// in the kernel's page cache and fault back in cheaply). Checked every
	// 5 ms while it grows (every 100 ms when quiet), and every 32 link reads
	// within a transaction. Default 32 MiB; negative disables. Linux only.
	MaxResident int64
	// BatchDelay is how long concurrent result writes wait to share one
	// commit (bbolt's MaxBatchDelay). Default 20 ms.
	BatchDelay time.Duration
	// NoSync skips fsync after each commit: faster, and a crash may lose the
	// latest acknowledged writes. For tests and benchmarks only.
	NoSync bool
}

// Store is the bbolt lms.Store. Create it with Open.
type Store struct {
	db   *bolt.DB
	path string
	trim *trimmer // nil when trimming is off
	stop chan struct{}
	done chan struct{}
	once sync.Once

	// Host holds live in memory: only one process can open the file, and
	// Open ends every lease of the previous one. holdMu also serialises
	// the claims that read and set them.
	holdMu sync.Mutex
	holds  map[string]lms.Lease
}

var _ lms.Store = (*Store)(nil)

// Open opens or creates the store file at path.
func Open(path string, opt Options) (*Store, error) {
	if opt.Timeout <= 0 {
		opt.Timeout = time.Second
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        opt.Timeout,
		NoSync:         opt.NoSync,
		FreelistType:   bolt.FreelistMapType,
		NoFreelistSync: true,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("boltstore: %s is in use by another process (lock not released within %v)", path, opt.Timeout)
	}
	if err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets() {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return err
			}
		}
		meta := tx.Bucket([]byte(bMeta))
		v := meta.Get([]byte(keySchema))
		if v != nil && string(v) != "1" && string(v) != schemaVersion {
			return fmt.Errorf("schema version %q, this build reads %q", v, schemaVersion)
		}
		// Leases belong to the process that held the file before: its
		// claimed links are due again at once.
		old := string(v) == "1"
		if err := run(tx, nil, func(t *txn) error { return t.releaseLeases(old) }); err != nil {
			return err
		}
		return meta.Put([]byte(keySchema), []byte(schemaVersion))
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("boltstore: init %s: %w", path, err)
	}
	if opt.BatchDelay > 0 {
		db.MaxBatchDelay = opt.BatchDelay
	} else {
		db.MaxBatchDelay = 20 * time.Millisecond
	}
	s := &Store{db: db, path: path, stop: make(chan struct{}), done: make(chan struct{}), holds: make(map[string]lms.Lease)}
	if opt.MaxResident == 0 {
		opt.MaxResident = 32 << 20
	}
	if opt.MaxResident > 0 && canTrim() {
		abs, err := filepath.Abs(path)
		if err == nil {
			if real, err := filepath.EvalSymlinks(abs); err == nil {
				abs = real
			}
		}
		s.trim = &trimmer{path: abs, max: opt.MaxResident}
	}
	go s.trimLoop()
	return s, nil
}

// trimmer keeps the file-backed resident memory under max (see
// Options.MaxResident).
type trimmer struct {
	path string
	max  int64
	mu   sync.Mutex // one trim at a time
}

// check trims when the bound is exceeded (reading statm costs
// microseconds). It returns the resident size it saw and whether it
// trimmed.
func (tr *trimmer) check() (resident int64, trimmed bool) {
	if tr == nil {
		return 0, false
	}
	r := fileResident()
	if r > tr.max && tr.mu.TryLock() {
		defer tr.mu.Unlock()
		trimResident(tr.path)
		return r, true
	}
	return r, false
}

// trimLoop checks every 5 ms while the file is being paged in, every 100 ms
// while it is quiet.
func (s *Store) trimLoop() {
	defer close(s.done)
	if s.trim == nil {
		<-s.stop
		return
	}
	t := time.NewTimer(5 * time.Millisecond)
	defer t.Stop()
	var last int64
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			r, trimmed := s.trim.check()
			if trimmed || r > last+1<<20 {
				t.Reset(5 * time.Millisecond)
			} else {
				t.Reset(100 * time.Millisecond)
			}
			last = r
			if trimmed {
				last = 0
			}
		}
	}
}

// Path returns the file the store lives in.
func (s *Store) Path() string { return s.path }

// Size returns the size of the store file in bytes.
func (s *Store) Size() (int64, error) {
	fi, err := os.Stat(s.path)
	if err != nil {
		return 0, fmt.Errorf("boltstore: %w", err)
	}
	return fi.Size(), nil
}

// Close implements lms.Store.
func (s *Store) Close() error {
	s.once.Do(func() { close(s.stop) })
	<-s.done
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("boltstore: close: %w", err)
	}
	return nil
}

// translate maps backend errors to the lms sentinels, in one place.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, berrors.ErrDatabaseNotOpen):
		return fmt.Errorf("boltstore: %w", lms.ErrClosed)
	case errors.Is(err, lms.ErrNotFound), errors.Is(err, lms.ErrExists), errors.Is(err, lms.ErrInvalid),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	default:
		return fmt.Errorf("boltstore: %w", err)
	}
}

// txn wraps a write transaction and the derived state it keeps consistent
// at commit: host readiness, global counts and client records.
type txn struct {
	tx      *bolt.Tx
	touched map[string]struct{}
	counts  *lms.StateCounts
	clients map[string]*lms.Client
	trim    *trimmer
	steps   int
}

// step is called once per link record a transaction reads. A transaction
// over many random links faults the mapped file in quickly (the kernel
// maps neighbouring pages on every fault), faster than a timer could trim,
// so large transactions check the bound themselves every 32 links. (Its
// commit rewrites every touched page and faults them in again: see
// Subscribe.)
func (t *txn) step() {
	if t.steps++; t.steps%32 == 0 {
		t.trim.check()
	}
}

func (t *txn) b(name string) *bolt.Bucket { return t.tx.Bucket([]byte(name)) }

func (s *Store) view(ctx context.Context, fn func(*txn) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("boltstore: %w", err)
	}
	return translate(s.db.View(func(tx *bolt.Tx) error { return fn(&txn{tx: tx, trim: s.trim}) }))
}

func (s *Store) update(ctx context.Context, fn func(*txn) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("boltstore: %w", err)
	}
	return translate(s.db.Update(func(tx *bolt.Tx) error { return run(tx, s.trim, fn) }))
}

// batch is update through bolt's Batch: concurrent callers share one
// commit. fn may run more than once and must be idempotent.
func (s *Store) batch(ctx context.Context, fn func(*txn) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("boltstore: %w", err)
	}
	return translate(s.db.Batch(func(tx *bolt.Tx) error { return run(tx, s.trim, fn) }))
}

func run(tx *bolt.Tx, trim *trimmer, fn func(*txn) error) error {
	t := &txn{tx: tx, touched: map[string]struct{}{}, clients: map[string]*lms.Client{}, trim: trim}
	if err := fn(t); err != nil {
		return err
	}
	return t.flush()
}

func (t *txn) flush() error {
	for h := range t.touched {
		if err := t.fixHost(h); err != nil {
			return err
		}
	}
	if t.counts != nil {
		if err := t.b(bCounts).Put([]byte(keyTotal), encodeCounts(*t.counts)); err != nil {
			return err
		}
	}
	for _, c := range t.clients {
		if err := t.putClient(c); err != nil {
			return err
		}
	}
	return nil
}

func (t *txn) getClient(id string) (*lms.Client, error) {
	if c := t.clients[id]; c != nil {
		return c, nil
	}
	v := t.b(bClients).Get([]byte(id))
	if v == nil {
		return nil, fmt.Errorf("boltstore: client %q: %w", id, lms.ErrNotFound)
	}
	c := new(lms.Client)
	if err := json.Unmarshal(v, c); err != nil {
		return nil, fmt.Errorf("client %q: %w", id, errCorrupt)
	}
	if t.touched != nil { // write transaction: keep it for flush
		t.clients[id] = c
	}
	return c, nil
}

func (t *txn) putClient(c *lms.Client) error {
	v, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return t.b(bClients).Put([]byte(c.ID), v)
}

func (t *txn) globalCounts() (*lms.StateCounts, error) {
	if t.counts == nil {
		c, err := decodeCounts(t.b(bCounts).Get([]byte(keyTotal)))
		if err != nil {
			return nil, err
		}
		t.counts = &c
	}
	return t.counts, nil
}

func (t *txn) getLink(url string) (*link, error) {
	t.step()
	v := t.b(bLinks).Get([]byte(url))
	if v == nil {
		return nil, nil
	}
	l, err := decodeLink(v)
	if err != nil {
		return nil, fmt.Errorf("link %q: %w", url, err)
	}
	// A claim leaves the link record and its due-index entry alone and
	// notes the lease in the small leases bucket.
	if lv := t.b(bLeases).Get([]byte(url)); len(lv) == 8 {
		l.lease = timeFromKey(lv)
	}
	return &l, nil
}

// leased reports whether the link is claimed.
func (t *txn) leased(url []byte) bool { return t.b(bLeases).Get(url) != nil }

// endLease ends the link's lease, if any.
func (t *txn) endLease(url string, l *link) error {
	if l.lease == 0 {
		return nil
	}
	if err := t.b(bLeases).Delete([]byte(url)); err != nil {
		return err
	}
	if err := t.b(bLeaseExp).Delete(append(timeKey(l.lease), url...)); err != nil {
		return err
	}
	l.lease = 0
	return nil
}

// releaseLeases ends every lease. Version 1 files (old) moved a claimed
// link's due-index entry to its lease time; the link record kept the due
// time, and the entry goes back there.
func (t *txn) releaseLeases(old bool) error {
	var urls []string
	if err := t.b(bLeases).ForEach(func(k, _ []byte) error {
		urls = append(urls, string(k))
		return nil
	}); err != nil {
		return err
	}
	for _, u := range urls {
		l, err := t.getLink(u)
		if err != nil {
			return err
		}
		if l == nil {
			if err := t.b(bLeases).Delete([]byte(u)); err != nil {
				return err
			}
			continue
		}
		if old && l.subs > 0 {
			hd := t.b(bHostDue)
			if err := hd.Delete(dueKey(l.host, l.lease, u)); err != nil {
				return err
			}
			if err := hd.Put(dueKey(l.host, l.due, u), dueValue(l)); err != nil {
				return err
			}
		}
		if err := t.endLease(u, l); err != nil {
			return err
		}
		t.touched[l.host] = struct{}{}
	}
	return nil
}

func (t *txn) putLink(url string, l *link) error { return t.b(bLinks).Put([]byte(url), l.encode()) }

func (t *txn) getHost(name string) (hostRec, error) {
	v := t.b(bHosts).Get(hostKey(name))
	if v == nil {
		return hostRec{}, nil
	}
	return decodeHost(v)
}

// fixHost recomputes the host's place in the ready index from its earliest
// due link and its deferral.
func (t *txn) fixHost(name string) error {
	h, err := t.getHost(name)
	if err != nil {
		return err
	}
	ready := t.b(bReady)
	if h.inReady {
		if err := ready.Delete(readyKey(h.readyAt, name)); err != nil {
			return err
		}
		h.inReady = false
	}
	// The host is ready at its first link that is not claimed; claimed ones
	// (the first few) come back through a result or the expiry of their
	// lease.
	p := prefix(name)
	c := t.b(bHostDue).Cursor()
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
		if t.leased(k[len(p)+8:]) {
			continue
		}
		due := timeFromKey(k[len(p) : len(p)+8])
		h.readyAt, h.inReady = max(due, h.notBefore), true
		if err := ready.Put(readyKey(h.readyAt, name), mark()); err != nil {
			return err
		}
		break
	}
	return t.b(bHosts).Put(hostKey(name), h.encode())
}

// setDue moves the link to due in the host's due index and ends a lease;
// the caller writes the link record.
func (t *txn) setDue(url string, l *link, due int64) error {
	if err := t.moveDue(url, l, due); err != nil {
		return err
	}
	return t.endLease(url, l)
}

// lease claims a link until until. Its record and its due-index entry stay
// as they are: a claim neither reads nor rewrites pages spread over the
// file, only the small leases buckets.
func (t *txn) lease(host, url string, until int64) error {
	if err := t.b(bLeases).Put([]byte(url), timeKey(until)); err != nil {
		return err
	}
	t.touched[host] = struct{}{}
	return t.b(bLeaseExp).Put(append(timeKey(until), url...), append([]byte{1}, host...))
}

// reapLeases ends the leases that expired by now, so that their links can
// be claimed again (their checker crashed or gave up). That is rare:
// results end leases. It reads no link record.
func (t *txn) reapLeases(now int64) error {
	type expired struct {
		key  []byte // until(8) url
		host string
	}
	var ex []expired
	c := t.b(bLeaseExp).Cursor()
	for k, v := c.First(); k != nil && timeFromKey(k[:8]) <= now; k, v = c.Next() {
		if len(v) == 0 {
			return fmt.Errorf("lease expiry %q: %w", k, errCorrupt)
		}
		ex = append(ex, expired{bytes.Clone(k), string(v[1:])})
	}
	hosts := map[string]struct{}{}
	for _, e := range ex {
		if err := t.b(bLeaseExp).Delete(e.key); err != nil {
			return err
		}
		if err := t.b(bLeases).Delete(e.key[8:]); err != nil {
			return err
		}
		hosts[e.host] = struct{}{}
	}
	for h := range hosts {
		t.touched[h] = struct{}{}
		if err := t.fixHost(h); err != nil { // ready for this very claim
			return err
		}
	}
	return nil
}

func (t *txn) moveDue(url string, l *link, due int64) error {
	if l.subs > 0 {
		hd := t.b(bHostDue)
		if err := hd.Delete(dueKey(l.host, l.due, url)); err != nil {
			return err
		}
		if err := hd.Put(dueKey(l.host, due, url), dueValue(l)); err != nil {
			return err
		}
		t.touched[l.host] = struct{}{}
	}
	l.due = due
	return nil
}

// CreateClient implements lms.ClientStore.
func (s *Store) CreateClient(ctx context.Context, c lms.Client) error {
	if err := validate.ClientID(c.ID); err != nil {
		return fmt.Errorf("boltstore: %w: %w", lms.ErrInvalid, err)
	}
	c.Counts = lms.StateCounts{}
	return s.update(ctx, func(t *txn) error {
		if t.b(bClients).Get([]byte(c.ID)) != nil {
			return fmt.Errorf("boltstore: client %q: %w", c.ID, lms.ErrExists)
		}
		return t.putClient(&c)
	})
}

// GetClient implements lms.ClientStore.
func (s *Store) GetClient(ctx context.Context, id string) (lms.Client, error) {
	var out lms.Client
	err := s.view(ctx, func(t *txn) error {
		c, err := t.getClient(id)
		if err == nil {
			out = *c
		}
		return err
	})
	return out, err
}

// ListClients implements lms.ClientStore.
func (s *Store) ListClients(ctx context.Context) ([]lms.Client, error) {
	var out []lms.Client
	err := s.view(ctx, func(t *txn) error {
		return t.b(bClients).ForEach(func(k, v []byte) error {
			var c lms.Client
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("client %q: %w", k, errCorrupt)
			}
			out = append(out, c)
			return nil
		})
	})
	return out, err
}

// UpdateClient implements lms.ClientStore.
func (s *Store) UpdateClient(ctx context.Context, id string, fn func(*lms.Client) error) (lms.Client, error) {
	var out lms.Client
	err := s.update(ctx, func(t *txn) error {
		c, err := t.getClient(id)
		if err != nil {
			return err
		}
		cp := *c
		if err := fn(&cp); err != nil {
			return err
		}
		cp.ID, cp.Counts = c.ID, c.Counts
		*c, out = cp, cp
		return nil
	})
	return out, err
}

// DeleteClient implements lms.ClientStore.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return s.update(ctx, func(t *txn) error {
		c, err := t.getClient(id)
		if err != nil {
			return err
		}
		urls, err := collect(t.b(bSubs), prefix(id))
		if err != nil {
			return err
		}
		for _, u := range urls {
			if err := t.unsubscribe(c, u); err != nil {
				return err
			}
		}
		delete(t.clients, id)
		if err := t.b(bPendCount).Delete([]byte(id)); err != nil {
			return err
		}
		return t.b(bClients).Delete([]byte(id))
	})
}

// collect returns the suffixes of all keys with prefix p (copied).
func collect(b *bolt.Bucket, p []byte) ([]string, error) {
	var out []string
	c := b.Cursor()
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
		out = append(out, string(k[len(p):]))
	}
	return out, nil
}

func checkURLs(urls []string) error {
	for _, u := range urls {
		if err := validate.URL(u); err != nil {
			return fmt.Errorf("boltstore: %w: %w", lms.ErrInvalid, err)
		}
	}
	return nil
}

// Subscribe implements lms.SubscriptionStore.
func (s *Store) Subscribe(ctx context.Context, clientID string, urls []string, now time.Time) (int, error) {
	if err := checkURLs(urls); err != nil {
		return 0, err
	}
	// Large calls commit in parts: committing rewrites every page a
	// transaction touched, and with 1,000 random URLs that pages ~75 MB of
	// the mapped file in at once (see Options.MaxResident). Every part is
	// durable before the call returns, and subscribing is idempotent, so a
	// failed call can simply be repeated.
	const part = 250
	total := 0
	for len(urls) > 0 {
		n := min(part, len(urls))
		added := 0
		err := s.update(ctx, func(t *txn) error {
			c, err := t.getClient(clientID)
			if err != nil {
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

func (t *txn) subscribe(c *lms.Client, url string, now int64) (bool, error) {
	sk := join(c.ID, url)
	subs := t.b(bSubs)
	if subs.Get(sk) != nil {
		return false, nil
	}
	l, err := t.getLink(url)
	if err != nil {
		return false, err
	}
	if l == nil {
		l = &link{host: lms.HostKey(url), state: lms.StateUnknown, due: now}
	}
	if err := subs.Put(sk, mark()); err != nil {
		return false, err
	}
	if err := t.b(bLinkSubs).Put(join(url, c.ID), mark()); err != nil {
		return false, err
	}
	l.subs++
	c.Counts.Add(l.state, 1)
	if l.subs == 1 {
		g, err := t.globalCounts()
		if err != nil {
			return false, err
		}
		g.Add(l.state, 1)
		if err := t.b(bHostDue).Put(dueKey(l.host, l.due, url), dueValue(l)); err != nil {
			return false, err
		}
		t.touched[l.host] = struct{}{}
	}
	return true, t.putLink(url, l)
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
	c.Counts.Add(l.state, -1)
	l.subs--
	if l.subs == 0 {
		g, err := t.globalCounts()
		if err != nil {
			return err
		}
		g.Add(l.state, -1)
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

func (t *txn) addPendCount(id string, d int64) error {
	pc := t.b(bPendCount)
	var n int64
	if v := pc.Get([]byte(id)); v != nil {
		n, _ = binary.Varint(v)
	}
	n += d
	if n <= 0 {
		return pc.Delete([]byte(id))
	}
	return pc.Put([]byte(id), binary.AppendVarint(nil, n))
}

func (t *txn) dropPending(id, url string) error {
	k := join(id, url)
	p := t.b(bPending)
	if p.Get(k) == nil {
		return nil
	}
	if err := p.Delete(k); err != nil {
		return err
	}
	return t.addPendCount(id, -1)
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
	if err := checkURLs(urls); err != nil {
		return 0, 0, err
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
			if err := t.unsubscribe(c, u); err != nil {
				return err
			}
			removed++
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
			if p.After != "" && url == p.After {
				continue
			}
			l, err := t.getLink(url)
			if err != nil {
				return err
			}
			if l == nil {
				return fmt.Errorf("subscription to missing link %q: %w", url, errCorrupt)
			}
			if p.State != "" && l.state != p.State {
				continue
			}
			out = append(out, l.export(url))
			if p.Limit > 0 && len(out) >= p.Limit {
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

// ClaimDue implements lms.ScheduleStore.
func (s *Store) ClaimDue(ctx context.Context, now time.Time, opt lms.ClaimOptions) ([]lms.Link, error) {
	if opt.Limit <= 0 || opt.PerHost <= 0 || opt.Lease <= 0 || opt.HostGap < 0 {
		return nil, fmt.Errorf("boltstore: claim options %+v: %w", opt, lms.ErrInvalid)
	}
	n, lease := nanos(now), nanos(now.Add(opt.Lease))
	var out []lms.Link
	s.holdMu.Lock()
	defer s.holdMu.Unlock()
	err := s.update(ctx, func(t *txn) error {
		out = out[:0]
		if err := t.reapLeases(n); err != nil {
			return err
		}
		// The hosts to visit, each once: ready at now, in order of readiness.
		var hosts []string
		c := t.b(bReady).Cursor()
		for k, _ := c.First(); k != nil && len(hosts) < opt.Limit; k, _ = c.Next() {
			if timeFromKey(k[:8]) > n {
				break
			}
			if h := string(k[8:]); !s.holds[h].Held(now, opt.Holder) {
				hosts = append(hosts, h)
			}
		}
		for _, h := range hosts {
			if len(out) >= opt.Limit {
				break
			}
			pre := prefix(h)
			// The host's first due links that are not claimed yet (values
			// are copied: they are valid only until the next change).
			type entry struct {
				url string
				val []byte
			}
			var due []entry
			dc := t.b(bHostDue).Cursor()
			for k, v := dc.Seek(pre); k != nil && bytes.HasPrefix(k, pre) && len(due) < opt.PerHost && len(out)+len(due) < opt.Limit; k, v = dc.Next() {
				if timeFromKey(k[len(pre):len(pre)+8]) > n {
					break
				}
				if u := k[len(pre)+8:]; !t.leased(u) {
					due = append(due, entry{string(u), bytes.Clone(v)})
				}
			}
			for _, e := range due {
				u := e.url
				state, failures, ok := decodeDueValue(e.val)
				if !ok { // written before the index carried the snapshot
					l, err := t.getLink(u)
					if err != nil {
						return err
					}
					if l == nil {
						return fmt.Errorf("due link %q has no record: %w", u, errCorrupt)
					}
					state, failures = l.state, l.failures
				}
				if err := t.lease(h, u, lease); err != nil {
					return err
				}
				out = append(out, lms.Link{URL: u, Host: h, State: state, Failures: int(failures), NextDue: fromNanos(lease)})
			}
			if h != "" && opt.HostGap > 0 {
				hr, err := t.getHost(h)
				if err != nil {
					return err
				}
				hr.notBefore = max(hr.notBefore, nanos(now.Add(time.Duration(max(len(due)-1, 1))*opt.HostGap)))
				if err := t.b(bHosts).Put(hostKey(h), hr.encode()); err != nil {
					return err
				}
			}
			t.touched[h] = struct{}{}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.pruneHolds(now)
	for _, l := range out {
		s.holds[l.Host] = lms.Lease{Holder: opt.Holder, Until: l.NextDue}
	}
	return out, nil
}

// pruneHolds forgets ended holds once there are many; holdMu is held.
func (s *Store) pruneHolds(now time.Time) {
	if len(s.holds) < 4096 {
		return
	}
	for h, l := range s.holds {
		if !now.Before(l.Until) {
			delete(s.holds, h)
		}
	}
}

// HoldHost implements lms.ScheduleStore.
func (s *Store) HoldHost(ctx context.Context, holder, host string, now time.Time, lease time.Duration) (time.Time, bool, error) {
	if lease <= 0 {
		return time.Time{}, false, fmt.Errorf("boltstore: hold host %q for %v: %w", host, lease, lms.ErrInvalid)
	}
	var notBefore int64
	err := s.view(ctx, func(t *txn) error {
		h, err := t.getHost(host)
		notBefore = h.notBefore
		return err
	})
	if err != nil {
		return time.Time{}, false, err
	}
	s.holdMu.Lock()
	defer s.holdMu.Unlock()
	if s.holds[host].Held(now, holder) {
		return time.Time{}, false, nil
	}
	s.pruneHolds(now)
	s.holds[host] = lms.Lease{Holder: holder, Until: now.Add(lease)}
	if notBefore > nanos(now) {
		return fromNanos(notBefore), true, nil
	}
	return time.Time{}, true, nil
}

// RecordResults implements lms.ScheduleStore. Concurrent calls share
// commits.
func (s *Store) RecordResults(ctx context.Context, recs []lms.Outcome) error {
	for _, r := range recs {
		if !r.Hold && !r.Result.State.Valid() {
			return fmt.Errorf("boltstore: record for %q: state %q: %w", r.URL, r.Result.State, lms.ErrInvalid)
		}
	}
	return s.batch(ctx, func(t *txn) error {
		for _, r := range recs {
			if validate.URL(r.URL) != nil {
				continue
			}
			l, err := t.getLink(r.URL)
			if err != nil {
				return err
			}
			if l == nil {
				continue
			}
			if !r.Hold {
				if err := t.apply(r.URL, l, r); err != nil {
					return err
				}
			}
			if err := t.setDue(r.URL, l, nanos(r.NextDue)); err != nil {
				return err
			}
			if err := t.putLink(r.URL, l); err != nil {
				return err
			}
		}
		return nil
	})
}

func (t *txn) apply(url string, l *link, r lms.Outcome) error {
	res := r.Result
	old := l.state
	l.reason, l.code, l.final, l.perm = res.Reason, int64(res.Code), res.FinalURL, res.Permanent
	l.rt, l.failures, l.checked = int64(res.ResponseTime), int64(r.Failures), nanos(r.Checked)
	if res.State == old {
		return nil
	}
	l.state, l.changed = res.State, nanos(r.Checked)
	if l.subs == 0 {
		return nil
	}
	g, err := t.globalCounts()
	if err != nil {
		return err
	}
	g.Add(old, -1)
	g.Add(res.State, 1)
	ids, err := collect(t.b(bLinkSubs), prefix(url))
	if err != nil {
		return err
	}
	pend := t.b(bPending)
	seq, err := pend.NextSequence()
	if err != nil {
		return err
	}
	val := encodePending(res.State, seq, res.Reason)
	for _, id := range ids {
		c, err := t.getClient(id)
		if err != nil {
			return err
		}
		c.Counts.Add(old, -1)
		c.Counts.Add(res.State, 1)
		k := join(id, url)
		if pend.Get(k) == nil {
			if err := t.addPendCount(id, 1); err != nil {
				return err
			}
		}
		if err := pend.Put(k, val); err != nil {
			return err
		}
	}
	return nil
}

// DeferHost implements lms.ScheduleStore.
func (s *Store) DeferHost(ctx context.Context, host string, until time.Time) error {
	return s.update(ctx, func(t *txn) error {
		h, err := t.getHost(host)
		if err != nil {
			return err
		}
		h.notBefore = max(h.notBefore, nanos(until))
		if err := t.b(bHosts).Put(hostKey(host), h.encode()); err != nil {
			return err
		}
		t.touched[host] = struct{}{}
		return nil
	})
}

// LinkCounts implements lms.ScheduleStore.
func (s *Store) LinkCounts(ctx context.Context) (lms.StateCounts, error) {
	var out lms.StateCounts
	err := s.view(ctx, func(t *txn) error {
		c, err := decodeCounts(t.b(bCounts).Get([]byte(keyTotal)))
		out = c
		return err
	})
	return out, err
}

// DueCount implements lms.ScheduleStore.
func (s *Store) DueCount(ctx context.Context, now time.Time, limit int) (int, error) {
	n, count := nanos(now), 0
	err := s.view(ctx, func(t *txn) error {
		rc := t.b(bReady).Cursor()
		for k, _ := rc.First(); k != nil && count < limit; k, _ = rc.Next() {
			if timeFromKey(k[:8]) > n {
				break
			}
			pre := prefix(string(k[8:]))
			dc := t.b(bHostDue).Cursor()
			for dk, _ := dc.Seek(pre); dk != nil && bytes.HasPrefix(dk, pre) && count < limit; dk, _ = dc.Next() {
				if timeFromKey(dk[len(pre):len(pre)+8]) > n {
					break
				}
				if !t.leased(dk[len(pre)+8:]) {
					count++
				}
			}
		}
		return nil
	})
	return count, err
}

// PendingClients implements lms.NotificationStore.
func (s *Store) PendingClients(ctx context.Context) ([]string, error) {
	var out []string
	err := s.view(ctx, func(t *txn) error {
		return t.b(bPendCount).ForEach(func(k, _ []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out, err
}

// PendingUpdates implements lms.NotificationStore.
func (s *Store) PendingUpdates(ctx context.Context, clientID string, limit int) ([]lms.PendingUpdate, error) {
	var out []lms.PendingUpdate
	err := s.view(ctx, func(t *txn) error {
		if _, err := t.getClient(clientID); err != nil {
			return err
		}
		pre := prefix(clientID)
		c := t.b(bPending).Cursor()
		for k, v := c.Seek(pre); k != nil && bytes.HasPrefix(k, pre); k, v = c.Next() {
			st, seq, reason, err := decodePending(v)
			if err != nil {
				return err
			}
			if reason == "" {
				reason = "unknown"
			}
			out = append(out, lms.PendingUpdate{Update: lms.Update{URL: string(k[len(pre):]), State: st, Reason: reason}, Seq: seq})
			if limit > 0 && len(out) >= limit {
				break
			}
		}
		return nil
	})
	return out, err
}

// PendingCount implements lms.NotificationStore.
func (s *Store) PendingCount(ctx context.Context, clientID string) (int, error) {
	var n int64
	err := s.view(ctx, func(t *txn) error {
		if _, err := t.getClient(clientID); err != nil {
			return err
		}
		if v := t.b(bPendCount).Get([]byte(clientID)); v != nil {
			n, _ = binary.Varint(v)
		}
		return nil
	})
	return int(n), err
}

// AckUpdates implements lms.NotificationStore.
func (s *Store) AckUpdates(ctx context.Context, clientID string, delivered []lms.PendingUpdate) error {
	return s.update(ctx, func(t *txn) error {
		if _, err := t.getClient(clientID); err != nil {
			return err
		}
		delete(t.clients, clientID) // read only: no need to rewrite it
		pend := t.b(bPending)
		for _, d := range delivered {
			k := join(clientID, d.URL)
			v := pend.Get(k)
			if v == nil {
				continue
			}
			if _, seq, _, err := decodePending(v); err != nil || seq != d.Seq {
				continue
			}
			if err := t.dropPending(clientID, d.URL); err != nil {
				return err
			}
		}
		return nil
	})
}
