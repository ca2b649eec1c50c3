package webui

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/memstore"
)

// reportFixture is an engine over a memstore with two clients, "site" and
// "other", and the web UI over it.
type reportFixture struct {
	t       *testing.T
	e       *lms.Engine
	st      *memstore.Store
	ui      *UI
	pw      string // site's password
	otherPW string // other's
	token   string // one of site's API tokens
}

func newReportFixture(t *testing.T, cfg lms.Config) *reportFixture {
	t.Helper()
	st := memstore.New()
	// Generated passwords (hashed with SHA-256, not bcrypt: fast tests),
	// read from the registration mails.
	var mu sync.Mutex
	passwords := map[string]string{}
	cfg.AdminSecret, cfg.Components = secret, lms.RunChecker
	cfg.Mailer = lms.MailerFunc(func(_ context.Context, m lms.Message) error {
		_, rest, ok := strings.Cut(m.Body, "Password:")
		pw, _, _ := strings.Cut(strings.TrimSpace(rest), "\n")
		if ok {
			mu.Lock()
			passwords[m.To[0].Address] = strings.TrimSpace(pw)
			mu.Unlock()
		}
		return nil
	})
	e, err := lms.New(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, id := range []string{"site", "other"} {
		if _, err := e.RegisterClient(ctx, secret, lms.Registration{ID: id, ContactEmail: id + "@example.org", CallbackURL: "http://" + id + ".example/db"}); err != nil {
			t.Fatal(err)
		}
	}
	token, _, err := e.CreateToken(ctx, "site", "editor")
	if err != nil {
		t.Fatal(err)
	}
	ui, err := New(e, Config{AdminSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if passwords["site@example.org"] == "" || passwords["other@example.org"] == "" {
		t.Fatalf("no passwords in the registration mails: %v", passwords)
	}
	return &reportFixture{t: t, e: e, st: st, ui: ui, pw: passwords["site@example.org"], otherPW: passwords["other@example.org"], token: token}
}

// result records the state of url as a check at at found it.
func (f *reportFixture) result(url string, st lms.State, reason string, code int, at time.Time, mod func(*lms.Outcome)) {
	f.t.Helper()
	o := lms.Outcome{URL: url, Result: lms.Result{State: st, Reason: reason, Code: code}, Checked: at, NextDue: at.Add(time.Hour)}
	if st.Failing() {
		o.Failures = 2
	}
	if mod != nil {
		mod(&o)
	}
	if err := f.st.RecordResults(context.Background(), []lms.Outcome{o}); err != nil {
		f.t.Fatal(err)
	}
}

// do serves req and returns the answer.
func (f *reportFixture) do(req *http.Request) *http.Response {
	rec := httptest.NewRecorder()
	f.ui.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// signIn posts the login form and returns the answer.
func (f *reportFixture) signIn(form url.Values, remote string) *http.Response {
	req := httptest.NewRequest("POST", "/report/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if remote != "" {
		req.RemoteAddr = remote
	}
	return f.do(req)
}

// session signs in as site with its password and returns the cookie.
func (f *reportFixture) session() *http.Cookie {
	f.t.Helper()
	res := f.signIn(url.Values{"id": {"site"}, "password": {f.pw}}, "")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/report/" {
		f.t.Fatalf("sign-in: %d → %q", res.StatusCode, res.Header.Get("Location"))
	}
	for _, c := range res.Cookies() {
		if c.Name == sessionCookie {
			return c
		}
	}
	f.t.Fatal("sign-in set no session cookie")
	return nil
}

func (f *reportFixture) get(target string, c *http.Cookie) (*http.Response, string) {
	f.t.Helper()
	req := httptest.NewRequest("GET", target, nil)
	if c != nil {
		req.AddCookie(c)
	}
	res := f.do(req)
	return res, body(f.t, res)
}

func (f *reportFixture) post(target string, c *http.Cookie, form url.Values) *http.Response {
	f.t.Helper()
	req := httptest.NewRequest("POST", target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c != nil {
		req.AddCookie(c)
	}
	return f.do(req)
}

// csrf returns the CSRF token of the session c.
func (f *reportFixture) csrf(c *http.Cookie) string {
	f.t.Helper()
	req := httptest.NewRequest("GET", "/report/", nil)
	req.AddCookie(c)
	s, ok := f.ui.readSession(req)
	if !ok {
		f.t.Fatal("the session cookie does not read back")
	}
	return f.ui.csrfOf(s)
}

func TestReportSignIn(t *testing.T) {
	f := newReportFixture(t, lms.Config{})
	ctx := context.Background()

	// Not signed in: sent to the sign-in page.
	if res, _ := f.get("/report/", nil); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/report/login" {
		t.Fatalf("GET /report/ without a session: %d → %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res, b := f.get("/report/login", nil); res.StatusCode != 200 || !strings.Contains(b, `name="password"`) || !strings.Contains(b, `name="token"`) {
		t.Fatalf("sign-in page: %d\n%s", res.StatusCode, b)
	}

	// The cookie: signed, HttpOnly, SameSite=Strict, limited to /report,
	// with an expiry; Secure over TLS only.
	c := f.session()
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/report" || c.Secure || c.MaxAge <= 0 || c.MaxAge > int(sessionTTL/time.Second) {
		t.Errorf("session cookie: %+v", c)
	}
	req := httptest.NewRequest("POST", "/report/login", strings.NewReader(url.Values{"id": {"site"}, "password": {f.pw}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.TLS = &tls.ConnectionState{}
	if cs := f.do(req).Cookies(); len(cs) != 1 || !cs[0].Secure {
		t.Errorf("over TLS the cookie is not Secure: %+v", cs)
	}
	if res, b := f.get("/report/", c); res.StatusCode != 200 || !strings.Contains(b, "Links of site") {
		t.Fatalf("signed in: %d\n%s", res.StatusCode, b)
	}

	// Wrong credentials, whichever part, get the same answer.
	var answers []string
	for _, form := range []url.Values{
		{"id": {"site"}, "password": {"wrong"}},
		{"id": {"nobody"}, "password": {f.pw}},
		{"id": {"other"}, "password": {f.pw}},
		{"token": {f.token + "x"}},
		{"token": {"lmst_garbage"}},
		{"id": {"other"}, "token": {f.token}}, // site's token with another id
		{"id": {"site"}},
	} {
		res := f.signIn(form, "192.0.2.1:1234")
		b := body(t, res)
		if res.StatusCode != http.StatusUnauthorized || len(res.Cookies()) != 0 {
			t.Errorf("%v: %d, cookies %v", form, res.StatusCode, res.Cookies())
		}
		i := strings.Index(b, `id="error"`)
		if i < 0 {
			t.Fatalf("%v: no error shown\n%s", form, b)
		}
		answers = append(answers, b[i:i+120])
	}
	for _, a := range answers[1:] {
		if a != answers[0] {
			t.Errorf("wrong credentials answered differently:\n%s\n%s", answers[0], a)
		}
	}

	// A token signs in too; revoking it ends its sessions.
	res := f.signIn(url.Values{"token": {f.token}}, "")
	if res.StatusCode != http.StatusSeeOther || len(res.Cookies()) != 1 {
		t.Fatalf("token sign-in: %d", res.StatusCode)
	}
	tc := res.Cookies()[0]
	if res, _ := f.get("/report/", tc); res.StatusCode != 200 {
		t.Fatalf("token session: %d", res.StatusCode)
	}
	if err := f.e.RevokeToken(ctx, "site", "editor"); err != nil {
		t.Fatal(err)
	}
	if res, _ := f.get("/report/", tc); res.StatusCode != http.StatusSeeOther {
		t.Errorf("the session of a revoked token still works: %d", res.StatusCode)
	}
	if res, _ := f.get("/report/", c); res.StatusCode != 200 {
		t.Errorf("the password session ended with the token's: %d", res.StatusCode)
	}

	// Tampered, forged and expired cookies are no session.
	p64, m64, _ := strings.Cut(c.Value, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(p64)
	b64 := base64.RawURLEncoding.EncodeToString
	forge := func(p string) string { return b64([]byte(p)) + "." + b64(f.ui.sessionMAC("session", p)) }
	fields := strings.Split(string(payload), "\n")
	expired := strings.Join([]string{fields[0], fields[1], "1", fields[3]}, "\n")
	asOther := strings.Join([]string{fields[0], "other", fields[2], fields[3]}, "\n")
	for name, v := range map[string]string{
		"tampered id":    b64([]byte(asOther)) + "." + m64,
		"forged id":      forge(asOther), // a valid MAC, but the fingerprint is site's password
		"expired":        forge(expired),
		"no signature":   p64,
		"other key":      b64([]byte(payload)) + "." + b64((&UI{sessionKey: sessionKeyFor("another")}).sessionMAC("session", string(payload))),
		"garbage":        "!!!.!!!",
		"wrong version":  forge(strings.Replace(string(payload), "v1", "v0", 1)),
		"missing fields": forge("v1\nsite"),
	} {
		if res, _ := f.get("/report/", &http.Cookie{Name: sessionCookie, Value: v}); res.StatusCode != http.StatusSeeOther {
			t.Errorf("%s cookie: %d, want a redirect to the sign-in", name, res.StatusCode)
		}
	}

	// A new password ends the sessions of the old one.
	if err := f.e.NewPassword(ctx, secret, "site"); err != nil {
		t.Fatal(err)
	}
	if res, _ := f.get("/report/", c); res.StatusCode != http.StatusSeeOther {
		t.Errorf("the session of a replaced password still works: %d", res.StatusCode)
	}

	// Sign-out clears the cookie (and needs the session's CSRF token).
	c2 := f.session2(t)
	if res := f.post("/report/logout", c2, url.Values{}); res.StatusCode != http.StatusForbidden {
		t.Errorf("sign-out without the CSRF token: %d", res.StatusCode)
	}
	res = f.post("/report/logout", c2, url.Values{"csrf": {f.csrf(c2)}})
	if res.StatusCode != http.StatusSeeOther || len(res.Cookies()) != 1 || res.Cookies()[0].MaxAge >= 0 {
		t.Errorf("sign-out: %d, cookies %+v", res.StatusCode, res.Cookies())
	}
}

// session2 signs in as other (whose password did not change).
func (f *reportFixture) session2(t *testing.T) *http.Cookie {
	t.Helper()
	res := f.signIn(url.Values{"id": {"other"}, "password": {f.otherPW}}, "")
	if res.StatusCode != http.StatusSeeOther || len(res.Cookies()) != 1 {
		t.Fatalf("sign-in as other: %d", res.StatusCode)
	}
	return res.Cookies()[0]
}

// Guessing is throttled per client id (from any address) and per address
// (for any id), with the API's budgets, and the right password still
// works for the client meanwhile when it worked before.
func TestReportSignInThrottled(t *testing.T) {
	f := newReportFixture(t, lms.Config{})
	f.session() // site signed in once from this address
	throttled := false
	for i := range 15 {
		res := f.signIn(url.Values{"id": {"site"}, "password": {"guess"}}, "198.51.100.7:4000")
		if res.StatusCode == http.StatusTooManyRequests {
			if res.Header.Get("Retry-After") == "" || !strings.Contains(body(t, res), "Too many failed sign-ins") {
				t.Fatalf("throttled answer without Retry-After or message")
			}
			throttled = true
			if i < 10 {
				t.Fatalf("throttled after %d guesses, want at least 10", i)
			}
			break
		}
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, res.StatusCode)
		}
	}
	if !throttled {
		t.Fatal("15 wrong passwords for one id were never throttled")
	}
	// From another address the id is throttled too…
	if res := f.signIn(url.Values{"id": {"site"}, "password": {"guess"}}, "203.0.113.9:4000"); res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the id's guesses from another address: %d, want 429", res.StatusCode)
	}
	// …but its last good password still signs in.
	if res := f.signIn(url.Values{"id": {"site"}, "password": {f.pw}}, "203.0.113.9:4000"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("the right password while the id is guessed at: %d", res.StatusCode)
	}

	// One address guessing at many ids is throttled too.
	throttled = false
	for i := range 40 {
		res := f.signIn(url.Values{"id": {fmt.Sprintf("guess-%d", i)}, "password": {"x"}}, "198.51.100.99:4000")
		if res.StatusCode == http.StatusTooManyRequests {
			throttled = i >= 30
			break
		}
	}
	if !throttled {
		t.Error("40 guesses at different ids from one address: not throttled after 30")
	}
}

func TestReportCSRFAndCrossOrigin(t *testing.T) {
	f := newReportFixture(t, lms.Config{})
	const u = "http://a.example/page"
	if _, err := f.e.RegisterLinks(context.Background(), "site", []string{u}); err != nil {
		t.Fatal(err)
	}
	c := f.session()
	for name, form := range map[string]url.Values{
		"no token":        {"url": {u}},
		"admin's token":   {"url": {u}, "csrf": {f.ui.csrf}},
		"other's session": {"url": {u}, "csrf": {f.csrf(f.session2(t))}},
	} {
		if res := f.post("/report/link/ignore", c, form); res.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, res.StatusCode)
		}
	}
	if il, _ := f.e.ClientLink(context.Background(), "site", u); il.Mode != lms.NotIgnored {
		t.Fatal("a refused form changed the link")
	}
	req := httptest.NewRequest("POST", "/report/link/ignore", strings.NewReader(url.Values{"url": {u}, "csrf": {f.csrf(c)}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.AddCookie(c)
	if res := f.do(req); res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST: %d, want 403", res.StatusCode)
	}
	// Without a session, a POST is refused, not redirected.
	if res := f.post("/report/link/ignore", nil, url.Values{"url": {u}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("POST without a session: %d", res.StatusCode)
	}
	if res := f.post("/report/link/ignore", c, url.Values{"url": {u}, "csrf": {f.csrf(c)}}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("the same form with its token: %d", res.StatusCode)
	}
}

func TestReportOtherClientsLinkIsNotShown(t *testing.T) {
	f := newReportFixture(t, lms.Config{})
	ctx := context.Background()
	const mine, theirs = "http://mine.example/", "http://theirs.example/secret-page"
	if _, err := f.e.RegisterLinks(ctx, "site", []string{mine}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.e.RegisterLinks(ctx, "other", []string{theirs}); err != nil {
		t.Fatal(err)
	}
	c := f.session()
	for _, target := range []string{"/report/link?url=" + url.QueryEscape(theirs), "/report/link?url=" + url.QueryEscape("http://nowhere.example/"), "/report/link"} {
		if res, b := f.get(target, c); res.StatusCode != http.StatusNotFound || strings.Contains(b, "secret-page") {
			t.Errorf("GET %s: %d", target, res.StatusCode)
		}
	}
	for _, action := range []string{"recheck", "ignore", "unignore"} {
		if res := f.post("/report/link/"+action, c, url.Values{"url": {theirs}, "csrf": {f.csrf(c)}}); res.StatusCode != http.StatusNotFound {
			t.Errorf("%s of another client's link: %d", action, res.StatusCode)
		}
	}
	if il, _ := f.e.ClientLink(ctx, "other", theirs); il.Mode != lms.NotIgnored {
		t.Error("another client's link was ignored")
	}
	for _, p := range []string{"/report/", "/report/export.csv", "/report/export.json"} {
		if _, b := f.get(p, c); strings.Contains(b, "secret-page") {
			t.Errorf("%s shows another client's link", p)
		}
	}
	if res, _ := f.get("/report/link?url="+url.QueryEscape(mine), c); res.StatusCode != 200 {
		t.Errorf("own link: %d", res.StatusCode)
	}
}
