// Package mailer sends the mails of lms (the registration mail that carries
// a client's password, the "notifications disabled" mail): SMTP through
// github.com/wneessen/go-mail, or one RFC 5322 .eml file per mail in a
// directory for servers without a mail relay (and for tests).
package mailer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/linkmonitor/lms"
)

// TLSPolicy says how SMTP uses STARTTLS.
type TLSPolicy int

// TLS policies.
const (
	TLSMandatory     TLSPolicy = iota // STARTTLS or fail (the default)
	TLSOpportunistic                  // STARTTLS if offered
	NoTLS                             // plain text (a relay on localhost)
	ImplicitTLS                       // TLS from the first byte (port 465)
)

// SMTP sends mails through an SMTP server.
type SMTP struct {
	Host     string
	Port     int // default 587 (465 for ImplicitTLS, 25 for NoTLS)
	TLS      TLSPolicy
	Username string // with Password: SMTP AUTH PLAIN
	Password string
	From     mail.Address
	Timeout  time.Duration // default 30 s
}

var _ lms.Mailer = (*SMTP)(nil)

// Send implements lms.Mailer.
func (s *SMTP) Send(ctx context.Context, m lms.Message) error {
	msg, err := build(s.From, m)
	if err != nil {
		return err
	}
	port := s.Port
	opts := []gomail.Option{gomail.WithTimeout(cmpOr(s.Timeout, 30*time.Second))}
	switch s.TLS {
	case TLSMandatory:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
		port = cmpOr(port, 587)
	case TLSOpportunistic:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
		port = cmpOr(port, 587)
	case NoTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
		port = cmpOr(port, 25)
	case ImplicitTLS:
		opts = append(opts, gomail.WithSSL())
		port = cmpOr(port, 465)
	}
	opts = append(opts, gomail.WithPort(port))
	if s.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain), gomail.WithUsername(s.Username), gomail.WithPassword(s.Password))
	}
	c, err := gomail.NewClient(s.Host, opts...)
	if err != nil {
		return fmt.Errorf("mailer: smtp client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("mailer: send %q via %s:%d: %w", m.Subject, s.Host, port, err)
	}
	return nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// build turns a Message into a go-mail message.
func build(from mail.Address, m lms.Message) (*gomail.Msg, error) {
	if len(m.To) == 0 {
		return nil, errors.New("mailer: message without recipient")
	}
	msg := gomail.NewMsg()
	if err := msg.FromFormat(from.Name, from.Address); err != nil {
		return nil, fmt.Errorf("mailer: from %q: %w", from.Address, err)
	}
	for _, a := range m.To {
		if err := msg.AddToFormat(a.Name, a.Address); err != nil {
			return nil, fmt.Errorf("mailer: to %q: %w", a.Address, err)
		}
	}
	for _, a := range m.Cc {
		if err := msg.AddCcFormat(a.Name, a.Address); err != nil {
			return nil, fmt.Errorf("mailer: cc %q: %w", a.Address, err)
		}
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, m.Body)
	if m.HTML != "" { // multipart/alternative: the text first, the HTML preferred
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// Dir writes each mail as an RFC 5322 .eml file into a directory (created
// if missing), for servers without a relay: an operator forwards or reads
// them. Files are written atomically and readable only by the owner (they
// carry passwords).
type Dir struct {
	Path string
	From mail.Address
}

var _ lms.Mailer = (*Dir)(nil)

// Send implements lms.Mailer.
func (d *Dir) Send(_ context.Context, m lms.Message) error {
	msg, err := build(d.From, m)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(d.Path, 0o700); err != nil {
		return fmt.Errorf("mailer: %w", err)
	}
	rnd := make([]byte, 4)
	_, _ = rand.Read(rnd)
	name := fmt.Sprintf("%s-%s-%s.eml", time.Now().UTC().Format("20060102T150405Z"), slug(m.Subject), hex.EncodeToString(rnd))
	tmp, err := os.CreateTemp(d.Path, ".mail-*")
	if err != nil {
		return fmt.Errorf("mailer: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := msg.WriteTo(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("mailer: write %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("mailer: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("mailer: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(d.Path, name)); err != nil {
		return fmt.Errorf("mailer: %w", err)
	}
	return nil
}

func slug(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '-'
	}, s)
	if len(s) > 40 {
		s = s[:40]
	}
	return strings.Trim(s, "-")
}

// ParseList parses a space- or comma-separated list of addresses (the
// -mail-cc flag).
func ParseList(s string) ([]mail.Address, error) {
	var out []mail.Address
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' }) {
		a, err := mail.ParseAddress(f)
		if err != nil {
			return nil, fmt.Errorf("mailer: address %q: %w", f, err)
		}
		out = append(out, *a)
	}
	return out, nil
}
