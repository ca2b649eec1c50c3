package mailer_test

import (
	"context"
	"io"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/mailer"
)

// inbox is an in-process SMTP server that keeps what it receives.
type inbox struct {
	mu    sync.Mutex
	mails []received
	user  string // required AUTH PLAIN user, if set
	pass  string
}

type received struct {
	from string
	to   []string
	data string
	auth string
}

type session struct {
	b    *inbox
	cur  received
	auth string
}

func (b *inbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{b: b}, nil }

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != s.b.user || pass != s.b.pass {
			return smtp.ErrAuthFailed
		}
		s.auth = user
		return nil
	}), nil
}
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.b.user != "" && s.auth == "" {
		return smtp.ErrAuthRequired
	}
	s.cur.from = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.to = append(s.cur.to, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data, s.cur.auth = string(b), s.auth
	s.b.mu.Lock()
	s.b.mails = append(s.b.mails, s.cur)
	s.b.mu.Unlock()
	s.cur = received{}
	return nil
}
func (s *session) Reset()        { s.cur = received{} }
func (s *session) Logout() error { return nil }

func startSMTP(t *testing.T, b *inbox) (string, int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := smtp.NewServer(b)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	a := l.Addr().(*net.TCPAddr)
	return a.IP.String(), a.Port
}

func message() lms.Message {
	return lms.Message{
		To:      []mail.Address{{Name: "Jane Doe", Address: "jane@site.example"}},
		Cc:      []mail.Address{{Address: "ops@lms.example"}, {Address: "audit@lms.example"}},
		Subject: `Registration of client id "site"`,
		Body:    "Client id: site\nPassword: s3cr3t-ÄÖÜ\n",
	}
}

func TestSMTP(t *testing.T) {
	b := &inbox{}
	host, port := startSMTP(t, b)
	m := &mailer.SMTP{Host: host, Port: port, TLS: mailer.NoTLS, From: mail.Address{Name: "LMS", Address: "lms@lms.example"}, Timeout: 5 * time.Second}
	require.NoError(t, m.Send(context.Background(), message()))
	require.Len(t, b.mails, 1)
	got := b.mails[0]
	require.Equal(t, "lms@lms.example", got.from)
	require.ElementsMatch(t, []string{"jane@site.example", "ops@lms.example", "audit@lms.example"}, got.to)
	require.Contains(t, got.data, `Subject: Registration of client id "site"`)
	require.Contains(t, got.data, `To: "Jane Doe" <jane@site.example>`)
	require.Contains(t, got.data, "Cc: <ops@lms.example>, <audit@lms.example>")
	require.Contains(t, got.data, "Message-ID:")

	// TLS mandatory against a server without STARTTLS fails cleanly.
	strict := *m
	strict.TLS = mailer.TLSMandatory
	require.Error(t, strict.Send(context.Background(), message()))
	require.Len(t, b.mails, 1)
}

func TestSMTPAuth(t *testing.T) {
	b := &inbox{user: "lms", pass: "relay-pw"}
	host, port := startSMTP(t, b)
	m := &mailer.SMTP{Host: host, Port: port, TLS: mailer.NoTLS, From: mail.Address{Address: "lms@lms.example"}, Username: "lms", Password: "relay-pw"}
	err := m.Send(context.Background(), message())
	if err != nil && strings.Contains(err.Error(), "unencrypted") {
		t.Skip("go-mail refuses PLAIN auth without TLS: " + err.Error())
	}
	require.NoError(t, err)
	require.Equal(t, "lms", b.mails[0].auth)
	m.Password = "wrong"
	require.Error(t, m.Send(context.Background(), message()))
}

func TestDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mail")
	d := &mailer.Dir{Path: dir, From: mail.Address{Address: "lms@lms.example"}}
	require.NoError(t, d.Send(context.Background(), message()))
	files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	fi, err := os.Stat(files[0])
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "mails carry passwords")
	f, err := os.Open(files[0])
	require.NoError(t, err)
	defer f.Close()
	msg, err := mail.ReadMessage(f)
	require.NoError(t, err)
	require.Equal(t, `Registration of client id "site"`, msg.Header.Get("Subject"))
	to, err := msg.Header.AddressList("To")
	require.NoError(t, err)
	require.Equal(t, "jane@site.example", to[0].Address)
	require.NotEmpty(t, msg.Header.Get("Date"))
	require.Error(t, d.Send(context.Background(), lms.Message{Subject: "nobody"}), "a mail without recipient is refused")
}

func TestParseList(t *testing.T) {
	as, err := mailer.ParseList("a@x.example b@y.example,c@z.example")
	require.NoError(t, err)
	require.Len(t, as, 3)
	_, err = mailer.ParseList("a@x.example nope")
	require.Error(t, err)
}

// TestSMTPAlternative: a message with HTML goes as multipart/alternative,
// the text part first (the least preferred), then the HTML.
func TestSMTPAlternative(t *testing.T) {
	b := &inbox{}
	host, port := startSMTP(t, b)
	m := &mailer.SMTP{Host: host, Port: port, TLS: mailer.NoTLS, From: mail.Address{Address: "lms@lms.example"}, Timeout: 5 * time.Second}
	msg := message()
	msg.HTML = "<p>Client id: <b>site</b></p>"
	require.NoError(t, m.Send(context.Background(), msg))
	require.Len(t, b.mails, 1)
	data := b.mails[0].data
	require.Contains(t, data, "Content-Type: multipart/alternative")
	plain, html := strings.Index(data, "Content-Type: text/plain"), strings.Index(data, "Content-Type: text/html")
	require.True(t, plain > 0 && html > plain, "text/plain before text/html:\n%s", data)
	require.Contains(t, data, "<p>Client id: <b>site</b></p>")

	// Without HTML: a single text/plain part, as before.
	require.NoError(t, m.Send(context.Background(), message()))
	require.NotContains(t, b.mails[1].data, "multipart/")
	require.NotContains(t, b.mails[1].data, "text/html")
}
