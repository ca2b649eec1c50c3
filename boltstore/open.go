package boltstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/linkmonitor/lms"
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
