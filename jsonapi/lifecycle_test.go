package jsonapi_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/guard"
)

type linkAnswer struct {
	URL          string  `json:"url"`
	State        string  `json:"state"`
	Reason       *string `json:"reason"`
	Code         *int    `json:"code"`
	FailingSince *string `json:"failing_since"`
	LastChecked  *string `json:"last_checked"`
	Sources      []struct {
		ID    string  `json:"id"`
		Title *string `json:"title"`
		Owner *string `json:"owner"`
	} `json:"sources"`
}

type linksPage struct {
	Links      []linkAnswer `json:"links"`
	NextCursor *string      `json:"next_cursor"`
}

// TestLifecycle walks a client through the API over every store: created
// by the operator, it registers a source and plain links, sees their
// states with their sources, finds its broken pages, and the subscription
// rule holds through the API.
func TestLifecycle(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := newEnv(t, st.open(t), guard.Config{})
			tok := e.newClient("wp-main")
			me := bearer(tok)

			var c struct {
				ID            string  `json:"id"`
				CallbackURL   *string `json:"callback_url"`
				Notifications bool    `json:"notifications"`
			}
			e.do("GET", "/api/v1/client", me, nil).want(t, 200).json(t, &c)
			if c.ID != "wp-main" || c.CallbackURL != nil || !c.Notifications {
				t.Fatalf("GET /client = %+v", c)
			}

			const gone, fine, plain = "https://example.org/gone", "https://example.org/", "http://example.net/Exact%20Case?q=1"
			var put struct{ Added, Removed int }
			e.do("PUT", "/api/v1/sources/node-42", me, map[string]any{"title": "About us", "url": "https://cms.example/node/42/edit", "owner": "editor@example.org", "links": []string{gone, fine, gone}}).want(t, 200).json(t, &put)
			if put.Added != 2 || put.Removed != 0 {
				t.Fatalf("PUT source: %+v", put)
			}
			e.do("PUT", "/api/v1/sources/node-7", me, map[string]any{"title": "Home", "url": "https://cms.example/node/7/edit", "links": []string{fine}}).want(t, 200)
			var added struct{ Added int }
			e.do("PUT", "/api/v1/links", me, map[string]any{"urls": []string{plain, fine}}).want(t, 200).json(t, &added)
			if added.Added != 1 {
				t.Fatalf("PUT /links added %d, want 1 (fine.example is a source's already)", added.Added)
			}
			e.record(lms.StateUnavailable, "The page was not found (404).", 404, gone)
			e.record(lms.StateOK, "ok", 200, fine, plain)

			var page linksPage
			e.do("GET", "/api/v1/links", me, nil).want(t, 200).json(t, &page)
			if len(page.Links) != 3 || page.NextCursor != nil {
				t.Fatalf("GET /links = %+v", page)
			}
			byURL := map[string]linkAnswer{}
			for _, l := range page.Links {
				byURL[l.URL] = l
			}
			if l := byURL[gone]; l.State != "unavailable" || l.Code == nil || *l.Code != 404 || l.FailingSince == nil || len(l.Sources) != 1 || l.Sources[0].ID != "node-42" || *l.Sources[0].Owner != "editor@example.org" {
				t.Fatalf("the broken link: %+v", l)
			}
			if l := byURL[fine]; len(l.Sources) != 2 || l.Sources[0].ID != "node-42" || l.Sources[1].ID != "node-7" || l.FailingSince != nil {
				t.Fatalf("the shared link: %+v", l)
			}
			if l, ok := byURL[plain]; !ok || len(l.Sources) != 0 {
				t.Fatalf("the plain link, byte-identical: %+v (%v)", l, ok)
			}

			// Filters.
			e.do("GET", "/api/v1/links?state=unavailable", me, nil).want(t, 200).json(t, &page)
			if len(page.Links) != 1 || page.Links[0].URL != gone {
				t.Fatalf("?state=unavailable: %+v", page)
			}
			e.do("GET", "/api/v1/links?source=node-7", me, nil).want(t, 200).json(t, &page)
			if len(page.Links) != 1 || page.Links[0].URL != fine {
				t.Fatalf("?source=node-7: %+v", page)
			}
			e.do("GET", "/api/v1/links?owner=editor@example.org&host=example.org", me, nil).want(t, 200).json(t, &page)
			if len(page.Links) != 2 {
				t.Fatalf("?owner&host: %+v", page)
			}
			e.do("GET", "/api/v1/links?q=EXACT", me, nil).want(t, 200).json(t, &page)
			if len(page.Links) != 1 || page.Links[0].URL != plain {
				t.Fatalf("?q=: %+v", page)
			}
			e.do("GET", "/api/v1/links?source=nope", me, nil).want(t, 404).problem(t)

			var srcs struct {
				Sources []struct {
					ID     string `json:"id"`
					Counts struct {
						Unavailable, OK, Total int
					} `json:"counts"`
				} `json:"sources"`
			}
			e.do("GET", "/api/v1/sources?state=unavailable", me, nil).want(t, 200).json(t, &srcs)
			if len(srcs.Sources) != 1 || srcs.Sources[0].ID != "node-42" || srcs.Sources[0].Counts.Unavailable != 1 || srcs.Sources[0].Counts.Total != 2 {
				t.Fatalf("pages with broken links: %+v", srcs)
			}

			var q struct{ Links []linkAnswer }
			e.do("POST", "/api/v1/links/query", me, map[string]any{"urls": []string{"https://never.example/", gone}}).want(t, 200).json(t, &q)
			if len(q.Links) != 2 || q.Links[0].State != "unknown" || q.Links[0].Reason != nil || q.Links[1].State != "unavailable" {
				t.Fatalf("query: %+v", q)
			}

			// The subscription rule through the API.
			var rm struct{ Removed int }
			e.do("DELETE", "/api/v1/links", me, map[string]any{"urls": []string{fine, plain}}).want(t, 200).json(t, &rm)
			if rm.Removed != 1 {
				t.Fatalf("DELETE /links removed %d, want 1 (sources still use fine)", rm.Removed)
			}
			e.do("DELETE", "/api/v1/sources/node-42", me, nil).want(t, 204)
			e.do("DELETE", "/api/v1/sources/node-42", me, nil).want(t, 404).problem(t)
			e.do("GET", "/api/v1/links", me, nil).want(t, 200).json(t, &page)
			if len(page.Links) != 1 || page.Links[0].URL != fine || len(page.Links[0].Sources) != 1 {
				t.Fatalf("after deleting node-42: %+v", page)
			}
			var src struct {
				ID    string   `json:"id"`
				Links []string `json:"links"`
			}
			e.do("GET", "/api/v1/sources/node-7", me, nil).want(t, 200).json(t, &src)
			if src.ID != "node-7" || !slices.Equal(src.Links, []string{fine}) {
				t.Fatalf("GET source: %+v", src)
			}

			e.do("POST", "/api/v1/sync", me, nil).want(t, 202)
			if cl, _ := e.e.Client(context.Background(), "wp-main"); !cl.SyncForced {
				t.Fatal("POST /sync did not force a sync")
			}
			var patched struct {
				Notifications bool    `json:"notifications"`
				ContactEmail  *string `json:"contact_email"`
			}
			e.do("PATCH", "/api/v1/client", me, map[string]any{"notifications": false, "contact_email": "Team <team@example.org>"}).want(t, 200).json(t, &patched)
			if patched.Notifications || *patched.ContactEmail != "team@example.org" {
				t.Fatalf("PATCH: %+v", patched)
			}

			// The operator's paths.
			var list struct {
				Clients []struct {
					ID string `json:"id"`
				} `json:"clients"`
			}
			e.do("GET", "/api/v1/admin/clients", admin, nil).want(t, 200).json(t, &list)
			if len(list.Clients) != 1 || list.Clients[0].ID != "wp-main" {
				t.Fatalf("admin list: %+v", list)
			}
			e.do("POST", "/api/v1/admin/clients", admin, map[string]any{"id": "wp-main", "contact_email": "x@example.org"}).want(t, 409).problem(t)
			e.do("DELETE", "/api/v1/admin/clients/wp-main", admin, nil).want(t, 204)
			e.do("GET", "/api/v1/client", me, nil).want(t, 401).problem(t)
			e.do("GET", "/api/v1/admin/clients/wp-main", admin, nil).want(t, 404).problem(t)
		})
	}
}

// TestTokens: several named tokens, revocable at once; the XML-RPC
// password works as Basic.
func TestTokens(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := newEnv(t, st.open(t), guard.Config{})
			pw, err := e.e.RegisterClient(context.Background(), adminSecret, lms.Registration{ID: "plone", ContactEmail: "a@example.org", CallbackURL: "http://127.0.0.1:9/cb"})
			if err != nil {
				t.Fatal(err)
			}
			pass := basic("plone", pw)
			e.do("GET", "/api/v1/client", pass, nil).want(t, 200)
			e.do("GET", "/api/v1/client", basic("plone", pw+"x"), nil).want(t, 401).problem(t)

			var tok struct {
				Name, Token string
			}
			e.do("POST", "/api/v1/client/tokens", pass, map[string]string{"name": "ci"}).want(t, 201).json(t, &tok)
			e.do("POST", "/api/v1/client/tokens", pass, map[string]string{"name": "ci"}).want(t, 409).problem(t)
			if p := e.do("POST", "/api/v1/client/tokens", pass, map[string]string{"name": "has space"}).want(t, 422).problem(t); !p.names("/name") {
				t.Fatalf("bad token name: %+v", p)
			}
			var second struct{ Token string }
			e.do("POST", "/api/v1/client/tokens", bearer(tok.Token), map[string]string{"name": "wp"}).want(t, 201).json(t, &second)
			var list struct {
				Tokens []map[string]any `json:"tokens"`
			}
			e.do("GET", "/api/v1/client/tokens", bearer(second.Token), nil).want(t, 200).json(t, &list)
			if len(list.Tokens) != 2 || list.Tokens[0]["name"] != "ci" || list.Tokens[0]["token"] != nil {
				t.Fatalf("token list: %+v", list)
			}
			e.do("DELETE", "/api/v1/client/tokens/ci", bearer(second.Token), nil).want(t, 204)
			e.do("GET", "/api/v1/client", bearer(tok.Token), nil).want(t, 401).problem(t)
			e.do("GET", "/api/v1/client", bearer(second.Token), nil).want(t, 200)
			e.do("DELETE", "/api/v1/client/tokens/ci", bearer(second.Token), nil).want(t, 404).problem(t)
			// A token whose secret part is changed names the client but is
			// not its token.
			forged := second.Token[:len(second.Token)-2] + "AA"
			if forged == second.Token {
				forged = second.Token[:len(second.Token)-2] + "BB"
			}
			e.do("GET", "/api/v1/client", bearer(forged), nil).want(t, 401).problem(t)
		})
	}
}

// TestPagingWhileLinksChange: following cursors while links are added and
// removed sees every link present throughout exactly once.
func TestPagingWhileLinksChange(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := newEnv(t, st.open(t), guard.Config{})
			me := bearer(e.newClient("c"))
			var urls []string
			for i := range 250 {
				urls = append(urls, fmt.Sprintf("https://h%d.example/p/%03d", i%7, i))
			}
			e.do("PUT", "/api/v1/links", me, map[string]any{"urls": urls}).want(t, 200)
			seen := map[string]int{}
			cursor, removed := "", map[string]bool{}
			for round := 0; ; round++ {
				path := "/api/v1/links?limit=60"
				if cursor != "" {
					path += "&cursor=" + cursor
				}
				var page linksPage
				e.do("GET", path, me, nil).want(t, 200).json(t, &page)
				for _, l := range page.Links {
					seen[l.URL]++
				}
				if page.NextCursor == nil {
					break
				}
				cursor = *page.NextCursor
				// Change the set behind and ahead of the cursor.
				gone := urls[len(urls)-1-round]
				removed[gone] = true
				e.do("DELETE", "/api/v1/links", me, map[string]any{"urls": []string{gone}}).want(t, 200)
				e.do("PUT", "/api/v1/links", me, map[string]any{"urls": []string{fmt.Sprintf("https://a.example/new%d", round), fmt.Sprintf("https://z.example/new%d", round)}}).want(t, 200)
			}
			for _, u := range urls {
				if n := seen[u]; n > 1 || (n == 0 && !removed[u]) {
					t.Errorf("%s seen %d times", u, n)
				}
			}
			for u, n := range seen {
				if n != 1 {
					t.Errorf("%s seen %d times", u, n)
				}
			}
		})
	}
}

// TestSourcesPaging pages through sources by state.
func TestSourcesPaging(t *testing.T) {
	e := newEnv(t, stores[0].open(t), guard.Config{})
	me := bearer(e.newClient("c"))
	for i := range 5 {
		e.do("PUT", fmt.Sprintf("/api/v1/sources/p%d", i), me, map[string]any{"title": "t", "url": "", "links": []string{fmt.Sprintf("https://x.example/%d", i)}}).want(t, 200)
	}
	var ids []string
	cursor := ""
	for {
		var page struct {
			Sources []struct {
				ID string `json:"id"`
			} `json:"sources"`
			NextCursor *string `json:"next_cursor"`
		}
		e.do("GET", "/api/v1/sources?limit=2&state=unknown"+cursor, me, nil).want(t, 200).json(t, &page)
		for _, s := range page.Sources {
			ids = append(ids, s.ID)
		}
		if page.NextCursor == nil {
			break
		}
		cursor = "&cursor=" + *page.NextCursor
	}
	if !slices.Equal(ids, []string{"p0", "p1", "p2", "p3", "p4"}) {
		t.Fatalf("paged sources: %v", ids)
	}
	if a := e.do("GET", "/api/v1/sources?state=ok", me, nil).want(t, 200); string(a.body) != "{\"sources\":[]}\n" {
		t.Fatalf("no sources in state ok: %s", a.body)
	}
	_ = http.StatusOK
}
