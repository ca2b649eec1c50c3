package boltstore

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
)

func canTrim() bool { return true }

// fileResident returns the file-backed resident memory of the process
// (the "shared" field of /proc/self/statm), or 0 if unknown.
func fileResident() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return 0
	}
	n, _ := strconv.ParseInt(f[2], 10, 64)
	return n * int64(os.Getpagesize())
}

// trimResident releases this process's resident pages of the mappings of
// path (bbolt reads the file through mmap, and random access makes every
// touched page count in the process's RSS). MADV_DONTNEED on a shared file
// mapping only drops our page-table entries: the data stays in the page
// cache and the next read faults it back in cheaply.
func trimResident(path string) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasSuffix(line, " "+path) {
			continue
		}
		span, _, _ := strings.Cut(line, " ")
		lo, hi, ok := strings.Cut(span, "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, uintptr(start), uintptr(end-start), syscall.MADV_DONTNEED)
	}
}
