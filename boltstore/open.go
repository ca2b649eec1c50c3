package boltstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
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
	// History bounds each link's history of state changes; zero fields
	// are lms.HistoryRetention's defaults.
	History lms.HistoryRetention

	skipCheck bool // for measuring the check (export_test.go)
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

	pruneMu   sync.Mutex
	pruneFrom []byte // host key where the next PruneHosts scan starts

	retention lms.HistoryRetention // of each link's history (editors.go)

	records recordCodec // of sources (sourcerecord.go)
}

var _ lms.Store = (*Store)(nil)

// Open opens the store file at path, or creates it if there is none.
//
// A file that is not a readable store gives an error wrapping ErrDamaged
// (damaged, truncated, empty without Open having created it, not an lms
// file) or ErrIncompatible (another version), a file that another process
// holds ErrInUse after Options.Timeout; the error names the file and says
// what to do, in one line, and the file is left as it was. Before bbolt
// maps an existing file, Open reads every page in use through the file and
// checks its structure and the records the store relies on (verify.go):
// bbolt trusts its file and panics or faults on damage.
func Open(path string, opt Options) (_ *Store, err error) {
	if opt.Timeout <= 0 {
		opt.Timeout = time.Second
	}
	f, created, err := openFile(path, opt.Timeout)
	if err != nil {
		return nil, err
	}
	if created {
		// A file this Open created and could not initialise goes: the next
		// Open creates it again rather than refusing an empty file.
		defer func() {
			if err != nil {
				_ = os.Remove(path)
			}
		}()
	}
	if !created && !opt.skipCheck {
		if err := contain(path, func() error { return checkFile(f, path) }); err != nil {
			_ = f.Close()
			return nil, err
		}
	}
	var db *bolt.DB
	err = contain(path, func() error {
		var err error
		db, err = bolt.Open(path, 0o600, &bolt.Options{
			Timeout:        opt.Timeout,
			NoSync:         opt.NoSync,
			FreelistType:   bolt.FreelistMapType,
			NoFreelistSync: true,
			// bbolt locks the file we locked (the same open file: no
			// other process came in between) and initialises it if we
			// just created it.
			OpenFile: func(string, int, os.FileMode) (*os.File, error) { return f, nil },
		})
		return err
	})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, errInUse(path, opt.Timeout)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch):
		return nil, errDamaged(path, err.Error(), err)
	case err != nil:
		_ = f.Close() // bbolt closed it unless it panicked
		if errors.Is(err, ErrDamaged) {
			return nil, err
		}
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	if err = contain(path, func() error { return initFile(db, path) }); err != nil {
		_ = db.Close()
		return nil, err
	}
	if opt.BatchDelay > 0 {
		db.MaxBatchDelay = opt.BatchDelay
	} else {
		db.MaxBatchDelay = 20 * time.Millisecond
	}
	s := &Store{db: db, path: path, stop: make(chan struct{}), done: make(chan struct{}), holds: make(map[string]lms.Lease),
		retention: opt.History.WithDefaults()}
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

// initFile creates the buckets of a new file, converts a version 1 file,
// and ends the leases of the process that held the file before.
func initFile(db *bolt.DB, path string) error {
	err := db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets() {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return err
			}
		}
		meta := tx.Bucket([]byte(bMeta))
		v := meta.Get([]byte(keySchema))
		if v != nil && !readableSchema(string(v)) {
			return errIncompatible(path, fmt.Sprintf("was written by another lms version (store schema %q; this build reads 1 to %s)", v, schemaVersion),
				"open it with the lms version that wrote it, or restore a backup written by this version")
		}
		// Leases belong to the process that held the file before: its
		// claimed links are due again at once.
		old := string(v) == "1"
		if err := run(tx, nil, func(t *txn) error { return t.releaseLeases(old) }); err != nil {
			return err
		}
		return meta.Put([]byte(keySchema), []byte(schemaVersion))
	})
	if err != nil && !errors.Is(err, ErrIncompatible) {
		return fmt.Errorf("boltstore: init %s: %w", path, err)
	}
	return err
}

// openFile opens the store file at path, creating it (created) if it does
// not exist, and takes the lock bbolt takes, waiting up to timeout.
func openFile(path string, timeout time.Duration) (f *os.File, created bool, err error) {
	f, err = os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		created = err == nil
		if errors.Is(err, fs.ErrExist) { // another process was faster
			f, err = os.OpenFile(path, os.O_RDWR, 0)
		}
	}
	if err != nil {
		return nil, false, fmt.Errorf("boltstore: open %s: %w", quotePath(path), err)
	}
	locked, err := lockFile(f, timeout)
	if err != nil || !locked {
		_ = f.Close()
		if err != nil {
			return nil, false, fmt.Errorf("boltstore: lock %s: %w", quotePath(path), err)
		}
		return nil, false, errInUse(path, timeout)
	}
	return f, created, nil
}

// checkFile checks the existing file f before bbolt maps it.
func checkFile(f *os.File, path string) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("boltstore: %w", err)
	}
	if fi.Size() == 0 {
		return errEmpty(path)
	}
	v, err := verifyFile(f, fi.Size())
	if err == nil {
		err = checkSchema(v)
	}
	if p, ok := asProblem(err); ok {
		if p.incompatible {
			return errIncompatible(path, p.what, p.advice)
		}
		return errDamaged(path, p.what, nil)
	}
	return err
}

// contain runs fn, turning a panic or a memory fault into an ErrDamaged
// error: bbolt panics on some damage that the check cannot rule out.
func contain(path string, fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			msg := strings.Join(strings.Fields(fmt.Sprint(r)), " ")
			if len(msg) > 200 {
				msg = msg[:200] + "…"
			}
			err = errDamaged(path, "bbolt failed reading it: "+msg, nil)
		}
	}()
	return fn()
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
