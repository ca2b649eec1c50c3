package lms

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/linkmonitor/lms/internal/validate"
)

// The Engine's side of the JSON API's sources and links: what a handler
// calls, with the rules in one place.

// MaxURLsPerCall is the most URLs one call of the JSON API may carry (PUT
// and DELETE /api/v1/links, POST /api/v1/links/query), as registerURLs.
const MaxURLsPerCall = 10000

// LinkDetail is a link as the JSON API answers it: the link and the
// client's sources that use it (ordered by source id).
type LinkDetail struct {
	Link
	Sources []SourceRef
}

// LinkQuery selects a page of a client's links (GET /api/v1/links). Every
// set field must match.
type LinkQuery struct {
	After  string // exclusive lower bound on the URL; "" starts at the beginning
	Limit  int    // at most this many; 1..1000
	State  State  // in this state
	Source string // used by this source of the client
	Owner  string // used by a source whose owner is this
	Host   string // of this host (HostKey form: lower case, no port)
	Q      string // the URL contains this, ignoring case
}

// maxScan bounds the links one ListLinks call looks at when filters other
// than State and Source skip most of them: the page then holds fewer than
// Limit links and the cursor goes on from the last one looked at.
const maxScan = 20000

// URLError names the URLs of a call that are not acceptable, by their index
// in the call; it wraps ErrInvalid.
type URLError struct {
	Field  string   // the field of the call that holds the URLs ("urls", "links")
	Index  []int    // positions in the call
	Reason []string // what is wrong with each, in plain words
}

// Error names how many URLs were refused and the first of them.
func (e *URLError) Error() string {
	return fmt.Sprintf("lms: %d invalid URLs, the first at index %d: %s", len(e.Index), e.Index[0], e.Reason[0])
}

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *URLError) Unwrap() error { return ErrInvalid }

// tooManyURLs refuses a call of more than MaxURLsPerCall URLs.
func tooManyURLs(urls []string) error {
	if len(urls) > MaxURLsPerCall {
		return fmt.Errorf("lms: %d URLs in one call, more than %d: %w", len(urls), MaxURLsPerCall, ErrInvalid)
	}
	return nil
}

// checkCallURLs validates the URLs of one call: at most MaxURLsPerCall,
// each a valid URL (a *URLError names those that are not).
func checkCallURLs(field string, urls []string) error {
	if err := tooManyURLs(urls); err != nil {
		return err
	}
	ue := URLError{Field: field}
	for i, u := range urls {
		if err := validate.URL(u); err != nil && len(ue.Index) < 100 {
			ue.Index = append(ue.Index, i)
			ue.Reason = append(ue.Reason, err.Error())
		}
	}
	if len(ue.Index) > 0 {
		return &ue
	}
	return nil
}

// RegisterLinks subscribes the client to urls as plain registrations (PUT
// /api/v1/links). Unlike RegisterURLs, which drops invalid strings as
// registerURLs must, one invalid URL fails the call with a *URLError and
// changes nothing. It returns how many subscriptions were added.
func (e *Engine) RegisterLinks(ctx context.Context, clientID string, urls []string) (int, error) {
	if err := checkCallURLs("urls", urls); err != nil {
		return 0, err
	}
	added, err := e.store.Subscribe(ctx, clientID, urls, e.now())
	if err != nil {
		return 0, fmt.Errorf("lms: register links: %w", err)
	}
	if added > 0 {
		e.sched.linksAdded()
	}
	return added, nil
}

// UnregisterLinks ends the client's plain registrations of urls (DELETE
// /api/v1/links); URLs its sources use stay subscribed. It returns how
// many subscriptions ended.
func (e *Engine) UnregisterLinks(ctx context.Context, clientID string, urls []string) (int, error) {
	if err := tooManyURLs(urls); err != nil {
		return 0, err
	}
	n, err := e.store.Unsubscribe(ctx, clientID, urls)
	if err != nil {
		return 0, fmt.Errorf("lms: unregister links: %w", err)
	}
	return n, nil
}

// PutSource creates or replaces a source of the client with its complete
// list of links (PUT /api/v1/sources/{id}); see SourceStore for which
// subscriptions begin and end. Invalid links give a *URLError.
func (e *Engine) PutSource(ctx context.Context, clientID string, src Source) (added, removed int, err error) {
	if err := checkCallURLs("links", src.Links); err != nil {
		return 0, 0, err
	}
	added, removed, err = e.store.PutSource(ctx, clientID, src, e.now())
	if err != nil {
		return 0, 0, fmt.Errorf("lms: put source: %w", err)
	}
	if added > 0 {
		e.sched.linksAdded()
	}
	return added, removed, nil
}

// GetSource returns one source of the client with its links.
func (e *Engine) GetSource(ctx context.Context, clientID, sourceID string) (Source, error) {
	s, err := e.store.GetSource(ctx, clientID, sourceID)
	if err != nil {
		return Source{}, fmt.Errorf("lms: get source: %w", err)
	}
	return s, nil
}

// DeleteSource removes a source of the client; it returns how many
// subscriptions ended.
func (e *Engine) DeleteSource(ctx context.Context, clientID, sourceID string) (int, error) {
	n, err := e.store.DeleteSource(ctx, clientID, sourceID)
	if err != nil {
		return 0, fmt.Errorf("lms: delete source: %w", err)
	}
	return n, nil
}

// Sources returns a page of the client's sources with their link counts.
func (e *Engine) Sources(ctx context.Context, clientID string, p SourcePage) ([]SourceSummary, error) {
	out, err := e.store.ListSources(ctx, clientID, p)
	if err != nil {
		return nil, fmt.Errorf("lms: sources: %w", err)
	}
	return out, nil
}

// withSources attaches to each link the client's sources that use it.
func (e *Engine) withSources(ctx context.Context, clientID string, links []Link) ([]LinkDetail, error) {
	urls := make([]string, len(links))
	for i, l := range links {
		urls[i] = l.URL
	}
	refs, err := e.store.LinkSources(ctx, clientID, urls)
	if err != nil {
		return nil, err
	}
	out := make([]LinkDetail, len(links))
	for i, l := range links {
		out[i] = LinkDetail{Link: l, Sources: refs[l.URL]}
	}
	return out, nil
}

// QueryLinks returns the details of each of urls (at most MaxURLsPerCall),
// in input order, with the client's sources that use it; URLs the server
// does not know come back in state unknown.
func (e *Engine) QueryLinks(ctx context.Context, clientID string, urls []string) ([]LinkDetail, error) {
	if err := tooManyURLs(urls); err != nil {
		return nil, err
	}
	links, err := e.LinkStates(ctx, clientID, urls)
	if err != nil {
		return nil, err
	}
	out, err := e.withSources(ctx, clientID, links)
	if err != nil {
		return nil, fmt.Errorf("lms: query links: %w", err)
	}
	return out, nil
}

// ListLinks returns a page of the client's links that match q, ordered by
// URL, with their sources, and the URL to continue after ("" on the last
// page). Paging by URL is stable while links are added and removed: a
// link present throughout is seen exactly once. A page may hold fewer than
// q.Limit links when filters skip many (see maxScan); only an empty next
// ends the listing.
func (e *Engine) ListLinks(ctx context.Context, clientID string, q LinkQuery) ([]LinkDetail, string, error) {
	if q.Limit <= 0 || q.Limit > 1000 {
		return nil, "", fmt.Errorf("lms: list links: limit %d not in 1..1000: %w", q.Limit, ErrInvalid)
	}
	if q.State != "" && !q.State.Valid() {
		return nil, "", fmt.Errorf("lms: list links: state %q: %w", q.State, ErrInvalid)
	}
	if q.Source != "" {
		return e.sourceLinks(ctx, clientID, q)
	}
	var out []Link
	after, scanned := q.After, 0
	chunk := min(max(q.Limit, 100), 1000)
	for {
		page, err := e.store.ClientLinks(ctx, clientID, Page{After: after, Limit: chunk, State: q.State})
		if err != nil {
			return nil, "", fmt.Errorf("lms: list links: %w", err)
		}
		var owners map[string][]SourceRef
		if q.Owner != "" && len(page) > 0 {
			urls := make([]string, len(page))
			for i, l := range page {
				urls[i] = l.URL
			}
			if owners, err = e.store.LinkSources(ctx, clientID, urls); err != nil {
				return nil, "", fmt.Errorf("lms: list links: %w", err)
			}
		}
		for _, l := range page {
			after = l.URL
			scanned++
			if !q.match(l, owners[l.URL]) {
				continue
			}
			out = append(out, l)
			if len(out) == q.Limit {
				break
			}
		}
		if len(page) < chunk && len(out) < q.Limit {
			after = "" // the end
			break
		}
		if len(out) == q.Limit || scanned >= maxScan {
			break
		}
	}
	details, err := e.withSources(ctx, clientID, out)
	if err != nil {
		return nil, "", fmt.Errorf("lms: list links: %w", err)
	}
	if len(out) == q.Limit {
		after = out[len(out)-1].URL
	}
	return details, after, nil
}

// match reports whether l, used by the sources refs, has q's state, host,
// substring and owner (those that are set).
func (q LinkQuery) match(l Link, refs []SourceRef) bool {
	return (q.State == "" || l.State == q.State) && (q.Host == "" || l.Host == strings.ToLower(q.Host)) &&
		(q.Q == "" || strings.Contains(strings.ToLower(l.URL), strings.ToLower(q.Q))) &&
		(q.Owner == "" || slices.ContainsFunc(refs, func(r SourceRef) bool { return r.Owner == q.Owner }))
}

// sourceLinks is ListLinks of the links of one source.
func (e *Engine) sourceLinks(ctx context.Context, clientID string, q LinkQuery) ([]LinkDetail, string, error) {
	src, err := e.store.GetSource(ctx, clientID, q.Source)
	if err != nil {
		return nil, "", fmt.Errorf("lms: list links: %w", err)
	}
	var out []Link
	next := ""
	urls := src.Links
	for len(urls) > 0 && urls[0] <= q.After {
		urls = urls[1:]
	}
	for len(urls) > 0 && len(out) < q.Limit {
		n := min(len(urls), 1000)
		known, err := e.store.LookupLinks(ctx, urls[:n])
		if err != nil {
			return nil, "", fmt.Errorf("lms: list links: %w", err)
		}
		for _, u := range urls[:n] {
			l, ok := known[u]
			if !ok {
				l = Link{URL: u, State: StateUnknown, Host: HostKey(u)}
			}
			if !q.match(l, []SourceRef{src.SourceRef}) {
				continue
			}
			out = append(out, l)
			if len(out) == q.Limit {
				break
			}
		}
		urls = urls[n:]
	}
	if len(out) == q.Limit && out[len(out)-1].URL != src.Links[len(src.Links)-1] {
		next = out[len(out)-1].URL
	}
	details, err := e.withSources(ctx, clientID, out)
	if err != nil {
		return nil, "", fmt.Errorf("lms: list links: %w", err)
	}
	return details, next, nil
}
