// Package report is the one implementation of a client's link report, for
// every front door that offers it (the JSON API's GET /api/v1/report, the
// report web pages' filtered list and their CSV and JSON export): which
// links are in it (the filters of lms.LinkQuery and how ignored links are
// treated), in which order, and how a row is written as CSV (RFC 4180,
// safe to open in a spreadsheet) and as JSON. Rows are read from the
// Engine page by page and written as they come, so a report of 100,000
// links is never held in memory.
package report

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/linkmonitor/lms"
)

// Ignored says what a report does with the links the client ignores.
type Ignored uint8

// The treatments of ignored links.
const (
	// HideIgnored leaves them out (the default of reports, API.md).
	HideIgnored Ignored = iota
	// WithIgnored shows them with the rest, marked.
	WithIgnored
	// OnlyIgnored shows only them.
	OnlyIgnored
)

// Query selects the links of a report: every set field of the embedded
// LinkQuery must match (its After and Limit are ignored), and Ignored says
// what to do with ignored links.
type Query struct {
	lms.LinkQuery
	Ignored Ignored
}

// Row is one link of a report: the link, the client's sources that use
// it, how the client ignores it, and what to replace it with.
type Row struct {
	lms.LinkDetail
	Ignore     lms.IgnoreMode
	Suggestion *lms.Suggestion // nil if none
}

// FailingSince is when the link turned failing, zero if it is not failing
// (a store that kept no such time: since it entered its present state).
func (r Row) FailingSince() time.Time {
	if !r.State.Failing() {
		return time.Time{}
	}
	return cmp.Or(r.Link.FailingSince, r.LastChanged)
}

// FailedChecks is how many checks in a row failed (0 if it is not failing).
func (r Row) FailedChecks() int {
	if !r.State.Failing() {
		return 0
	}
	return max(r.Failures, 0)
}

// chunk is how many links one Engine.ListLinks call asks for.
const chunk = 1000

// maxRounds bounds the ListLinks calls one Page makes to fill itself when
// filters skip most links; the page is then shorter and its cursor goes
// on.
const maxRounds = 20

// Page returns up to limit rows after the URL after, in URL order, and the
// URL to continue after ("" on the last page). A page may be shorter than
// limit when filters skip many links; only an empty next ends the listing.
func Page(ctx context.Context, e *lms.Engine, clientID string, q Query, after string, limit int) ([]Row, string, error) {
	rows, next, err := page(ctx, e, clientID, q, after, limit)
	if err != nil || len(rows) == 0 {
		return rows, next, err
	}
	links := make([]lms.Link, len(rows))
	for i, r := range rows {
		links[i] = r.Link
	}
	sug, err := e.Suggestions(ctx, links)
	if err != nil {
		return nil, "", err
	}
	for i := range rows {
		if s, ok := sug[rows[i].URL]; ok {
			rows[i].Suggestion = &s
		}
	}
	return rows, next, nil
}

func page(ctx context.Context, e *lms.Engine, clientID string, q Query, after string, limit int) ([]Row, string, error) {
	if limit < 1 || limit > chunk {
		return nil, "", fmt.Errorf("report: limit %d not in 1..%d: %w", limit, chunk, lms.ErrInvalid)
	}
	var out []Row
	ig := ignores{e: e, clientID: clientID, after: after} // every URL asked about is after after
	for range maxRounds {
		lq := q.LinkQuery
		lq.After, lq.Limit = after, min(chunk, limit-len(out))
		if q.Ignored != WithIgnored {
			lq.Limit = chunk // some of them will be left out
		}
		ds, next, err := e.ListLinks(ctx, clientID, lq)
		if err != nil {
			return nil, "", err
		}
		for i, d := range ds {
			mode, err := ig.mode(ctx, d.URL)
			if err != nil {
				return nil, "", err
			}
			if (q.Ignored == HideIgnored && mode != lms.NotIgnored) || (q.Ignored == OnlyIgnored && mode == lms.NotIgnored) {
				continue
			}
			out = append(out, Row{LinkDetail: d, Ignore: mode})
			if len(out) == limit {
				if i < len(ds)-1 || next != "" {
					return out, d.URL, nil
				}
				return out, "", nil
			}
		}
		if next == "" {
			return out, "", nil
		}
		after = next
	}
	return out, after, nil
}

// Stream is a client's report being read a page at a time: Open reads
// its first page, and WriteCSV or WriteJSON the others as they write. A
// Stream is written once.
type Stream struct {
	e        *lms.Engine
	clientID string
	q        Query
	rows     []Row  // the page read and not passed on yet
	next     string // the URL to continue after; "" when rows is the last page
}

// Open reads the first page of the client's report selected by q, so that
// what goes wrong there (an unknown client or source, filters the store
// refuses, a failing store) is known before a byte of the report is
// written, while the front door can still answer it as an error.
func Open(ctx context.Context, e *lms.Engine, clientID string, q Query) (*Stream, error) {
	rows, next, err := Page(ctx, e, clientID, q, "", chunk)
	if err != nil {
		return nil, err
	}
	return &Stream{e: e, clientID: clientID, q: q, rows: rows, next: next}, nil
}

// each calls fn with every row of the report in URL order, and pageEnd
// after each page, until fn returns an error (which each returns) or the
// rows end.
func (s *Stream) each(ctx context.Context, fn func(Row) error, pageEnd func()) error {
	for {
		for _, r := range s.rows {
			if err := fn(r); err != nil {
				return err
			}
		}
		pageEnd()
		s.rows = nil
		if s.next == "" {
			return nil
		}
		var err error
		if s.rows, s.next, err = Page(ctx, s.e, s.clientID, s.q, s.next, chunk); err != nil {
			return err
		}
	}
}

// Each calls fn with every row of the report in URL order, until fn
// returns an error (which Each returns) or the rows end.
func Each(ctx context.Context, e *lms.Engine, clientID string, q Query, fn func(Row) error) error {
	s, err := Open(ctx, e, clientID, q)
	if err != nil {
		return err
	}
	return s.each(ctx, fn, func() {})
}

// ignores tells how the client ignores the URLs it is asked about in
// ascending order, reading the client's ignored links alongside a page at
// a time (a merge of two listings in URL order).
type ignores struct {
	e        *lms.Engine
	clientID string
	buf      []lms.IgnoredLink
	after    string // read from the store up to this URL
	done     bool   // the store has no more after after
}

func (g *ignores) mode(ctx context.Context, url string) (lms.IgnoreMode, error) {
	for {
		for len(g.buf) > 0 && g.buf[0].URL < url {
			g.buf = g.buf[1:]
		}
		if len(g.buf) > 0 {
			if g.buf[0].URL == url {
				return g.buf[0].Mode, nil
			}
			return lms.NotIgnored, nil
		}
		if g.done {
			return lms.NotIgnored, nil
		}
		ls, err := g.e.IgnoredLinks(ctx, g.clientID, lms.Page{After: g.after, Limit: chunk})
		if err != nil {
			return 0, err
		}
		g.buf = ls
		if len(ls) < chunk {
			g.done = true
		}
		if len(ls) > 0 {
			g.after = ls[len(ls)-1].URL
		}
		if len(ls) == 0 {
			return lms.NotIgnored, nil
		}
	}
}
