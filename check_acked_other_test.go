//go:build !linux

package lms_test

import (
	"errors"
	"net"
)

// sendQueue cannot see c's send queue on this platform.
func sendQueue(net.Conn) (int, error) { return 0, errors.ErrUnsupported }
