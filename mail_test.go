package lms_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/boltstore"
	"github.com/linkmonitor/lms/memstore"
)

// flakyMailer fails while down is set and records what it delivered.
type flakyMailer struct {
	down     atomic.Bool
	attempts atomic.Int64
	mu       sync.Mutex
	sent     []lms.Message
}

func (m *flakyMailer) Send(_ context.Context, msg lms.Message) error {
	m.attempts.Add(1)
	if m.down.Load() {
		return errors.New("smtp: connection refused")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, msg)
	return nil
}

func (m *flakyMailer) delivered() []lms.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]lms.Message(nil), m.sent...)
}

func (m *flakyMailer) subjects() []string {
	var out []string
	for _, x := range m.delivered() {
		out = append(out, x.Subject)
	}
	return out
}

func mailConfig(m lms.Mailer, now func() time.Time) lms.Config {
	return lms.Config{AdminSecret: adminSecret, Components: lms.RunNotifier, Mailer: m, MailPoll: 10 * time.Millisecond, Now: now,
		Notifier: lms.NotifierFunc(func(context.Context, lms.Endpoint, []lms.Update) error { return nil })}
}

// registerClient answers only once the registration mail is recorded: with
// the mail server down the password waits in the outbox, sealed, and
// reaches the contact once the server is back, also after a restart.
func TestRegistrationMailSurvivesAFailingMailerAndARestart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lms.db")
	st, err := boltstore.Open(path, boltstore.Options{})
	require.NoError(t, err)
	m := &flakyMailer{}
	m.down.Store(true)
	var clock atomic.Int64
	clock.Store(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	e, err := lms.New(st, mailConfig(m, now))
	require.NoError(t, err)
	pw, err := e.RegisterClient(context.Background(), adminSecret, lms.Registration{ID: "site", ContactName: "Jane", ContactEmail: "jane@site.example", CallbackURL: "http://site.example/db"})
	require.NoError(t, err, "the registration succeeds although the mail could not be sent yet")
	require.Positive(t, m.attempts.Load(), "delivery was tried at once")
	c, err := e.Client(context.Background(), "site")
	require.NoError(t, err)
	require.Len(t, c.Outbox, 1)
	require.Equal(t, lms.MailRegistration, c.Outbox[0].Kind)
	require.NotEmpty(t, c.Outbox[0].LastError)
	require.NoError(t, st.Close())
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NotContains(t, string(raw), pw, "the password is never stored in plain text")

	// A new process on the same file, the mail server back.
	st, err = boltstore.Open(path, boltstore.Options{})
	require.NoError(t, err)
	defer st.Close()
	m.down.Store(false)
	cs := newCountingStore(st) // the mailer runs ListClients once per round (the digester once a minute)
	e, err = lms.New(cs, mailConfig(m, now))
	require.NoError(t, err)
	runEngine(t, e)
	cs.awaitCalls(t, "ListClients", 3)
	require.Empty(t, m.delivered(), "no retry before the back-off")
	clock.Add(int64(2 * time.Minute))
	waitFor(t, 5*time.Second, "the mail", func() bool { return len(m.delivered()) == 1 })
	got := m.delivered()[0]
	require.Equal(t, `Registration of client id "site"`, got.Subject)
	require.Contains(t, got.Body, pw)
	waitFor(t, 5*time.Second, "the outbox emptied", func() bool {
		c, err := e.Client(context.Background(), "site")
		return err == nil && len(c.Outbox) == 0
	})
	cs.awaitCalls(t, "ListClients", 3)
	require.Len(t, m.delivered(), 1, "delivered once")
}

// A lost password mail is replaced by a new password; the old one stops
// working at once.
func TestNewPasswordIsMailed(t *testing.T) {
	t.Parallel()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "lms.db"), boltstore.Options{})
	require.NoError(t, err)
	defer st.Close()
	m := &flakyMailer{}
	e, err := lms.New(st, mailConfig(m, nil))
	require.NoError(t, err)
	ctx := context.Background()
	old, err := e.RegisterClient(ctx, adminSecret, lms.Registration{ID: "site", ContactName: "Jane", ContactEmail: "jane@site.example", CallbackURL: "http://site.example/db"})
	require.NoError(t, err)
	require.Len(t, m.delivered(), 1)
	require.NoError(t, e.Authenticate(ctx, "site", old))

	require.ErrorIs(t, e.NewPassword(ctx, "wrong secret", "site"), lms.ErrUnauthorized)
	require.NoError(t, e.NewPassword(ctx, adminSecret, "site"))
	require.Len(t, m.delivered(), 2)
	body := m.delivered()[1].Body
	require.NotContains(t, body, old)
	_, after, ok := strings.Cut(body, "Password:")
	require.True(t, ok)
	fresh := strings.Fields(after)[0]
	require.ErrorIs(t, e.Authenticate(ctx, "site", old), lms.ErrUnauthorized)
	require.NoError(t, e.Authenticate(ctx, "site", fresh))
	c, err := e.Client(ctx, "site")
	require.NoError(t, err)
	require.Empty(t, c.Outbox)
}

// slowMailer holds every Send until release is closed and counts them;
// each Send pokes sent.
type slowMailer struct {
	release chan struct{}
	sends   atomic.Int64
	sent    chan struct{}
}

func (m *slowMailer) Send(ctx context.Context, _ lms.Message) error {
	m.sends.Add(1)
	select {
	case m.sent <- struct{}{}:
	default:
	}
	select {
	case <-m.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestRegistrationMailSentOnce: while registerClient's own attempt is still
// sending the mail, the outbox loop of the same process (woken by the new
// mail and by its poll) does not send it a second time.
func TestRegistrationMailSentOnce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		m := &slowMailer{release: make(chan struct{}), sent: make(chan struct{}, 1)}
		// The outbox loop lists the clients at the start of each round (the
		// digester once a minute): five calls, at least three rounds.
		cs := newCountingStore(memstore.New())
		e, err := lms.New(cs, mailConfig(m, nil))
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- e.Run(ctx) }()
		var once sync.Once
		release := func() { once.Do(func() { close(m.release) }) }
		defer func() { release(); cancel() }() // nothing left blocked when an assertion fails
		registered := make(chan error, 1)
		go func() {
			_, err := e.RegisterClient(context.Background(), adminSecret, lms.Registration{ID: "site", ContactName: "Jane", ContactEmail: "jane@site.example", CallbackURL: "http://site.example/db"})
			registered <- err
		}()
		<-m.sent // the mail is being sent (by registerClient or the outbox loop)
		// A second send would hold the outbox loop: it comes before the
		// rounds, or never.
		awaitRounds := func(what string) {
			cs.awaitCallsOr(t, "ListClients", 5, m.sent)
			synctest.Wait()
			require.Equal(t, int64(1), m.sends.Load(), what)
		}
		awaitRounds("the mail is being sent once")
		release()
		require.NoError(t, <-registered)
		awaitRounds("sent once in all")
		c, err := e.Client(context.Background(), "site")
		require.NoError(t, err)
		require.Empty(t, c.Outbox, "the delivered mail left the outbox")
		cancel()
		require.NoError(t, <-done)
	})
}
