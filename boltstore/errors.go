package boltstore

import (
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode"
)

// Errors of Open, for errors.Is. The error Open returns says in one line
// which file, what is wrong and what to do.
var (
	// ErrDamaged: the file is not a readable lms store. It is damaged
	// (truncated, overwritten, flipped bits), empty without lms having
	// created it, or not an lms file at all. Nothing was written to it.
	ErrDamaged = errors.New("boltstore: not a readable store file")
	// ErrInUse: another process holds the file (only one may open it).
	ErrInUse = errors.New("boltstore: store file in use")
	// ErrIncompatible: the file was written by a newer lms, or in a bbolt
	// format this build does not read. Nothing was written to it.
	ErrIncompatible = errors.New("boltstore: store file of another version")
)

// fileError is an Open error: its text is for the operator, its kind (one
// of the sentinels) and cause for errors.Is and errors.As.
type fileError struct {
	msg         string
	kind, cause error
}

func (e *fileError) Error() string { return e.msg }

func (e *fileError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// adviceDamaged is what to do with a damaged file.
const adviceDamaged = "restore it from a backup, or move it away to start with an empty store"

// errDamaged says that the file at path is damaged: what is the problem in
// plain words.
func errDamaged(path, what string, cause error) error {
	return &fileError{kind: ErrDamaged, cause: cause,
		msg: fmt.Sprintf("boltstore: %s is damaged (%s): %s", quotePath(path), what, adviceDamaged)}
}

// errEmpty says that the file at path has 0 bytes and this Open did not
// create it: only the Open that creates a file initialises it.
func errEmpty(path string) error {
	return &fileError{kind: ErrDamaged,
		msg: fmt.Sprintf("boltstore: %s is empty (0 bytes) and this Open did not create it, so it holds no store: remove it to start with an empty store, or restore it from a backup", quotePath(path))}
}

func errInUse(path string, timeout time.Duration) error {
	return &fileError{kind: ErrInUse,
		msg: fmt.Sprintf("boltstore: %s is in use by another process (lock not released within %v): stop that process, or use another file", quotePath(path), timeout)}
}

func errIncompatible(path, what, advice string) error {
	return &fileError{kind: ErrIncompatible,
		msg: fmt.Sprintf("boltstore: %s %s: %s", quotePath(path), what, advice)}
}

// quotePath keeps an error on one line whatever the path holds.
func quotePath(p string) string {
	for _, r := range p {
		if !unicode.IsPrint(r) {
			return strconv.Quote(p)
		}
	}
	return p
}

// quoteKey shows a key of a damaged record, short and on one line.
func quoteKey(k []byte) string {
	const most = 60
	if len(k) > most {
		return strconv.Quote(string(k[:most])) + "…"
	}
	return strconv.Quote(string(k))
}
