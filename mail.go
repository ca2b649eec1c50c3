package lms

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// Mailer sends mails: the registration mail with a client's password and the
// "notifications disabled" mail. Package mailer has SMTP and directory
// implementations.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// MailerFunc adapts a function to the Mailer interface.
type MailerFunc func(ctx context.Context, m Message) error

// Send calls f.
func (f MailerFunc) Send(ctx context.Context, m Message) error { return f(ctx, m) }

// Message is one plain-text mail. The sender is the Mailer's business.
type Message struct {
	To      []mail.Address
	Cc      []mail.Address
	Subject string
	Body    string
}

func (e *Engine) sendMail(ctx context.Context, m Message) {
	if e.cfg.Mailer == nil {
		e.log.Warn("no mailer configured: mail dropped", "to", addrList(m.To), "subject", m.Subject)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := e.cfg.Mailer.Send(ctx, m); err != nil {
		e.log.Error("sending mail", "to", addrList(m.To), "subject", m.Subject, "err", err)
		return
	}
	e.log.Info("mail sent", "to", addrList(m.To), "subject", m.Subject)
}

func addrList(as []mail.Address) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

func (e *Engine) contact(c Client) []mail.Address {
	return []mail.Address{{Name: c.ContactName, Address: c.ContactEmail}}
}

// registrationMail is the mail of PROTOCOL.md §5.
func (e *Engine) registrationMail(c Client, pw string) Message {
	var b strings.Builder
	fmt.Fprintf(&b, "Hello %s,\n\n", c.ContactName)
	fmt.Fprintf(&b, "a client of the Link Monitoring Server has been registered for you.\n\n")
	fmt.Fprintf(&b, "Client id:     %s\n", c.ID)
	fmt.Fprintf(&b, "Password:      %s\n", pw)
	fmt.Fprintf(&b, "Callback URL:  %s\n", c.CallbackURL)
	fmt.Fprintf(&b, "Contact:       %s <%s>\n", c.ContactName, c.ContactEmail)
	fmt.Fprintf(&b, "LMS address:   %s/\n\n", e.cfg.PublicURL)
	fmt.Fprintf(&b, "Enter the LMS address, the client id and the password in your site's link\n")
	fmt.Fprintf(&b, "checker settings. This mail is the only copy of the password: keep it safe.\n")
	return Message{To: e.contact(c), Cc: e.cfg.MailCC, Subject: fmt.Sprintf("Registration of client id %q", c.ID), Body: b.String()}
}

// disabledMail tells the contact that notifications were switched off.
func (e *Engine) disabledMail(c Client) Message {
	var b strings.Builder
	fmt.Fprintf(&b, "Hello %s,\n\n", c.ContactName)
	fmt.Fprintf(&b, "the Link Monitoring Server at %s/ could not deliver link state\n", e.cfg.PublicURL)
	fmt.Fprintf(&b, "notifications to your client %q %d times in a row, and has switched\n", c.ID, c.NotifyFailures)
	fmt.Fprintf(&b, "its notifications off.\n\n")
	fmt.Fprintf(&b, "Callback URL:        %s\n", c.CallbackURL)
	fmt.Fprintf(&b, "Last success:        %s\n", fmtTime(c.LastNotified))
	fmt.Fprintf(&b, "Switched off at:     %s\n", fmtTime(c.NotifyDisabledAt))
	fmt.Fprintf(&b, "Last error:          %s\n\n", c.LastNotifyError)
	fmt.Fprintf(&b, "No change is lost: once the site can be reached again, switch notifications\n")
	fmt.Fprintf(&b, "back on in the site's link checker settings (setClientNotifications) and\n")
	fmt.Fprintf(&b, "everything pending will be delivered.\n")
	return Message{To: e.contact(c), Subject: fmt.Sprintf("Notifications of client id %q disabled", c.ID), Body: b.String()}
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC1123)
}
