// Package testkit holds small helpers that the tests of several packages
// share: a log sink that a test reads while the code under test writes it,
// and a store that counts (and can fail) the snapshots computed over it.
package testkit

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linkmonitor/lms"
)

// SyncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ErrDisk is what DueCount returns while a SnapshotStore fails: the kind
// of error text (a path, an errno) that no public page may show.
var ErrDisk = errors.New("bolt: /var/lib/lms/lms.db: input/output error")

// SnapshotStore wraps a Store and counts the snapshots computed over it
// (Engine.Stats asks DueCount once per snapshot); while Fail is set,
// DueCount fails with ErrDisk.
type SnapshotStore struct {
	lms.Store
	// DueCounts is the number of DueCount calls so far.
	DueCounts atomic.Int64
	// Fail makes DueCount fail.
	Fail atomic.Bool
}

// DueCount counts the call, and fails it or passes it to the wrapped store.
func (s *SnapshotStore) DueCount(ctx context.Context, now time.Time, max int) (int, error) {
	s.DueCounts.Add(1)
	if s.Fail.Load() {
		return 0, ErrDisk
	}
	return s.Store.DueCount(ctx, now, max)
}
