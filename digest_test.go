package lms_test

import (
	"context"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/boltstore"
	"github.com/linkmonitor/lms/mailer"
	"github.com/linkmonitor/lms/memstore"
)

// The digests (issue 22), end to end: an Engine with an injected clock
// makes them, owes them in the outbox, and sends them through the SMTP
// mailer (go-mail) to an in-process SMTP server on loopback, where the
// tests read the mails' text and HTML parts.

// inbox is an in-process SMTP server (emersion/go-smtp) that keeps what it
// receives.
type inbox struct {
	mu    sync.Mutex
	mails []gotMail
}

// gotMail is one received mail, its MIME parts decoded.
type gotMail struct {
	To            []string
	Subject       string
	ContentType   string // of the whole mail
	Text, HTML    string
	PartsInOrder  []string // the parts' media types
	RawHeaderFrom string
}

type inboxSession struct {
	b  *inbox
	to []string
}

func (b *inbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &inboxSession{b: b}, nil }
func (s *inboxSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *inboxSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *inboxSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := parseMail(string(raw))
	if err != nil {
		return err
	}
	m.To = s.to
	s.b.mu.Lock()
	s.b.mails = append(s.b.mails, m)
	s.b.mu.Unlock()
	s.to = nil
	return nil
}
func (s *inboxSession) Reset()        { s.to = nil }
func (s *inboxSession) Logout() error { return nil }

// parseMail reads a mail's subject and its text and HTML parts.
func parseMail(raw string) (gotMail, error) {
	raw = strings.ReplaceAll(raw, "\r\n", "\n")
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		return gotMail{}, err
	}
	var m gotMail
	if m.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return m, err
	}
	m.RawHeaderFrom = msg.Header.Get("From")
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return m, err
	}
	m.ContentType = mt
	if !strings.HasPrefix(mt, "multipart/") {
		b, err := io.ReadAll(msg.Body)
		m.Text = string(b)
		return m, err
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			return m, nil
		}
		if err != nil {
			return m, err
		}
		var body io.Reader = p
		if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
			body = base64.NewDecoder(base64.StdEncoding, p)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			return m, err
		}
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		m.PartsInOrder = append(m.PartsInOrder, pt)
		switch pt {
		case "text/plain":
			m.Text = string(b)
		case "text/html":
			m.HTML = string(b)
		}
	}
}

// digests returns the digest mails received so far.
func (b *inbox) digests() []gotMail {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []gotMail
	for _, m := range b.mails {
		if strings.HasPrefix(m.Subject, "Links of") {
			out = append(out, m)
		}
	}
	return out
}

// startInbox starts the SMTP server on loopback and returns it with a
// mailer that sends to it.
func startInbox(t *testing.T) (*inbox, *mailer.SMTP) {
	t.Helper()
	b := &inbox{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := smtp.NewServer(b)
	srv.Domain = "localhost"
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	a := l.Addr().(*net.TCPAddr)
	return b, &mailer.SMTP{Host: a.IP.String(), Port: a.Port, TLS: mailer.NoTLS, From: mail.Address{Name: "LMS", Address: "lms@lms.example"}, Timeout: 5 * time.Second}
}

// gate is a Mailer that fails while down is set.
type gate struct {
	down     atomic.Bool
	attempts atomic.Int64
	m        lms.Mailer
}

func (g *gate) Send(ctx context.Context, m lms.Message) error {
	g.attempts.Add(1)
	if g.down.Load() {
		return io.ErrUnexpectedEOF
	}
	return g.m.Send(ctx, m)
}

// t0 of the digest tests; the engine's clock is set relative to it.
var digestT0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// digestWorld is an engine running the notifier's components (mailer and
// digests among them) over a store, on a clock the test moves.
type digestWorld struct {
	t     *testing.T
	st    lms.Store
	e     *lms.Engine
	clock *atomic.Int64
	stop  func()
}

func newDigestWorld(t *testing.T, st lms.Store, m lms.Mailer, clock *atomic.Int64) *digestWorld {
	t.Helper()
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	e, err := lms.New(st, lms.Config{AdminSecret: adminSecret, Components: lms.RunNotifier, Mailer: m, Now: now, PublicURL: "https://lms.example",
		MailPoll: 10 * time.Millisecond, DigestPoll: 10 * time.Millisecond,
		Notifier: lms.NotifierFunc(func(context.Context, lms.Endpoint, []lms.Update) error { return nil })})
	require.NoError(t, err)
	return &digestWorld{t: t, st: st, e: e, clock: clock, stop: runEngine(t, e)}
}

// at sets the clock to digestT0+d.
func (w *digestWorld) at(d time.Duration) { w.clock.Store(digestT0.Add(d).UnixNano()) }

// record writes check results checked at digestT0+d, as the pool would.
func (w *digestWorld) record(d time.Duration, st lms.State, reason string, urls ...string) {
	w.t.Helper()
	var recs []lms.Outcome
	for _, u := range urls {
		recs = append(recs, lms.Outcome{URL: u, Result: lms.Result{State: st, Reason: reason}, Checked: digestT0.Add(d), NextDue: digestT0.Add(30 * 24 * time.Hour)})
	}
	require.NoError(w.t, w.st.RecordResults(context.Background(), recs))
}

func (w *digestWorld) client(id string) lms.Client {
	w.t.Helper()
	c, err := w.e.Client(context.Background(), id)
	require.NoError(w.t, err)
	return c
}

// awaitCovered waits until the client's digest window has moved to
// digestT0+d, and its outbox is empty (what was owed was delivered).
func (w *digestWorld) awaitCovered(id string, d time.Duration) {
	w.t.Helper()
	waitFor(w.t, 10*time.Second, "the digest window to move and the outbox to empty", func() bool {
		c := w.client(id)
		return c.DigestCovered.Equal(digestT0.Add(d)) && len(c.Outbox) == 0
	})
}

const (
	day   = 24 * time.Hour
	lease = 10 * time.Minute // Config.Lease's default: a window ends this long before now
)

const (
	urlA = "https://a.example/gone"      // on "about" (owned by ed@…)
	urlB = "https://b.example/"          // on "about" and "home", always fine
	urlC = "https://c.example/moved"     // on "home" (owned by an id, no mail)
	urlD = "https://d.example/plain"     // a plain registration, on no page
	urlE = "https://e.example/dismissed" // plain, ignored by the client
)

// setUpSite registers client "site" with a daily digest, two pages and
// two plain links, one of them ignored.
func setUpSite(t *testing.T, e *lms.Engine) {
	t.Helper()
	ctx := context.Background()
	a, err := e.Admin(adminSecret)
	require.NoError(t, err)
	_, err = a.RegisterClient(ctx, lms.Registration{ID: "site", ContactName: "Jane", ContactEmail: "jane@site.example", CallbackOptional: true, Digest: lms.DigestDaily})
	require.NoError(t, err)
	_, _, err = e.PutSource(ctx, "site", lms.Source{SourceRef: lms.SourceRef{ID: "about", Title: "About <us>", EditURL: "https://cms.site.example/about/edit", Owner: "Ed Itor <ed@site.example>"}, Links: []string{urlA, urlB}})
	require.NoError(t, err)
	_, _, err = e.PutSource(ctx, "site", lms.Source{SourceRef: lms.SourceRef{ID: "home", Title: "Home", EditURL: "javascript:alert(1)", Owner: "jdoe"}, Links: []string{urlB, urlC}})
	require.NoError(t, err)
	_, err = e.RegisterLinks(ctx, "site", []string{urlD, urlE})
	require.NoError(t, err)
	n, err := e.Ignore(ctx, "site", []string{urlE}, false)
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

// TestDigests: what broke and recovered since the last digest, how many
// are still broken, grouped by page with its edit link, the links of no
// page last, the ignored link left out, the text and the HTML part; the
// owner's digest with only their page; no mail when nothing changed; a
// weekly client's digest a week after its start, not daily.
func TestDigests(t *testing.T) {
	t.Parallel()
	box, smtpMailer := startInbox(t)
	var clock atomic.Int64
	clock.Store(digestT0.UnixNano())
	w := newDigestWorld(t, memstore.New(), smtpMailer, &clock)
	setUpSite(t, w.e)
	a, err := w.e.Admin(adminSecret)
	require.NoError(t, err)
	ctx := context.Background()
	_, err = a.RegisterClient(ctx, lms.Registration{ID: "weekly-site", ContactEmail: "web@weekly.example", CallbackOptional: true, Digest: lms.DigestWeekly})
	require.NoError(t, err)
	_, err = w.e.RegisterLinks(ctx, "weekly-site", []string{urlA})
	require.NoError(t, err)

	// Day 1: a, c and d break (and e, ignored); b works.
	w.record(time.Hour, lms.StateUnavailable, "The page was not found (404).", urlA)
	w.record(time.Hour, lms.StateUnavailable, "The server's name does not exist.", urlC, urlE)
	w.record(time.Hour, lms.StateUnavailable, "The server refused the connection.", urlD)
	w.record(time.Hour, lms.StateOK, "ok", urlB)
	w.at(day + lease + time.Second)
	w.awaitCovered("site", day+time.Second)
	got := box.digests()
	require.Len(t, got, 2, "the client's digest and the owner's")
	site, owner := got[0], got[1]
	if site.To[0] != "jane@site.example" {
		site, owner = owner, site
	}
	require.Equal(t, []string{"jane@site.example"}, site.To)
	require.Equal(t, `Links of "site": 3 links broke, 0 recovered, 0 still broken`, site.Subject)
	require.Equal(t, "multipart/alternative", site.ContentType)
	require.Equal(t, []string{"text/plain", "text/html"}, site.PartsInOrder, "the text first, the HTML preferred")
	txt := site.Text
	for _, want := range []string{"Hello Jane,", "== About <us> ==\nEdit: https://cms.site.example/about/edit\nBroke:\n  " + urlA + "\n    The page was not found (404).\n",
		"== Home ==\nBroke:\n  " + urlC + "\n    The server's name does not exist.\n", "== Links on no page ==\nBroke:\n  " + urlD,
		"The full report: https://lms.example/report/", "You receive this digest daily."} {
		require.Contains(t, txt, want)
	}
	require.Less(t, strings.Index(txt, "About <us>"), strings.Index(txt, "== Home"), "pages by title")
	require.Less(t, strings.Index(txt, "== Home"), strings.Index(txt, "Links on no page"), "the links of no page last")
	require.NotContains(t, txt, urlE, "the ignored link is left out")
	require.NotContains(t, txt, urlB, "a link that works is not news")
	require.NotContains(t, txt, "javascript:", "an edit URL that is not http(s) is not shown")
	html := site.HTML
	require.Contains(t, html, `<a href="https://cms.site.example/about/edit">About &lt;us&gt;</a>`)
	require.Contains(t, html, `<a href="`+urlA+`">`+urlA+`</a><br>The page was not found (404).`)
	require.Contains(t, html, `<a href="https://lms.example/report/">The full report</a>`)
	require.NotContains(t, html, urlE)
	require.NotContains(t, html, "javascript:")
	require.NotContains(t, html, "<us>", "values are escaped")

	require.Equal(t, []string{"ed@site.example"}, owner.To)
	require.Equal(t, `Links of your pages on "site": 1 link broke, 0 recovered, 0 still broken`, owner.Subject)
	require.Contains(t, owner.Text, "Hello,\n")
	require.Contains(t, owner.Text, "== About <us> ==")
	require.Contains(t, owner.Text, urlA)
	for _, not := range []string{urlC, urlD, urlE, "Home", "no page"} {
		require.NotContains(t, owner.Text, not, "only the owner's pages")
		require.NotContains(t, owner.HTML, not, "only the owner's pages")
	}
	require.True(t, w.client("weekly-site").DigestCovered.Equal(digestT0), "no weekly digest after a day")

	// Day 2: c recovers; a and d are still broken. The owner's page has
	// nothing new: no owner mail.
	w.record(day+2*time.Hour, lms.StateOK, "ok", urlC)
	w.at(2*day + lease + time.Second)
	w.awaitCovered("site", 2*day+time.Second)
	got = box.digests()
	require.Len(t, got, 3, "one more digest, for the contact only")
	d2 := got[2]
	require.Equal(t, []string{"jane@site.example"}, d2.To)
	require.Equal(t, `Links of "site": 0 links broke, 1 recovered, 2 still broken`, d2.Subject)
	require.Contains(t, d2.Text, "== About <us> ==\nEdit: https://cms.site.example/about/edit\nStill broken: 1\n")
	require.Contains(t, d2.Text, "== Home ==\nRecovered:\n  "+urlC+"\n")
	require.Contains(t, d2.Text, "== Links on no page ==\nStill broken: 1\n")
	require.NotContains(t, d2.Text, "Broke:")

	// Day 3: nothing changed: the window moves, no mail.
	w.at(3*day + lease + time.Second)
	w.awaitCovered("site", 3*day+time.Second)
	require.Len(t, box.digests(), 3, "nothing to say, no mail")
	require.True(t, w.client("weekly-site").DigestCovered.Equal(digestT0), "the weekly digest is not due yet")

	// Day 7: the weekly client's first digest; the daily client's covers
	// days 3 to 7 and has nothing to say.
	w.at(7*day + lease + time.Second)
	w.awaitCovered("weekly-site", 7*day+time.Second)
	w.awaitCovered("site", 7*day+time.Second)
	got = box.digests()
	require.Len(t, got, 4)
	require.Equal(t, []string{"web@weekly.example"}, got[3].To)
	require.Equal(t, `Links of "weekly-site": 1 link broke, 0 recovered, 0 still broken`, got[3].Subject)
	require.Contains(t, got[3].Text, "You receive this digest weekly.")
}

// TestDigestExactlyOnce: a digest is owed once, with the window's end, and
// each of its mails is delivered exactly once: after failed sends in the
// same process, and after a restart of the process on the same bolt file
// while the mails were still owed.
func TestDigestExactlyOnce(t *testing.T) {
	t.Parallel()
	box, smtpMailer := startInbox(t)
	g := &gate{m: smtpMailer}
	path := filepath.Join(t.TempDir(), "lms.db")
	st, err := boltstore.Open(path, boltstore.Options{})
	require.NoError(t, err)
	var clock atomic.Int64
	clock.Store(digestT0.UnixNano())
	w := newDigestWorld(t, st, g, &clock)
	setUpSite(t, w.e)
	waitFor(t, 10*time.Second, "the registration mail", func() bool { return len(w.client("site").Outbox) == 0 })

	// Day 1, the mail server down: the digest is owed, its sends fail.
	g.down.Store(true)
	w.record(time.Hour, lms.StateUnavailable, "The page was not found (404).", urlA)
	w.at(day + lease + time.Second)
	waitFor(t, 10*time.Second, "a failed send of the owed digest", func() bool {
		c := w.client("site")
		return len(c.Outbox) == 2 && c.Outbox[0].Kind == lms.MailDigest && c.Outbox[0].Attempts > 0
	})
	require.True(t, w.client("site").DigestCovered.Equal(digestT0.Add(day+time.Second)), "owed with the window's end")
	require.Empty(t, box.digests())
	g.down.Store(false)
	w.at(day + lease + time.Hour) // past the back-off
	w.awaitCovered("site", day+time.Second)
	require.Len(t, box.digests(), 2, "the contact's and the owner's digest, once each")

	// Day 2, the server down again, then the process stops while the
	// digest is owed.
	g.down.Store(true)
	w.record(day+time.Hour, lms.StateOK, "ok", urlA)
	w.at(2*day + lease + time.Second)
	waitFor(t, 10*time.Second, "a failed send of the second digest", func() bool {
		c := w.client("site")
		return len(c.Outbox) == 2 && c.Outbox[0].Attempts > 0
	})
	w.stop()
	require.NoError(t, st.Close())

	st, err = boltstore.Open(path, boltstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	g.down.Store(false)
	clock.Store(digestT0.Add(2*day + lease + time.Hour).UnixNano())
	w = newDigestWorld(t, st, g, &clock)
	w.awaitCovered("site", 2*day+time.Second)
	got := box.digests()
	require.Len(t, got, 4, "each mail of each digest once")
	for _, m := range got[2:] {
		require.Contains(t, m.Subject, "0 links broke, 1 recovered, 0 still broken")
	}

	// Day 3 with nothing new: the window moves, and nothing is sent again.
	w.at(3*day + lease + time.Second)
	w.awaitCovered("site", 3*day+time.Second)
	require.Len(t, box.digests(), 4)
}

// digestRecorder is a Mailer that keeps what it is given.
type digestRecorder struct {
	mu   sync.Mutex
	sent []lms.Message
}

func (r *digestRecorder) Send(_ context.Context, m lms.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, m)
	return nil
}

// digestSubjects returns the subjects of the digests sent so far.
func (r *digestRecorder) digestSubjects() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.sent {
		if strings.HasPrefix(m.Subject, "Links of") {
			out = append(out, m.Subject)
		}
	}
	return out
}

// TestDigestLoopTiming, on virtual time (testing/synctest, the engine's
// default clock): a daily digest is made once its day and Config.Lease
// have passed, not a poll earlier, and the next a day later; a weekly one
// a week after the client's start; switching the digest off and on again
// starts a new window then.
func TestDigestLoopTiming(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		m := &digestRecorder{}
		st := memstore.New()
		e, err := lms.New(st, lms.Config{AdminSecret: adminSecret, Components: lms.RunNotifier, Mailer: m,
			MailPoll: time.Minute, NotifyPoll: time.Hour, SyncPoll: time.Hour,
			Notifier: lms.NotifierFunc(func(context.Context, lms.Endpoint, []lms.Update) error { return nil })})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- e.Run(ctx) }()
		defer func() { cancel(); <-done }() // also when a require fails
		a, err := e.Admin(adminSecret)
		require.NoError(t, err)
		start := time.Now()
		for _, c := range []struct {
			id   string
			mode lms.DigestMode
		}{{"daily", lms.DigestDaily}, {"weekly", lms.DigestWeekly}} {
			_, err = a.RegisterClient(ctx, lms.Registration{ID: c.id, ContactEmail: "web@" + c.id + ".example", CallbackOptional: true, Digest: c.mode})
			require.NoError(t, err)
			_, err = e.RegisterLinks(ctx, c.id, []string{"https://gone.example/" + c.id})
			require.NoError(t, err)
		}
		break1 := func(url string) {
			now := time.Now()
			require.NoError(t, st.RecordResults(ctx, []lms.Outcome{{URL: url, Result: lms.Result{State: lms.StateUnavailable, Reason: "The page was not found (404)."}, Checked: now, NextDue: now.Add(30 * 24 * time.Hour)}}))
		}
		const poll = time.Minute // Config.DigestPoll's default
		// The timeline from the start; each step runs once the engine has
		// done what was due by its time.
		steps := []struct {
			at   time.Duration
			what string
			do   func()
		}{
			// A change at the window's start instant belongs to the window before.
			{time.Second, "the first changes", func() {
				break1("https://gone.example/daily")
				break1("https://gone.example/weekly")
			}},
			{day + lease - poll - time.Second, "a poll before a day and the lease", func() {
				require.Empty(t, m.digestSubjects(), "not before a day and the lease")
			}},
			{day + lease + poll - time.Second, "a poll after a day and the lease", func() {
				require.Equal(t, []string{`Links of "daily": 1 link broke, 0 recovered, 0 still broken`}, m.digestSubjects())
				// A second change, in the second day: its digest a day later.
				break1("https://gone.example/none") // unknown URL: skipped by the store
				_, err := e.RegisterLinks(ctx, "daily", []string{"https://gone.example/second"})
				require.NoError(t, err)
				break1("https://gone.example/second")
			}},
			{2*day + lease - poll - time.Second, "a poll before the second day ends", func() {
				require.Len(t, m.digestSubjects(), 1, "the second digest is not due yet")
			}},
			{2*day + lease + poll - time.Second, "a poll after the second day", func() {
				require.Equal(t, `Links of "daily": 1 link broke, 0 recovered, 1 still broken`, m.digestSubjects()[1])
				// Off and on again (next step): the window starts when it is switched on.
				off := lms.DigestOff
				_, err := e.ChangeClient(ctx, "daily", lms.ClientChange{Digest: &off})
				require.NoError(t, err)
			}},
			{3*day + lease + poll - time.Second, "a day later, switched on again", func() {
				daily := lms.DigestDaily
				_, err := e.ChangeClient(ctx, "daily", lms.ClientChange{Digest: &daily})
				require.NoError(t, err)
				c, err := e.Client(ctx, "daily")
				require.NoError(t, err)
				require.True(t, c.DigestCovered.Equal(time.Now()), "switched on: the window starts now")
				bad := lms.DigestMode("hourly")
				_, err = e.ChangeClient(ctx, "daily", lms.ClientChange{Digest: &bad})
				require.ErrorIs(t, err, lms.ErrInvalid)
			}},
			{7*day + lease + poll, "a poll after a week and the lease", func() {
				// The weekly client: one digest, a week after its start.
				var weekly []string
				for _, s := range m.digestSubjects() {
					if strings.Contains(s, `"weekly"`) {
						weekly = append(weekly, s)
					}
				}
				require.Equal(t, []string{`Links of "weekly": 1 link broke, 0 recovered, 0 still broken`}, weekly)
			}},
		}
		for _, step := range steps {
			time.Sleep(time.Until(start.Add(step.at)))
			synctest.Wait()
			t.Log(step.what)
			step.do()
		}
	})
}
