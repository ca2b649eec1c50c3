package boltstore

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/storerules"
	"github.com/linkmonitor/lms/internal/unixnano"
)

// Bucket names. Keys join parts with a 0 byte, which neither client ids nor
// URLs nor host keys may contain.
const (
	bMeta      = "meta"
	bClients   = "clients"   // id → JSON client
	bLinks     = "links"     // url → link record
	bSubs      = "subs"      // id 0 url → mark(), or inlineUse(source id) (sources.go)
	bLinkSubs  = "linksubs"  // url 0 id → ""
	bHostDue   = "hostdue"   // host 0 due(8) url → dueValue (subscribed links)
	bHosts     = "hosts"     // host → host record
	bReady     = "ready"     // readyAt(8) host → ""
	bPending   = "pending"   // id 0 url → pending record
	bPendCount = "pendcount" // id → count
	bCounts    = "counts"    // "total" → counts of subscribed links
	bLeases    = "leases"    // url → lease until (8), only while a link is claimed
	bLeaseExp  = "leaseexp"  // until(8) url → 1 host: leases by expiry
	bHistory   = "history"   // url 0 time(8) → history entry (editors.go)
	bIgnored   = "ignored"   // id 0 url → ignore mode (editors.go)
	bSources   = "sources"   // id 0 source id → source record (sourcerecord.go)
	bSrcUses   = "srcuses"   // id 0 url 0 source id → "": which sources use a URL
	bSrcOnly   = "srconly"   // id 0 url → "": subscriptions that are not plain registrations
	bDaily     = "daily"     // id 0 day(8) → counts that day (dailycounts.go)
	bArchive   = "archive"   // url → archive look-up (archive.go)

	keySchema = "schema"
	keyTotal  = "total"
)

func allBuckets() []string {
	return []string{bMeta, bClients, bLinks, bSubs, bLinkSubs, bHostDue, bHosts, bReady, bPending, bPendCount, bCounts, bLeases, bLeaseExp,
		bHookEvents, bHookIDs, bHookQueues, bHookHanded, bHistory, bIgnored, bSources, bSrcUses, bSrcOnly, bDaily, bArchive}
}

// schemaVersion is recorded in the meta bucket; Open refuses other versions.
// Version 2 leaves a claimed link's due-index entry in place (version 1
// moved it to the lease time); Open converts version 1 files. Version 3
// may record a source's use in a subscription's value (inlineUse), which
// builds before it would read as a plain registration, and compresses
// source records (sourcerecord.go); a version 2 file needs no conversion.
const schemaVersion = "3"

// readableSchema reports whether this build opens a file of schema v.
func readableSchema(v string) bool { return v == "1" || v == "2" || v == schemaVersion }

var errCorrupt = errors.New("boltstore: corrupt record")

func join(a, b string) []byte {
	k := make([]byte, 0, len(a)+1+len(b))
	k = append(k, a...)
	k = append(k, 0)
	return append(k, b...)
}

// mark is the value of index entries (bbolt cannot tell an empty value
// from a missing key).
func mark() []byte { return []byte{1} }

// hostKey is the key of a host record; the "" host (links checked without
// network) needs one too, and bbolt refuses empty keys.
func hostKey(name string) []byte { return append([]byte{'h'}, name...) }

func prefix(a string) []byte { return append([]byte(a), 0) }

// timeKey encodes nanoseconds so that byte order is time order.
func timeKey(n int64) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(n)^(1<<63))
}

func timeFromKey(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

func dueKey(host string, due int64, url string) []byte {
	k := make([]byte, 0, len(host)+9+len(url))
	k = append(k, host...)
	k = append(k, 0)
	k = append(k, timeKey(due)...)
	return append(k, url...)
}

// dueVersion marks a hostdue value that carries the link's schedule
// snapshot (state and failures), so that a claim reads no link record.
// Files written before it hold mark() there.
const dueVersion = 2

func dueValue(l *link) []byte {
	return binary.AppendVarint([]byte{dueVersion, l.St}, int64(l.Failures))
}

func decodeDueValue(v []byte) (state lms.State, failures int64, ok bool) {
	if len(v) < 3 || v[0] != dueVersion {
		return "", 0, false
	}
	f, n := binary.Varint(v[2:])
	if n <= 0 {
		return "", 0, false
	}
	return storerules.StateAt(v[1]), f, true
}

func readyKey(at int64, host string) []byte { return append(timeKey(at), host...) }

func nanos(t time.Time) int64 { return unixnano.From(t) }

func fromNanos(n int64) time.Time { return unixnano.To(n) }

// link is the stored form of an lms.Link (without its URL, the key). The
// state is stored as its storerules.StateIndex.
type link struct {
	host  string
	due   int64 // its place in the due index
	subs  int64
	lease int64 // not stored: until when it is claimed (leases bucket), 0 if not
	storerules.Check
}

const linkVersion = 1

func (l *link) encode() []byte {
	b := make([]byte, 0, 49+len(l.host)+len(l.Reason)+len(l.Final)+len(l.Kind))
	b = append(b, linkVersion, l.St)
	if l.Perm {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	for _, v := range []int64{int64(l.Code), int64(l.Failures), l.Checked, l.Changed, l.due, l.RT, l.subs} {
		b = binary.AppendVarint(b, v)
	}
	for _, s := range []string{l.host, l.Reason, l.Final, l.Kind} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	// Optional tail (records written before it end above): FailSince.
	return binary.AppendVarint(b, l.FailSince)
}

func decodeLink(b []byte) (link, error) {
	var l link
	if len(b) < 3 || b[0] != linkVersion {
		return l, errCorrupt
	}
	l.St, l.Perm = storerules.StateIndex(storerules.StateAt(b[1])), b[2] == 1
	b = b[3:]
	var code, failures int64
	for _, p := range []*int64{&code, &failures, &l.Checked, &l.Changed, &l.due, &l.RT, &l.subs} {
		v, n := binary.Varint(b)
		if n <= 0 {
			return l, errCorrupt
		}
		*p, b = v, b[n:]
	}
	l.Code, l.Failures = int32(code), int32(failures)
	for i, p := range []*string{&l.host, &l.Reason, &l.Final, &l.Kind} {
		if i == 3 && len(b) == 0 {
			break // written before links had a kind: none
		}
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return l, errCorrupt
		}
		*p, b = string(b[k:k+int(n)]), b[k+int(n):]
	}
	if len(b) > 0 {
		v, n := binary.Varint(b)
		if n != len(b) {
			return l, errCorrupt
		}
		l.FailSince = v
	}
	return l, nil
}

func (l *link) export(url string) lms.Link {
	return l.Link(url, l.host, cmp.Or(l.lease, l.due), int(l.subs))
}

// hostRec is the stored form of a host's scheduling state.
type hostRec struct {
	notBefore int64
	readyAt   int64
	inReady   bool
}

func (h hostRec) encode() []byte {
	b := binary.AppendVarint(nil, h.notBefore)
	b = binary.AppendVarint(b, h.readyAt)
	if h.inReady {
		return append(b, 1)
	}
	return append(b, 0)
}

func decodeHost(b []byte) (hostRec, error) {
	var h hostRec
	nb, n := binary.Varint(b)
	if n <= 0 {
		return h, errCorrupt
	}
	ra, m := binary.Varint(b[n:])
	if m <= 0 || len(b) != n+m+1 {
		return h, errCorrupt
	}
	return hostRec{notBefore: nb, readyAt: ra, inReady: b[n+m] == 1}, nil
}

func encodePending(st lms.State, seq uint64, reason string) []byte {
	b := []byte{storerules.StateIndex(st)}
	b = binary.AppendUvarint(b, seq)
	return append(b, reason...)
}

func decodePending(b []byte) (lms.State, uint64, string, error) {
	if len(b) < 2 {
		return "", 0, "", errCorrupt
	}
	seq, n := binary.Uvarint(b[1:])
	if n <= 0 {
		return "", 0, "", errCorrupt
	}
	return storerules.StateAt(b[0]), seq, string(b[1+n:]), nil
}

func encodeCounts(c lms.StateCounts) []byte {
	var b []byte
	for _, s := range lms.States() {
		b = binary.AppendVarint(b, int64(c.Get(s)))
	}
	return b
}

func decodeCounts(b []byte) (lms.StateCounts, error) {
	var c lms.StateCounts
	for _, s := range lms.States() {
		if len(b) == 0 {
			return c, nil
		}
		v, n := binary.Varint(b)
		if n <= 0 {
			return c, fmt.Errorf("counts: %w", errCorrupt)
		}
		c.Add(s, int(v))
		b = b[n:]
	}
	return c, nil
}
