package lms

import (
	"context"
	"net/mail"
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
// empty. The sender is the Mailer's business. The outbox's mails are made
// and delivered by internal/notify (notify.go).
type Message struct {
	To      []mail.Address
	Cc      []mail.Address
	Subject string
	Body    string
	HTML    string
}
