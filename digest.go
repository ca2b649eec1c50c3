package lms

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/linkmonitor/lms/internal/digest"
	"github.com/linkmonitor/lms/internal/loop"
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
	loop.Rounds(ctx, d.cfg.DigestPoll, nil, func() {
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
	old, to := c.DigestCovered, now.Add(-d.cfg.Lease)
	if old.IsZero() { // a record written without one: from the client's start
		c.DigestCovered = c.Created
	}
	mails, err := d.mails(ctx, c, to, now)
	if err != nil {
		return err
	}
	_, err = d.store.UpdateClient(ctx, c.ID, func(x *Client) error {
		if !x.DigestCovered.Equal(old) || x.Digest == DigestOff {
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

// input reads what c's digest of the window up to to is made of, through
// the store roles (internal/digest.Collect says what).
func (d *digester) input(ctx context.Context, c Client, to time.Time) (digest.Input, error) {
	in := digest.Input{Site: c.ID, ContactName: c.ContactName, Period: string(c.Digest), From: c.DigestCovered, To: to, ReportURL: d.cfg.PublicURL + "/report/"}
	es, ok := d.store.(EditorStore)
	if !ok {
		return in, fmt.Errorf("digest: %w: the store keeps no history (EditorStore)", ErrInvalid)
	}
	return digest.Collect(ctx, digest.Reader{
		Ignored: func(ctx context.Context, after string, limit int) ([]string, error) {
			ls, err := es.IgnoredLinks(ctx, c.ID, Page{After: after, Limit: limit})
			urls := make([]string, len(ls))
			for i, l := range ls {
				urls[i] = l.URL
			}
			return urls, err
		},
		Links: func(ctx context.Context, after string, limit int) ([]digest.Current, error) {
			ls, err := d.store.ClientLinks(ctx, c.ID, Page{After: after, Limit: limit})
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
			m, err := d.store.LinkSources(ctx, c.ID, urls)
			out := make(map[string][]digest.Source, len(m))
			for u, refs := range m {
				for _, r := range refs {
					out[u] = append(out[u], digest.Source(r))
				}
			}
			return out, err
		},
	}, in)
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
		out[i], _ = outboxStore{e.store, e.cfg, e.sealer}.message(c, m)
	}
	return out, nil
}
