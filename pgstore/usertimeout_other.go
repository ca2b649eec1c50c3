//go:build !linux

package pgstore

import "time"

// setUserTimeout does nothing where TCP_USER_TIMEOUT does not exist: the
// keepalives alone give a vanished server up.
func setUserTimeout(uintptr, time.Duration) error { return nil }
