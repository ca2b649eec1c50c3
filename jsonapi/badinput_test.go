package jsonapi_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/guard"
)

// TestBadInput: every kind of bad request gets its problem, names what
// was wrong, and changes nothing.
func TestBadInput(t *testing.T) {
	e := newEnv(t, stores[0].open(t), guard.Config{MaxBodyBytes: 1 << 20})
	me := bearer(e.newClient("c"))
	e.do("PUT", "/api/v1/sources/p", me, map[string]any{"title": "Keep", "url": "", "links": []string{"https://keep.example/"}}).want(t, 200)

	cases := []struct {
		name, method, path string
		body               any
		status             int
		field              string // the field the problem must name; "" if none
	}{
		{"bad JSON", "PUT", "/api/v1/links", `{"urls": [`, 400, ""},
		{"not JSON", "PUT", "/api/v1/links", `urls=x`, 400, ""},
		{"empty body", "PUT", "/api/v1/links", ``, 400, ""},
		{"two values", "PUT", "/api/v1/links", `{"urls": []} {}`, 400, ""},
		{"unknown field", "PUT", "/api/v1/sources/p", `{"titel": "x", "title": "x", "url": "", "links": []}`, 422, "/titel"},
		{"wrong type", "PUT", "/api/v1/sources/p", `{"title": 5, "url": "", "links": []}`, 422, "/title"},
		{"wrong element type", "PUT", "/api/v1/links", `{"urls": ["https://a.example/", 7]}`, 422, "/urls"},
		{"missing field", "PUT", "/api/v1/sources/p", `{"title": "x", "url": ""}`, 422, "/links"},
		{"invalid URL", "PUT", "/api/v1/sources/p", map[string]any{"title": "x", "url": "", "links": []string{"https://ok.example/", "not a url"}}, 422, "/links/1"},
		{"invalid plain URL", "PUT", "/api/v1/links", map[string]any{"urls": []string{"", "https://ok.example/"}}, 422, "/urls/0"},
		{"control in title", "PUT", "/api/v1/sources/p", map[string]any{"title": "a\nb", "url": "", "links": []string{}}, 422, ""},
		{"array, not object", "PUT", "/api/v1/links", `["https://a.example/"]`, 422, ""},
		{"null urls", "PUT", "/api/v1/links", `{"urls": null}`, 422, "/urls"},
		{"too many URLs", "POST", "/api/v1/links/query", map[string]any{"urls": make([]string, 10001)}, 422, "/urls"},
		{"unknown query", "GET", "/api/v1/links?stat=ok", nil, 422, "stat"},
		{"bad state", "GET", "/api/v1/links?state=broken", nil, 422, "state"},
		{"limit 0", "GET", "/api/v1/links?limit=0", nil, 422, "limit"},
		{"limit 1001", "GET", "/api/v1/sources?limit=1001", nil, 422, "limit"},
		{"bad cursor", "GET", "/api/v1/links?cursor=nope", nil, 422, "cursor"},
		{"patch null name", "PATCH", "/api/v1/client", `{"contact_name": null}`, 422, "/contact_name"},
		{"patch bad mail", "PATCH", "/api/v1/client", `{"contact_email": "no address", "notifications": false}`, 422, "/contact_email"},
		{"patch bad callback", "PATCH", "/api/v1/client", `{"callback_url": "ftp://x.example/"}`, 422, "/callback_url"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := e.do(tc.method, tc.path, me, tc.body).want(t, tc.status)
			p := a.problem(t)
			if p.Status != tc.status || p.Detail == "" {
				t.Fatalf("problem %+v", p)
			}
			if tc.field != "" && !p.names(tc.field) {
				t.Fatalf("the problem does not name %q: %+v", tc.field, p)
			}
			for _, leak := range []string{"json:", "lms:", "memstore", "Go ", "unmarshal"} {
				if strings.Contains(string(a.body), leak) {
					t.Fatalf("the problem leaks %q: %s", leak, a.body)
				}
			}
		})
	}

	// Nothing changed: the source, the links, the settings.
	src, err := e.e.GetSource(context.Background(), "c", "p")
	if err != nil || src.Title != "Keep" || len(src.Links) != 1 {
		t.Fatalf("the source changed: %+v, %v", src, err)
	}
	if cl, _ := e.e.Client(context.Background(), "c"); !cl.Notify || cl.ContactEmail != "c@example.org" {
		t.Fatalf("the client changed: %+v", cl)
	}
	if ls, _ := e.e.ClientLinks(context.Background(), "c", lmsPage()); len(ls) != 1 {
		t.Fatalf("links changed: %+v", ls)
	}

	t.Run("wrong content type", func(t *testing.T) {
		req, _ := http.NewRequest("PUT", e.srv.URL+"/api/v1/links", strings.NewReader(`{"urls": []}`))
		req.Header.Set("Content-Type", "text/plain")
		me(req)
		resp, err := e.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 415 {
			t.Fatalf("status %d, want 415", resp.StatusCode)
		}
	})
	t.Run("huge body", func(t *testing.T) {
		big := `{"urls": ["` + strings.Repeat("a", 2<<20) + `"]}`
		e.do("PUT", "/api/v1/links", me, big).want(t, 413).problem(t)
	})
	t.Run("huge body without length", func(t *testing.T) {
		req, _ := http.NewRequest("PUT", e.srv.URL+"/api/v1/links", struct{ *strings.Reader }{strings.NewReader(`{"urls": ["` + strings.Repeat("a", 2<<20) + `"]}`)})
		req.Header.Set("Content-Type", "application/json")
		me(req)
		resp, err := e.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 413 || req.ContentLength != 0 {
			t.Fatalf("status %d (length %d), want 413", resp.StatusCode, req.ContentLength)
		}
	})
	t.Run("invalid client id", func(t *testing.T) {
		p := e.do("POST", "/api/v1/admin/clients", admin, map[string]any{"id": "a\u0001b", "contact_email": "x@example.org"}).want(t, 422).problem(t)
		if !p.names("/id") {
			t.Fatalf("%+v", p)
		}
		if cs, _ := e.e.Clients(context.Background()); len(cs) != 1 {
			t.Fatalf("clients: %d", len(cs))
		}
	})
	t.Run("unknown path and method", func(t *testing.T) {
		e.do("GET", "/api/v1/nothing", me, nil).want(t, 404).problem(t)
		a := e.do("POST", "/api/v1/client", me, nil).want(t, 405)
		a.problem(t)
		if a.header.Get("Allow") != "GET, PATCH" {
			t.Fatalf("Allow: %q", a.header.Get("Allow"))
		}
	})
	_ = strconv.Itoa
}

// TestAuth: missing, wrong, revoked credentials; the operator and the
// clients each on their own paths; another client's resources.
func TestAuth(t *testing.T) {
	e := newEnv(t, stores[0].open(t), guard.Config{IDBurst: 3, AddrBurst: 1000})
	a := bearer(e.newClient("a"))
	b := bearer(e.newClient("b"))
	e.do("PUT", "/api/v1/sources/page", a, map[string]any{"title": "A's", "url": "", "links": []string{"https://a.example/"}}).want(t, 200)

	for _, tc := range []struct {
		name   string
		how    auth
		status int
	}{
		{"none", noAuth, 401},
		{"empty bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer ") }, 401},
		{"other scheme", func(r *http.Request) { r.Header.Set("Authorization", "Digest x") }, 401},
		{"not a token", bearer("guess"), 401},
		{"unknown client's token", bearer("lmst_bm9ib2R5.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), 401},
		{"admin secret", admin, 403},
		{"basic of unknown", basic("nobody", "x"), 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ans := e.do("GET", "/api/v1/client", tc.how, nil).want(t, tc.status)
			ans.problem(t)
			if tc.status == 401 && !strings.Contains(ans.header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("WWW-Authenticate: %q", ans.header.Get("WWW-Authenticate"))
			}
		})
	}
	e.do("GET", "/api/v1/admin/clients", a, nil).want(t, 403).problem(t)
	e.do("GET", "/api/v1/admin/clients", bearer("wrong secret"), nil).want(t, 401).problem(t)
	e.do("GET", "/api/v1/admin/clients", noAuth, nil).want(t, 401).problem(t)
	// The document needs none.
	e.do("GET", "/api/v1/openapi.json", noAuth, nil).want(t, 200)

	// Another client's resources do not exist for b.
	e.do("GET", "/api/v1/sources/page", b, nil).want(t, 404).problem(t)
	e.do("DELETE", "/api/v1/sources/page", b, nil).want(t, 404).problem(t)
	e.do("GET", "/api/v1/links?source=page", b, nil).want(t, 404).problem(t)
	var page linksPage
	e.do("GET", "/api/v1/links", b, nil).want(t, 200).json(t, &page)
	if len(page.Links) != 0 {
		t.Fatalf("b sees a's links: %+v", page)
	}
	e.do("GET", "/api/v1/sources/page", a, nil).want(t, 200)

	// Guessing a client's tokens is throttled per id; its real token
	// still works meanwhile.
	forged := "lmst_YQ.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	var last answer
	for range 5 {
		last = e.do("GET", "/api/v1/client", bearer(forged), nil)
	}
	last.want(t, 429).problem(t)
	if ra, err := strconv.Atoi(last.header.Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("Retry-After: %q", last.header.Get("Retry-After"))
	}
	e.do("GET", "/api/v1/client", a, nil).want(t, 200)
}

func lmsPage() lms.Page { return lms.Page{} }
