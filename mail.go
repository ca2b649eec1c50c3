package lms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linkmonitor/lms/internal/backoff"
	"github.com/linkmonitor/lms/internal/logsafe"
	"github.com/linkmonitor/lms/internal/loop"
	"github.com/linkmonitor/lms/internal/secret"
)

// Mailer sends mails: the registration mail with a client's password, the
// "notifications disabled" mail, the digests. Package mailer has SMTP and
// directory implementations.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// MailerFunc adapts a function to the Mailer interface.
type MailerFunc func(ctx context.Context, m Message) error

// Send calls f.
func (f MailerFunc) Send(ctx context.Context, m Message) error { return f(ctx, m) }

// Message is one plain-text mail, with an HTML alternative if HTML is not
// empty. The sender is the Mailer's business.
type Message struct {
	To      []mail.Address
	Cc      []mail.Address
	Subject string
	Body    string
	HTML    string
}

// mailer delivers the outbox: the mails owed to clients' contacts, kept in
// the client records (Client.Outbox) so that owing a mail is recorded in the
// same step as the change that owes it. An entry leaves the store only once
// the Mailer accepted the mail; failures are retried with back-off, and a
// crash before delivery means the mail is sent after the restart. It runs
// with the notifier (RunNotifier), under the client's notify lease.
type mailer struct {
	store  ClientStore
	out    Mailer // nil: mails wait in the outbox
	sealer *secret.Sealer
	cfg    Config
	log    *slog.Logger
	wake   chan struct{}

	// busy holds the clients whose mail this process is sending: the
	// notify lease keeps other processes away, but not the outbox loop and
	// an API call's immediate send of the same process (both would send).
	busyMu sync.Mutex
	busy   map[string]bool

	sent, failures atomic.Uint64
}

func newMailer(store ClientStore, cfg Config, sealer *secret.Sealer) *mailer {
	return &mailer{store: store, out: cfg.Mailer, sealer: sealer, cfg: cfg, log: cfg.Logger, wake: make(chan struct{}, 1), busy: make(map[string]bool)}
}

// owed tells the mailer that a mail was put into the outbox.
func (m *mailer) owed() { loop.Poke(m.wake) }

func (m *mailer) run(ctx context.Context) error {
	if m.out == nil {
		m.log.Warn("no mailer configured: mails wait in the outbox (registration passwords reach no one)")
	}
	loop.Rounds(ctx, m.cfg.MailPoll, m.wake, func() {
		if m.out != nil {
			m.deliverAll(ctx)
		}
	})
	return nil
}

// deliverAll sends every mail that is due, one client after the other.
func (m *mailer) deliverAll(ctx context.Context) {
	cs, err := m.store.ListClients(ctx)
	if err != nil {
		if ctx.Err() == nil {
			m.log.Error("listing clients for the outbox", "err", err)
		}
		return
	}
	now := m.cfg.Now()
	for _, c := range cs {
		for len(c.Outbox) > 0 && !now.Before(c.Outbox[0].NextAttempt) && !c.NotifyLease.Held(now, m.cfg.ProcessID) && ctx.Err() == nil {
			var ok bool
			if c, ok = m.deliver(ctx, c.ID); !ok {
				break
			}
		}
	}
}

// deliver sends the client's first owed mail under its notify lease and
// removes it from the outbox, or records the failure. It returns the client
// as it is afterwards and whether to go on with its next mail.
func (m *mailer) deliver(ctx context.Context, id string) (Client, bool) {
	m.busyMu.Lock()
	if m.busy[id] {
		m.busyMu.Unlock()
		return Client{}, false // sent by the other caller of this process
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
		if len(c.Outbox) == 0 || now.Before(c.Outbox[0].NextAttempt) || c.NotifyLease.Held(now, m.cfg.ProcessID) {
			return errLeased
		}
		c.NotifyLease = Lease{Holder: m.cfg.ProcessID, Until: now.Add(2 * time.Minute)}
		return nil
	})
	if err != nil {
		if !errors.Is(err, errLeased) && ctx.Err() == nil {
			m.log.Error("taking a client's lease for its mail", "client", id, "err", err)
		}
		return c, false
	}
	owed := c.Outbox[0]
	msg, err := m.message(c, owed)
	if err == nil {
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		err = m.out.Send(sctx, msg)
		cancel()
	}
	c, uerr := m.store.UpdateClient(context.WithoutCancel(ctx), id, func(c *Client) error {
		if c.NotifyLease.Holder == m.cfg.ProcessID {
			c.NotifyLease = Lease{}
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
		m.log.Error("recording a mail", "client", id, "kind", owed.Kind, "err", uerr)
		return c, false
	}
	if err != nil {
		m.failures.Add(1)
		m.log.Warn("mail not sent; it stays in the outbox", "client", id, "kind", owed.Kind, "attempts", owed.Attempts+1, "err", err)
		return c, false
	}
	m.sent.Add(1)
	m.log.Info("mail sent", "client", id, "kind", owed.Kind, "to", addrList(msg.To))
	return c, true
}

// outboxIndex finds the entry e in box (entries are told apart by kind,
// recipient and the instant they were owed).
func outboxIndex(box []OutboxMail, e OutboxMail) int {
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

// message makes the text of an owed mail from the client as it is now.
func (m *mailer) message(c Client, owed OutboxMail) (Message, error) {
	switch owed.Kind {
	case MailRegistration:
		pw, ok := m.sealer.Open(c.ID, owed.SealedPassword)
		if !ok {
			return Message{}, errSealed
		}
		return registrationMail(m.cfg, c, pw), nil
	case MailDisabled:
		return disabledMail(m.cfg, c), nil
	case MailSyncTooLarge:
		return syncTooLargeMail(m.cfg, c), nil
	case MailWebhookDisabled:
		return webhookDisabledMail(m.cfg, c), nil
	case MailDigest:
		to := contact(c)
		if owed.To != "" {
			to = []mail.Address{{Address: owed.To}}
		}
		return Message{To: to, Subject: owed.Subject, Body: owed.Body, HTML: owed.HTML}, nil
	}
	return Message{}, fmt.Errorf("unknown mail kind %q", owed.Kind)
}

// snapshot adds the mailer's counters to st.
func (m *mailer) snapshot(st *Stats) {
	st.MailsSent, st.MailFailures = m.sent.Load(), m.failures.Load()
}

func addrList(as []mail.Address) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

func contact(c Client) []mail.Address {
	return []mail.Address{{Name: c.ContactName, Address: c.ContactEmail}}
}

// registrationMail is the mail of PROTOCOL.md §5.
func registrationMail(cfg Config, c Client, pw string) Message {
	var b strings.Builder
	fmt.Fprintf(&b, "Hello %s,\n\n", c.ContactName)
	fmt.Fprintf(&b, "a client of the Link Monitoring Server has been registered for you.\n\n")
	fmt.Fprintf(&b, "Client id:     %s\n", c.ID)
	fmt.Fprintf(&b, "Password:      %s\n", pw)
	fmt.Fprintf(&b, "Callback URL:  %s\n", c.CallbackURL)
	fmt.Fprintf(&b, "Contact:       %s <%s>\n", c.ContactName, c.ContactEmail)
	fmt.Fprintf(&b, "LMS address:   %s/\n\n", cfg.PublicURL)
	fmt.Fprintf(&b, "Enter the LMS address, the client id and the password in your site's link\n")
	fmt.Fprintf(&b, "checker settings. This mail is the only copy of the password: keep it safe.\n")
	return Message{To: contact(c), Cc: cfg.MailCC, Subject: fmt.Sprintf("Registration of client id %q", c.ID), Body: b.String()}
}

// disabledMail tells the contact that notifications were switched off.
func disabledMail(cfg Config, c Client) Message {
	var b strings.Builder
	fmt.Fprintf(&b, "Hello %s,\n\n", c.ContactName)
	fmt.Fprintf(&b, "the Link Monitoring Server at %s/ could not deliver link state\n", cfg.PublicURL)
	fmt.Fprintf(&b, "notifications to your client %q %d times in a row, and has switched\n", c.ID, c.NotifyFailures)
	fmt.Fprintf(&b, "its notifications off.\n\n")
	fmt.Fprintf(&b, "Callback URL:        %s\n", logsafe.URL(c.CallbackURL))
	fmt.Fprintf(&b, "Last success:        %s\n", fmtTime(c.LastNotified))
	fmt.Fprintf(&b, "Switched off at:     %s\n", fmtTime(c.NotifyDisabledAt))
	fmt.Fprintf(&b, "Last error:          %s\n\n", c.LastNotifyError)
	fmt.Fprintf(&b, "No change is lost: once the site can be reached again, switch notifications\n")
	fmt.Fprintf(&b, "back on in the site's link checker settings (setClientNotifications) and\n")
	fmt.Fprintf(&b, "everything pending will be delivered.\n")
	return Message{To: contact(c), Subject: fmt.Sprintf("Notifications of client id %q disabled", c.ID), Body: b.String()}
}

// syncTooLargeMail tells the contact that the site's link list is over a
// limit, so the daily sync cannot reconcile it.
func syncTooLargeMail(cfg Config, c Client) Message {
	var b strings.Builder
	fmt.Fprintf(&b, "Hello %s,\n\n", c.ContactName)
	fmt.Fprintf(&b, "the Link Monitoring Server at %s/ could not synchronise with your client\n", cfg.PublicURL)
	fmt.Fprintf(&b, "%q: the list of links your site sent (xmlrpc_getAllLinks) is larger than\n", c.ID)
	fmt.Fprintf(&b, "this server accepts.\n\n")
	fmt.Fprintf(&b, "Callback URL:        %s\n", logsafe.URL(c.CallbackURL))
	fmt.Fprintf(&b, "Last success:        %s\n", fmtTime(c.LastSync))
	fmt.Fprintf(&b, "Error:               %s\n\n", c.LastSyncError)
	fmt.Fprintf(&b, "Nothing was removed: the links registered so far are still checked and\n")
	fmt.Fprintf(&b, "their changes still notified. The server tries again at the next daily\n")
	fmt.Fprintf(&b, "synchronisation and writes again only after one has succeeded. If the\n")
	fmt.Fprintf(&b, "list is right, ask the server's operator to raise the limit.\n")
	return Message{To: contact(c), Subject: fmt.Sprintf("Link list of client id %q too large to synchronise", c.ID), Body: b.String()}
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC1123)
}
