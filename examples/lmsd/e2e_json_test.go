package main

// The JSON API end to end through a built lmsd, over each store: a client
// created by the operator, a source registered, its links' states seen,
// links.changed deliveries verified with the Standard Webhooks reference
// libraries (Go, and npm standardwebhooks where node is installed), a
// secret rotation, lmsd killed with SIGKILL while a delivery is in flight
// and the same event delivered again after the restart; then bad input,
// wrong and revoked credentials, another client's resources, and paging
// while links change. Every answer is validated against the OpenAPI
// document (internal/apicontract).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms/internal/apicontract"
	"github.com/linkmonitor/lms/internal/lmsdproc"
	"github.com/linkmonitor/lms/internal/pgtest"
)

// TestJSONEndToEnd builds lmsd once and runs the story over each store;
// the memory store skips the restart.
func TestJSONEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	contract, err := apicontract.Load()
	require.NoError(t, err)
	bin, err := lmsdproc.Build(context.Background(), t.TempDir())
	require.NoError(t, err)
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/missing") {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, "<html><head><title>A page</title></head><body><p>Content that is here.</p></body></html>")
	}))
	defer site.Close()
	for _, store := range []string{"memory", "bolt", "postgres"} {
		t.Run(store, func(t *testing.T) {
			dir := t.TempDir()
			args := []string{"-store", store}
			switch store {
			case "bolt":
				args = append(args, "-db", filepath.Join(dir, "lms.db"))
			case "postgres":
				args = append(args, "-dsn", pgtest.Start(t))
			}
			(&e2e{t: t, bin: bin, dir: dir, args: args, store: store, site: site.URL, contract: contract}).run()
		})
	}
}

// e2e is one run of the story over one store.
type e2e struct {
	t        *testing.T
	bin, dir string
	args     []string // the store's flags
	store    string
	site     string
	contract *apicontract.Contract
	starts   int
}

func (x *e2e) run() {
	t := x.t
	hook := newHookSink(t)
	p := x.start()
	api := x.client(p)

	// The operator creates the client with its webhook; the answer carries
	// its first token.
	var created struct {
		Client struct {
			ID string `json:"id"`
		} `json:"client"`
		Token struct {
			Token string `json:"token"`
		} `json:"token"`
	}
	api.do("POST", "/api/v1/admin/clients", adminAuth, map[string]any{"id": "wp-main", "contact_name": "Web team",
		"contact_email": "web@example.org", "webhook_url": hook.srv.URL + "/lms-webhook"}).want(t, 201).decode(t, &created)
	require.Equal(t, "wp-main", created.Client.ID)
	require.True(t, strings.HasPrefix(created.Token.Token, "lmst_"), "token %q", created.Token.Token)
	me := bearerAuth(created.Token.Token)
	secret1 := api.newSecret(me)

	// A page with a working and a missing link.
	okURL, missing := x.site+"/page/ok", x.site+"/missing/page"
	api.do("PUT", "/api/v1/sources/node-42", me, map[string]any{"title": "About us", "url": "https://cms.example.org/node/42/edit",
		"owner": "editor@example.org", "links": []string{okURL, missing}}).want(t, 200)

	// links.changed deliveries, each verified with the Go reference
	// library, until both states are final.
	states := map[string]string{}
	var first hookDelivery
	for states[okURL] != "ok" || states[missing] != "unavailable" {
		d := hook.next(t, 30*time.Second, fmt.Sprintf("links.changed with the final states (so far %v)", states))
		verifyWith(t, d, secret1)
		ev := d.event(t)
		require.Equal(t, "links.changed", ev.Type)
		for _, c := range ev.Data.Changes {
			states[c.URL] = c.State
			require.Len(t, c.Sources, 1, "the change of %s names its source", c.URL)
			require.Equal(t, "node-42", c.Sources[0].ID)
			require.Equal(t, "About us", c.Sources[0].Title)
		}
		if first.id() == "" {
			first = d
		}
	}

	// The states through the API.
	var page struct {
		Links []struct {
			URL     string `json:"url"`
			State   string `json:"state"`
			Code    *int   `json:"code"`
			Sources []struct {
				ID string `json:"id"`
			} `json:"sources"`
		} `json:"links"`
	}
	api.do("GET", "/api/v1/links?source=node-42", me, nil).want(t, 200).decode(t, &page)
	got := map[string]string{}
	for _, l := range page.Links {
		got[l.URL] = l.State
		require.Equal(t, "node-42", l.Sources[0].ID)
		if l.URL == missing {
			require.Equal(t, 404, *l.Code)
		}
	}
	require.Equal(t, map[string]string{okURL: "ok", missing: "unavailable"}, got)
	var sources struct {
		Sources []struct {
			ID     string         `json:"id"`
			Counts map[string]int `json:"counts"`
		} `json:"sources"`
	}
	api.do("GET", "/api/v1/sources?state=unavailable", me, nil).want(t, 200).decode(t, &sources)
	require.Len(t, sources.Sources, 1, "pages with broken links")
	require.Equal(t, "node-42", sources.Sources[0].ID)
	require.Equal(t, 1, sources.Sources[0].Counts["unavailable"])

	// Rotation: during the overlap every delivery carries both
	// signatures, each verifying with its own secret.
	secret2 := api.newSecret(me)
	require.NotEqual(t, secret1, secret2)
	var test struct {
		ID     string `json:"id"`
		Status *int   `json:"status"`
	}
	api.do("POST", "/api/v1/client/webhook/test", me, nil).want(t, 202).decode(t, &test)
	rotated := hook.next(t, 10*time.Second, "the test delivery")
	require.Equal(t, test.ID, rotated.id())
	require.Equal(t, "webhook.test", rotated.event(t).Type)
	verifyEachSignature(t, rotated, secret1, secret2)
	verifyWithNode(t, []nodeDelivery{{secret1, first}, {secret1, rotated}, {secret2, rotated}})

	if x.store != "memory" {
		p, api = x.killMidDelivery(p, hook, me, okURL, missing, secret1, secret2)
	}
	x.badInput(api, me)
	other := x.auth(api, me)
	x.otherClient(api, me, other)
	x.pageWhileChanging(api, other)
	// Nothing of the bad requests changed the page.
	var src struct {
		Title string   `json:"title"`
		Links []string `json:"links"`
	}
	api.do("GET", "/api/v1/sources/node-42", me, nil).want(t, 200).decode(t, &src)
	require.Equal(t, "About us", src.Title)
	require.Len(t, src.Links, len(pageLinks(okURL, missing, x.store)))
	p.stop(t)
}

// pageLinks are node-42's links after the story (the kill adds one).
func pageLinks(okURL, missing, store string) []string {
	if store == "memory" {
		return []string{okURL, missing}
	}
	return []string{okURL, missing, okURL + "-new"}
}

// killMidDelivery: a new link on the page makes a links.changed event; the
// receiver holds its delivery open and lmsd is killed with SIGKILL. lmsd
// started again on the same store (under the same -process-id, so its own
// hold on the event does not wait for its end) delivers the event again,
// under the same webhook-id, signed, and logs it as delivered.
func (x *e2e) killMidDelivery(p *lmsdProc, hook *hookSink, me jsonAuth, okURL, missing, secret1, secret2 string) (*lmsdProc, *jsonClient) {
	t := x.t
	api := x.client(p)
	hook.setHold(true)
	added := okURL + "-new"
	api.do("PUT", "/api/v1/sources/node-42", me, map[string]any{"title": "About us", "url": "https://cms.example.org/node/42/edit",
		"owner": "editor@example.org", "links": pageLinks(okURL, missing, x.store)}).want(t, 200)
	held := hook.next(t, 30*time.Second, "the delivery of the new link's state")
	ev := held.event(t)
	require.Equal(t, "links.changed", ev.Type)
	require.Len(t, ev.Data.Changes, 1)
	require.Equal(t, added, ev.Data.Changes[0].URL)
	p.kill(t)
	hook.setHold(false)

	p = x.start()
	again := hook.next(t, 30*time.Second, "the event again after the restart")
	require.Equal(t, held.id(), again.id(), "the same event, under its id")
	require.Equal(t, string(held.body), string(again.body))
	verifyEachSignature(t, again, secret1, secret2)
	api = x.client(p)
	var log struct {
		Deliveries []struct {
			ID        string  `json:"id"`
			Attempts  int     `json:"attempts"`
			Status    *int    `json:"status"`
			Delivered *string `json:"delivered"`
		} `json:"deliveries"`
	}
	// lmsd records the answer just after the receiver gave it, in another
	// process: the deliveries log is read until it shows the record.
	hook.waitAnswered(t, held.id())
	until(t, 10*time.Second, "the delivery logged as delivered", func() bool {
		api.do("GET", "/api/v1/webhook/deliveries", me, nil).want(t, 200).decode(t, &log)
		return len(log.Deliveries) > 0 && log.Deliveries[0].ID == held.id() && log.Deliveries[0].Delivered != nil
	})
	require.Equal(t, 1, log.Deliveries[0].Attempts, "the killed attempt was never recorded")
	require.Equal(t, 204, *log.Deliveries[0].Status)
	return p, api
}

// badInput: malformed, unknown, mistyped and oversized requests get their
// problems through the built binary and change nothing.
func (x *e2e) badInput(api *jsonClient, me jsonAuth) {
	t := x.t
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		field              string
	}{
		{"bad JSON", "PUT", "/api/v1/links", `{"urls": [`, 400, ""},
		{"unknown field", "PUT", "/api/v1/sources/node-42", `{"titel": "x", "title": "x", "url": "", "links": []}`, 422, "/titel"},
		{"wrong type", "PUT", "/api/v1/sources/node-42", `{"title": 5, "url": "", "links": []}`, 422, "/title"},
		{"wrong element type", "PUT", "/api/v1/links", `{"urls": ["https://a.example/", 7]}`, 422, "/urls"},
		{"not an array", "PUT", "/api/v1/links", `{"urls": "https://a.example/"}`, 422, "/urls"},
		{"unknown query parameter", "GET", "/api/v1/links?stat=ok", nil, 422, "stat"},
	} {
		a := api.do(tc.method, tc.path, me, tc.body).want(t, tc.status)
		p := a.problem(t)
		require.NotEmpty(t, p.Detail, tc.name)
		if tc.field != "" {
			require.True(t, p.names(tc.field), "%s: the problem does not name %s: %s", tc.name, tc.field, a.body)
		}
		require.NotContains(t, string(a.body), "json:", tc.name)
	}
	// 16 MiB is the largest body: with a length it is refused before a
	// byte is read, without one once the 16 MiB are read.
	huge := `{"urls": ["` + strings.Repeat("a", 17<<20) + `"]}`
	api.do("PUT", "/api/v1/links", me, huge).want(t, 413).problem(t)
	api.do("PUT", "/api/v1/links", me, struct{ io.Reader }{strings.NewReader(huge)}).want(t, 413).problem(t)
	// Without credentials the body is never read.
	api.do("PUT", "/api/v1/links", noneAuth, huge).want(t, 401).problem(t)
	api.do("PUT", "/api/v1/links", me, jsonBody{`{"urls": []}`, "text/plain"}).want(t, 415).problem(t)
}

// auth: wrong and revoked credentials; returns the token of a second
// client.
func (x *e2e) auth(api *jsonClient, me jsonAuth) jsonAuth {
	t := x.t
	for _, a := range []jsonAuth{bearerAuth("lmst_d3AtbWFpbg.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), bearerAuth("guess"), basicAuth("wp-main", "not-the-password")} {
		ans := api.do("GET", "/api/v1/client", a, nil).want(t, 401)
		ans.problem(t)
		require.Contains(t, ans.header.Get("WWW-Authenticate"), "Bearer")
	}
	var tok struct {
		Token string `json:"token"`
	}
	api.do("POST", "/api/v1/client/tokens", me, map[string]any{"name": "ci"}).want(t, 201).decode(t, &tok)
	api.do("GET", "/api/v1/client", bearerAuth(tok.Token), nil).want(t, 200)
	api.do("DELETE", "/api/v1/client/tokens/ci", me, nil).want(t, 204)
	api.do("GET", "/api/v1/client", bearerAuth(tok.Token), nil).want(t, 401).problem(t)
	api.do("GET", "/api/v1/client", me, nil).want(t, 200)

	var created struct {
		Token struct {
			Token string `json:"token"`
		} `json:"token"`
	}
	api.do("POST", "/api/v1/admin/clients", adminAuth, map[string]any{"id": "drupal", "contact_email": "drupal@example.org"}).want(t, 201).decode(t, &created)
	return bearerAuth(created.Token.Token)
}

// otherClient: a client sees none of another's resources, and neither
// side reaches the operator's paths or the operator a client's.
func (x *e2e) otherClient(api *jsonClient, me, other jsonAuth) {
	t := x.t
	api.do("GET", "/api/v1/sources/node-42", other, nil).want(t, 404).problem(t)
	api.do("DELETE", "/api/v1/sources/node-42", other, nil).want(t, 404).problem(t)
	api.do("GET", "/api/v1/links?source=node-42", other, nil).want(t, 404).problem(t)
	var deploy struct {
		Token string `json:"token"`
	}
	api.do("POST", "/api/v1/client/tokens", me, map[string]any{"name": "deploy"}).want(t, 201).decode(t, &deploy)
	api.do("DELETE", "/api/v1/client/tokens/deploy", other, nil).want(t, 404).problem(t)
	api.do("GET", "/api/v1/client", bearerAuth(deploy.Token), nil).want(t, 200)
	api.do("GET", "/api/v1/admin/clients", other, nil).want(t, 403).problem(t)
	api.do("PATCH", "/api/v1/admin/clients/wp-main", me, map[string]any{"notifications": false}).want(t, 403).problem(t)
	api.do("GET", "/api/v1/client", adminAuth, nil).want(t, 403).problem(t)
	var page struct {
		Links []json.RawMessage `json:"links"`
	}
	api.do("GET", "/api/v1/links", other, nil).want(t, 200).decode(t, &page)
	require.Empty(t, page.Links, "drupal sees wp-main's links")
}

// pageWhileChanging: the client pages through its links 40 at a time
// while, between pages, links are added and removed before and after the
// cursor. Every link there throughout comes exactly once; none twice.
func (x *e2e) pageWhileChanging(api *jsonClient, other jsonAuth) {
	t := x.t
	name := func(i int) string { return fmt.Sprintf("%s/p/%04d", x.site, i) }
	var kept []string // registered at the start and never removed
	var all []string
	for i := 0; i < 500; i += 2 {
		all = append(all, name(i))
	}
	api.do("PUT", "/api/v1/links", other, map[string]any{"urls": all}).want(t, 200)
	removed := map[string]bool{}
	seen := map[string]int{}
	cursor := ""
	for round := 0; ; round++ {
		path := "/api/v1/links?limit=40"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		var page struct {
			Links []struct {
				URL string `json:"url"`
			} `json:"links"`
			NextCursor *string `json:"next_cursor"`
		}
		api.do("GET", path, other, nil).want(t, 200).decode(t, &page)
		for _, l := range page.Links {
			seen[l.URL]++
		}
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
		// Add odd-numbered links around the cursor, remove one seen and
		// one not yet seen.
		var add []string
		for _, i := range []int{round*40 + 1, round*40 + 41, round*40 + 81, 499 - round} {
			add = append(add, name(i))
		}
		api.do("PUT", "/api/v1/links", other, map[string]any{"urls": add}).want(t, 200)
		gone := []string{name(round * 40), name(round*40 + 120)}
		for _, u := range gone {
			removed[u] = true
		}
		api.do("DELETE", "/api/v1/links", other, map[string]any{"urls": gone}).want(t, 200)
	}
	for _, u := range all {
		if !removed[u] {
			kept = append(kept, u)
		}
	}
	for _, u := range kept {
		require.Equal(t, 1, seen[u], "%s, there throughout, seen %d times", u, seen[u])
	}
	for u, n := range seen {
		require.Equal(t, 1, n, "%s seen %d times", u, n)
	}
	require.Greater(t, len(kept), 100)
}

// start starts lmsd over the store with fast timings and waits until it
// serves.
func (x *e2e) start() *lmsdProc {
	t := x.t
	x.starts++
	name := fmt.Sprintf("lmsd-%s-%d", x.store, x.starts)
	p := &lmsdProc{name: name, ready: filepath.Join(x.dir, "ready-"+name), done: make(chan struct{})}
	require.NoError(t, readyFile(p.ready))
	args := append([]string{"-addr", "127.0.0.1:0", "-allow-private", "-process-id", "e2e", "-mail-dir", filepath.Join(x.dir, "mail"),
		"-ready-file", p.ready, "-host-interval", "0", "-notify-interval", "50ms", "-notify-poll", "50ms",
		"-check-interval", "1h", "-min-recheck", "10m", "-confirm-delay", "50ms"}, x.args...)
	p.cmd = exec.Command(x.bin, args...)
	p.cmd.Env = append(os.Environ(), "LMS_ADMIN_SECRET="+secret)
	p.cmd.Stderr = &p.logs
	require.NoError(t, p.cmd.Start())
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("log of %s (%v):\n%s", p.name, p.err, p.logs.String())
		}
	})
	p.wait(t)
	return p
}
