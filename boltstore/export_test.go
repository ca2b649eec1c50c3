package boltstore

import (
	"os"

	bolt "go.etcd.io/bbolt"
)

// OpenUnchecked is Open without the check of an existing file, for
// measuring what the check costs.
func OpenUnchecked(path string, opt Options) (*Store, error) {
	opt.skipCheck = true
	return Open(path, opt)
}

// VerifyFile runs the check of Open on the file at path, alone.
func VerifyFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return checkFile(f, path)
}

// HistoryBytes returns the bytes the history bucket's pages use (leaf and
// branch pages in use) and its number of entries.
func HistoryBytes(s *Store) (bytes, entries int, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		st := tx.Bucket([]byte(bHistory)).Stats()
		bytes, entries = st.LeafInuse+st.BranchInuse, st.KeyN
		return nil
	})
	return bytes, entries, err
}

// HistoryAlloc returns the bytes of the pages allocated to the history
// bucket (leaf and branch pages, used or not).
func HistoryAlloc(s *Store) (bytes int, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		st := tx.Bucket([]byte(bHistory)).Stats()
		bytes = st.LeafAlloc + st.BranchAlloc
		return nil
	})
	return bytes, err
}
