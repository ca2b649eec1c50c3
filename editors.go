package lms

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/linkmonitor/lms/internal/quota"
)

// The Engine's operations for editors: a link's history, re-check
// now, ignore and unignore. The model and the store role are in history.go.

// ErrRateLimited means the caller asked for more than its share (such as
// re-checks per hour); a *RateLimitError says when to ask again.
var ErrRateLimited = errors.New("lms: rate limited")

// RateLimitError refuses a call over a per-client cap. errors.Is(err,
// ErrRateLimited) holds for it; front doors answer 429 with Retry-After.
type RateLimitError struct {
	What       string        // what was capped, e.g. "re-checks"
	RetryAfter time.Duration // when the call would be accepted, at the earliest
}

// Error says what was capped and when to retry.
func (e *RateLimitError) Error() string {
	return fmt.Sprintf("lms: too many %s: retry after %d s", e.What, e.RetrySeconds())
}

// RetrySeconds is RetryAfter in whole seconds, rounded up, at least 1 (the
// value of a Retry-After header).
func (e *RateLimitError) RetrySeconds() int {
	return max(1, int(math.Ceil(e.RetryAfter.Seconds())))
}

// Is reports whether target is ErrRateLimited.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// editorStore returns the store's EditorStore role, or ErrInvalid.
func (e *Engine) editorStore(op string) (EditorStore, error) {
	es, ok := e.store.(EditorStore)
	if !ok {
		return nil, fmt.Errorf("lms: %s: %w: the store keeps no history, re-checks or ignores (it does not implement EditorStore)", op, ErrInvalid)
	}
	return es, nil
}

// LinkHistory returns the changes of one of the client's links, newest
// first: those before before (all if zero), at most limit (0: all the
// store keeps). A URL the client does not subscribe to is ErrNotFound, as
// is an unknown client: a client sees only its own links' history.
func (e *Engine) LinkHistory(ctx context.Context, clientID, url string, before time.Time, limit int) ([]HistoryEntry, error) {
	es, err := e.editorStore("link history")
	if err != nil {
		return nil, err
	}
	if limit < 0 {
		return nil, fmt.Errorf("lms: link history: limit %d: %w", limit, ErrInvalid)
	}
	if _, err := es.ClientLink(ctx, clientID, url); err != nil {
		return nil, fmt.Errorf("lms: link history: %w", err)
	}
	h, err := es.LinkHistory(ctx, url, before, limit)
	if err != nil {
		return nil, fmt.Errorf("lms: link history: %w", err)
	}
	return h, nil
}

// ClientLink returns one of the client's links with how the client
// ignores it; ErrNotFound if the client does not subscribe to url or is
// unknown.
func (e *Engine) ClientLink(ctx context.Context, clientID, url string) (IgnoredLink, error) {
	es, err := e.editorStore("client link")
	if err != nil {
		return IgnoredLink{}, err
	}
	l, err := es.ClientLink(ctx, clientID, url)
	if err != nil {
		return IgnoredLink{}, fmt.Errorf("lms: client link: %w", err)
	}
	return l, nil
}

// Recheck makes those of urls that the client subscribes to due now, ahead
// of their schedule, and wakes the scheduler: they are checked within
// seconds when their host is free, still one request per host per interval
// and Concurrency in flight, and each result is recorded and notified like
// any other. URLs the client does not subscribe to (unknown, or another
// client's only) are ignored: it returns how many links it made due.
//
// Each client may ask for Config.RecheckPerHour URLs an hour (counted as
// asked, duplicates once); a call over the cap changes nothing and returns
// a *RateLimitError saying when to retry, a call with more URLs than the
// cap an error wrapping ErrInvalid.
func (e *Engine) Recheck(ctx context.Context, clientID string, urls []string) (int, error) {
	es, err := e.editorStore("recheck")
	if err != nil {
		return 0, err
	}
	uniq := distinct(urls)
	if _, err := e.store.GetClient(ctx, clientID); err != nil {
		return 0, fmt.Errorf("lms: recheck: %w", err)
	}
	if len(uniq) == 0 {
		return 0, nil
	}
	if limit := e.cfg.RecheckPerHour; limit >= 0 && len(uniq) > limit {
		return 0, fmt.Errorf("lms: recheck: %d URLs in one call, at most %d an hour: %w", len(uniq), limit, ErrInvalid)
	}
	var shared quota.Reserve
	if ts, ok := e.store.(ThrottleStore); ok {
		shared = func(ctx context.Context, burst int, every time.Duration, cost int) (bool, error) {
			return ts.ReserveFailures(ctx, []ThrottleKey{{Key: "recheck\x00" + clientID, Burst: burst, Every: every, Cost: cost}})
		}
	}
	now := e.now()
	wait, err := e.rechecks.Take(ctx, shared, clientID, len(uniq), now)
	if err != nil {
		return 0, fmt.Errorf("lms: recheck: re-check cap: %w", err)
	}
	if wait > 0 {
		return 0, fmt.Errorf("lms: recheck: %w", &RateLimitError{What: "re-checks", RetryAfter: wait})
	}
	n, err := es.RecheckLinks(ctx, clientID, uniq, now)
	if err != nil {
		return 0, fmt.Errorf("lms: recheck: %w", err)
	}
	if n > 0 {
		e.sched.linksAdded() // claimed at once, not at the next poll
	}
	return n, nil
}

// Ignore makes the client ignore those of urls it subscribes to: no
// notification of them to this client (a pending one is dropped) until
// their state changes again (untilChanged) or until Unignore. Other
// clients of the same URLs are not affected. It returns how many links it
// changed; other URLs are ignored.
func (e *Engine) Ignore(ctx context.Context, clientID string, urls []string, untilChanged bool) (int, error) {
	mode := IgnoredForever
	if untilChanged {
		mode = IgnoredUntilChanged
	}
	return e.setIgnore(ctx, "ignore", clientID, urls, mode)
}

// Unignore undoes Ignore for those of urls the client ignores; it returns
// how many it changed. A change that was dropped while the link was
// ignored is not sent again: the next change is.
func (e *Engine) Unignore(ctx context.Context, clientID string, urls []string) (int, error) {
	return e.setIgnore(ctx, "unignore", clientID, urls, NotIgnored)
}

func (e *Engine) setIgnore(ctx context.Context, op, clientID string, urls []string, mode IgnoreMode) (int, error) {
	es, err := e.editorStore(op)
	if err != nil {
		return 0, err
	}
	n, err := es.SetIgnore(ctx, clientID, distinct(urls), mode)
	if err != nil {
		return 0, fmt.Errorf("lms: %s: %w", op, err)
	}
	return n, nil
}

// IgnoredLinks returns a page of the links the client ignores, ordered by
// URL, with how it ignores each.
func (e *Engine) IgnoredLinks(ctx context.Context, clientID string, p Page) ([]IgnoredLink, error) {
	es, err := e.editorStore("ignored links")
	if err != nil {
		return nil, err
	}
	ls, err := es.IgnoredLinks(ctx, clientID, p)
	if err != nil {
		return nil, fmt.Errorf("lms: ignored links: %w", err)
	}
	return ls, nil
}

// distinct returns urls without repeats, in first-seen order.
func distinct(urls []string) []string {
	seen := make(map[string]struct{}, len(urls))
	out := make([]string, 0, len(urls))
	for _, u := range urls {
		if _, ok := seen[u]; !ok {
			seen[u] = struct{}{}
			out = append(out, u)
		}
	}
	return out
}
