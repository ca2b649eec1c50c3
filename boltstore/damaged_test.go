package boltstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/boltstore"
)

// storeFile is a closed store file of a few hundred kilobytes with every
// kind of record: clients, links with results, pending updates, hosts
// deferred, leases; its buckets span several levels of pages.
type storeFile struct {
	data     []byte
	pageSize int
	used     int        // bytes of the pages below the high water mark
	pages    []pageInfo // the pages in use
	roots    map[string]uint64
}

type pageInfo struct {
	id       uint64
	typ      string // meta, branch, leaf, freelist
	overflow int
}

func newStoreFile(t *testing.T) *storeFile {
	t.Helper()
	ctx, now := context.Background(), testNow()
	path := filepath.Join(t.TempDir(), "lms.db")
	s, err := boltstore.Open(path, boltstore.Options{NoSync: true})
	require.NoError(t, err)
	for c := range 3 {
		id := fmt.Sprintf("client%d", c)
		require.NoError(t, s.CreateClient(ctx, lms.Client{ID: id, ContactEmail: id + "@example.org", Notify: true, Created: now}))
		var urls []string
		for i := range 400 {
			urls = append(urls, fmt.Sprintf("http://h%02d.example/section/page-%05d.html", i%40, c*1000+i))
		}
		_, err := s.Subscribe(ctx, id, urls, now)
		require.NoError(t, err)
	}
	ls, err := s.ClaimDue(ctx, now, lms.ClaimOptions{Limit: 300, PerHost: 10, Lease: time.Hour})
	require.Len(t, ls, 300)
	require.NoError(t, err)
	var recs []lms.Outcome
	for i, l := range ls[:200] {
		st := lms.StateOK
		if i%3 == 0 {
			st = lms.StateUnavailable
		}
		recs = append(recs, lms.Outcome{URL: l.URL, Checked: now, NextDue: now.Add(24 * time.Hour), Result: lms.Result{State: st, Reason: string(st), Code: 200}})
	}
	require.NoError(t, s.RecordResults(ctx, recs))
	require.NoError(t, s.DeferHost(ctx, "h07.example", now.Add(time.Hour)))
	require.NoError(t, s.Close())

	f := &storeFile{pageSize: os.Getpagesize(), roots: map[string]uint64{}}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true})
	require.NoError(t, err)
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		for i := 0; ; i++ {
			p, err := tx.Page(i)
			require.NoError(t, err)
			if p == nil {
				break
			}
			if p.Type != "free" {
				f.pages = append(f.pages, pageInfo{id: uint64(p.ID), typ: p.Type, overflow: p.OverflowCount})
			}
			i += p.OverflowCount
		}
		f.used = int(tx.Size())
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			f.roots[string(name)] = uint64(b.Root())
			return nil
		})
	}))
	require.NoError(t, db.Close())
	f.data, err = os.ReadFile(path)
	require.NoError(t, err)
	return f
}

// page returns the first page in use of type typ.
func (f *storeFile) page(t *testing.T, typ string) uint64 {
	t.Helper()
	for _, p := range f.pages {
		if p.typ == typ && p.id >= 2 {
			return p.id
		}
	}
	t.Fatalf("no %s page", typ)
	return 0
}

// write writes a copy of the file, changed by damage, and returns its path.
func (f *storeFile) write(t *testing.T, damage func(b []byte) []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lms.db")
	require.NoError(t, os.WriteFile(path, damage(bytes.Clone(f.data)), 0o600))
	return path
}

// requireRefused opens path and checks the error: of kind want, one line
// naming the file and what to do, and the file unchanged.
func requireRefused(t *testing.T, path string, want error, what string) error {
	t.Helper()
	before := fileSum(t, path)
	s, err := boltstore.Open(path, boltstore.Options{Timeout: 100 * time.Millisecond})
	if err == nil {
		_ = s.Close()
		t.Fatalf("%s: Open succeeded", what)
	}
	require.ErrorIs(t, err, want, what)
	msg := err.Error()
	require.Contains(t, msg, path, what)
	require.NotContains(t, msg, "\n", what)
	if want == boltstore.ErrDamaged {
		require.Contains(t, msg, "restore it from a backup", what)
	}
	require.Equal(t, before, fileSum(t, path), "%s: the file was modified", what)
	return err
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return sha256.Sum256(b)
}

func zero(b []byte, off, n int) []byte {
	clear(b[off : off+n])
	return b
}

func TestDamagedFiles(t *testing.T) {
	f := newStoreFile(t)
	ps := f.pageSize
	hwm := f.used / ps
	cases := []struct {
		name   string
		damage func(b []byte) []byte
		says   string
	}{
		{"truncated to half", func(b []byte) []byte { return b[:f.used/2] }, "truncated"},
		{"truncated by one page", func(b []byte) []byte { return b[:f.used-ps] }, "truncated"},
		{"truncated inside the second meta page", func(b []byte) []byte { return b[:ps+20] }, "truncated"},
		{"truncated to 100 bytes", func(b []byte) []byte { return b[:100] }, "truncated"},
		{"meta page 0 zeroed", func(b []byte) []byte { return zero(b, 0, ps) }, "meta page 0 is all zeros"},
		{"meta page 1 zeroed", func(b []byte) []byte { return zero(b, ps, ps) }, "meta page 1 is all zeros"},
		{"both meta pages zeroed", func(b []byte) []byte { return zero(b, 0, 2*ps) }, "meta page 0"},
		{"root page zeroed", func(b []byte) []byte { return zero(b, int(f.roots["links"])*ps, ps) }, "all zeros"},
		{"a branch page zeroed", func(b []byte) []byte { return zero(b, int(f.page(t, "branch"))*ps, ps) }, "all zeros"},
		{"a leaf page zeroed", func(b []byte) []byte { return zero(b, int(f.page(t, "leaf"))*ps, ps) }, "all zeros"},
		{"a leaf page's header zeroed", func(b []byte) []byte { return zero(b, int(f.page(t, "leaf"))*ps, 16) }, "header of page 0"},
		{"random garbage", func(b []byte) []byte {
			r := rand.New(rand.NewPCG(1, 2))
			g := make([]byte, 64<<10)
			for i := range g {
				g[i] = byte(r.Uint32())
			}
			return g
		}, "signature"},
		{"a page's elements overrun it", func(b []byte) []byte {
			off := int(f.page(t, "leaf")) * ps
			binary.NativeEndian.PutUint16(b[off+10:], 0xfff0) // count
			return b
		}, "do not fit"},
		{"a branch points past the data", func(b []byte) []byte {
			off := int(f.page(t, "branch")) * ps
			binary.NativeEndian.PutUint64(b[off+16+8:], uint64(hwm)*1000) // first child
			return b
		}, "outside the data"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := requireRefused(t, f.write(t, tc.damage), boltstore.ErrDamaged, tc.name)
			require.Contains(t, err.Error(), tc.says)
		})
	}
}

func TestEmptyFileIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lms.db")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	err := requireRefused(t, path, boltstore.ErrDamaged, "0-byte file")
	require.Contains(t, err.Error(), "empty (0 bytes)")
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Zero(t, fi.Size(), "an empty file lms did not create must stay empty")
}

// TestOpenCreatesTheFile: a missing file is created and initialised (the
// one case in which a 0-byte file is lms's own).
func TestOpenCreatesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lms.db")
	s := open(t, path)
	require.NoError(t, s.Close())
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	open(t, path).Close()
}

// setMeta rewrites both meta pages with change applied to their fields
// (after the page header) and their checksums recomputed.
func setMeta(ps int, change func(m []byte)) func(b []byte) []byte {
	return func(b []byte) []byte {
		for i := range 2 {
			m := b[i*ps+16 : i*ps+80]
			change(m)
			h := fnv.New64a()
			h.Write(m[:56])
			binary.NativeEndian.PutUint64(m[56:], h.Sum64())
		}
		return b
	}
}

func TestOtherVersionsAreRefused(t *testing.T) {
	f := newStoreFile(t)
	t.Run("bbolt format", func(t *testing.T) {
		path := f.write(t, setMeta(f.pageSize, func(m []byte) { binary.NativeEndian.PutUint32(m[4:], 3) }))
		err := requireRefused(t, path, boltstore.ErrIncompatible, "bbolt version 3")
		require.Contains(t, err.Error(), "bbolt file format version 3")
	})
	t.Run("store schema", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "lms.db")
		require.NoError(t, os.WriteFile(path, f.data, 0o600))
		db, err := bolt.Open(path, 0o600, &bolt.Options{NoFreelistSync: true})
		require.NoError(t, err)
		require.NoError(t, db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte("9")) }))
		require.NoError(t, db.Close())
		err = requireRefused(t, path, boltstore.ErrIncompatible, "schema 9")
		require.Contains(t, err.Error(), `store schema "9"`)
	})
	t.Run("not an lms file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "other.db")
		db, err := bolt.Open(path, 0o600, nil)
		require.NoError(t, err)
		require.NoError(t, db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket([]byte("widgets"))
			if err != nil {
				return err
			}
			return b.Put([]byte("w1"), []byte("blue"))
		}))
		require.NoError(t, db.Close())
		err = requireRefused(t, path, boltstore.ErrDamaged, "another program's bbolt file")
		require.Contains(t, err.Error(), "not an lms store")
	})
}

// TestFlippedBits flips one bit at a time: in every meta field and page
// header of the file, and at pseudo-random offsets. Open never panics; it
// refuses the file with ErrDamaged or ErrIncompatible and leaves it as it
// was, or the flip did no harm to the structure and the store works (a flip
// inside a key or value the check cannot tell from a real one, or in a free
// page). Flips in the meta pages and in page ids and types are always
// found.
func TestFlippedBits(t *testing.T) {
	f := newStoreFile(t)
	ps := f.pageSize
	type flip struct {
		off      int
		bit      uint
		mustFind bool
	}
	var flips []flip
	for i := range 2 { // every field of both meta pages, checksum included
		for off := i * ps; off < i*ps+80; off += 3 {
			flips = append(flips, flip{off, uint(off % 8), off%ps < 10 || off%ps >= 16}) // bbolt ignores count and overflow of a meta page
		}
	}
	for i, p := range f.pages {
		if p.id < 2 || (p.typ == "leaf" && i%4 != 0) {
			continue
		}
		base := int(p.id) * ps
		flips = append(flips,
			flip{base, 3, true},       // page id
			flip{base + 8, 0, true},   // flags
			flip{base + 8, 4, true},   // flags
			flip{base + 10, 6, false}, // count
			flip{base + 12, 0, false}, // overflow
			flip{base + 16, 2, false}, // first element
			flip{base + 20, 7, false}, // first element
		)
	}
	r := rand.New(rand.NewPCG(14, 7))
	random := len(flips)
	for range 300 {
		flips = append(flips, flip{r.IntN(f.used), uint(r.IntN(8)), false})
	}
	ctx := context.Background()
	found, foundRandom := 0, 0
	for i, fl := range flips {
		path := f.write(t, func(b []byte) []byte { b[fl.off] ^= 1 << fl.bit; return b })
		what := fmt.Sprintf("bit %d of byte %d (page %d)", fl.bit, fl.off, fl.off/ps)
		before := fileSum(t, path)
		s, err := boltstore.Open(path, boltstore.Options{Timeout: 100 * time.Millisecond, NoSync: true})
		if err != nil {
			found++
			if i >= random {
				foundRandom++
			}
			if !errors.Is(err, boltstore.ErrIncompatible) {
				require.ErrorIs(t, err, boltstore.ErrDamaged, what)
			}
			require.Contains(t, err.Error(), path, what)
			require.NotContains(t, err.Error(), "\n", what)
			require.Equal(t, before, fileSum(t, path), "%s: the file was modified", what)
			continue
		}
		require.False(t, fl.mustFind, "%s: not found", what)
		// Whatever the flip did to a key or a value, the store answers
		// without panicking (errors are fine).
		cs, _ := s.ListClients(ctx)
		for _, c := range cs {
			_, _ = s.ClientLinks(ctx, c.ID, lms.Page{})
			_, _ = s.PendingUpdates(ctx, c.ID, 0)
		}
		_, _ = s.ClaimDue(ctx, testNow().Add(48*time.Hour), lms.ClaimOptions{Limit: 1000, PerHost: 100, Lease: time.Minute})
		_, _ = s.DueCount(ctx, testNow().Add(48*time.Hour), 10_000)
		_, _ = s.LinkCounts(ctx)
		require.NoError(t, s.Close(), what)
	}
	t.Logf("%d of %d flipped bits found at Open, %d of the %d at random offsets", found, len(flips), foundRandom, len(flips)-random)
}

// TestInUseIsOneLine: the second Open of a file gives ErrInUse in one line.
func TestInUseIsOneLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lms.db")
	s := open(t, path)
	defer s.Close()
	_, err := boltstore.Open(path, boltstore.Options{Timeout: 100 * time.Millisecond})
	require.ErrorIs(t, err, boltstore.ErrInUse)
	require.False(t, errors.Is(err, boltstore.ErrDamaged))
	require.Contains(t, err.Error(), path)
	require.NotContains(t, err.Error(), "\n")
	require.True(t, strings.Contains(err.Error(), "in use by another process"))
}
