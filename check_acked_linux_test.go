package lms_test

import (
	"net"
	"syscall"
	"unsafe"
)

// sendQueue returns how many bytes written to c its peer has not yet
// acknowledged (SIOCOUTQ, which Linux spells TIOCOUTQ).
func sendQueue(c net.Conn) (int, error) {
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int32
	var errno syscall.Errno
	if err := raw.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&n)))
	}); err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
