package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/farm"
	"github.com/linkmonitor/lms/internal/lmsdproc"
	"github.com/linkmonitor/lms/memstore"
	"github.com/linkmonitor/lms/xmlrpcapi"
)

const secret = "the-admin-secret"

func TestFlagErrors(t *testing.T) {
	noenv := func(string) string { return "" }
	cases := map[string][]string{
		"-store":            {"-store", "sqlite"},
		"-concurrency":      {"-concurrency", "0"},
		"-host-interval":    {"-host-interval", "-1s"},
		"must be positive":  {"-check-interval", "0"},
		"-min-recheck":      {"-min-recheck", "48h"},
		"-addr":             {"-addr", "nonsense"},
		"-metrics-addr":     {"-metrics-addr", "nonsense"},
		"-allow-networks":   {"-allow-networks", "10.1.0.0/16 intranet"},
		"-snapshot-ttl":     {"-snapshot-ttl", "0"},
		"-components":       {"-components", "checker,teleporter"},
		"none alone":        {"-components", "none,checker"},
		"-lease":            {"-lease", "0"},
		"-stop-grace":       {"-stop-grace", "10s"},
		"below -shutdown":   {"-stop-grace", "-1s"},
		"-history-changes":  {"-history-changes", "0"},
		"-history-age":      {"-history-age", "-1h"},
		"-recheck-per-hour": {"-recheck-per-hour", "-5"},
		"-claim-poll":       {"-claim-poll", "-1s"},
		"-log-format":       {"-log-format", "xml"},
		"-mail-cc":          {"-mail-cc", "not-an-address"},
		"OutageProbes":      {"-outage-probe", "not a url", "-store", "memory"},
		"-smtp-tls":         {"-smtp", "mail.example:25", "-smtp-tls", "sometimes"},
		"unexpected":        {"extra"},
		"not defined":       {"-no-such-flag"},
	}
	for want, args := range cases {
		var out bytes.Buffer
		err := run(context.Background(), args, noenv, &out)
		require.Error(t, err, "%v", args)
		require.Contains(t, err.Error()+out.String(), want, "%v", args)
	}
}

func TestBoltFileInUse(t *testing.T) {
	db := filepath.Join(t.TempDir(), "lms.db")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := filepath.Join(t.TempDir(), "ready")
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-db", db, "-admin-secret", secret, "-ready-file", ready}, os.Getenv, io.Discard)
	}()
	waitFile(t, ready)
	start := time.Now()
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-db", db, "-admin-secret", secret}, os.Getenv, io.Discard)
	require.ErrorContains(t, err, "in use by another process")
	require.Less(t, time.Since(start), 5*time.Second)
	cancel()
	require.NoError(t, <-done)
}

// waitFile waits for run's -ready-file at path and returns the address in it.
func waitFile(t testing.TB, path string) string {
	t.Helper()
	addr, err := lmsdproc.WaitReady(path, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// testHandler is the server's handler over a memstore engine.
func testHandler(t *testing.T) (http.Handler, *lms.Engine) {
	t.Helper()
	e, err := lms.New(memstore.New(), lms.Config{AdminSecret: secret, Components: lms.RunChecker, Mailer: lms.MailerFunc(func(context.Context, lms.Message) error { return nil })})
	require.NoError(t, err)
	h, _, err := newHandlers(e, handlerConfig{secret: secret, log: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	return h, e
}

func do(t *testing.T, h http.Handler, method, target string, body string, auth bool, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if auth {
		req.SetBasicAuth("admin", secret)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	i := strings.Index(page, `name="csrf" value="`)
	require.Positive(t, i, "no CSRF token in page")
	rest := page[i+len(`name="csrf" value="`):]
	return rest[:strings.IndexByte(rest, '"')]
}

func TestWebPages(t *testing.T) {
	h, e := testHandler(t)
	ctx := context.Background()

	rec := do(t, h, "GET", "/", "", false)
	require.Equal(t, 200, rec.Code)
	require.Contains(t, rec.Body.String(), "links monitored")
	require.Equal(t, 200, do(t, h, "GET", "/alerts", "", false).Code)
	require.Equal(t, 200, do(t, h, "GET", "/healthz", "", false).Code)
	require.Contains(t, withoutProcess(do(t, h, "GET", "/metrics", "", false).Body.String()), "lms_links{state=\"ok\"}")
	require.Equal(t, 200, do(t, h, "GET", "/static/style.css", "", false).Code)

	// Wrong admin credentials: 401 and nothing else.
	for _, target := range []string{"/admin", "/admin/clients/new", "/admin/clients/x"} {
		rec := do(t, h, "GET", target, "", false)
		require.Equal(t, 401, rec.Code, target)
		require.Contains(t, rec.Header().Get("WWW-Authenticate"), "Basic")
		require.NotContains(t, rec.Body.String(), "csrf")
	}
	req := httptest.NewRequest("GET", "/admin", nil)
	req.SetBasicAuth("admin", "wrong")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, 401, rec.Code)

	form := do(t, h, "GET", "/admin/clients/new", "", true)
	require.Equal(t, 200, form.Code)
	token := csrfOf(t, form.Body.String())

	// A malformed submission: the form again with the error, nothing stored.
	bad := url.Values{"csrf": {token}, "id": {"site"}, "contact_email": {"not an address"}, "callback_url": {"http://site.example/db"}}
	rec = do(t, h, "POST", "/admin/clients", bad.Encode(), true)
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code)
	require.Contains(t, rec.Body.String(), `id="error"`)
	require.Contains(t, rec.Body.String(), `value="site"`, "the form keeps what was typed")
	cs, _ := e.Clients(ctx)
	require.Empty(t, cs)

	good := url.Values{"csrf": {token}, "id": {"site/one"}, "contact_name": {"Jane"}, "contact_email": {"jane@site.example"}, "callback_url": {"http://site.example/portal_linkchecker/database"}}
	// Without the token, or cross-site: refused.
	noToken := url.Values{}
	for k, v := range good {
		if k != "csrf" {
			noToken[k] = v
		}
	}
	require.Equal(t, http.StatusForbidden, do(t, h, "POST", "/admin/clients", noToken.Encode(), true).Code)
	require.Equal(t, http.StatusForbidden, do(t, h, "POST", "/admin/clients", good.Encode(), true, "Sec-Fetch-Site", "cross-site").Code)
	cs, _ = e.Clients(ctx)
	require.Empty(t, cs)

	rec = do(t, h, "POST", "/admin/clients", good.Encode(), true, "Sec-Fetch-Site", "same-origin")
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
	list := do(t, h, "GET", "/admin", "", true).Body.String()
	require.Contains(t, list, `href="/admin/clients/site%2Fone"`)

	// The client page pages through its links, filtered by state.
	var urls []string
	for i := range 250 {
		urls = append(urls, fmt.Sprintf("http://h%d.example/p%03d", i%7, i))
	}
	_, err := e.RegisterURLs(ctx, "site/one", urls)
	require.NoError(t, err)
	page := do(t, h, "GET", "/admin/clients/site%2Fone", "", true)
	require.Equal(t, 200, page.Code)
	require.Equal(t, 100, strings.Count(page.Body.String(), `rel="noreferrer nofollow"`))
	require.Contains(t, page.Body.String(), `id="next"`)
	require.Equal(t, 0, strings.Count(do(t, h, "GET", "/admin/clients/site%2Fone?state=ok", "", true).Body.String(), `rel="noreferrer nofollow"`))
	require.Equal(t, 404, do(t, h, "GET", "/admin/clients/nobody", "", true).Code)

	// Force a sync and remove the client.
	rec = do(t, h, "POST", "/admin/clients/site%2Fone/sync", url.Values{"csrf": {token}}.Encode(), true)
	require.Equal(t, http.StatusSeeOther, rec.Code)
	c, _ := e.Client(ctx, "site/one")
	require.True(t, c.SyncForced)
	// Mail a new password: the hash changes and the mail leaves the outbox.
	require.Contains(t, page.Body.String(), `/admin/clients/site%2Fone/password`)
	require.Equal(t, http.StatusForbidden, do(t, h, "POST", "/admin/clients/site%2Fone/password", "", true).Code, "no token, no new password")
	rec = do(t, h, "POST", "/admin/clients/site%2Fone/password", url.Values{"csrf": {token}}.Encode(), true)
	require.Equal(t, http.StatusSeeOther, rec.Code)
	c2, _ := e.Client(ctx, "site/one")
	require.NotEqual(t, c.PasswordHash, c2.PasswordHash)
	require.Empty(t, c2.Outbox, "the mail was delivered at once")
	require.Equal(t, 404, do(t, h, "POST", "/admin/clients/nobody/password", url.Values{"csrf": {token}}.Encode(), true).Code)
	rec = do(t, h, "POST", "/admin/clients/site%2Fone/remove", url.Values{"csrf": {token}}.Encode(), true)
	require.Equal(t, http.StatusSeeOther, rec.Code)
	cs, _ = e.Clients(ctx)
	require.Empty(t, cs)

	// Traversal and oversized requests are refused.
	for _, p := range []string{"/static/../../../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd", "/static/..%2fwebui.go"} {
		rec := do(t, h, "GET", p, "", false)
		require.NotEqual(t, 200, rec.Code, p)
		require.NotContains(t, rec.Body.String(), "root:", p)
	}
	huge := "csrf=" + token + "&id=" + strings.Repeat("x", 100<<10)
	require.Equal(t, http.StatusRequestEntityTooLarge, do(t, h, "POST", "/admin/clients", huge, true).Code)
	require.Equal(t, http.StatusMethodNotAllowed, do(t, h, "GET", "/RPC2", "", false).Code)
	// XML-RPC on the root, /RPC2 and an old client's configured path.
	for _, p := range []string{"/", "/RPC2", "/lms", "/v2/"} {
		rec := do(t, h, "POST", p, `<?xml version="1.0"?><methodCall><methodName>getInfoFrameURL</methodName></methodCall>`, false, "Content-Type", "text/xml")
		require.Equal(t, 200, rec.Code, p)
		require.Contains(t, rec.Body.String(), "/alerts", p)
	}
}

// TestBinaryEndToEnd builds lmsd, starts it on a free port with each
// store, registers a client and URLs against loopback targets, receives the
// callbacks, and stops it with SIGTERM.
func TestBinaryEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin, err := lmsdproc.Build(context.Background(), t.TempDir())
	require.NoError(t, err)

	f, err := farm.Start(2, farm.Options{FirstAddr: 120})
	require.NoError(t, err)
	defer f.Close()

	for _, store := range []string{"memory", "bolt"} {
		t.Run(store, func(t *testing.T) {
			dir := t.TempDir()
			var mu sync.Mutex
			got := map[string]string{}
			pushed := make(chan struct{}, 1) // a push arrived since the last look
			site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				m, params, err := xmlrpcapi.DecodeCall(r.Body, xmlrpcapi.Limits{})
				if err != nil || m != "updateManyStates" || params[0] != "plone" || params[1] != "site-password-1" {
					http.Error(w, "bad call", http.StatusUnauthorized)
					return
				}
				mu.Lock()
				for _, tr := range params[2].([]any) {
					a := tr.([]any)
					got[a[0].(string)] = a[1].(string)
				}
				mu.Unlock()
				select {
				case pushed <- struct{}{}:
				default:
				}
				resp, _ := xmlrpcapi.EncodeResponse(nil)
				_, _ = w.Write(resp)
			}))
			defer site.Close()

			start := func() (*exec.Cmd, string) {
				ready := filepath.Join(dir, fmt.Sprintf("ready-%d", time.Now().UnixNano()))
				cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-store", store, "-db", filepath.Join(dir, "lms.db"), "-allow-private",
					"-mail-dir", filepath.Join(dir, "mail"), "-notify-interval", "100ms", "-host-interval", "100ms", "-ready-file", ready,
					"-check-interval", "4s", "-min-recheck", "1s") // the fast timings: a failure is confirmed within seconds
				cmd.Env = append(os.Environ(), "LMS_ADMIN_SECRET="+secret)
				logs := &bytes.Buffer{}
				cmd.Stderr = logs
				t.Cleanup(func() {
					if t.Failed() {
						t.Logf("lmsd log:\n%s", logs)
					}
				})
				require.NoError(t, cmd.Start())
				return cmd, "http://" + waitFile(t, ready) + "/"
			}
			stop := func(cmd *exec.Cmd) {
				start := time.Now()
				require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
				require.NoError(t, cmd.Wait(), "lmsd exits 0 on SIGTERM")
				require.Less(t, time.Since(start), 10*time.Second)
			}
			cmd, base := start()
			c := newRPC(t, base)
			c.call(t, "registerClient", secret, "plone", site.URL+"/portal_linkchecker/database", "Site Admin", "admin@site.example", "site-password-1")
			require.Equal(t, int64(2), c.call(t, "checkConnection", "plone", "site-password-1"))
			okURL, missing := f.Hosts[0].Base+"/200/a", f.Hosts[1].Base+"/404/b"
			c.call(t, "registerURLs", "plone", "site-password-1", []any{okURL, missing, "javascript:void(0)"})
			deadline := time.After(20 * time.Second)
			for {
				mu.Lock()
				n, confirmed := len(got), got[missing] == "unavailable"
				mu.Unlock()
				if n == 3 && confirmed {
					break
				}
				select {
				case <-pushed:
				case <-deadline:
					mu.Lock()
					defer mu.Unlock()
					t.Fatalf("callbacks did not arrive: %v", got)
				}
			}
			mu.Lock() // later pushes may still come
			final := maps.Clone(got)
			mu.Unlock()
			require.Equal(t, map[string]string{okURL: "ok", missing: "unavailable", "javascript:void(0)": "unsupported protocol"}, final)
			mails, _ := filepath.Glob(filepath.Join(dir, "mail", "*.eml"))
			require.Len(t, mails, 1, "the registration mail")
			stop(cmd)
			if store == "bolt" {
				cmd, base = start()
				defer stop(cmd)
				res := newRPC(t, base).call(t, "registerURLs", "plone", "site-password-1", []any{missing})
				require.Equal(t, []any{[]any{missing, "unavailable", "Not Found"}}, res, "states survive the restart")
				// The editors' history too (temporary, then confirmed unavailable).
				h := newRPC(t, base).call(t, "getURLHistory", "plone", "site-password-1", missing).([]any)
				require.NotEmpty(t, h)
				require.Equal(t, "unavailable", h[0].(map[string]any)["state"])
			}
		})
	}
}

type rpc struct{ url string }

func newRPC(t *testing.T, u string) *rpc { return &rpc{url: u} }

// call makes an XML-RPC call, which must answer 200 OK with no fault, and
// returns its result.
func (r *rpc) call(t *testing.T, method string, params ...any) any {
	t.Helper()
	v, err := lmsdproc.Call(context.Background(), nil, r.url, method, params...)
	require.NoError(t, err)
	return v
}
