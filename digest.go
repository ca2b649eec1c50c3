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

// digester owes the digests that are due in the outbox, in the same step
// (UpdateClient) as it moves the client's DigestCovered to the window's
// end: a digest is made once, even by processes sharing the store, and the
// mailer delivers each of its mails once. A window ends Config.Lease
// before now: a check that ran before has been recorded (or abandoned) by
// then, so no change falls between two windows.
type digester struct {
	store Store
	cfg   Config
	owed  func() // wakes the mailer
}

func (d *digester) run(ctx context.Context) error {
	rounds(ctx, d.cfg.DigestPoll, nil, func() {
		cs, err := d.store.ListClients(ctx)
		if err != nil {
			if ctx.Err() == nil {
				d.cfg.Logger.Error("listing clients for digests", "err", err)
			}
			return
		}
		now := d.cfg.Now()
		for _, c := range cs {
			if c.Digest == DigestOff || now.Before(c.DigestCovered.Add(c.Digest.Period()+d.cfg.Lease)) || ctx.Err() != nil {
				continue
			}
			if err := d.make(ctx, c, now); err != nil && ctx.Err() == nil {
				d.cfg.Logger.Error("making a digest", "client", c.ID, "err", err)
			}
		}
	})
	return nil
}

// make owes c's digest of the window from c.DigestCovered to now-Lease.
func (d *digester) make(ctx context.Context, c Client, now time.Time) error {
	to := now.Add(-d.cfg.Lease)
	mails, err := d.mails(ctx, c, to, now)
	if err != nil {
		return err
	}
	_, err = d.store.UpdateClient(ctx, c.ID, func(x *Client) error {
		if !x.DigestCovered.Equal(c.DigestCovered) || x.Digest == DigestOff {
			return errLeased // made meanwhile (another process), or switched off
		}
		x.DigestCovered, x.Outbox = to, append(x.Outbox, mails...)
		return nil
	})
	if err == nil && len(mails) > 0 {
		d.owed()
	}
	if errors.Is(err, errLeased) {
		return nil
	}
	return err
}

// mails makes c's digest mails of the window from c.DigestCovered to to,
// owed at now; none if there is nothing to say.
func (d *digester) mails(ctx context.Context, c Client, to, now time.Time) ([]OutboxMail, error) {
	in, err := d.input(ctx, c, to)
	if err != nil {
		return nil, err
	}
	ms, err := digest.Mails(in)
	if err != nil {
		return nil, err
	}
	out := make([]OutboxMail, len(ms))
	for i, m := range ms {
		out[i] = OutboxMail{Kind: MailDigest, Queued: now, To: m.To, Subject: m.Subject, Body: m.Text, HTML: m.HTML}
	}
	return out, nil
}

// input reads what c's digest up to to is made of: the links broken at
// either end of the window, but those the client ignores, each with its
// state at both ends (from the history where it changed) and its sources.
func (d *digester) input(ctx context.Context, c Client, to time.Time) (digest.Input, error) {
	in := digest.Input{Site: c.ID, ContactName: c.ContactName, Period: string(c.Digest), From: c.DigestCovered, To: to, ReportURL: d.cfg.PublicURL + "/report/"}
	es, ok := d.store.(EditorStore)
	if !ok {
		return in, fmt.Errorf("digest: %w: the store keeps no history (EditorStore)", ErrInvalid)
	}
	ignored := map[string]bool{}
	err := pages(func(p Page) ([]IgnoredLink, error) { return es.IgnoredLinks(ctx, c.ID, p) }, func(l IgnoredLink) string { return l.URL },
		func(l IgnoredLink) error { ignored[l.URL] = true; return nil })
	if err != nil {
		return in, err
	}
	index := map[string]int{}
	err = pages(func(p Page) ([]Link, error) { return d.store.ClientLinks(ctx, c.ID, p) }, func(l Link) string { return l.URL }, func(l Link) error {
		then, end := HistoryEntry{State: l.State}, HistoryEntry{State: l.State, Reason: l.Reason}
		if ignored[l.URL] {
			return nil
		}
		if l.LastChanged.After(in.From) {
			h, err := es.LinkHistory(ctx, l.URL, to.Add(time.Nanosecond), 0)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			then, end = stateAt(h, in.From), stateAt(h, to)
			if len(h) == 0 && !l.LastChanged.After(to) { // a store that keeps no history
				end = HistoryEntry{State: l.State, Reason: l.Reason}
			}
		}
		if then.State == StateUnavailable || end.State == StateUnavailable {
			index[l.URL] = len(in.Links)
			in.Links = append(in.Links, digest.Link{URL: l.URL, Then: digestStatus(then.State), Now: digestStatus(end.State), Reason: end.Reason})
		}
		return nil
	})
	if err != nil {
		return in, err
	}
	urls := make([]string, len(in.Links))
	for i, l := range in.Links {
		urls[i] = l.URL
	}
	srcs, err := d.store.LinkSources(ctx, c.ID, urls)
	if err != nil {
		return in, err
	}
	for u, refs := range srcs {
		for _, r := range refs {
			in.Links[index[u]].Sources = append(in.Links[index[u]].Sources, digest.Source(r))
		}
	}
	return in, nil
}

// pages calls fn with each item of the pages of 1,000 that list returns,
// the next one after the key of the last item, until a short page.
func pages[T any](list func(Page) ([]T, error), key func(T) string, fn func(T) error) error {
	for p := (Page{Limit: 1000}); ; {
		items, err := list(p)
		if err != nil {
			return err
		}
		for _, x := range items {
			if err := fn(x); err != nil {
				return err
			}
		}
		if len(items) < p.Limit {
			return nil
		}
		p.After = key(items[len(items)-1])
	}
}

// stateAt returns the newest entry of h (newest first) at or before t; an
// unknown state if there is none.
func stateAt(h []HistoryEntry, t time.Time) HistoryEntry {
	for _, e := range h {
		if !e.Time.After(t) {
			return e
		}
	}
	return HistoryEntry{State: StateUnknown}
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
	ms, err := e.digests.mails(ctx, c, e.now(), e.now())
	if err != nil {
		return nil, fmt.Errorf("lms: digest: %w", err)
	}
	out := make([]Message, len(ms))
	for i, m := range ms {
		out[i], _ = e.mailer.message(c, m)
	}
	return out, nil
}
