package boltstore

import "os"

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
