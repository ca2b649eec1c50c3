package jsonapi_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/guard"
	"github.com/linkmonitor/lms/memstore"
	"github.com/linkmonitor/lms/webui"
)

// The JSON API's report and the web UI's export of the same client and
// filters are the same bytes (but for the time they were generated): one
// implementation, package report. The client has a broken link with a
// formula for a reason and an archived copy, a moved one, an ignored one,
// a source whose title starts like a formula, and enough links for more
// than one page.
func TestReportMatchesWebUIExport(t *testing.T) {
	e := newEnv(t, memstore.New(), guard.Config{})
	site, _ := setUpSite(t, e)
	ctx := context.Background()
	if err := e.store.(lms.ArchiveStore).PutArchivedCopy(ctx, lms.ArchivedCopy{URL: gone, Snapshot: "http://web.archive.org/web/20130919044612/" + gone,
		ArchivedAt: time.Date(2013, 9, 19, 4, 46, 12, 0, time.UTC), Looked: time.Now()}); err != nil {
		t.Fatal(err)
	}
	more := make([]string, 1200)
	for i := range more {
		more[i] = fmt.Sprintf("https://example.net/p/%04d", i)
	}
	e.do("PUT", "/api/v1/links", site, map[string]any{"urls": more}).want(t, 200)
	e.record(lms.StateTemporary, "+1 timeouts", 503, more[:30]...)
	e.do("POST", "/api/v1/links/ignore", site, map[string]any{"urls": []string{fine, more[1]}, "until_changed": false}).want(t, 200)

	ui, err := webui.New(e.e, webui.Config{AdminSecret: adminSecret})
	if err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(ui)
	t.Cleanup(web.Close)
	export := func(path string) []byte {
		t.Helper()
		req, _ := http.NewRequest("GET", web.URL+path, nil)
		req.SetBasicAuth("admin", adminSecret)
		res, err := web.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("%s: %d %v", path, res.StatusCode, err)
		}
		return b
	}
	generated := regexp.MustCompile(`^\{"client":"site","generated":"[0-9TZ:-]{20}",`)
	for api, ui := range map[string]string{
		"format=csv":                             "export.csv",
		"format=csv&ignored=true":                "export.csv?ignored=with",
		"format=csv&state=temporary+unavailable": "export.csv?state=temporary+unavailable",
		"format=json":                            "export.json",
		"format=json&ignored=true":               "export.json?ignored=with",
		"format=json&state=unavailable":          "export.json?state=unavailable",
	} {
		a := e.do("GET", "/api/v1/report?"+api, site, nil).want(t, 200).body
		b := export("/admin/clients/site/" + ui)
		if len(a) < 200 {
			t.Fatalf("?%s: a report of %d bytes: %s", api, len(a), a)
		}
		if strings.HasPrefix(api, "format=json") {
			if !generated.Match(a) || !generated.Match(b) {
				t.Fatalf("?%s: no generated time where expected:\n%.100s\n%.100s", api, a, b)
			}
			a, b = generated.ReplaceAll(a, nil), generated.ReplaceAll(b, nil)
		}
		if string(a) != string(b) {
			t.Errorf("?%s: the JSON API's report (%d bytes) and the web UI's %s (%d bytes) differ:\n%.2000s\n---\n%.2000s", api, len(a), ui, len(b), a, b)
		}
	}
}

// brokenStore fails to list links after the URL from.
type brokenStore struct {
	*memstore.Store
	from atomic.Pointer[string] // the server's goroutines read it
}

func (s *brokenStore) ClientLinks(ctx context.Context, clientID string, p lms.Page) ([]lms.Link, error) {
	if p.After >= *s.from.Load() {
		return nil, errors.New("the store is down")
	}
	return s.Store.ClientLinks(ctx, clientID, p)
}

// A store that fails on the report's first page gets a problem; one that
// fails after the answer began cuts the connection: the client cannot take
// a short report for a whole one.
func TestReportCutShort(t *testing.T) {
	bs := &brokenStore{Store: memstore.New()}
	bs.from.Store(new("~"))
	e := newEnv(t, bs, guard.Config{})
	site := e.newClient("site")
	urls := make([]string, 2500)
	for i := range urls {
		urls[i] = fmt.Sprintf("https://example.net/p/%04d", i)
	}
	e.do("PUT", "/api/v1/links", bearer(site), map[string]any{"urls": urls}).want(t, 200)
	get := func(format string) (*http.Response, []byte, error) {
		req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/report?format="+format, nil)
		req.Header.Set("Authorization", "Bearer "+site)
		res, err := e.srv.Client().Do(req) // not validated: a cut answer is the point
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return res, b, err
	}
	bs.from.Store(new(""))
	for _, format := range []string{"csv", "json"} {
		if res, b, err := get(format); err != nil || res.StatusCode != 500 || res.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s, first page failing: %d %q %v: %.200s", format, res.StatusCode, res.Header.Get("Content-Type"), err, b)
		}
	}
	bs.from.Store(&urls[1500])
	for _, format := range []string{"csv", "json"} {
		res, b, err := get(format)
		if res.StatusCode != 200 || !errors.Is(err, io.ErrUnexpectedEOF) || len(b) == 0 {
			t.Errorf("%s, a later page failing: %d, %d bytes, %v; want 200, some bytes, then a cut", format, res.StatusCode, len(b), err)
		}
	}
}
