package boltstore

import (
	"bytes"
	"encoding/json"
	"slices"

	"github.com/linkmonitor/lms"
)

// The store's side of the check before Open: which buckets a store file
// holds, and the records whose shape the store's code relies on (keys it
// slices) or decodes. Cross-record consistency (subscriptions against
// links, counts against states) is not checked: it would need memory in
// proportion to the links.

// checkBucket checks that the bucket k within b is one of the store's.
func checkBucket(v *verifier, b bucketPath, k []byte) error {
	if len(b) > 0 {
		return damagef("%s holds a bucket %s, which lms never writes", b, quoteKey(k))
	}
	name := string(k)
	if !slices.Contains(allBuckets(), name) {
		return damagef("the file holds a bucket %s that lms does not know: damaged, or not an lms store", quoteKey(k))
	}
	v.buckets[name] = true
	return nil
}

// checkRecord checks the record k, val of bucket b.
func checkRecord(v *verifier, b bucketPath, k, val []byte) error {
	if len(b) == 0 {
		return damagef("the root bucket holds a record %s, which lms never writes", quoteKey(k))
	}
	bad := func(what string) error { return damagef("%s: the record %s %s", b, quoteKey(k), what) }
	switch b[0] {
	case bMeta:
		if string(k) == keySchema {
			v.schema = string(val)
		}
	case bClients:
		if !json.Valid(val) {
			return bad("does not decode")
		}
	case bLinks:
		if _, err := decodeLink(val); err != nil {
			return bad("does not decode")
		}
	case bHostDue: // host 0 due(8) url
		if i := bytes.IndexByte(k, 0); i < 0 || len(k) < i+1+8+1 {
			return bad("has a malformed key")
		}
	case bHosts:
		if _, err := decodeHost(val); err != nil {
			return bad("does not decode")
		}
	case bReady: // readyAt(8) host
		if len(k) < 8 {
			return bad("has a malformed key")
		}
	case bPending:
		if _, _, _, err := decodePending(val); err != nil {
			return bad("does not decode")
		}
	case bCounts:
		if _, err := decodeCounts(val); err != nil {
			return bad("does not decode")
		}
	case bHistory: // url 0 time(8) → entry
		i := bytes.IndexByte(k, 0)
		if i < 0 || len(k) != i+1+8 {
			return bad("has a malformed key")
		}
		if _, err := decodeEntry(0, val); err != nil {
			return bad("does not decode")
		}
	case bDaily: // id 0 day(8) → counts
		if i := bytes.IndexByte(k, 0); i < 0 || len(k) != i+1+8 {
			return bad("has a malformed key")
		}
		if _, err := decodeCounts(val); err != nil {
			return bad("does not decode")
		}
	case bIgnored: // id 0 url → mode
		if len(val) != 1 || val[0] == 0 || val[0] > byte(lms.IgnoredForever) {
			return bad("is malformed")
		}
	case bArchive: // url → archivedAt(8) looked(8) snapshot
		if len(val) < 16 {
			return bad("is malformed")
		}
	case bLeaseExp: // until(8) url → 1 host
		if len(k) < 9 || len(val) < 1 {
			return bad("is malformed")
		}
	}
	return nil
}

// checkSchema checks, after the walk, that the file is an lms store this
// build reads.
func checkSchema(v *verifier) error {
	if len(v.buckets) == 0 {
		return nil // bbolt created it, and lms did not write to it yet
	}
	if !v.buckets[bMeta] || v.schema == "" {
		return damagef("the file has no store schema version: damaged, or not an lms store")
	}
	if !readableSchema(v.schema) {
		return &problem{incompatible: true, what: "was written by another lms version (store schema " + quoteKey([]byte(v.schema)) + "; this build reads 1 to " + schemaVersion + ")",
			advice: "open it with the lms version that wrote it, or restore a backup written by this version"}
	}
	return nil
}
