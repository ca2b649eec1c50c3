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
//
// bbolt trusts its file and panics on damage, also where no recover can
// reach. Open therefore reads an existing file through before bbolt maps
// it, and refuses a damaged, truncated, foreign or empty one (that it did
// not create) with an error that names the file and says what to do
// (ErrDamaged, ErrIncompatible); another process's file gives ErrInUse.
package boltstore
