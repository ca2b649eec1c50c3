package lms

import (
	"context"
	"time"
)

// SourceRef names a source (a page of a client's site, or any other place
// that uses links) in a link answer or a webhook, so that an editor knows
// where a link is used and who to ask.
type SourceRef struct {
	ID      string // the client's own id of the source
	Title   string // the page's title
	EditURL string // where an editor edits the page
	Owner   string // an editor's id or mail address; "" if none was given
}

// SourceLookup tells which of a client's sources use given URLs. It is the
// read side of the sources a client registers through the JSON API; the
// notifier uses it to say in a webhook where each changed link is used.
type SourceLookup interface {
	// LinkSources returns, for each of urls that at least one source of the
	// client uses, the sources that use it, ordered by source id. URLs no
	// source uses are absent from the map. An unknown client gives
	// ErrNotFound.
	LinkSources(ctx context.Context, clientID string, urls []string) (map[string][]SourceRef, error)
}

// MaxSourceLinks is the most links one source may list, the same bound as
// the URLs of one registration call.
const MaxSourceLinks = 10000

// Source is one source of links of a client (a page of its site, a menu, a
// feed): where the links are used, so that an editor knows what to fix.
// Sources are registered through the JSON API (PUT /api/v1/sources/{id}).
type Source struct {
	SourceRef
	// Links are the URLs the source uses, byte for byte as given. A store
	// keeps them sorted in byte order without duplicates.
	Links []string
	// Updated is when the source was last put.
	Updated time.Time
}

// Clone returns a copy of s that shares no memory with it.
func (s Source) Clone() Source {
	s.Links = append([]string(nil), s.Links...)
	return s
}

// SourceSummary is one source in a listing: its reference and how many of
// its links are in each state.
type SourceSummary struct {
	SourceRef
	Counts  StateCounts // the source's links by state
	Updated time.Time   // when the source was last put
}

// SourcePage selects a page of a client's sources.
type SourcePage struct {
	After string // exclusive lower bound on the source id; "" starts at the beginning
	Limit int    // at most this many; 0 means no limit
	State State  // only sources with at least one link in this state; "" means all
}
