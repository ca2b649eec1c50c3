package webui

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
)

// rowsOf returns the link URLs a list page shows, in order.
func rowsOf(page string) []string {
	var out []string
	for _, part := range strings.Split(page, `<a class="detail" href="`)[1:] {
		_, rest, _ := strings.Cut(part, `">`)
		u, _, _ := strings.Cut(rest, "</a>")
		out = append(out, u)
	}
	return out
}

func TestReportFilters(t *testing.T) {
	f := newReportFixture(t, lms.Config{})
	ctx := context.Background()
	t0 := time.Now().Add(-time.Hour)
	urls := []string{"http://a.example/ok", "http://a.example/broken", "http://b.example/broken", "http://b.example/slow", "http://c.example/x"}
	if _, err := f.e.RegisterLinks(ctx, "site", urls); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.e.PutSource(ctx, "site", lms.Source{SourceRef: lms.SourceRef{ID: "page-1", Title: "Page one", EditURL: "http://cms.example/edit/1", Owner: "jane@site.example"}, Links: urls[1:3]}); err != nil {
		t.Fatal(err)
	}
	f.result(urls[0], lms.StateOK, "OK", 200, t0, nil)
	f.result(urls[1], lms.StateUnavailable, "The page does not exist (404).", 404, t0, nil)
	f.result(urls[2], lms.StateUnavailable, "The page does not exist (404).", 404, t0, nil)
	f.result(urls[3], lms.StateTemporary, "The site did not answer in time.", 0, t0, nil)
	if _, err := f.e.Ignore(ctx, "site", []string{urls[2]}, true); err != nil {
		t.Fatal(err)
	}
	c := f.session()
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{urls[1], urls[0], urls[3], urls[4]}}, // ignored left out
		{"ignored=with", []string{urls[1], urls[0], urls[2], urls[3], urls[4]}},
		{"ignored=only", []string{urls[2]}},
		{"state=unavailable", []string{urls[1]}},
		{"state=unavailable&ignored=with", []string{urls[1], urls[2]}},
		{"host=B.example&ignored=with", []string{urls[2], urls[3]}},
		{"q=BROKEN", []string{urls[1]}},
		{"owner=jane@site.example&ignored=with", []string{urls[1], urls[2]}},
		{"source=page-1", []string{urls[1]}},
		{"state=nonsense", []string{urls[1], urls[0], urls[3], urls[4]}}, // an unknown state is no filter
		{"source=no-such-page", nil},
	} {
		res, b := f.get("/report/?"+tc.query, c)
		if res.StatusCode != 200 {
			t.Fatalf("?%s: %d\n%s", tc.query, res.StatusCode, b)
		}
		if got := rowsOf(b); strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("?%s: %q, want %q", tc.query, got, tc.want)
		}
		if tc.want == nil && !strings.Contains(b, "There is no source") {
			t.Errorf("?%s: no notice", tc.query)
		}
	}
	// The export links carry the filters.
	_, b := f.get("/report/?state=unavailable&q=broken", c)
	if !strings.Contains(b, `id="export-csv" href="/report/export.csv?q=broken&amp;state=unavailable"`) || !strings.Contains(b, `id="export-json" href="/report/export.json?q=broken&amp;state=unavailable"`) {
		t.Errorf("the export links are wrong:\n%s", b)
	}
	// Counts per state, each a filter link.
	_, b = f.get("/report/", c)
	for _, want := range []string{">1 ok</a>", ">2 unavailable</a>", ">1 temporary unavailable</a>", ">1 unknown</a>", "all 5"} {
		if !strings.Contains(b, want) {
			t.Errorf("the counts do not show %q", want)
		}
	}
}

func TestReportPaging(t *testing.T) {
	f := newReportFixture(t, lms.Config{})
	var urls []string
	for i := range listSize + 7 {
		urls = append(urls, "http://p.example/"+string(rune('a'+i/26))+string(rune('a'+i%26)))
	}
	if _, err := f.e.RegisterLinks(context.Background(), "site", urls); err != nil {
		t.Fatal(err)
	}
	c := f.session()
	_, b := f.get("/report/", c)
	first := rowsOf(b)
	if len(first) != listSize || !strings.Contains(b, `id="next"`) {
		t.Fatalf("first page: %d rows", len(first))
	}
	i := strings.Index(b, `id="next" href="`)
	next, _, _ := strings.Cut(b[i+len(`id="next" href="`):], `"`)
	next = strings.ReplaceAll(next, "&amp;", "&")
	_, b = f.get(next, c)
	second := rowsOf(b)
	if len(second) != 7 || second[0] != urls[listSize] || strings.Contains(b, `id="next"`) {
		t.Errorf("second page (%s): %d rows from %q", next, len(second), second)
	}
}

func TestReportEscapesWhatClientsRegistered(t *testing.T) {
	f := newReportFixture(t, lms.Config{})
	ctx := context.Background()
	hostile := `http://x.example/"><script>alert(1)</script>`
	if _, _, err := f.e.PutSource(ctx, "site", lms.Source{
		SourceRef: lms.SourceRef{ID: "evil", Title: `<img src=x onerror=alert(2)>`, EditURL: "javascript:alert(3)", Owner: `"><b>owner</b>`}, Links: []string{hostile},
	}); err != nil {
		t.Fatal(err)
	}
	f.result(hostile, lms.StateUnavailable, `<i>reason</i>`, 404, time.Now(), func(o *lms.Outcome) { o.Result.FinalURL = "javascript:alert(4)" })
	c := f.session()
	pages := map[string]string{}
	_, pages["list"] = f.get("/report/", c)
	_, pages["link"] = f.get("/report/link?url="+url.QueryEscape(hostile), c)
	_, pages["admin list"] = f.getAdmin("/admin/clients/site/report")
	_, pages["admin link"] = f.getAdmin("/admin/clients/site/link?url=" + url.QueryEscape(hostile))
	_, pages["admin client"] = f.getAdmin("/admin/clients/site")
	for name, b := range pages {
		for _, bad := range []string{"<script>alert", "<img src=x", "<b>owner", "<i>reason", `href="javascript:`} {
			if strings.Contains(b, bad) {
				t.Errorf("%s page contains %q unescaped", name, bad)
			}
		}
	}
	if !strings.Contains(pages["link"], "&lt;img src=x onerror=alert(2)&gt;") || !strings.Contains(pages["link"], "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("the link page does not show the hostile title and URL as text:\n%s", pages["link"])
	}
}

func (f *reportFixture) getAdmin(target string) (*http.Response, string) {
	req := newAdminRequest("GET", target, "")
	res := f.do(req)
	return res, body(f.t, res)
}

func newAdminRequest(method, target, form string) *http.Request {
	req, _ := http.NewRequest(method, target, strings.NewReader(form))
	req.RemoteAddr = "192.0.2.10:1234"
	req.SetBasicAuth("admin", secret)
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return req
}

func TestReportLinkPage(t *testing.T) {
	f := newReportFixture(t, lms.Config{RecheckPerHour: 2})
	ctx := context.Background()
	const u = "http://a.example/moved"
	if _, _, err := f.e.PutSource(ctx, "site", lms.Source{SourceRef: lms.SourceRef{ID: "p1", Title: "About us", EditURL: "http://cms.example/edit/p1", Owner: "jane@site.example"}, Links: []string{u, "http://a.example/2", "http://a.example/3"}}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	f.result(u, lms.StateOK, "OK", 200, t0, nil)
	f.result(u, lms.StateTemporary, "The site did not answer in time.", 0, t0.Add(24*time.Hour), nil)
	f.result(u, lms.StateUnavailable, "The page does not exist (404).", 404, t0.Add(48*time.Hour), func(o *lms.Outcome) { o.Failures = 3 })
	// A copy of it in the archive; another link that moved for good.
	if err := f.st.PutArchivedCopy(ctx, lms.ArchivedCopy{URL: u, Snapshot: "http://web.archive.org/web/20261030/http://a.example/moved", ArchivedAt: t0.Add(-48 * time.Hour), Looked: time.Now()}); err != nil {
		t.Fatal(err)
	}
	f.result("http://a.example/2", lms.StateOK, "OK", 200, t0, func(o *lms.Outcome) {
		o.Result.FinalURL, o.Result.Permanent = "https://a.example/new-home", true
	})
	c := f.session()
	if _, b := f.get("/report/link?url="+url.QueryEscape("http://a.example/2"), c); !strings.Contains(b, `replace it with <a href="https://a.example/new-home"`) {
		t.Errorf("no redirect suggestion:\n%s", b)
	}
	res, b := f.get("/report/link?url="+url.QueryEscape(u), c)
	if res.StatusCode != 200 {
		t.Fatalf("link page: %d", res.StatusCode)
	}
	for _, want := range []string{
		`id="state">unavailable<`, `id="reason">The page does not exist (404).</dd>`,
		`id="failing-since">2026-11-02 10:00 UTC`, `id="failed-checks">3<`,
		`<a href="http://cms.example/edit/p1" rel="noreferrer">About us</a> <small>— jane@site.example</small>`,
		`An archived copy from 2026-10-30 10:00 UTC may do instead: <a href="http://web.archive.org/web/20261030/http://a.example/moved"`,
		`id="recheck"`, `id="ignore"`,
	} {
		if !strings.Contains(b, want) {
			t.Errorf("the link page lacks %q", want)
		}
	}
	// The history, newest first.
	i1, i2, i3 := strings.Index(b, "2026-11-03 10:00"), strings.Index(b, "2026-11-02 10:00 UTC</time>"), strings.Index(b, "2026-11-01 10:00")
	if i1 < 0 || i2 < 0 || i3 < 0 || !(i1 < i2 && i2 < i3) {
		t.Errorf("history not newest first: %d %d %d", i1, i2, i3)
	}

	action := func(name string, extra url.Values) string {
		t.Helper()
		form := url.Values{"url": {u}, "csrf": {f.csrf(c)}}
		for k, v := range extra {
			form[k] = v
		}
		res := f.post("/report/link/"+name, c, form)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/report/link?url="+url.QueryEscape(u) {
			t.Fatalf("%s: %d → %q", name, res.StatusCode, res.Header.Get("Location"))
		}
		var flash *http.Cookie
		for _, ck := range res.Cookies() {
			if ck.Name == flashCookie {
				flash = ck
			}
		}
		if flash == nil {
			t.Fatalf("%s: no message", name)
		}
		req, _ := http.NewRequest("GET", res.Header.Get("Location"), nil)
		req.AddCookie(c)
		req.AddCookie(flash)
		return body(t, f.do(req))
	}
	if b := action("recheck", nil); !strings.Contains(b, "will be checked again") {
		t.Errorf("re-check: no message\n%s", b)
	}
	l, _ := f.e.ClientLink(ctx, "site", u)
	if l.NextDue.After(time.Now()) {
		t.Errorf("after re-check the link is due at %v", l.NextDue)
	}
	action("recheck", nil)
	if b := action("recheck", nil); !strings.Contains(b, "Too many re-checks") || !strings.Contains(b, "Please try again in") {
		t.Errorf("over the cap: no plain message\n%s", b)
	}
	if b := action("ignore", nil); !strings.Contains(b, `id="ignored">ignored until its state changes`) || !strings.Contains(b, `id="unignore"`) {
		t.Errorf("after ignore:\n%s", b)
	}
	if il, _ := f.e.ClientLink(ctx, "site", u); il.Mode != lms.IgnoredUntilChanged {
		t.Errorf("ignore mode %v", il.Mode)
	}
	action("unignore", nil)
	action("ignore", url.Values{"mode": {"forever"}})
	if il, _ := f.e.ClientLink(ctx, "site", u); il.Mode != lms.IgnoredForever {
		t.Errorf("ignore for good: mode %v", il.Mode)
	}
	if res := f.post("/report/link/explode", c, url.Values{"url": {u}, "csrf": {f.csrf(c)}}); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown action: %d", res.StatusCode)
	}
}

func TestReportExport(t *testing.T) {
	f := newReportFixture(t, lms.Config{})
	ctx := context.Background()
	urls := []string{"http://a.example/=cmd", "http://a.example/ok", "http://a.example/ignored"}
	if _, _, err := f.e.PutSource(ctx, "site", lms.Source{SourceRef: lms.SourceRef{ID: "p", Title: "=HYPERLINK(\"http://evil\")", Owner: "@jane"}, Links: urls}); err != nil {
		t.Fatal(err)
	}
	f.result(urls[0], lms.StateUnavailable, "-broken, \"quoted\"", 404, time.Now(), nil)
	f.result(urls[1], lms.StateOK, "OK", 200, time.Now(), nil)
	if _, err := f.e.Ignore(ctx, "site", urls[2:], false); err != nil {
		t.Fatal(err)
	}
	c := f.session()
	res, b := f.get("/report/export.csv", c)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") || !strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("csv: %d %v", res.StatusCode, res.Header)
	}
	recs, err := csv.NewReader(strings.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("the CSV does not parse: %v\n%s", err, b)
	}
	if len(recs) != 3 || recs[0][0] != "url" || recs[1][0] != urls[0] || recs[2][0] != urls[1] {
		t.Fatalf("csv rows (ignored left out): %q", recs)
	}
	if recs[1][2] != "'-broken, \"quoted\"" || recs[1][11] != "'=HYPERLINK(\"http://evil\")" {
		t.Errorf("cells not made safe: %q", recs[1])
	}
	if !strings.Contains(b, "\r\n") {
		t.Error("CSV lines do not end in CRLF")
	}
	_, b = f.get("/report/export.csv?ignored=with&state=ok", c)
	if recs, _ := csv.NewReader(strings.NewReader(b)).ReadAll(); len(recs) != 2 || recs[1][0] != urls[1] {
		t.Errorf("filtered CSV: %q", recs)
	}

	res, b = f.get("/report/export.json?ignored=with", c)
	var doc struct {
		Client string `json:"client"`
		Links  []struct {
			URL     string  `json:"url"`
			State   string  `json:"state"`
			Ignored *string `json:"ignored"`
			Sources []struct {
				Title string `json:"title"`
			} `json:"sources"`
		} `json:"links"`
	}
	if err := json.Unmarshal([]byte(b), &doc); err != nil || res.StatusCode != 200 {
		t.Fatalf("json: %d %v\n%s", res.StatusCode, err, b)
	}
	if doc.Client != "site" || len(doc.Links) != 3 || doc.Links[1].Ignored == nil || *doc.Links[1].Ignored != "forever" || doc.Links[0].Sources[0].Title != "=HYPERLINK(\"http://evil\")" {
		t.Errorf("json report: %+v", doc)
	}
	if res, _ := f.get("/report/export.xml", c); res.StatusCode != http.StatusNotFound {
		t.Errorf("export.xml: %d", res.StatusCode)
	}
}

func TestChart(t *testing.T) {
	now := time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)
	day := func(n int) time.Time { return now.Truncate(24*time.Hour).AddDate(0, 0, -n) }
	ds := []lms.DailyCounts{
		{Day: day(9), Counts: lms.StateCounts{OK: 90, Unavailable: 5}},
		{Day: day(5), Counts: lms.StateCounts{OK: 80, Unavailable: 10, Temporary: 3}},
		{Day: day(0), Counts: lms.StateCounts{OK: 1}}, // replaced by the live counts
	}
	svg := string(drawChart(`<acme & co>`, ds, lms.StateCounts{OK: 70, Unavailable: 20, Unknown: 7}, now))
	if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
		t.Fatalf("the chart is not well-formed XML: %v\n%s", err, svg)
	}
	for _, want := range []string{
		`role="img"`, `<title id="chart-title">Link states of &lt;acme &amp; co&gt;, 28 Nov 2026 to today</title>`,
		`Today: 70 ok, 0 temporary unavailable, 20 unavailable, 0 unsupported protocol, 7 unknown.`,
		`7 of the 10 days have no record.`, `>today</text>`, `>28 Nov 2026</text>`, `>100</text>`,
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("the chart lacks %q\n%s", want, svg)
		}
	}
	if n := strings.Count(svg, "<g><title>"); n != 3 {
		t.Errorf("%d bars, want 3", n)
	}
	// The tallest bar (95 of an axis up to 100) fills most of the plot.
	if !strings.Contains(svg, `<title>28 Nov 2026: 90 ok, 0 temporary unavailable, 5 unavailable`) {
		t.Errorf("the first bar's tooltip is missing")
	}
	for v, want := range map[int][2]int{0: {1, 1}, 3: {3, 1}, 95: {100, 50}, 1234: {1500, 500}} {
		if top, step := niceScale(v); top != want[0] || step != want[1] {
			t.Errorf("niceScale(%d) = %d, %d; want %v", v, top, step, want)
		}
	}
	// One day only: one bar, no gaps.
	one := string(drawChart("x", nil, lms.StateCounts{OK: 1}, now))
	if strings.Count(one, "<g><title>") != 1 || strings.Contains(one, "no record") {
		t.Errorf("one-day chart:\n%s", one)
	}
}

func TestAdminReportPages(t *testing.T) {
	f := newReportFixture(t, lms.Config{})
	ctx := context.Background()
	const u = "http://a.example/x"
	if _, err := f.e.RegisterLinks(ctx, "site", []string{u}); err != nil {
		t.Fatal(err)
	}
	f.result(u, lms.StateUnavailable, "The page does not exist (404).", 404, time.Now(), nil)
	if _, err := f.e.RecordDailyCounts(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.UpdateClient(ctx, "site", func(c *lms.Client) error {
		c.NotifyFailures, c.LastNotifyError, c.NextNotify = 4, `Post "http://plone:hunter2@site.example/db": dial tcp 127.0.0.1:9: connect: connection refused`, time.Now().Add(time.Minute)
		c.WebhookURL, c.WebhookFailures, c.WebhookLastError, c.WebhookDisabledAt = "https://hooks.example/lms", 10, "the receiver answered HTTP 500", time.Now()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	res, b := f.getAdmin("/admin/clients/site")
	if res.StatusCode != 200 {
		t.Fatalf("client page: %d", res.StatusCode)
	}
	for _, want := range []string{
		`<svg class="chart"`, "The site refused the connection", `<span class="bad">4</span>`, "the receiver answered HTTP 500",
		`<span class="bad">off since`, "<code>editor</code>", `href="/admin/clients/site/link?url=http%3a%2f%2fa.example%2fx"`,
		`href="/admin/clients/site/report"`,
	} {
		if !strings.Contains(b, want) {
			t.Errorf("the client's admin page lacks %q", want)
		}
	}
	if strings.Contains(b, "hunter2") {
		t.Error("the admin page shows the callback's password from the error")
	}
	if res, b := f.getAdmin("/admin/clients/site/link?url=" + url.QueryEscape(u)); res.StatusCode != 200 || !strings.Contains(b, `action="/admin/clients/site/link/recheck"`) {
		t.Errorf("admin link page: %d\n%s", res.StatusCode, b)
	}
	if res, _ := f.getAdmin("/admin/clients/other/link?url=" + url.QueryEscape(u)); res.StatusCode != http.StatusNotFound {
		t.Errorf("admin link page of a client without the link: %d", res.StatusCode)
	}
	if res, b := f.getAdmin("/admin/clients/site/report?state=unavailable"); res.StatusCode != 200 || len(rowsOf(b)) != 1 || !strings.Contains(b, `<svg class="chart"`) ||
		!strings.Contains(b, `href="/admin/clients/site/export.csv?state=unavailable"`) {
		t.Errorf("admin report: %d", res.StatusCode)
	}
	if res, _ := f.getAdmin("/admin/clients/nobody/report"); res.StatusCode != http.StatusNotFound {
		t.Errorf("admin report of an unknown client: %d", res.StatusCode)
	}
	if res, b := f.getAdmin("/admin/clients/site/export.csv"); res.StatusCode != 200 || !strings.Contains(b, u) {
		t.Errorf("admin export: %d", res.StatusCode)
	}
	// The admin's buttons: the admin CSRF token, not a session's.
	form := url.Values{"url": {u}, "csrf": {f.ui.csrf}}.Encode()
	if res := f.do(newAdminRequest("POST", "/admin/clients/site/link/ignore", form)); res.StatusCode != http.StatusSeeOther {
		t.Errorf("admin ignore: %d", res.StatusCode)
	}
	if il, _ := f.e.ClientLink(ctx, "site", u); il.Mode != lms.IgnoredUntilChanged {
		t.Errorf("admin ignore: mode %v", il.Mode)
	}
	if res := f.do(newAdminRequest("POST", "/admin/clients/site/link/unignore", url.Values{"url": {u}}.Encode())); res.StatusCode != http.StatusForbidden {
		t.Errorf("admin action without CSRF: %d", res.StatusCode)
	}
}

func TestPlainError(t *testing.T) {
	for in, want := range map[string]string{
		"": "",
		"dial tcp: lookup x.invalid: no such host":      "does not resolve",
		"context deadline exceeded":                     "did not answer in time",
		"x509: certificate signed by unknown authority": "certificate",
		"Fault(3): boom":                                "XML-RPC fault",
		"something odd at http://u:pw@h.example/":       "The push failed: something odd at http://u:xxxxx@h.example/",
	} {
		if got := plainError(in); !strings.Contains(got, want) || (want == "" && got != "") {
			t.Errorf("plainError(%q) = %q, want it to say %q", in, got, want)
		}
	}
}
