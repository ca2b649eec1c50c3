//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package boltstore

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// lockFile takes the exclusive flock bbolt takes on its file, waiting up to
// timeout (polling, as bbolt does); locked is false if another process
// still holds it then.
func lockFile(f *os.File, timeout time.Duration) (locked bool, err error) {
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case !errors.Is(err, syscall.EWOULDBLOCK):
			return false, err
		case time.Now().After(deadline):
			return false, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}
