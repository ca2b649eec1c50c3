package boltstore_test

import (
	"os"
	"syscall"
)

func canDropCache() bool { return true }

// dropCache evicts the file's pages from the page cache
// (POSIX_FADV_DONTNEED), so that the next read goes to the disk.
func dropCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, _, errno := syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, 4, 0, 0); errno != 0 {
		return errno
	}
	return nil
}
