package jsonapi_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/guard"
	"github.com/linkmonitor/lms/jsonapi"
	"github.com/linkmonitor/lms/memstore"
)

// newEditorsEnv is newEnv with an Engine configured by cfg.
func newEditorsEnv(t *testing.T, store lms.Store, cfg lms.Config) *env {
	t.Helper()
	t.Cleanup(func() { _ = store.Close() })
	cfg.AdminSecret, cfg.Components = adminSecret, lms.RunChecker
	e, err := lms.New(store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(jsonapi.New(e, jsonapi.Config{Guard: guard.New(guard.Config{Delay: -1})}))
	t.Cleanup(srv.Close)
	return &env{t: t, e: e, store: store, srv: srv, c: &http.Client{Transport: docValidator(t).Transport(t, srv.Client().Transport)}}
}

type editorLink struct {
	URL        string  `json:"url"`
	State      string  `json:"state"`
	Reason     *string `json:"reason"`
	Ignored    *string `json:"ignored"`
	Suggestion *struct {
		Kind       string     `json:"kind"`
		URL        string     `json:"url"`
		ArchivedAt *time.Time `json:"archived_at"`
	} `json:"suggestion"`
}

type editorLinks struct {
	Links      []editorLink `json:"links"`
	NextCursor string       `json:"next_cursor"`
}

func byURL(ls []editorLink) map[string]editorLink {
	m := map[string]editorLink{}
	for _, l := range ls {
		m[l.URL] = l
	}
	return m
}

const (
	gone  = "https://example.org/gone"
	moved = "https://example.org/moved"
	fine  = "https://example.org/fine"
)

// setUpSite makes the client "site" with three links (one in a source),
// one broken since an ok check, one moved permanently, and the client
// "other" with none; it returns their tokens.
func setUpSite(t *testing.T, e *env) (site, other auth) {
	t.Helper()
	site, other = bearer(e.newClient("site")), bearer(e.newClient("other"))
	e.do("PUT", "/api/v1/links", site, map[string]any{"urls": []string{gone, moved, fine}}).want(t, 200)
	e.do("PUT", "/api/v1/sources/node-1", site, map[string]any{"title": "@About us", "url": "https://cms.example/node/1/edit", "links": []string{gone}}).want(t, 200)
	t0 := time.Now().Add(-time.Hour)
	rec := func(at time.Time, u string, r lms.Result) lms.Outcome {
		return lms.Outcome{URL: u, Result: r, Checked: at, NextDue: at.Add(24 * time.Hour)}
	}
	for _, batch := range [][]lms.Outcome{
		{rec(t0, gone, lms.Result{State: lms.StateOK, Reason: "OK", Code: 200}), rec(t0, fine, lms.Result{State: lms.StateOK, Reason: "OK", Code: 200}),
			rec(t0, moved, lms.Result{State: lms.StateOK, Reason: "OK", Code: 200, FinalURL: "https://example.org/new", Permanent: true})},
		{rec(t0.Add(time.Minute), gone, lms.Result{State: lms.StateUnavailable, Reason: `=HYPERLINK("http://evil.example","Not Found, really")`, Code: 404})},
	} {
		if err := e.store.RecordResults(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	return site, other
}

func TestEditorPaths(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := newEditorsEnv(t, st.open(t), lms.Config{RecheckPerHour: 3})
			site, other := setUpSite(t, e)

			// History: newest first, paged with the cursor.
			var h struct {
				URL     string `json:"url"`
				Changes []struct {
					State string `json:"state"`
					Code  *int   `json:"code"`
				} `json:"changes"`
				NextCursor string `json:"next_cursor"`
			}
			e.do("GET", "/api/v1/links/history?limit=1&url="+url.QueryEscape(gone), site, nil).want(t, 200).json(t, &h)
			if len(h.Changes) != 1 || h.Changes[0].State != "unavailable" || h.NextCursor == "" {
				t.Fatalf("first page of the history: %+v", h)
			}
			cur := h.NextCursor
			h.NextCursor = ""
			e.do("GET", "/api/v1/links/history?limit=1&url="+url.QueryEscape(gone)+"&cursor="+cur, site, nil).want(t, 200).json(t, &h)
			if len(h.Changes) != 1 || h.Changes[0].State != "ok" || h.NextCursor != "" {
				t.Fatalf("second page of the history: %+v", h)
			}
			if p := e.do("GET", "/api/v1/links/history?url="+url.QueryEscape(gone), other, nil).want(t, 404).problem(t); strings.Contains(p.Detail, "gone") {
				t.Fatalf("another client's link: %+v", p)
			}
			if !e.do("GET", "/api/v1/links/history", site, nil).want(t, 422).problem(t).names("url") {
				t.Fatal("a missing url is not named")
			}
			if !e.do("GET", "/api/v1/links/history?url=x&cursor=bogus", site, nil).want(t, 422).problem(t).names("cursor") {
				t.Fatal("a bad cursor is not named")
			}

			// Suggestions: the moved link's target; the broken link's
			// archived copy once looked up.
			var page editorLinks
			e.do("GET", "/api/v1/links", site, nil).want(t, 200).json(t, &page)
			m := byURL(page.Links)
			if s := m[moved].Suggestion; s == nil || s.Kind != "redirect" || s.URL != "https://example.org/new" || s.ArchivedAt != nil {
				t.Fatalf("moved link's suggestion: %+v", s)
			}
			if m[gone].Suggestion != nil || m[fine].Suggestion != nil {
				t.Fatalf("suggestions before any look-up: %+v", page.Links)
			}
			snap := "http://web.archive.org/web/20130919044612/" + gone
			if err := e.store.(lms.ArchiveStore).PutArchivedCopy(context.Background(), lms.ArchivedCopy{URL: gone, Snapshot: snap, ArchivedAt: time.Date(2013, 9, 19, 4, 46, 12, 0, time.UTC), Looked: time.Now()}); err != nil {
				t.Fatal(err)
			}
			var q editorLinks
			e.do("POST", "/api/v1/links/query", site, map[string]any{"urls": []string{gone}}).want(t, 200).json(t, &q)
			if s := q.Links[0].Suggestion; s == nil || s.Kind != "archive" || s.URL != snap || s.ArchivedAt == nil || !s.ArchivedAt.Equal(time.Date(2013, 9, 19, 4, 46, 12, 0, time.UTC)) {
				t.Fatalf("broken link's suggestion: %+v", s)
			}

			// Ignore: per client, listed with the filter, undone.
			var n map[string]int
			e.do("POST", "/api/v1/links/ignore", site, map[string]any{"urls": []string{gone, "https://unknown.example/"}}).want(t, 200).json(t, &n)
			if n["ignored"] != 1 {
				t.Fatalf("ignore: %v", n)
			}
			e.do("POST", "/api/v1/links/ignore", site, map[string]any{"urls": []string{fine}, "until_changed": false}).want(t, 200)
			e.do("POST", "/api/v1/links/ignore", other, map[string]any{"urls": []string{moved}}).want(t, 200).json(t, &n)
			if n["ignored"] != 0 {
				t.Fatalf("another client ignored the site's link: %v", n)
			}
			page = editorLinks{}
			e.do("GET", "/api/v1/links?ignored=true", site, nil).want(t, 200).json(t, &page)
			m = byURL(page.Links)
			if len(m) != 2 || m[gone].Ignored == nil || *m[gone].Ignored != "until_changed" || m[fine].Ignored == nil || *m[fine].Ignored != "forever" {
				t.Fatalf("ignored=true: %+v", page.Links)
			}
			if m[gone].Suggestion == nil {
				t.Fatal("an ignored link keeps its suggestion")
			}
			page = editorLinks{}
			e.do("GET", "/api/v1/links?ignored=false", site, nil).want(t, 200).json(t, &page)
			if len(page.Links) != 1 || page.Links[0].URL != moved || page.Links[0].Ignored != nil {
				t.Fatalf("ignored=false: %+v", page.Links)
			}
			page = editorLinks{}
			e.do("GET", "/api/v1/links?ignored=true&q=GONE", site, nil).want(t, 200).json(t, &page)
			if len(page.Links) != 1 || page.Links[0].URL != gone {
				t.Fatalf("ignored=true&q=GONE: %+v", page.Links)
			}
			if !e.do("GET", "/api/v1/links?ignored=yes", site, nil).want(t, 422).problem(t).names("ignored") {
				t.Fatal("a bad ignored filter is not named")
			}
			if !e.do("POST", "/api/v1/links/ignore", site, map[string]any{"urls": []string{gone}, "until_changd": false}).want(t, 422).problem(t).names("/until_changd") {
				t.Fatal("an unknown field is not named")
			}
			if !e.do("POST", "/api/v1/links/ignore", site, map[string]any{"urls": []string{gone}, "until_changed": "no"}).want(t, 422).problem(t).names("/until_changed") {
				t.Fatal("a wrong type is not named")
			}
			if !e.do("POST", "/api/v1/links/ignore", site, map[string]any{}).want(t, 422).problem(t).names("/urls") {
				t.Fatal("missing urls are not named")
			}

			// The report leaves the ignored links out unless asked.
			var rep struct {
				Client string       `json:"client"`
				Links  []editorLink `json:"links"`
			}
			e.do("GET", "/api/v1/report?format=json", site, nil).want(t, 200).json(t, &rep)
			if rep.Client != "site" || len(rep.Links) != 1 || rep.Links[0].URL != moved {
				t.Fatalf("report: %+v", rep)
			}
			rep.Links = nil
			e.do("GET", "/api/v1/report?ignored=true", site, nil).want(t, 200).json(t, &rep)
			if len(rep.Links) != 3 {
				t.Fatalf("report with the ignored links: %+v", rep)
			}
			rep.Links = nil
			e.do("GET", "/api/v1/report", other, nil).want(t, 200).json(t, &rep)
			if rep.Client != "other" || len(rep.Links) != 0 {
				t.Fatalf("another client's report: %+v", rep)
			}

			e.do("DELETE", "/api/v1/links/ignore", site, map[string]any{"urls": []string{gone, fine}}).want(t, 200).json(t, &n)
			if n["unignored"] != 2 {
				t.Fatalf("unignore: %v", n)
			}
			rows := csvReport(t, e, site, "")
			if len(rows) != 4 {
				t.Fatalf("CSV report: %d rows, want a header and 3: %q", len(rows), rows)
			}
			if strings.Join(rows[0], ",") != "url,state,reason,code,final_url,permanent_redirect,last_checked,failing_since,failed_checks,ignored,suggestion,sources" {
				t.Fatalf("header row: %q", rows[0])
			}
			goneRow := rows[2] // in URL order: fine, gone, moved
			if goneRow[0] != gone || goneRow[1] != "unavailable" || goneRow[3] != "404" || goneRow[10] != snap {
				t.Fatalf("the broken link's row: %q", goneRow)
			}
			if goneRow[2] != `'=HYPERLINK("http://evil.example","Not Found, really")` || goneRow[11] != "'@About us <https://cms.example/node/1/edit>" {
				t.Fatalf("cells that start like formulas are not defused: %q", goneRow)
			}

			// Re-check: 202, the client's links only, capped per hour.
			e.do("POST", "/api/v1/links/recheck", site, map[string]any{"urls": []string{gone, moved, "https://unknown.example/"}}).want(t, 202).json(t, &n)
			if n["rechecking"] != 2 {
				t.Fatalf("recheck: %v", n)
			}
			a := e.do("POST", "/api/v1/links/recheck", site, map[string]any{"urls": []string{gone}}).want(t, 429)
			if p := a.problem(t); p.Type != "/api/docs#problem-rate-limited" || a.header.Get("Retry-After") == "" || a.header.Get("Retry-After") == "0" {
				t.Fatalf("over the cap: %+v, Retry-After %q", p, a.header.Get("Retry-After"))
			}
			if !e.do("POST", "/api/v1/links/recheck", other, map[string]any{"urls": []string{gone, moved, fine, "https://x.example/"}}).want(t, 422).problem(t).names("/urls") {
				t.Fatal("more URLs than the hourly cap in one call: not named")
			}
			if !e.do("POST", "/api/v1/links/recheck", other, map[string]any{"urls": []string{gone}, "now": true}).want(t, 422).problem(t).names("/now") {
				t.Fatal("an unknown field is not named")
			}
			e.do("POST", "/api/v1/links/recheck", other, `{"urls": [`).want(t, 400)
		})
	}
}

// csvReport fetches the CSV report with query and parses it strictly.
func csvReport(t *testing.T, e *env, a auth, query string) [][]string {
	t.Helper()
	ans := e.do("GET", "/api/v1/report?format=csv"+query, a, nil).want(t, 200)
	if ct := ans.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("Content-Type %q", ct)
	}
	if !bytes.HasSuffix(ans.body, []byte("\r\n")) {
		t.Fatalf("the CSV does not end its rows with CRLF: %q", ans.body)
	}
	r := csv.NewReader(bytes.NewReader(ans.body))
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("the CSV does not parse: %v\n%s", err, ans.body)
	}
	return rows
}

func TestReportBadInput(t *testing.T) {
	e := newEnv(t, memstore.New(), guard.Config{})
	site := bearer(e.newClient("site"))
	for q, field := range map[string]string{"format=xml": "format", "ignored=1": "ignored", "state=broken": "state", "limit=5": "limit", "sort=url": "sort"} {
		if !e.do("GET", "/api/v1/report?"+q, site, nil).want(t, 422).problem(t).names(field) {
			t.Errorf("?%s: %s is not named", q, field)
		}
	}
	e.do("GET", "/api/v1/report", noAuth, nil).want(t, 401)
}

// TestReportStreamsPages: a report over several pages holds every link
// once, in URL order.
func TestReportStreamsPages(t *testing.T) {
	e := newEnv(t, memstore.New(), guard.Config{})
	site := bearer(e.newClient("site"))
	const n = 2500
	urls := make([]string, n)
	for i := range urls {
		urls[i] = fmt.Sprintf("https://h%d.example/p/%05d", i%7, i)
	}
	e.do("PUT", "/api/v1/links", site, map[string]any{"urls": urls}).want(t, 200)
	e.record(lms.StateUnavailable, "-1 reasons", 500, urls[:10]...)
	rows := csvReport(t, e, site, "")
	if len(rows) != n+1 {
		t.Fatalf("%d rows, want %d", len(rows), n+1)
	}
	seen := map[string]bool{}
	for i, row := range rows[1:] {
		if seen[row[0]] || (i > 0 && row[0] <= rows[i][0]) {
			t.Fatalf("row %d: %q repeated or out of order", i+1, row[0])
		}
		seen[row[0]] = true
		if row[1] == "unavailable" && row[2] != "'-1 reasons" {
			t.Fatalf("row %d: reason %q", i+1, row[2])
		}
	}
	rows = csvReport(t, e, site, "&state=unavailable")
	if len(rows) != 11 {
		t.Fatalf("state=unavailable: %d rows, want 11", len(rows))
	}
}
