package notify

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/linkmonitor/lms/internal/secret"
)

// outbox is one client's record with a store's UpdateClient; the other
// methods of Store are not used by Deliver.
type outbox struct {
	Store
	c Client
}

func (o *outbox) UpdateClient(_ context.Context, _ string, fn func(*Client) error) (Client, error) {
	c := o.c
	c.Outbox = append([]Mail(nil), o.c.Outbox...)
	if err := fn(&c); err != nil {
		return Client{}, err
	}
	o.c = c
	return c, nil
}

// Deliver sends the first due mail under the notify lease and removes it;
// a failure keeps it with a back-off after its attempts.
func TestDeliver(t *testing.T) {
	t.Parallel()
	sealer := secret.NewSealer("admin secret")
	box := &outbox{c: Client{ID: "site", ContactName: "Ann", ContactEmail: "ann@site.example", Outbox: []Mail{
		{Kind: KindRegistration, Queued: t0, SealedPassword: sealer.Seal("site", "pw-123")},
		{Kind: KindDigest, Queued: t0, To: "bob@site.example", Subject: "digest", Body: "text"},
		{Kind: KindSyncTooLarge, Queued: t0.Add(time.Second)},
	}}}
	var sent []Message
	send := func(_ context.Context, m Message) error {
		if m.Subject == "digest" {
			return errors.New("refused")
		}
		sent = append(sent, m)
		return nil
	}
	m := NewMailer(box, Config{Now: func() time.Time { return t0 }, Logger: slog.New(slog.DiscardHandler), ProcessID: "me", Sealer: sealer}, MailConfig{PublicURL: "https://lms.example", Send: send})
	ctx := context.Background()
	if !m.Deliver(ctx, "site") {
		t.Fatal("Deliver: the next mail is not due")
	}
	if m.Deliver(ctx, "site") {
		t.Fatal("a failed mail went on to the next")
	}
	if len(sent) != 1 || !strings.Contains(sent[0].Body, "Password:      pw-123\n") || sent[0].To[0].Address != "ann@site.example" {
		t.Fatalf("sent %+v", sent)
	}
	if o := box.c.Outbox; len(o) != 2 || o[0].Attempts != 1 || o[0].NextAttempt != t0.Add(time.Minute) || o[0].LastError != "refused" || box.c.LeaseHolder != "" {
		t.Errorf("after the failure: %+v, lease %q", o, box.c.LeaseHolder)
	}
	if m.Deliver(ctx, "site") {
		t.Error("a mail not due yet was sent")
	}
	if s, f := m.Counters(); s != 1 || f != 1 {
		t.Errorf("Counters = %d, %d", s, f)
	}
}

// Every kind but the digest has a subject naming the client and a body
// greeting the contact.
func TestText(t *testing.T) {
	t.Parallel()
	c := Client{ID: "site", ContactName: "Ann", CallbackURL: "https://site.example/cb", URL: "https://hook.example/"}
	for _, kind := range []string{KindRegistration, KindNotifyDisabled, KindSyncTooLarge, KindWebhookDisabled} {
		subject, body := text(kind, c, "https://lms.example", "pw-123")
		if !strings.Contains(subject, `"site"`) || !strings.HasPrefix(body, "Hello Ann,\n\n") || !strings.Contains(body, "https://lms.example/") {
			t.Errorf("%s: %q\n%s", kind, subject, body)
		}
	}
}
