package webui

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/testkit"
	"github.com/linkmonitor/lms/memstore"
)

const secret = "the-admin-secret"

func newEngine(t *testing.T) (*lms.Engine, *testkit.SnapshotStore) {
	t.Helper()
	st := &testkit.SnapshotStore{Store: memstore.New()}
	e, err := lms.New(st, lms.Config{AdminSecret: secret, Components: lms.RunChecker,
		Mailer: lms.MailerFunc(func(context.Context, lms.Message) error { return nil })})
	if err != nil {
		t.Fatal(err)
	}
	return e, st
}

func get(t *testing.T, h http.Handler, target string, auth bool, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("GET", target, nil)
	if auth {
		req.SetBasicAuth("admin", secret)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// The public pages compute one snapshot per TTL, however many views, and
// it starts no goroutine (synctest.Test fails on one left running).
func TestPublicPagesServeACachedSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, st := newEngine(t)
		ui, err := New(e, Config{AdminSecret: secret})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for _, step := range []struct {
			at    time.Duration // after the first view
			views int           // of each public page
			want  int64         // snapshots computed so far
		}{
			{0, 10, 1},
			{DefaultStatsTTL - time.Millisecond, 1, 1}, // within the TTL
			{DefaultStatsTTL, 1, 2},                    // the TTL is over
		} {
			time.Sleep(time.Until(start.Add(step.at)))
			for range step.views {
				for _, p := range []string{"/", "/alerts"} {
					if rec := get(t, ui, p, false); rec.Code != 200 {
						t.Fatalf("GET %s: %d", p, rec.Code)
					}
				}
			}
			if n := st.DueCounts.Load(); n != step.want {
				t.Fatalf("%d views each at %v: %d snapshots in all, want %d", step.views, step.at, n, step.want)
			}
		}
	})
}

func TestPublicPagesNameNoClient(t *testing.T) {
	e, _ := newEngine(t)
	ctx := context.Background()
	for _, id := range []string{"acme-intranet", "secret-project"} {
		if _, err := e.RegisterClient(ctx, secret, lms.Registration{ID: id, ContactEmail: id + "@example.org", CallbackURL: "http://" + id + ".example/db"}); err != nil {
			t.Fatal(err)
		}
	}
	ui, err := New(e, Config{AdminSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	home := get(t, ui, "/", false).Body.String()
	if !strings.Contains(home, `<div class="num">2</div><div>client sites</div>`) {
		t.Errorf("home page does not count the 2 clients:\n%s", home)
	}
	for _, p := range []string{"/", "/alerts"} {
		body := get(t, ui, p, false).Body.String()
		for _, s := range []string{"acme", "secret-project", "example.org"} {
			if strings.Contains(body, s) {
				t.Errorf("GET %s shows %q", p, s)
			}
		}
	}
	if admin := get(t, ui, "/admin", true).Body.String(); !strings.Contains(admin, "acme-intranet") {
		t.Errorf("the admin page does not list the clients")
	}
}

func TestStatsCache(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		var fail atomic.Bool
		release := make(chan struct{})
		src := sourceFunc(func(ctx context.Context) (lms.Stats, error) {
			n := calls.Add(1)
			<-release
			if fail.Load() {
				return lms.Stats{}, errors.New("store down")
			}
			return lms.Stats{ChecksTotal: uint64(n)}, nil
		})
		c := NewStatsCache(src, CacheConfig{TTL: time.Second})
		ctx := context.Background()
		start := time.Now()

		// Concurrent callers share one computation.
		var wg sync.WaitGroup
		got := make([]uint64, 5)
		for i := range got {
			wg.Go(func() {
				st, err := c.Stats(ctx)
				if err != nil {
					t.Error(err)
				}
				got[i] = st.ChecksTotal
			})
		}
		synctest.Wait()
		close(release)
		wg.Wait()
		for i, v := range got {
			if v != 1 {
				t.Fatalf("caller %d got snapshot %d, want 1", i, v)
			}
		}
		if n := calls.Load(); n != 1 {
			t.Fatalf("%d computations, want 1", n)
		}

		// A failure is served for one TTL too.
		for _, step := range []struct {
			at   time.Duration
			fail bool   // the source fails
			want uint64 // the snapshot served; 0: an error
			what string
		}{
			{time.Second, true, 0, "a failing source, once the first snapshot's TTL is over"},
			{time.Second, false, 0, "the failure, kept for the TTL"},
			{2 * time.Second, false, 3, "a new snapshot, once the failure's TTL is over"},
		} {
			time.Sleep(time.Until(start.Add(step.at)))
			fail.Store(step.fail)
			st, err := c.Stats(ctx)
			if step.want == 0 && err == nil || step.want != 0 && (err != nil || st.ChecksTotal != step.want) {
				t.Fatalf("at %v: snapshot %d, %v; want %s", step.at, st.ChecksTotal, err, step.what)
			}
		}

		// A caller that gives up is not kept as the snapshot.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		src2 := sourceFunc(func(ctx context.Context) (lms.Stats, error) { return lms.Stats{}, ctx.Err() })
		c2 := NewStatsCache(src2, CacheConfig{})
		if _, err := c2.Stats(cctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled caller: %v", err)
		}
		if c2.at != (time.Time{}) {
			t.Fatal("a cancelled computation was cached")
		}
	})
}

type sourceFunc func(context.Context) (lms.Stats, error)

func (f sourceFunc) Stats(ctx context.Context) (lms.Stats, error) { return f(ctx) }

// addClient submits the add-client form and returns the response.
func addClient(t *testing.T, ui *UI, id, callback string) *httptest.ResponseRecorder {
	t.Helper()
	form := url.Values{"csrf": {ui.csrf}, "id": {id}, "contact_email": {"jane@site.example"}, "callback_url": {callback}}
	req := httptest.NewRequest("POST", "/admin/clients", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("admin", secret)
	rec := httptest.NewRecorder()
	ui.ServeHTTP(rec, req)
	return rec
}

func TestFlashCannotBeCrafted(t *testing.T) {
	e, _ := newEngine(t)
	ui, err := New(e, Config{AdminSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	const evil = "Your session expired: log in again at evil.example"
	for _, target := range []string{"/admin?flash=" + url.QueryEscape(evil), "/admin/clients/x?flash=" + url.QueryEscape(evil)} {
		if body := get(t, ui, target, true).Body.String(); strings.Contains(body, "evil") || strings.Contains(body, `class="flash"`) {
			t.Errorf("GET %s shows a flash from the query", target)
		}
	}

	// The real thing: a signed cookie, shown once.
	rec := addClient(t, ui, "site", "http://site.example/db")
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/admin" {
		t.Fatalf("add client: %d, Location %q", rec.Code, rec.Header().Get("Location"))
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Name != flashCookie || !cookies[0].HttpOnly || cookies[0].Path != "/admin" {
		t.Fatalf("flash cookie: %+v", cookies)
	}
	flash := cookies[0]
	page := get(t, ui, "/admin", true, flash)
	if !strings.Contains(page.Body.String(), `<p class="flash">Client &#34;site&#34; added; the password was mailed to jane@site.example.</p>`) {
		t.Fatalf("the flash is not shown:\n%s", page.Body.String())
	}
	if c := page.Result().Cookies(); len(c) != 1 || c[0].Name != flashCookie || c[0].MaxAge >= 0 {
		t.Fatalf("the shown flash is not cleared: %+v", c)
	}

	// Forged, tampered or expired cookies show nothing.
	payload, _, _ := strings.Cut(flash.Value, ".")
	b64 := base64.RawURLEncoding
	forge := func(p string, mac []byte) *http.Cookie {
		return &http.Cookie{Name: flashCookie, Value: b64.EncodeToString([]byte(p)) + "." + b64.EncodeToString(mac)}
	}
	future := strconv.FormatInt(time.Now().Add(time.Minute).Unix(), 10)
	other := &UI{flashKey: flashKey("another-secret")}
	for name, c := range map[string]*http.Cookie{
		"unsigned":      {Name: flashCookie, Value: b64.EncodeToString([]byte(future + "|" + evil))},
		"other key":     forge(future+"|"+evil, other.flashMAC(future+"|"+evil)),
		"tampered":      {Name: flashCookie, Value: payload + "." + b64.EncodeToString(ui.flashMAC(future+"|"+evil))},
		"expired":       forge("1|"+evil, ui.flashMAC("1|"+evil)),
		"not base64":    {Name: flashCookie, Value: "!!!.!!!"},
		"no signature":  {Name: flashCookie, Value: payload},
		"empty message": forge(future+"|", ui.flashMAC(future+"|")),
	} {
		if body := get(t, ui, "/admin", true, c).Body.String(); strings.Contains(body, `class="flash"`) {
			t.Errorf("%s cookie: a flash is shown", name)
		}
	}
	// The same key and a live expiry: shown (what the forgeries lack).
	if body := get(t, ui, "/admin", true, forge(future+"|hello", ui.flashMAC(future+"|hello"))).Body.String(); !strings.Contains(body, `<p class="flash">hello</p>`) {
		t.Errorf("a validly signed flash is not shown")
	}
}

func TestCallbackCredentialsAreNotShown(t *testing.T) {
	e, _ := newEngine(t)
	ui, err := New(e, Config{AdminSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	if rec := addClient(t, ui, "site", "http://plone:hunter2@site.example/portal_linkchecker/database"); rec.Code != http.StatusSeeOther {
		t.Fatalf("add client: %d\n%s", rec.Code, rec.Body.String())
	}
	body := get(t, ui, "/admin/clients/site", true).Body.String()
	if strings.Contains(body, "hunter2") {
		t.Fatal("the client page shows the callback's password")
	}
	if !strings.Contains(body, "http://plone:xxxxx@site.example/portal_linkchecker/database") {
		t.Fatalf("the client page does not show the redacted callback:\n%s", body)
	}
}

func TestMetricsLink(t *testing.T) {
	e, _ := newEngine(t)
	for _, link := range []string{"", "/metrics"} {
		ui, err := New(e, Config{AdminSecret: secret, MetricsURL: link})
		if err != nil {
			t.Fatal(err)
		}
		body := get(t, ui, "/", false).Body.String()
		if got := strings.Contains(body, `<a href="/metrics">metrics</a>`); got != (link != "") {
			t.Errorf("MetricsURL %q: footer link %v", link, got)
		}
	}
}

// TestAdminActions: the admin pages act with the Admin that the login's
// check of the secret gave: add a client, give it a new password, remove it.
func TestAdminActions(t *testing.T) {
	e, _ := newEngine(t)
	ui, err := New(e, Config{AdminSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	if rec := addClient(t, ui, "site", "http://site.example/db"); rec.Code != http.StatusSeeOther {
		t.Fatalf("add: %d %s", rec.Code, rec.Body)
	}
	if c, err := e.Client(context.Background(), "site"); err != nil || c.Digest != lms.DigestDaily {
		t.Fatalf("a client added on the admin page: digest %q (%v), want daily", c.Digest, err)
	}
	if body := get(t, ui, "/admin/clients/site", true).Body.String(); !strings.Contains(body, "digest daily") {
		t.Errorf("the client's admin page does not show its digest setting:\n%s", body)
	}
	before, err := e.Client(context.Background(), "site")
	if err != nil {
		t.Fatal(err)
	}
	post := func(target string) int {
		req := httptest.NewRequest("POST", target, strings.NewReader(url.Values{"csrf": {ui.csrf}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("admin", secret)
		rec := httptest.NewRecorder()
		ui.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := post("/admin/clients/site/password"); code != http.StatusSeeOther {
		t.Fatalf("new password: %d", code)
	}
	after, err := e.Client(context.Background(), "site")
	if err != nil {
		t.Fatal(err)
	}
	if after.PasswordHash == before.PasswordHash {
		t.Error("the password did not change")
	}
	if code := post("/admin/clients/site/remove"); code != http.StatusSeeOther {
		t.Fatalf("remove: %d", code)
	}
	if _, err := e.Client(context.Background(), "site"); !errors.Is(err, lms.ErrNotFound) {
		t.Errorf("after remove: %v, want ErrNotFound", err)
	}
}
