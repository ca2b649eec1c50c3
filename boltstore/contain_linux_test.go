package boltstore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestContain: a panic, and a memory fault such as bbolt's reads of a
// mapped file that shrank, become an ErrDamaged error naming the file.
func TestContain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lms.db")
	err := contain(path, func() error { panic("assertion failed: page 7 expected\nto be 7") })
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("panic: %v", err)
	}

	ps := os.Getpagesize()
	if err := os.WriteFile(path, make([]byte, 2*ps), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := syscall.Mmap(int(f.Fd()), 0, 2*ps, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(m)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	var b byte
	err = contain(path, func() error {
		b = m[ps] // SIGBUS: beyond the end of the file
		return nil
	})
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "bbolt failed reading it") {
		t.Fatalf("fault: %v (read %d)", err, b)
	}
}
