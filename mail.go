package lms

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/linkmonitor/lms/internal/logsafe"
	"github.com/linkmonitor/lms/internal/outbox"
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

// newMailer returns the outbox's sender (internal/outbox): it runs with
// the notifier (RunNotifier), each mail under the client's notify lease.
func newMailer(store ClientStore, cfg Config, sealer *secret.Sealer) *outbox.Sender {
	return outbox.New(outboxStore{store, cfg, sealer}, outbox.Config{Poll: cfg.MailPoll, Now: cfg.Now, Logger: cfg.Logger, Off: cfg.Mailer == nil})
}

// outboxStore is the outbox in the clients' records (Client.Outbox).
type outboxStore struct {
	s      ClientStore
	cfg    Config
	sealer *secret.Sealer
}

// due reports whether c's first mail is due at now for this process.
func (o outboxStore) due(c Client, now time.Time) bool {
	return len(c.Outbox) > 0 && !now.Before(c.Outbox[0].NextAttempt) && !c.NotifyLease.Held(now, o.cfg.ProcessID)
}

func (o outboxStore) Due(ctx context.Context, now time.Time) ([]string, error) {
	cs, err := o.s.ListClients(ctx)
	var ids []string
	for _, c := range cs {
		if o.due(c, now) {
			ids = append(ids, c.ID)
		}
	}
	return ids, err
}

func (o outboxStore) Take(ctx context.Context, id string, now time.Time) (outbox.Mail, bool, error) {
	c, err := o.s.UpdateClient(ctx, id, func(c *Client) error {
		if !o.due(*c, now) {
			return errLeased
		}
		c.NotifyLease = Lease{Holder: o.cfg.ProcessID, Until: now.Add(2 * time.Minute)}
		return nil
	})
	if err != nil {
		if errors.Is(err, errLeased) {
			err = nil
		}
		return outbox.Mail{}, false, err
	}
	owed := c.Outbox[0]
	msg, merr := o.message(c, owed)
	return outbox.Mail{ID: owed, Kind: string(owed.Kind), Attempts: owed.Attempts, To: addrList(msg.To), Send: func(ctx context.Context) error {
		if merr != nil {
			return merr
		}
		return o.cfg.Mailer.Send(ctx, msg)
	}}, true, nil
}

func (o outboxStore) Settle(ctx context.Context, id string, m outbox.Mail, sendErr error, next time.Time) (bool, error) {
	c, err := o.s.UpdateClient(ctx, id, func(c *Client) error {
		if c.NotifyLease.Holder == o.cfg.ProcessID {
			c.NotifyLease = Lease{}
		}
		i := outboxIndex(c.Outbox, m.ID.(OutboxMail))
		switch {
		case i < 0: // removed meanwhile (a new password replaced it)
		case sendErr == nil:
			c.Outbox = append(c.Outbox[:i:i], c.Outbox[i+1:]...)
		default:
			e := &c.Outbox[i]
			e.Attempts++
			e.LastError, e.NextAttempt = logsafe.Value(sendErr.Error()), next
		}
		return nil
	})
	return err == nil && o.due(c, o.cfg.Now()), err
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
func (o outboxStore) message(c Client, owed OutboxMail) (Message, error) {
	if owed.Kind == MailDigest {
		to := contact(c)
		if owed.To != "" {
			to = []mail.Address{{Address: owed.To}}
		}
		return Message{To: to, Subject: owed.Subject, Body: owed.Body, HTML: owed.HTML}, nil
	}
	f := outbox.Facts{
		PublicURL: o.cfg.PublicURL, ID: c.ID, ContactName: c.ContactName, ContactEmail: c.ContactEmail, CallbackURL: c.CallbackURL,
		NotifyFailures: c.NotifyFailures, LastNotified: c.LastNotified, NotifyDisabledAt: c.NotifyDisabledAt, LastNotifyError: c.LastNotifyError,
		LastSync: c.LastSync, LastSyncError: c.LastSyncError, WebhookURL: c.WebhookURL, WebhookFailures: c.WebhookFailures,
		WebhookDisabledAt: c.WebhookDisabledAt, WebhookLastError: c.WebhookLastError,
	}
	var cc []mail.Address
	if owed.Kind == MailRegistration {
		pw, ok := o.sealer.Open(c.ID, owed.SealedPassword)
		if !ok {
			return Message{}, errSealed
		}
		f.Password, cc = pw, o.cfg.MailCC
	}
	subject, body, ok := outbox.Text(string(owed.Kind), f)
	if !ok {
		return Message{}, fmt.Errorf("unknown mail kind %q", owed.Kind)
	}
	return Message{To: contact(c), Cc: cc, Subject: subject, Body: body}, nil
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
