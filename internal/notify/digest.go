package notify

import (
	"context"
	"errors"
	"time"

	"github.com/linkmonitor/lms/internal/digest"
	"github.com/linkmonitor/lms/internal/loop"
)

// DigestConfig sets up a Digester; the rest follows the Deliverer's
// Config.
type DigestConfig struct {
	Poll time.Duration // how often due digests are looked for
	// Lag ends a window this long before now: a check that ran before has
	// been recorded (or abandoned) by then, so no change falls between two
	// windows (the checker's lease).
	Lag       time.Duration
	ReportURL string // the report page every digest links to
	// Reader reads what a client's digest is made of (internal/digest).
	Reader func(clientID string) (digest.Reader, error)
}

// Digester owes the digests that are due in the outbox (Client.Outbox), in
// the same step (UpdateClient) as it moves the client's DigestCovered to
// the window's end: a digest is made once, even by processes sharing the
// store, and the mailer delivers each of its mails once.
type Digester struct {
	store Store
	cfg   Config
	dc    DigestConfig
}

// NewDigester returns the digester of the clients of hooks' store.
func NewDigester(hooks *Deliverer, dc DigestConfig) *Digester {
	return &Digester{store: hooks.store, cfg: hooks.cfg, dc: dc}
}

// Run owes the due digests until ctx ends.
func (d *Digester) Run(ctx context.Context) error {
	loop.Rounds(ctx, d.dc.Poll, nil, func() {
		cs, err := d.store.AllClients(ctx)
		if err != nil {
			if ctx.Err() == nil {
				d.cfg.Logger.Error("listing clients for digests", "err", err)
			}
			return
		}
		now := d.cfg.Now()
		for _, c := range cs {
			if c.DigestPeriod == 0 || now.Before(c.DigestCovered.Add(c.DigestPeriod+d.dc.Lag)) || ctx.Err() != nil {
				continue
			}
			if err := d.make(ctx, c, now); err != nil && ctx.Err() == nil {
				d.cfg.Logger.Error("making a digest", "client", c.ID, "err", err)
			}
		}
	})
	return nil
}

// make owes c's digest of the window from c.DigestCovered to now-Lag.
func (d *Digester) make(ctx context.Context, c Client, now time.Time) error {
	old, to := c.DigestCovered, now.Add(-d.dc.Lag)
	if old.IsZero() { // a record written without one: from the client's start
		c.DigestCovered = c.Created
	}
	mails, err := d.Mails(ctx, c, to, now)
	if err != nil {
		return err
	}
	_, err = d.store.UpdateClient(ctx, c.ID, func(x *Client) error {
		if !x.DigestCovered.Equal(old) || x.DigestPeriod == 0 {
			return errLeased // made meanwhile (another process), or switched off
		}
		x.DigestCovered, x.Outbox = to, append(x.Outbox, mails...)
		return nil
	})
	if err == nil && len(mails) > 0 {
		d.cfg.MailOwed()
	}
	if errors.Is(err, errLeased) {
		return nil
	}
	return err
}

// Mails makes c's digest mails of the window from c.DigestCovered to to,
// owed at now; none if there is nothing to say.
func (d *Digester) Mails(ctx context.Context, c Client, to, now time.Time) ([]Mail, error) {
	r, err := d.dc.Reader(c.ID)
	if err != nil {
		return nil, err
	}
	in, err := digest.Collect(ctx, r, digest.Input{Site: c.ID, ContactName: c.ContactName, Period: c.Digest, From: c.DigestCovered, To: to, ReportURL: d.dc.ReportURL})
	if err != nil {
		return nil, err
	}
	ms, err := digest.Mails(in)
	if err != nil {
		return nil, err
	}
	out := make([]Mail, len(ms))
	for i, m := range ms {
		out[i] = Mail{Kind: KindDigest, Queued: now, To: m.To, Subject: m.Subject, Body: m.Text, HTML: m.HTML}
	}
	return out, nil
}
