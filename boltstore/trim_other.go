//go:build !linux

package boltstore

// Trimming needs /proc/self/maps and statm (Linux).
func canTrim() bool { return false }

func fileResident() int64 { return 0 }

func trimResident(string) {}
