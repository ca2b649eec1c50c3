//go:build !linux

package boltstore_test

func canDropCache() bool { return false }

func dropCache(string) error { return nil }
