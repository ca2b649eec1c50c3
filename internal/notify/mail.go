package notify

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linkmonitor/lms/internal/backoff"
	"github.com/linkmonitor/lms/internal/logsafe"
	"github.com/linkmonitor/lms/internal/loop"
)

// Mail is a mail owed to a client's contact (Client.Outbox), in the order
// it was owed. Its text is made when it is sent, from the client as it is
// then; a digest's is made when it is owed.
type Mail struct {
	Kind           string // one of the Kind constants (mailtext.go)
	Queued         time.Time
	SealedPassword string    // a registration mail's password, sealed
	Attempts       int       // failed deliveries so far
	NextAttempt    time.Time // no delivery before this instant
	LastError      string    // why the last delivery failed
	// A digest's recipient ("" for the contact) and text.
	To, Subject, Body, HTML string
}

// Message is one mail as a mailer sends it.
type Message struct {
	To      []mail.Address
	Cc      []mail.Address
	Subject string
	Body    string
	HTML    string
}

// MailConfig sets up a Mailer; the rest follows the Config.
type MailConfig struct {
	Poll      time.Duration  // how often the outbox is looked at
	PublicURL string         // the server's address, for the texts
	CC        []mail.Address // receives a copy of every registration mail
	// Send sends one mail; nil: mails wait in the outbox.
	Send func(ctx context.Context, m Message) error
}

// Mailer delivers the outbox: the mails owed to clients' contacts, kept in
// the client records so that owing a mail is recorded in the same step as
// the change that owes it. A mail leaves the store only once Send accepted
// it; failures are retried with back-off, and a crash before delivery
// means the mail is sent after the restart. Each mail is sent under the
// client's notify lease.
type Mailer struct {
	store Store
	cfg   Config
	mc    MailConfig
	wake  chan struct{}

	// busy holds the clients whose mail this process is sending: the
	// notify lease keeps other processes away, but not the loop and an
	// API call's immediate send of the same process (both would send).
	busyMu sync.Mutex
	busy   map[string]bool

	sent, failures atomic.Uint64
}

// NewMailer returns the mailer of store's outboxes.
func NewMailer(store Store, cfg Config, mc MailConfig) *Mailer {
	return &Mailer{store: store, cfg: cfg, mc: mc, wake: make(chan struct{}, 1), busy: make(map[string]bool)}
}

// Owed tells the mailer that a mail was put into the outbox.
func (m *Mailer) Owed() { loop.Poke(m.wake) }

// Run delivers the due mails, one client after the other, at every poll
// and wake-up until ctx ends.
func (m *Mailer) Run(ctx context.Context) error {
	if m.mc.Send == nil {
		m.cfg.Logger.Warn("no mailer configured: mails wait in the outbox (registration passwords reach no one)")
	}
	loop.Rounds(ctx, m.mc.Poll, m.wake, func() {
		if m.mc.Send == nil {
			return
		}
		cs, err := m.store.AllClients(ctx)
		if err != nil {
			if ctx.Err() == nil {
				m.cfg.Logger.Error("listing clients for the outbox", "err", err)
			}
			return
		}
		now := m.cfg.Now()
		for _, c := range cs {
			if m.due(c, now) {
				for ctx.Err() == nil && m.Deliver(ctx, c.ID) {
				}
			}
		}
	})
	return nil
}

// due reports whether c's first mail is due at now for this process.
func (m *Mailer) due(c Client, now time.Time) bool {
	return len(c.Outbox) > 0 && !now.Before(c.Outbox[0].NextAttempt) && !c.leaseHeld(now, m.cfg.ProcessID)
}

// Deliver sends the client's first owed mail, if it is due, under its
// notify lease and removes it from the outbox, or records the failure. It
// reports whether the client's next mail is due now.
func (m *Mailer) Deliver(ctx context.Context, id string) bool {
	m.busyMu.Lock()
	if m.busy[id] {
		m.busyMu.Unlock()
		return false // sent by the other caller of this process
	}
	m.busy[id] = true
	m.busyMu.Unlock()
	defer func() {
		m.busyMu.Lock()
		delete(m.busy, id)
		m.busyMu.Unlock()
	}()
	now := m.cfg.Now()
	c, err := m.store.UpdateClient(ctx, id, func(c *Client) error {
		if !m.due(*c, now) {
			return errLeased
		}
		c.LeaseHolder, c.LeaseUntil = m.cfg.ProcessID, now.Add(2*time.Minute)
		return nil
	})
	if err != nil {
		if !errors.Is(err, errLeased) && ctx.Err() == nil {
			m.cfg.Logger.Error("taking a client's lease for its mail", "client", id, "err", err)
		}
		return false
	}
	owed := c.Outbox[0]
	msg, err := m.Message(c, owed)
	if err == nil {
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		err = m.mc.Send(sctx, msg)
		cancel()
	}
	c, uerr := m.store.UpdateClient(context.WithoutCancel(ctx), id, func(c *Client) error {
		if c.LeaseHolder == m.cfg.ProcessID {
			c.LeaseHolder, c.LeaseUntil = "", time.Time{}
		}
		i := outboxIndex(c.Outbox, owed)
		switch {
		case i < 0: // removed meanwhile (a new password replaced it)
		case err == nil:
			c.Outbox = append(c.Outbox[:i:i], c.Outbox[i+1:]...)
		default:
			e := &c.Outbox[i]
			e.Attempts++
			e.LastError = logsafe.Value(err.Error())
			e.NextAttempt = m.cfg.Now().Add(backoff.Doubled(time.Minute, time.Hour, e.Attempts))
		}
		return nil
	})
	if uerr != nil {
		m.cfg.Logger.Error("recording a mail", "client", id, "kind", owed.Kind, "err", uerr)
		return false
	}
	if err != nil {
		m.failures.Add(1)
		m.cfg.Logger.Warn("mail not sent; it stays in the outbox", "client", id, "kind", owed.Kind, "attempts", owed.Attempts+1, "err", err)
		return false
	}
	m.sent.Add(1)
	m.cfg.Logger.Info("mail sent", "client", id, "kind", owed.Kind, "to", addrList(msg.To))
	return m.due(c, m.cfg.Now())
}

// outboxIndex finds the entry e in box (entries are told apart by kind,
// recipient and the instant they were owed).
func outboxIndex(box []Mail, e Mail) int {
	for i, x := range box {
		if x.Kind == e.Kind && x.Queued.Equal(e.Queued) && x.To == e.To {
			return i
		}
	}
	return -1
}

// errSealed means a registration mail's password cannot be unsealed: the
// admin secret changed since it was owed. A new password (the admin pages'
// "send a new password") replaces the entry.
var errSealed = errors.New("the password of this mail cannot be unsealed (the admin secret changed): send a new password")

// Message makes the text of the mail owed to c's contact from c as it is
// now.
func (m *Mailer) Message(c Client, owed Mail) (Message, error) {
	to := []mail.Address{{Name: c.ContactName, Address: c.ContactEmail}}
	switch owed.Kind {
	case KindDigest:
		if owed.To != "" {
			to = []mail.Address{{Address: owed.To}}
		}
		return Message{To: to, Subject: owed.Subject, Body: owed.Body, HTML: owed.HTML}, nil
	case KindRegistration:
		pw, ok := m.cfg.Sealer.Open(c.ID, owed.SealedPassword)
		if !ok {
			return Message{}, errSealed
		}
		subject, body := text(owed.Kind, c, m.mc.PublicURL, pw)
		return Message{To: to, Cc: m.mc.CC, Subject: subject, Body: body}, nil
	case KindNotifyDisabled, KindSyncTooLarge, KindWebhookDisabled:
		subject, body := text(owed.Kind, c, m.mc.PublicURL, "")
		return Message{To: to, Subject: subject, Body: body}, nil
	}
	return Message{}, fmt.Errorf("unknown mail kind %q", owed.Kind)
}

// Counters returns the mails sent and the failed deliveries since start.
func (m *Mailer) Counters() (sent, failures uint64) { return m.sent.Load(), m.failures.Load() }

func addrList(as []mail.Address) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}
