package outbox

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

// box is one client's outbox: mails in order, the first held while taken.
type box struct {
	mails   []string
	held    bool
	settled []error
	next    time.Time
}

func (b *box) Due(context.Context, time.Time) ([]string, error) { return []string{"c"}, nil }

func (b *box) Take(_ context.Context, id string, _ time.Time) (Mail, bool, error) {
	if len(b.mails) == 0 || b.held {
		return Mail{}, false, nil
	}
	b.held = true
	m := b.mails[0]
	return Mail{ID: m, Kind: m, Send: func(context.Context) error {
		if strings.HasPrefix(m, "bad") {
			return errors.New("refused")
		}
		return nil
	}}, true, nil
}

func (b *box) Settle(_ context.Context, _ string, m Mail, err error, next time.Time) (bool, error) {
	b.held = false
	b.settled, b.next = append(b.settled, err), next
	if err == nil {
		b.mails = b.mails[1:]
	}
	return err == nil && len(b.mails) > 0, nil
}

// Deliver sends the first mail and settles it; a failure keeps it with a
// back-off after its attempts.
func TestDeliver(t *testing.T) {
	t.Parallel()
	b := &box{mails: []string{"one", "bad", "three"}}
	s := New(b, Config{Now: func() time.Time { return t0 }, Logger: slog.New(slog.DiscardHandler)})
	ctx := context.Background()
	if !s.Deliver(ctx, "c") {
		t.Fatal("Deliver: no next mail due")
	}
	if s.Deliver(ctx, "c") {
		t.Fatal("a failed mail went on to the next")
	}
	if len(b.mails) != 2 || b.next != t0.Add(time.Minute) || b.settled[1] == nil {
		t.Errorf("after the failure: mails %v, next %v, settled %v", b.mails, b.next, b.settled)
	}
	if sent, failed := s.Counters(); sent != 1 || failed != 1 {
		t.Errorf("Counters = %d, %d", sent, failed)
	}
}

// Every kind the outbox writes has a subject naming the client and a body
// greeting the contact; other kinds are not written.
func TestText(t *testing.T) {
	t.Parallel()
	f := Facts{PublicURL: "https://lms.example", ID: "site", ContactName: "Ann", Password: "pw-123", CallbackURL: "https://site.example/cb", WebhookURL: "https://hook.example/"}
	for _, kind := range []string{KindRegistration, KindNotifyDisabled, KindSyncTooLarge, KindWebhookDisabled} {
		subject, body, ok := Text(kind, f)
		if !ok || !strings.Contains(subject, `"site"`) || !strings.HasPrefix(body, "Hello Ann,\n\n") || !strings.Contains(body, "https://lms.example/") {
			t.Errorf("%s: %v %q\n%s", kind, ok, subject, body)
		}
	}
	if _, body, _ := Text(KindRegistration, f); !strings.Contains(body, "Password:      pw-123\n") {
		t.Errorf("registration without the password:\n%s", body)
	}
	if _, _, ok := Text(KindDigest, f); ok {
		t.Error("Text wrote a digest")
	}
}
