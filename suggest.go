package lms

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/linkmonitor/lms/internal/netguard"
	"github.com/linkmonitor/lms/internal/pace"
	"github.com/linkmonitor/lms/internal/wayback"
)

// What to replace a moved or broken link with: the target of a
// permanent redirect, or the closest copy a Wayback-Machine compatible
// service archived, looked up once per broken link by a background
// component (internal/wayback) and cached in the store's ArchiveStore.

// The kinds of Suggestion.
const (
	SuggestRedirect = "redirect" // the link moved permanently: URL is where to
	SuggestArchive  = "archive"  // the link is broken: URL is an archived copy
)

// Suggestion is what to replace a link with.
type Suggestion struct {
	Kind       string    // SuggestRedirect or SuggestArchive
	URL        string    // the replacement
	ArchivedAt time.Time // when the copy was archived; zero for a redirect
}

// ArchivedCopy is the answer of one archive look-up of a link, kept whether
// a copy was found or not.
type ArchivedCopy struct {
	URL        string    // the link
	Snapshot   string    // the closest archived copy; "" if there is none
	ArchivedAt time.Time // when Snapshot was archived
	Looked     time.Time // when the service was asked
}

// ArchiveStore caches archive look-ups (every Store in this module has it).
// A link's copy goes when the link does.
type ArchiveStore interface {
	// ArchivedCopies returns the cached look-ups of those of urls that
	// have one, by URL.
	ArchivedCopies(ctx context.Context, urls []string) (map[string]ArchivedCopy, error)
	// PutArchivedCopy keeps c, replacing the link's previous one; a link
	// the store does not know is ignored.
	PutArchivedCopy(ctx context.Context, c ArchivedCopy) error
}

// LinkSuggestion returns what to replace one of the client's links with,
// if anything (see Suggestions); ErrNotFound if the client does not
// subscribe to url.
func (e *Engine) LinkSuggestion(ctx context.Context, clientID, url string) (Suggestion, bool, error) {
	l, err := e.ClientLink(ctx, clientID, url)
	if err != nil {
		return Suggestion{}, false, err
	}
	m, err := e.Suggestions(ctx, []Link{l.Link})
	s, ok := m[url]
	return s, ok, err
}

// Suggestions returns what to replace each of links with, by URL, for those
// that have a suggestion: for an unavailable link its archived copy, once
// looked up; for another that redirects permanently, the redirect's
// target. Never a URL with credentials or on a private address
// (wayback.PrivateURL). An unavailable link not looked up since it broke (or longer ago
// than Config.ArchiveTTL) is queued for a look-up, done in the background
// by Run.
func (e *Engine) Suggestions(ctx context.Context, links []Link) (map[string]Suggestion, error) {
	out := make(map[string]Suggestion)
	var broken []string
	for _, l := range links {
		if l.State == StateUnavailable {
			broken = append(broken, l.URL)
		} else if l.Permanent && l.FinalURL != "" && l.FinalURL != l.URL && !wayback.PrivateURL(l.FinalURL) {
			out[l.URL] = Suggestion{Kind: SuggestRedirect, URL: l.FinalURL}
		}
	}
	as, ok := e.store.(ArchiveStore)
	if len(broken) == 0 || !ok || e.archive == nil {
		return out, nil
	}
	copies, err := as.ArchivedCopies(ctx, broken)
	if err != nil {
		return out, fmt.Errorf("lms: suggestions: %w", err)
	}
	now := e.now()
	for _, l := range links {
		if l.State != StateUnavailable {
			continue
		}
		since := cmp.Or(l.FailingSince, l.LastChanged)
		c, ok := copies[l.URL]
		if !ok || c.Looked.Before(since) || now.Sub(c.Looked) > e.cfg.ArchiveTTL {
			e.archive.Add(wayback.Job{URL: l.URL, At: since})
		}
		if ok && c.Snapshot != "" && !wayback.PrivateURL(c.Snapshot) { // whatever the store holds
			out[l.URL] = Suggestion{Kind: SuggestArchive, URL: c.Snapshot, ArchivedAt: c.ArchivedAt}
		}
	}
	return out, nil
}

// newArchiver returns the component that looks archived copies up, one at
// a time, paced like checks of the service's host; nil when it is off or
// the store keeps no copies.
func newArchiver(store Store, cfg Config, pacer *pace.Pacer) *wayback.Worker {
	as, ok := store.(ArchiveStore)
	if cfg.NoArchive || !ok {
		return nil
	}
	c, err := wayback.NewClient(cfg.ArchiveEndpoint, netguard.Dialer(cfg.CheckerConfig.ConnectTimeout, cfg.CheckerConfig.AllowPrivate, cfg.CheckerConfig.AllowedPrefixes...), cfg.CheckerConfig.Timeout)
	if err != nil {
		return nil // checked in withDefaults
	}
	host := HostKey(cfg.ArchiveEndpoint)
	return wayback.NewWorker(wayback.WorkerConfig{
		Lookup: c.Lookup,
		Save: func(ctx context.Context, j wayback.Job, s wayback.Snapshot) error {
			return as.PutArchivedCopy(ctx, ArchivedCopy{URL: j.URL, Snapshot: s.URL, ArchivedAt: s.Time, Looked: cfg.Now()})
		},
		Pace: func(ctx context.Context) error { return pacer.Wait(ctx, host) },
		Done: func(j wayback.Job, err error) {
			pacer.Done(host)
			if err != nil {
				pacer.Defer(host, time.Now().Add(cfg.HostBackoff))
				cfg.Logger.Warn("archive look-up failed", "url", j.URL, "err", err)
			}
		},
		Timeout: cfg.CheckerConfig.Timeout,
	})
}
