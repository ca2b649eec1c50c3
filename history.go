package lms

import (
	"context"
	"time"
)

// What editors need to act on a broken link: a link's history of
// state changes, ignoring a link per client, and re-checking links now. The
// model and the store role are here; the Engine's operations in editors.go.

// HistoryEntry is one change of a link's state, as the check that changed
// it found it.
type HistoryEntry struct {
	Time     time.Time // when the check that changed the state ran
	State    State
	Reason   string
	Code     int    // HTTP or FTP status of the final answer, 0 if none
	FinalURL string // where a chain of permanent redirects ended, "" otherwise
}

// HistoryRetention bounds the history a store keeps per link. The zero
// value means the defaults; a store trims a link's history when it adds a
// change to it.
type HistoryRetention struct {
	// MaxChanges is the most changes kept per link, the newest. Default
	// 100; negative keeps no history.
	MaxChanges int
	// MaxAge drops changes this much older than the link's newest change.
	// Default 365 days; negative keeps changes of any age (up to
	// MaxChanges).
	MaxAge time.Duration
}

// WithDefaults returns r with its zero fields set to the defaults.
func (r HistoryRetention) WithDefaults() HistoryRetention {
	if r.MaxChanges == 0 {
		r.MaxChanges = 100
	}
	if r.MaxAge == 0 {
		r.MaxAge = 365 * 24 * time.Hour
	}
	return r
}

// IgnoreMode says whether and how a client ignores one of its links.
type IgnoreMode uint8

// The ignore modes.
const (
	// NotIgnored: the client is told of every change of the link.
	NotIgnored IgnoreMode = iota
	// IgnoredUntilChanged: no notification until the link's state changes
	// again; that change ends the ignore and is notified.
	IgnoredUntilChanged
	// IgnoredForever: no notification of the link until the client
	// unignores it.
	IgnoredForever
)

// String names the mode.
func (m IgnoreMode) String() string {
	switch m {
	case IgnoredUntilChanged:
		return "until changed"
	case IgnoredForever:
		return "forever"
	}
	return "not ignored"
}

// IgnoredLink is a link a client ignores, with how.
type IgnoredLink struct {
	Link
	Mode IgnoreMode
}

// EditorStore is what the editors' operations need (history, re-check,
// ignore). Every Store in this module implements it; the Engine's editor
// operations answer ErrInvalid over a Store that does not. The common
// contract of Store applies.
//
// RecordResults of a store that implements it also, atomically with the
// result:
//   - appends a HistoryEntry to the link's history when its State changed
//     (also for the first result of a new link), trimmed to the store's
//     HistoryRetention;
//   - makes no pending notification for a subscriber that ignores the link
//     IgnoredForever, and ends an IgnoredUntilChanged ignore (that change is
//     notified).
type EditorStore interface {
	// LinkHistory returns the link's changes newest first: those before
	// before (all if it is zero), at most limit (all if 0). ErrNotFound
	// if the store does not know the URL.
	LinkHistory(ctx context.Context, url string, before time.Time, limit int) ([]HistoryEntry, error)
	// RecheckLinks makes those of urls that the client subscribes to due
	// at now, unless they are due earlier already; other URLs are
	// ignored. The host's politeness (spacing, back-off, holds) still
	// rules when they are claimed. It returns how many links it made due.
	RecheckLinks(ctx context.Context, clientID string, urls []string, now time.Time) (int, error)
	// SetIgnore sets how the client ignores those of urls it subscribes
	// to (others are ignored) and returns how many it changed. Ignoring
	// a link drops the client's pending change of it; NotIgnored undoes
	// an ignore. A mode that is not one of the three is ErrInvalid.
	SetIgnore(ctx context.Context, clientID string, urls []string, mode IgnoreMode) (int, error)
	// ClientLink returns one of the client's links and how the client
	// ignores it; ErrNotFound if the client does not subscribe to url.
	ClientLink(ctx context.Context, clientID, url string) (IgnoredLink, error)
	// IgnoredLinks returns one page of the links the client ignores,
	// ordered by URL, like ClientLinks.
	IgnoredLinks(ctx context.Context, clientID string, p Page) ([]IgnoredLink, error)
}
