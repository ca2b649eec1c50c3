package boltstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/linkmonitor/lms"
)

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
	records *recordCodec // nil: no pooled codec (Open's conversions)
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
	return translate(s.db.View(func(tx *bolt.Tx) error { return fn(&txn{tx: tx, trim: s.trim, records: &s.records}) }))
}

func (s *Store) update(ctx context.Context, fn func(*txn) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("boltstore: %w", err)
	}
	return translate(s.db.Update(func(tx *bolt.Tx) error { return run(tx, s, fn) }))
}

// batch is update through bolt's Batch: concurrent callers share one
// commit. fn may run more than once and must be idempotent.
func (s *Store) batch(ctx context.Context, fn func(*txn) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("boltstore: %w", err)
	}
	return translate(s.db.Batch(func(tx *bolt.Tx) error { return run(tx, s, fn) }))
}

// run runs fn in the write transaction tx of s (nil while Open converts
// the file) and writes what it changed in memory.
func run(tx *bolt.Tx, s *Store, fn func(*txn) error) error {
	t := &txn{tx: tx, touched: map[string]struct{}{}, clients: map[string]*lms.Client{}}
	if s != nil {
		t.trim, t.records = s.trim, &s.records
	}
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

func (t *txn) putLink(url string, l *link) error { return t.b(bLinks).Put([]byte(url), l.encode()) }

// collect returns the suffixes of all keys with prefix p (copied).
func collect(b *bolt.Bucket, p []byte) ([]string, error) {
	var out []string
	c := b.Cursor()
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
		out = append(out, string(k[len(p):]))
	}
	return out, nil
}
