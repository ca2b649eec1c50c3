package digest

import (
	"context"
	"fmt"
	"time"
)

// Change is one change of a link's state, from its history.
type Change struct {
	Time   time.Time // when the check that made it ran
	Status Status
	Reason string
}

// Current is one of the client's links as it is now.
type Current struct {
	URL         string
	Status      Status
	Reason      string
	LastChanged time.Time // the time of its newest Change
}

// Reader reads what a digest is made of, one client's view of a store;
// the caller adapts its store to it. Listings are in URL order, pages of
// at most limit after the URL after ("" from the start).
type Reader struct {
	// Ignored returns a pageSize of the URLs the client ignores.
	Ignored func(ctx context.Context, after string, limit int) ([]string, error)
	// Links returns a pageSize of the client's links.
	Links func(ctx context.Context, after string, limit int) ([]Current, error)
	// History returns the link's changes at or before upTo, newest first
	// (none if the store keeps no history of it).
	History func(ctx context.Context, url string, upTo time.Time) ([]Change, error)
	// Sources returns the sources that use each of urls (absent: none).
	Sources func(ctx context.Context, urls []string) (map[string][]Source, error)
}

// pageSize is the size of the pages Collect asks for.
const pageSize = 1000

// Collect reads into in.Links the links that matter for the window from
// in.From to in.To: those broken at either end, but those the client
// ignores, each with its status at both ends and its sources. A link that
// changed after in.From has its status at each end from its history (a
// change at in.From itself belongs to the window before); one that did
// not is as it is now. It walks all the client's links once and reads the
// history of those that changed.
func Collect(ctx context.Context, r Reader, in Input) (Input, error) {
	ignored := map[string]bool{}
	for after := ""; ; {
		urls, err := r.Ignored(ctx, after, pageSize)
		if err != nil {
			return in, fmt.Errorf("digest: ignored links: %w", err)
		}
		for _, u := range urls {
			ignored[u] = true
		}
		if len(urls) < pageSize {
			break
		}
		after = urls[len(urls)-1]
	}
	index := map[string]int{}
	for after := ""; ; {
		ls, err := r.Links(ctx, after, pageSize)
		if err != nil {
			return in, fmt.Errorf("digest: links: %w", err)
		}
		for _, l := range ls {
			if ignored[l.URL] {
				continue
			}
			then, end := Change{Status: l.Status}, Change{Status: l.Status, Reason: l.Reason}
			if l.LastChanged.After(in.From) {
				h, err := r.History(ctx, l.URL, in.To)
				if err != nil {
					return in, fmt.Errorf("digest: history: %w", err)
				}
				then, end = at(h, in.From), at(h, in.To)
				if len(h) == 0 && !l.LastChanged.After(in.To) { // a store that keeps no history
					end = Change{Status: l.Status, Reason: l.Reason}
				}
			}
			if then.Status == Broken || end.Status == Broken {
				index[l.URL] = len(in.Links)
				in.Links = append(in.Links, Link{URL: l.URL, Then: then.Status, Now: end.Status, Reason: end.Reason})
			}
		}
		if len(ls) < pageSize {
			break
		}
		after = ls[len(ls)-1].URL
	}
	urls := make([]string, len(in.Links))
	for i, l := range in.Links {
		urls[i] = l.URL
	}
	srcs, err := r.Sources(ctx, urls)
	if err != nil {
		return in, fmt.Errorf("digest: sources: %w", err)
	}
	for u, s := range srcs {
		if i, ok := index[u]; ok {
			in.Links[i].Sources = s
		}
	}
	return in, nil
}

// at returns the newest change of h (newest first) at or before t; status
// Other if there is none.
func at(h []Change, t time.Time) Change {
	for _, c := range h {
		if !c.Time.After(t) {
			return c
		}
	}
	return Change{Status: Other}
}
