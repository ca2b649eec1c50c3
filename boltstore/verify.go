package boltstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"strings"
)

// The bbolt file format (go.etcd.io/bbolt/internal/common), as far as the
// check before Open reads it. Integers are in the machine's byte order.
const (
	pageHeaderSize = 16 // id u64, flags u16, count u16, overflow u32
	elementSize    = 16 // branch: pos u32, ksize u32, pgid u64; leaf: flags u32, pos u32, ksize u32, vsize u32
	bucketHeader   = 16 // root pgid u64, sequence u64; an inline bucket's page follows when root is 0
	metaEnd        = pageHeaderSize + 64

	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	flagBranch     = 0x01
	flagLeaf       = 0x02
	flagMeta       = 0x04
	flagFreelist   = 0x10
	flagBucketLeaf = 0x01
	noFreelist     = ^uint64(0)

	maxDepth = 64       // pages from the root page to a record, over nested buckets
	maxSpan  = 16 << 20 // bytes of one page with its overflow pages
)

var ne = binary.NativeEndian

// problem is what the check found wrong with a file, in plain words.
type problem struct {
	what         string
	incompatible bool   // a file of another version rather than a damaged one
	advice       string // for incompatible files
}

func (p *problem) Error() string { return p.what }

func damagef(format string, args ...any) error {
	return &problem{what: fmt.Sprintf(format, args...)}
}

// meta is a bbolt meta page.
type meta struct {
	pageSize uint32
	root     uint64
	freelist uint64
	hwm      uint64 // pages below it are in use or free
	txid     uint64
}

// verifier checks a store file before bbolt maps it: bbolt trusts the
// file, so that a damaged page makes it panic or fault, also in a goroutine
// of its own where no recover can reach, and the store's code trusts the
// shape of its keys. The check reads every page reachable from the newer
// meta page through the file (pread, not mmap: no page stays resident):
// both meta pages (checksums), each page's header and bounds, the order of
// keys, that no page is referenced twice, the freelist if there is one, and
// with checkRecord the records the store decodes or slices.
type verifier struct {
	r       io.ReaderAt
	size    int64
	ps      uint64 // page size
	hwm     uint64
	seen    []uint64        // pages reached, a bit each
	bufs    [][]byte        // one page buffer per depth
	buckets map[string]bool // the store's buckets found
	schema  string          // the value of meta/schema, if any
}

// verifyFile checks the bbolt file r of size bytes (size > 0).
func verifyFile(r io.ReaderAt, size int64) (*verifier, error) {
	v := &verifier{r: r, size: size, buckets: map[string]bool{}}
	m0, err := v.readMeta(0, 0)
	if err != nil {
		return nil, err
	}
	v.ps = uint64(m0.pageSize)
	m1, err := v.readMeta(1, v.ps)
	if err != nil {
		return nil, err
	}
	if m1.pageSize != m0.pageSize {
		return nil, damagef("the meta pages disagree on the page size (%d and %d bytes)", m0.pageSize, m1.pageSize)
	}
	m := m0
	if m1.txid > m0.txid { // the one bbolt uses
		m = m1
	}
	v.hwm = m.hwm
	if end := m.hwm * v.ps; m.hwm < 3 || end/v.ps != m.hwm || end > uint64(size) {
		return nil, damagef("the file is %d bytes long but its pages reach byte %d: it was truncated", size, m.hwm*v.ps)
	}
	v.seen = make([]uint64, (m.hwm+63)/64)
	v.mark(0)
	v.mark(1)
	var free []uint64
	if m.freelist != noFreelist {
		if free, err = v.freelist(m.freelist); err != nil {
			return nil, err
		}
	}
	if err := v.tree(m.root, nil, 0, nil, nil); err != nil {
		return nil, err
	}
	for _, id := range free {
		if v.marked(id) {
			return nil, damagef("page %d is both in use and in the freelist", id)
		}
	}
	return v, nil
}

// readMeta reads and validates meta page i at offset off.
func (v *verifier) readMeta(i int, off uint64) (meta, error) {
	var b [metaEnd]byte
	if off+metaEnd > uint64(v.size) {
		return meta{}, damagef("the file is %d bytes long, too short for meta page %d: it was truncated, or it is not a store file", v.size, i)
	}
	if _, err := v.r.ReadAt(b[:], int64(off)); err != nil {
		return meta{}, damagef("meta page %d cannot be read: %v", i, err)
	}
	if allZero(b[:]) {
		return meta{}, damagef("meta page %d is all zeros", i)
	}
	f := b[pageHeaderSize:]
	if ne.Uint32(f[0:]) != boltMagic {
		return meta{}, damagef("meta page %d lacks the bbolt signature; it may not be a store file at all", i)
	}
	h := fnv.New64a()
	_, _ = h.Write(f[:56])
	if h.Sum64() != ne.Uint64(f[56:]) {
		return meta{}, damagef("meta page %d fails its checksum", i)
	}
	if ver := ne.Uint32(f[4:]); ver != boltVersion {
		return meta{}, &problem{incompatible: true, what: fmt.Sprintf("is in bbolt file format version %d, which this build does not read (it reads version %d)", ver, boltVersion),
			advice: "open it with the program that wrote it, or restore a backup written by lms"}
	}
	if id, flags := ne.Uint64(b[0:]), ne.Uint16(b[8:]); id != uint64(i) || flags != flagMeta {
		return meta{}, damagef("meta page %d has a wrong page header (id %d, flags %#x)", i, id, flags)
	}
	m := meta{pageSize: ne.Uint32(f[8:]), root: ne.Uint64(f[16:]), freelist: ne.Uint64(f[32:]), hwm: ne.Uint64(f[40:]), txid: ne.Uint64(f[48:])}
	if m.pageSize < 1024 || m.pageSize > 1<<16 || m.pageSize&(m.pageSize-1) != 0 {
		return meta{}, damagef("meta page %d gives an impossible page size of %d bytes", i, m.pageSize)
	}
	if m.root < 2 || m.root >= m.hwm || (m.freelist != noFreelist && (m.freelist < 2 || m.freelist >= m.hwm)) {
		return meta{}, damagef("meta page %d points outside the data (root page %d, freelist page %d, %d pages)", i, m.root, m.freelist, m.hwm)
	}
	return m, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func (v *verifier) mark(id uint64)        { v.seen[id/64] |= 1 << (id % 64) }
func (v *verifier) marked(id uint64) bool { return v.seen[id/64]&(1<<(id%64)) != 0 }

// read reads page id with its overflow pages into the buffer of depth,
// checks its header and marks it reached.
func (v *verifier) read(id uint64, depth int) ([]byte, error) {
	if depth >= maxDepth {
		return nil, damagef("page %d lies %d levels deep: the pages form a loop", id, depth)
	}
	if id < 2 || id >= v.hwm {
		return nil, damagef("a page refers to page %d, outside the data (pages 2 to %d)", id, v.hwm-1)
	}
	for len(v.bufs) <= depth {
		v.bufs = append(v.bufs, make([]byte, v.ps))
	}
	b := v.bufs[depth][:v.ps]
	if _, err := v.r.ReadAt(b, int64(id*v.ps)); err != nil {
		return nil, damagef("page %d cannot be read: %v", id, err)
	}
	if allZero(b) {
		return nil, damagef("page %d is all zeros", id)
	}
	if got := ne.Uint64(b); got != id {
		return nil, damagef("page %d holds the header of page %d", id, got)
	}
	overflow := uint64(ne.Uint32(b[12:]))
	if id+overflow >= v.hwm || (overflow+1)*v.ps > maxSpan {
		return nil, damagef("page %d claims %d overflow pages, beyond the data", id, overflow)
	}
	for p := id; p <= id+overflow; p++ {
		if v.marked(p) {
			return nil, damagef("page %d is referred to twice", p)
		}
		v.mark(p)
	}
	if overflow > 0 {
		span := (overflow + 1) * v.ps
		if uint64(cap(v.bufs[depth])) < span {
			nb := make([]byte, span)
			copy(nb, b)
			v.bufs[depth] = nb
		}
		b = v.bufs[depth][:span]
		if _, err := v.r.ReadAt(b[v.ps:], int64((id+1)*v.ps)); err != nil {
			return nil, damagef("page %d cannot be read: %v", id, err)
		}
	}
	return b, nil
}

// freelist checks the freelist page id and returns the free pages.
func (v *verifier) freelist(id uint64) ([]uint64, error) {
	b, err := v.read(id, 0)
	if err != nil {
		return nil, err
	}
	if flags := ne.Uint16(b[8:]); flags != flagFreelist {
		return nil, damagef("the freelist page %d is not a freelist (flags %#x)", id, flags)
	}
	idx, n := uint64(0), uint64(ne.Uint16(b[10:]))
	if n == 0xFFFF { // the count is the first element
		if len(b) < pageHeaderSize+8 {
			return nil, damagef("the freelist page %d is cut short", id)
		}
		idx, n = 1, ne.Uint64(b[pageHeaderSize:])
	}
	if n > uint64(len(b)) || pageHeaderSize+(idx+n)*8 > uint64(len(b)) {
		return nil, damagef("the freelist page %d claims %d entries, more than it holds", id, n)
	}
	free := make([]uint64, 0, n)
	for i := idx; i < idx+n; i++ {
		p := ne.Uint64(b[pageHeaderSize+i*8:])
		if p < 2 || p >= v.hwm {
			return nil, damagef("the freelist page %d lists page %d, outside the data", id, p)
		}
		free = append(free, p)
	}
	return free, nil
}

// bucketPath names a bucket for messages and record checks: nil is the
// root bucket, which holds the store's buckets.
type bucketPath []string

func (p bucketPath) String() string {
	if len(p) == 0 {
		return "the root bucket"
	}
	return fmt.Sprintf("bucket %q", strings.Join(p, "/"))
}

// tree checks the page id of bucket b and all below it; its keys lie in
// [lo, hi) (nil: unbounded).
func (v *verifier) tree(id uint64, b bucketPath, depth int, lo, hi []byte) error {
	p, err := v.read(id, depth)
	if err != nil {
		return err
	}
	switch flags := ne.Uint16(p[8:]); flags {
	case flagBranch:
		return v.branch(id, p, b, depth, lo, hi)
	case flagLeaf:
		return v.leaf(fmt.Sprintf("page %d", id), p, b, depth, lo, hi)
	default:
		return damagef("page %d of %s is neither a branch nor a leaf page (flags %#x)", id, b, flags)
	}
}

// elements returns the count of p's elements after checking that they fit.
func elements(p []byte) (int, bool) {
	n := int(ne.Uint16(p[10:]))
	return n, pageHeaderSize+n*elementSize <= len(p)
}

// span returns p[at+pos : at+pos+size] if it lies within p.
func span(p []byte, at int, pos uint32, size uint64) ([]byte, bool) {
	start := uint64(at) + uint64(pos)
	end := start + size
	if end > uint64(len(p)) {
		return nil, false
	}
	return p[start:end], true
}

// inOrder checks that k follows prev (strictly) and lies within [lo, hi).
func inOrder(k, prev, lo, hi []byte, first bool) bool {
	if !first && bytes.Compare(prev, k) >= 0 {
		return false
	}
	return (lo == nil || bytes.Compare(k, lo) >= 0) && (hi == nil || bytes.Compare(k, hi) < 0)
}

func (v *verifier) branch(id uint64, p []byte, b bucketPath, depth int, lo, hi []byte) error {
	n, ok := elements(p)
	if !ok || n == 0 {
		return damagef("branch page %d of %s claims %d entries, which do not fit", id, b, n)
	}
	keys := make([][]byte, n)
	for i := range n {
		at := pageHeaderSize + i*elementSize
		k, ok := span(p, at, ne.Uint32(p[at:]), uint64(ne.Uint32(p[at+4:])))
		if !ok || len(k) == 0 {
			return damagef("branch page %d of %s: entry %d lies outside the page", id, b, i)
		}
		if !inOrder(k, keys[max(i-1, 0)], lo, hi, i == 0) {
			return damagef("branch page %d of %s: its keys are out of order at entry %d", id, b, i)
		}
		keys[i] = k
	}
	for i := range n {
		at := pageHeaderSize + i*elementSize
		next := hi
		if i+1 < n {
			next = keys[i+1]
		}
		if err := v.tree(ne.Uint64(p[at+8:]), b, depth+1, keys[i], next); err != nil {
			return err
		}
	}
	return nil
}

// leaf checks the leaf page p (a page of the file, or an inline bucket's
// page: name says which) of bucket b, and the buckets it holds.
func (v *verifier) leaf(name string, p []byte, b bucketPath, depth int, lo, hi []byte) error {
	n, ok := elements(p)
	if !ok {
		return damagef("%s of %s claims %d entries, which do not fit", name, b, n)
	}
	var prev []byte
	for i := range n {
		at := pageHeaderSize + i*elementSize
		flags, pos, ksize, vsize := ne.Uint32(p[at:]), ne.Uint32(p[at+4:]), ne.Uint32(p[at+8:]), ne.Uint32(p[at+12:])
		kv, ok := span(p, at, pos, uint64(ksize)+uint64(vsize))
		if !ok || ksize == 0 {
			return damagef("%s of %s: entry %d lies outside the page", name, b, i)
		}
		k, val := kv[:ksize], kv[ksize:]
		if !inOrder(k, prev, lo, hi, i == 0) {
			return damagef("%s of %s: its keys are out of order at entry %d", name, b, i)
		}
		prev = k
		switch flags {
		case 0:
			if err := checkRecord(v, b, k, val); err != nil {
				return err
			}
		case flagBucketLeaf:
			if err := v.bucket(b, k, val, depth); err != nil {
				return err
			}
		default:
			return damagef("%s of %s: entry %d has unknown flags %#x", name, b, i, flags)
		}
	}
	return nil
}

// bucket checks the bucket named k within b, whose header is val.
func (v *verifier) bucket(b bucketPath, k, val []byte, depth int) error {
	if err := checkBucket(v, b, k); err != nil {
		return err
	}
	sub := append(b[:len(b):len(b)], string(k))
	if len(val) < bucketHeader {
		return damagef("the header of %s is cut short", sub)
	}
	if root := ne.Uint64(val); root != 0 {
		return v.tree(root, sub, depth+1, nil, nil)
	}
	// An inline bucket: its only page, a leaf, is in the value.
	p := val[bucketHeader:]
	if len(p) < pageHeaderSize || ne.Uint16(p[8:]) != flagLeaf {
		return damagef("the inline page of %s is not a leaf page", sub)
	}
	return v.leaf("the inline page", p, sub, depth+1, nil, nil)
}

// asProblem returns err's problem, if it is one.
func asProblem(err error) (*problem, bool) {
	var p *problem
	ok := errors.As(err, &p)
	return p, ok
}
