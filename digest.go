package lms

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/linkmonitor/lms/internal/digest"
)

// DigestMode is how often a client gets a digest mail: what broke, what
// recovered and how many links are still broken, grouped by source, and a
// digest per owner of sources with a mail address (internal/digest makes
// and renders them). A digest covers the Period since the previous one,
// not a fixed hour of the day.
type DigestMode string

// The digest modes; the zero value is off.
const (
	DigestOff    DigestMode = ""
	DigestDaily  DigestMode = "daily"
	DigestWeekly DigestMode = "weekly"
)

// Valid reports whether m is one of the three modes.
func (m DigestMode) Valid() bool { return m == DigestOff || m == DigestDaily || m == DigestWeekly }

// Period is the time one digest covers: 24 h daily, 7 days weekly, 0 off.
func (m DigestMode) Period() time.Duration {
	switch m {
	case DigestDaily:
		return 24 * time.Hour
	case DigestWeekly:
		return 7 * 24 * time.Hour
	}
	return 0
}

// digestReader reads what the client's digests are made of through the
// store roles (internal/digest.Collect says what; internal/notify makes
// and owes them).
func digestReader(store Store, id string) (digest.Reader, error) {
	es, ok := store.(EditorStore)
	if !ok {
		return digest.Reader{}, fmt.Errorf("digest: %w: the store keeps no history (EditorStore)", ErrInvalid)
	}
	return digest.Reader{
		Ignored: func(ctx context.Context, after string, limit int) ([]string, error) {
			ls, err := es.IgnoredLinks(ctx, id, Page{After: after, Limit: limit})
			urls := make([]string, len(ls))
			for i, l := range ls {
				urls[i] = l.URL
			}
			return urls, err
		},
		Links: func(ctx context.Context, after string, limit int) ([]digest.Current, error) {
			ls, err := store.ClientLinks(ctx, id, Page{After: after, Limit: limit})
			out := make([]digest.Current, len(ls))
			for i, l := range ls {
				out[i] = digest.Current{URL: l.URL, Status: digestStatus(l.State), Reason: l.Reason, LastChanged: l.LastChanged}
			}
			return out, err
		},
		History: func(ctx context.Context, url string, upTo time.Time) ([]digest.Change, error) {
			h, err := es.LinkHistory(ctx, url, upTo.Add(time.Nanosecond), 0)
			if errors.Is(err, ErrNotFound) {
				return nil, nil
			}
			out := make([]digest.Change, len(h))
			for i, e := range h {
				out[i] = digest.Change{Time: e.Time, Status: digestStatus(e.State), Reason: e.Reason}
			}
			return out, err
		},
		Sources: func(ctx context.Context, urls []string) (map[string][]digest.Source, error) {
			m, err := store.LinkSources(ctx, id, urls)
			out := make(map[string][]digest.Source, len(m))
			for u, refs := range m {
				for _, r := range refs {
					out[u] = append(out[u], digest.Source(r))
				}
			}
			return out, err
		},
	}, nil
}

func digestStatus(s State) digest.Status {
	switch s {
	case StateUnavailable:
		return digest.Broken
	case StateOK:
		return digest.OK
	}
	return digest.Other
}

// Digest returns the mails the client's next digest would hold if it were
// made now (the changes since its last digest, up to now), without owing
// them: a preview, none if it has nothing to say. ErrNotFound for an
// unknown client.
func (e *Engine) Digest(ctx context.Context, clientID string) ([]Message, error) {
	c, err := e.store.GetClient(ctx, clientID)
	if err != nil {
		return nil, fmt.Errorf("lms: digest: %w", err)
	}
	hc := hookClient(c)
	ms, err := e.digests.Mails(ctx, hc, e.now(), e.now())
	if err != nil {
		return nil, fmt.Errorf("lms: digest: %w", err)
	}
	out := make([]Message, len(ms))
	for i, m := range ms {
		msg, _ := e.mailer.Message(hc, m)
		out[i] = Message(msg)
	}
	return out, nil
}
