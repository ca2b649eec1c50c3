package lms_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/memstore"
)

// route is what a loopback site answers for one path: a redirect (code
// 3xx and to), a page of the detector's corpus (file, under
// internal/softfail/testdata), or a bare status.
type route struct {
	code int
	to   string
	file string
	body string // a page of the test's own, when there is no file
}

// softSite is a loopback web site built from routes; any other path gets
// other. It counts the requests for other paths (the probes of a made-up
// path land there).
type softSite struct {
	*httptest.Server
	others atomic.Int64 // requests for paths without a route
	all    atomic.Int64 // every request
}

func newSoftSite(t *testing.T, routes map[string]route, other route) *softSite {
	t.Helper()
	s := &softSite{}
	serve := func(w http.ResponseWriter, r *http.Request, rt route) {
		switch {
		case rt.to != "":
			http.Redirect(w, r, rt.to, rt.code)
		case rt.file != "":
			b, err := os.ReadFile(filepath.Join("internal/softfail/testdata", rt.file))
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			if strings.HasSuffix(rt.file, ".txt") {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			} else {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
			}
			w.WriteHeader(cmpOr(rt.code, http.StatusOK))
			// The page as the site renders it: its own address where the
			// corpus names the site, the path asked for where it echoes it.
			b = bytes.ReplaceAll(b, []byte("https://harborlightsphoto.com"), []byte("http://"+r.Host))
			b = bytes.ReplaceAll(b, []byte("kqzmwuvxbrtyplneahcd"), []byte(path.Base(r.URL.Path)))
			_, _ = w.Write(b)
		default:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(cmpOr(rt.code, http.StatusOK))
			_, _ = w.Write([]byte(rt.body))
		}
	}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.all.Add(1)
		if rt, ok := routes[r.URL.RequestURI()]; ok {
			serve(w, r, rt)
			return
		}
		s.others.Add(1)
		serve(w, r, other)
	}))
	t.Cleanup(s.Close)
	return s
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

const loginPage = `<!DOCTYPE html><html lang="en"><head><title>Sign in – Members' area</title></head>
<body><h1>Sign in</h1><p>Please sign in to read the members' reports.</p>
<form method="post" action="/login"><label>E-mail <input name="email" type="email"></label>
<label>Password <input name="password" type="password"></label><button>Sign in</button></form></body></html>`

const notFound = `<!DOCTYPE html><html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>`

// Alive but wrong: pages that answer 200 yet are gone, checked by the real
// HTTP checker against loopback sites serving the detector's corpus, and
// the look-alikes that must stay ok.
func TestAliveButWrong(t *testing.T) {
	t.Parallel()
	real404 := route{code: http.StatusNotFound, body: notFound}
	cases := []struct {
		name   string
		routes map[string]route
		other  route
		link   string
		state  lms.State
		kind   string
		probes int64  // requests for made-up paths
		final  string // path of final_url, "" for none
	}{
		// Soft 404s, parked and dead hosting: confirmed on the page alone.
		{"soft 404 (WordPress)", map[string]route{"/events/2019-spring-fair/": {file: "soft404/wordpress.html"}}, real404,
			"/events/2019-spring-fair/", lms.StateUnavailable, "soft_404", 0, ""},
		{"soft 404 in German (TYPO3)", map[string]route{"/service/tarife-2019/": {file: "soft404/typo3.html"}}, real404,
			"/service/tarife-2019/", lms.StateUnavailable, "soft_404", 0, ""},
		{"soft 404 in French (Joomla)", map[string]route{"/vie-municipale/conseil-2020": {file: "soft404/joomla-fr.html"}}, real404,
			"/vie-municipale/conseil-2020", lms.StateUnavailable, "soft_404", 0, ""},
		{"soft 404 as plain text", map[string]route{"/v1/docs/quickstart": {file: "soft404/goplain.txt"}}, real404,
			"/v1/docs/quickstart", lms.StateUnavailable, "soft_404", 0, ""},
		{"parked (GoDaddy)", map[string]route{"/menu": {file: "parked/godaddy.html"}}, real404,
			"/menu", lms.StateUnavailable, "parked", 0, ""},
		{"parked, reached by redirect (Sedo)", map[string]route{"/rooms": {code: http.StatusFound, to: "/lander?domain=silverpinelodge.com"}, "/lander?domain=silverpinelodge.com": {file: "parked/sedo.html"}}, real404,
			"/rooms", lms.StateUnavailable, "parked", 0, "/lander?domain=silverpinelodge.com"},
		{"default server page (nginx)", map[string]route{"/reports/2020/": {file: "default/nginx.html"}}, real404,
			"/reports/2020/", lms.StateUnavailable, "default_page", 0, ""},
		{"suspended hosting account", map[string]route{"/kurse": {file: "suspended/host-de.html"}}, real404,
			"/kurse", lms.StateUnavailable, "suspended", 0, ""},
		// Sent to the home page.
		{"deep link moved permanently to the home page", map[string]route{"/blog/2017/old-post": {code: http.StatusMovedPermanently, to: "/"}, "/": {file: "ordinary/en-homepage.html"}}, real404,
			"/blog/2017/old-post", lms.StateUnavailable, "home_redirect", 0, "/"},
		{"deep link moved permanently to the root with a query", map[string]route{"/products/mug-2019": {code: http.StatusMovedPermanently, to: "/?notfound=1"}, "/?notfound=1": {file: "ordinary/en-homepage.html"}}, real404,
			"/products/mug-2019", lms.StateUnavailable, "home_redirect", 0, "/?notfound=1"},
		{"deep link sent home by a 302, as every made-up path is", map[string]route{"/blog/old-post": {code: http.StatusFound, to: "/"}, "/": {file: "ordinary/en-homepage.html"}}, route{code: http.StatusFound, to: "/"},
			"/blog/old-post", lms.StateUnavailable, "home_redirect", 1, "/"},
		{"deep link sent home by a 302, the probe says nothing: weak", map[string]route{"/blog/old-post": {code: http.StatusFound, to: "/"}, "/": {file: "ordinary/en-homepage.html"}}, route{code: http.StatusServiceUnavailable, body: "busy"},
			"/blog/old-post", lms.StateTemporary, "home_redirect", 1, "/"},
		// Settled by the host's answer to a made-up path.
		{"oops page, the same for any path", map[string]route{"/support/manuals/wx-200-quickstart": {file: "probe/oops.html"}}, route{file: "probe/oops-probe.html"},
			"/support/manuals/wx-200-quickstart", lms.StateUnavailable, "soft_404", 1, ""},
		{"home page shown for any path", map[string]route{"/blog/2017/winter-weddings": {file: "probe/catchall-home.html"}}, route{file: "probe/catchall-home-probe.html"},
			"/blog/2017/winter-weddings", lms.StateUnavailable, "home_redirect", 1, ""},
		// No false alarms.
		{"oops page, but the host has real 404s", map[string]route{"/support/manuals/wx-200-quickstart": {file: "probe/oops.html"}}, real404,
			"/support/manuals/wx-200-quickstart", lms.StateOK, "", 1, ""},
		{"deep link sent home by a 302, other paths 404", map[string]route{"/blog/old-post": {code: http.StatusFound, to: "/"}, "/": {file: "ordinary/en-homepage.html"}}, real404,
			"/blog/old-post", lms.StateOK, "", 1, "/"},
		{"an article about 404 pages", map[string]route{"/design/error-pages": {file: "controls/article-404-design.html"}}, real404,
			"/design/error-pages", lms.StateOK, "", 0, ""},
		{"a shop that sells domain names", map[string]route{"/": {file: "controls/registrar-shop.html"}}, real404,
			"/", lms.StateOK, "", 0, ""},
		{"a domain marketplace's listing", map[string]route{"/browse/brandable": {file: "controls/marketplace-listing.html"}}, real404,
			"/browse/brandable", lms.StateOK, "", 0, ""},
		{"a page that merely says lost and found", map[string]route{"/services/lost-and-found": {file: "controls/lost-and-found.html"}}, real404,
			"/services/lost-and-found", lms.StateOK, "", 0, ""},
		{"a home link redirected to /en/", map[string]route{"/": {code: http.StatusFound, to: "/en/"}, "/en/": {file: "ordinary/en-homepage.html"}}, real404,
			"/", lms.StateOK, "", 0, "/en/"},
		{"a moved article", map[string]route{"/2019/old-slug": {code: http.StatusMovedPermanently, to: "/2019/city-council-votes-budget"}, "/2019/city-council-votes-budget": {file: "ordinary/en-news.html"}}, real404,
			"/2019/old-slug", lms.StateOK, "", 0, "/2019/city-council-votes-budget"},
		{"a login redirect", map[string]route{"/members/report": {code: http.StatusFound, to: "/login?next=%2Fmembers%2Freport"}, "/login?next=%2Fmembers%2Freport": {body: loginPage}}, real404,
			"/members/report", lms.StateOK, "", 0, "/login?next=%2Fmembers%2Freport"},
		{"a single-page application's shell for every route", map[string]route{"/plans/week-12": {file: "spa/react-cra.html"}}, route{file: "spa/react-cra.html"},
			"/plans/week-12", lms.StateOK, "", -1, ""},
		{"a page titled like an error code list", map[string]route{"/wissen/statuscodes": {file: "controls/statuscodes-de.html"}}, real404,
			"/wissen/statuscodes", lms.StateOK, "", 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSoftSite(t, tc.routes, tc.other)
			r := check(t, private(), s.URL+tc.link)
			require.Equal(t, tc.state, r.State, "%s: %s", tc.link, r.Reason)
			require.Equal(t, tc.kind, r.Kind, r.Reason)
			if tc.kind != "" {
				require.NotContains(t, []string{"", "OK"}, r.Reason)
			} else {
				require.Equal(t, "OK", r.Reason)
			}
			if tc.probes >= 0 {
				require.Equal(t, tc.probes, s.others.Load(), "requests for made-up paths")
			}
			if tc.final == "" {
				require.Empty(t, r.FinalURL)
			} else {
				require.Equal(t, s.URL+tc.final, r.FinalURL)
			}
		})
	}
}

// Ordinary pages of the corpus, in six languages, served at deep links of
// a site with real 404s: none is taken for gone.
func TestAliveButWrongOrdinaryPages(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("internal/softfail/testdata/ordinary/*.html")
	require.NoError(t, err)
	require.Greater(t, len(files), 60)
	routes := map[string]route{}
	for _, f := range files {
		routes["/section/"+strings.TrimSuffix(filepath.Base(f), ".html")] = route{file: "ordinary/" + filepath.Base(f)}
	}
	s := newSoftSite(t, routes, route{code: http.StatusNotFound, body: notFound})
	c := lms.NewDefaultChecker(private())
	var bad []string
	for path := range routes {
		if r := c.Check(context.Background(), s.URL+path); r.State != lms.StateOK || r.Kind != "" {
			bad = append(bad, path+": "+string(r.State)+" "+r.Kind+" "+r.Reason)
		}
	}
	slices.Sort(bad)
	require.Empty(t, bad, "false alarms on ordinary pages")
}

// At most one made-up-path probe per host per interval, paced like every
// further request of a check.
func TestAliveButWrongProbeOncePerHostPaced(t *testing.T) {
	t.Parallel()
	s := newSoftSite(t, map[string]route{
		"/a/old-post": {code: http.StatusFound, to: "/"},
		"/b/old-post": {code: http.StatusFound, to: "/"},
		"/":           {file: "ordinary/en-homepage.html"},
	}, route{code: http.StatusFound, to: "/"})
	c := lms.NewDefaultChecker(private())
	p := &pacerLog{}
	ctx := lms.ContextWithPacer(context.Background(), p)
	r := c.Check(ctx, s.URL+"/a/old-post")
	require.Equal(t, lms.StateUnavailable, r.State, r.Reason)
	require.Equal(t, "home_redirect", r.Kind)
	// The hop to "/", the probe, the probe's hop to "/": each waits for
	// the host after reporting the answer before it.
	host := "127.0.0.1"
	require.Equal(t, []string{"done " + host, "wait " + host, "done " + host, "wait " + host, "done " + host, "wait " + host}, p.calls)
	r = c.Check(context.Background(), s.URL+"/b/old-post")
	require.Equal(t, lms.StateUnavailable, r.State, "the kept probe settles the second link too: %s", r.Reason)
	require.EqualValues(t, 1, s.others.Load(), "one probe for the host in the interval")
	// Another checker (another interval) asks again.
	r = lms.NewDefaultChecker(private()).Check(context.Background(), s.URL+"/b/old-post")
	require.Equal(t, lms.StateUnavailable, r.State)
	require.EqualValues(t, 2, s.others.Load())
}

// Redirects to other schemes: mailto: and tel: hand the reader to another
// program (never red); ftp:// is checked by the FTP checker.
func TestRedirectToOtherSchemes(t *testing.T) {
	t.Parallel()
	ftp := ftpServer(t, true)
	s := newSoftSite(t, map[string]route{
		"/contact":  {code: http.StatusFound, to: "mailto:office@example.org"},
		"/call":     {code: http.StatusMovedPermanently, to: "tel:+49-30-1234567"},
		"/download": {code: http.StatusMovedPermanently, to: "ftp://" + ftp + "/pub/file.txt"},
		"/old-file": {code: http.StatusFound, to: "ftp://" + ftp + "/pub/missing.txt"},
		"/script":   {code: http.StatusFound, to: "javascript:alert(1)"},
	}, route{code: http.StatusNotFound, body: notFound})
	r := check(t, private(), s.URL+"/contact")
	require.Equal(t, lms.StateOK, r.State, r.Reason)
	require.Equal(t, "The link hands the reader to an e-mail program (mailto:)", r.Reason)
	require.Equal(t, "mailto:office@example.org", r.FinalURL)
	require.False(t, r.Permanent)
	r = check(t, private(), s.URL+"/call")
	require.Equal(t, lms.StateOK, r.State, r.Reason)
	require.Equal(t, "tel:+49-30-1234567", r.FinalURL)
	require.True(t, r.Permanent)
	r = check(t, private(), s.URL+"/download")
	require.Equal(t, lms.StateOK, r.State, r.Reason)
	require.Equal(t, "ftp://"+ftp+"/pub/file.txt", r.FinalURL)
	require.True(t, r.Permanent)
	r = check(t, private(), s.URL+"/old-file")
	require.Equal(t, lms.StateUnavailable, r.State, r.Reason)
	require.Equal(t, 550, r.Code, r.Reason)
	require.Equal(t, "ftp://"+ftp+"/pub/missing.txt", r.FinalURL)
	r = check(t, private(), s.URL+"/script")
	require.Equal(t, lms.StateUnavailable, r.State, "a redirect to a script is no page: %s", r.Reason)
}

// Through an Engine: a soft 404, a parked domain and a home redirect are
// reported unavailable once confirmed, with their kind; the look-alikes
// stay ok.
func TestAliveButWrongThroughEngine(t *testing.T) {
	t.Parallel()
	s := newSoftSite(t, map[string]route{
		"/events/2019-spring-fair/": {file: "soft404/wordpress.html"},
		"/menu":                     {file: "parked/godaddy.html"},
		"/blog/old-post":            {code: http.StatusFound, to: "/"},
		"/":                         {file: "ordinary/en-homepage.html"},
		"/design/error-pages":       {file: "controls/article-404-design.html"},
		"/2019/old-slug":            {code: http.StatusMovedPermanently, to: "/2019/new"},
		"/2019/new":                 {file: "ordinary/en-news.html"},
	}, route{code: http.StatusFound, to: "/"})
	var mu sync.Mutex
	got := map[string]lms.Update{}
	notifier := lms.NotifierFunc(func(_ context.Context, _ lms.Endpoint, ups []lms.Update) error {
		mu.Lock()
		defer mu.Unlock()
		for _, u := range ups {
			got[u.URL] = u
		}
		return nil
	})
	st := memstore.New()
	e, err := lms.New(st, lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker | lms.RunNotifier, Notifier: notifier,
		HostInterval: 20 * time.Millisecond, ClaimPoll: 20 * time.Millisecond, NotifyPoll: 20 * time.Millisecond, NotifyInterval: 20 * time.Millisecond,
		CheckerConfig: private(), Policy: lms.Policy{MinRecheck: 240 * time.Millisecond}, OutageMinHosts: -1})
	require.NoError(t, err)
	gone := map[string]string{
		s.URL + "/events/2019-spring-fair/": "soft_404",
		s.URL + "/menu":                     "parked",
		s.URL + "/blog/old-post":            "home_redirect",
	}
	fine := []string{s.URL + "/design/error-pages", s.URL + "/2019/old-slug", s.URL + "/"}
	var all []string
	for u := range gone {
		all = append(all, u)
	}
	register(t, e, "site", append(all, fine...))
	stop := runEngine(t, e)
	waitFor(t, 30*time.Second, "the gone pages confirmed unavailable, the others ok", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for u := range gone {
			if got[u].State != lms.StateUnavailable {
				return false
			}
		}
		for _, u := range fine {
			if got[u].State != lms.StateOK {
				return false
			}
		}
		return true
	})
	stop()
	ls, err := e.LinkStates(context.Background(), "site", append(all, fine...))
	require.NoError(t, err)
	for _, l := range ls {
		require.Equal(t, gone[l.URL], l.Kind, "%s: %s", l.URL, l.Reason)
		if gone[l.URL] != "" {
			require.GreaterOrEqual(t, l.Failures, 2, "confirmed once like any definitive failure")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, "The page says it was not found", got[s.URL+"/events/2019-spring-fair/"].Reason)
	require.Equal(t, "The domain is parked or for sale", got[s.URL+"/menu"].Reason)
	require.Equal(t, "The link now leads to the site's home page", got[s.URL+"/blog/old-post"].Reason)
	require.LessOrEqual(t, s.others.Load(), int64(1), "at most one probe of the host in the interval")
}

// TestAliveFarmExtraRequests runs 1,000 links of a loopback farm with
// alive-but-wrong pages through the engine until every verdict is settled
// and counts, from the servers' side, what the detector costs: the probes
// of made-up paths (one per site per interval) and the confirmation checks
// of the pages it finds gone. The figures are in BENCHMARKS.md.
func TestAliveFarmExtraRequests(t *testing.T) {
	t.Parallel()
	ordinary, err := filepath.Glob("internal/softfail/testdata/ordinary/*.html")
	require.NoError(t, err)
	type farmSite struct {
		s     *softSite
		links []string
		want  lms.State
		cost  int // requests per link until settled
	}
	var sites []farmSite
	add := func(n int, want lms.State, cost int, other route, page func(i int) (string, route)) {
		routes := map[string]route{"/": {file: "ordinary/en-homepage.html"}}
		var paths []string
		for i := range n {
			p, rt := page(i)
			routes[p], paths = rt, append(paths, p)
		}
		s := newSoftSite(t, routes, other)
		fs := farmSite{s: s, want: want, cost: cost}
		for _, p := range paths {
			fs.links = append(fs.links, s.URL+p)
		}
		sites = append(sites, fs)
	}
	real404 := route{code: http.StatusNotFound, body: notFound}
	add(900, lms.StateOK, 1, real404, func(i int) (string, route) {
		return fmt.Sprintf("/articles/%d", i), route{file: "ordinary/" + filepath.Base(ordinary[i%len(ordinary)])}
	})
	add(30, lms.StateUnavailable, 2, real404, func(i int) (string, route) {
		return fmt.Sprintf("/events/%d/", i), route{file: "soft404/wordpress.html"}
	})
	add(20, lms.StateUnavailable, 2, real404, func(i int) (string, route) {
		return fmt.Sprintf("/shop/%d", i), route{file: "parked/godaddy.html"}
	})
	for range 4 { // sites that send every unknown path home: 5 old posts each
		add(5, lms.StateUnavailable, 4, route{code: http.StatusFound, to: "/"}, func(i int) (string, route) {
			return fmt.Sprintf("/blog/old-post-%d", i), route{code: http.StatusFound, to: "/"}
		})
	}
	for range 3 { // sites whose "Oops" pages are real pages: 10 each
		add(10, lms.StateOK, 1, real404, func(i int) (string, route) {
			return fmt.Sprintf("/support/manuals/wx-%d-quickstart", i), route{file: "probe/oops.html"}
		})
	}
	var urls []string
	want := map[string]lms.State{}
	for _, fs := range sites {
		for _, u := range fs.links {
			urls, want[u] = append(urls, u), fs.want
		}
	}
	require.Len(t, urls, 1000)
	e, err := lms.New(memstore.New(), lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker, Unpaced: true, Concurrency: 20,
		ClaimPoll: 10 * time.Millisecond, CheckerConfig: private(), OutageMinHosts: -1,
		Policy: lms.Policy{Interval: time.Hour, MinRecheck: 240 * time.Millisecond, RetryInterval: time.Hour}})
	require.NoError(t, err)
	register(t, e, "farm", urls)
	unsettled := func() []string {
		ls, err := e.LinkStates(context.Background(), "farm", urls)
		require.NoError(t, err)
		var out []string
		for _, l := range ls {
			if l.State != want[l.URL] {
				out = append(out, l.URL+": "+string(l.State)+" "+l.Reason)
			}
		}
		return out
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("unsettled: %v", unsettled())
		}
	})
	runEngine(t, e)
	waitFor(t, 60*time.Second, "every verdict settled", func() bool {
		ls, err := e.LinkStates(context.Background(), "farm", urls)
		require.NoError(t, err)
		for _, l := range ls {
			if l.State != want[l.URL] {
				return false
			}
		}
		return true
	})
	waitFor(t, 10*time.Second, "no check in flight", func() bool {
		st, err := e.Stats(context.Background())
		require.NoError(t, err)
		return st.InFlight == 0
	})
	// Today's cost of these links: one request each, two for a redirect.
	total, expected, probes, before := 0, 0, 0, 0
	for _, fs := range sites {
		total += int(fs.s.all.Load())
		expected += len(fs.links)*fs.cost + int(fs.s.others.Load())
		switch fs.cost {
		case 4: // a probe and its hop home, once per site
			require.EqualValues(t, 1, fs.s.others.Load(), "one probe per site per interval")
			probes, before, expected = probes+1, before+2*len(fs.links), expected+1
		case 1:
			if fs.s.others.Load() > 0 {
				require.EqualValues(t, 1, fs.s.others.Load(), "one probe per site per interval")
				probes++
			}
			before += len(fs.links)
		default:
			require.Zero(t, fs.s.others.Load(), "a page confirmed on its own needs no probe")
			before += len(fs.links)
		}
	}
	// A doubtful link whose check finds its site's probe under way in
	// another check waits for that answer: no second look, no second probe.
	require.Equal(t, expected, total)
	require.Equal(t, 7, probes)
	t.Logf("alive-but-wrong farm: 1000 links, %d requests, %d without the detector: %d probes (11 requests), %d confirmation requests of the 70 pages found gone, %d second looks at doubtful links",
		total, before, probes, expected-before-11, total-expected)
}
