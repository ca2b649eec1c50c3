package softfail

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// chain builds a Page for link whose redirects go through the given
// statuses and targets, ending on a corpus page with status 200.
func chain(t testing.TB, link, file string, hops ...any) *Page {
	t.Helper()
	var hs []Hop
	from := link
	for i := 0; i < len(hops); i += 2 {
		to := hops[i+1].(string)
		base, err := url.Parse(from)
		if err != nil {
			t.Fatal(err)
		}
		abs, err := base.Parse(to)
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, Hop{From: from, Status: hops[i].(int), Location: to, To: abs.String()})
		from = abs.String()
	}
	p := loadPage(t, file, link, 200, "-")
	p.Hops = hs
	return p
}

// home is an ordinary home page to end redirects on.
const home = "ordinary/en-nonprofit.html"

// TestRedirects checks the redirect signals and their look-alikes.
func TestRedirects(t *testing.T) {
	tests := []struct {
		name  string
		page  *Page
		probe *Page // nil: none
		want  Kind
		str   Strength
		doubt bool
	}{
		{name: "deep link moved permanently to the root",
			page: chain(t, "https://example.org/news/2019/annual-report", home, 301, "/"),
			want: HomeRedirect, str: Confirmed},
		{name: "deep link to the root with a query",
			page: chain(t, "https://example.org/products/blue-widget", home, 301, "https://example.org/?utm_source=old-site"),
			want: HomeRedirect, str: Confirmed},
		{name: "deep link to a language root",
			page: chain(t, "https://example.org/about/team/anna", home, 301, "/en/"),
			want: HomeRedirect, str: Confirmed},
		{name: "deep link to the index page over https",
			page: chain(t, "http://example.org/events/2020.html", home, 301, "https://example.org/events/2020.html", 301, "https://www.example.org/index.php"),
			want: HomeRedirect, str: Confirmed},
		{name: "temporary redirect to the root is weak",
			page: chain(t, "https://example.org/news/2019/annual-report", home, 302, "/"),
			want: HomeRedirect, str: Weak, doubt: true},
		{name: "temporary redirect to the root, and the probe goes there too",
			page:  chain(t, "https://example.org/news/2019/annual-report", home, 302, "/"),
			probe: chain(t, "https://example.org/news/2019/"+probeName, home, 302, "/"),
			want:  HomeRedirect, str: Confirmed, doubt: true},
		{name: "temporary redirect to the root, but the probe is a real 404",
			page:  chain(t, "https://example.org/news/2019/annual-report", home, 302, "/"),
			probe: &Page{URL: "https://example.org/news/2019/" + probeName, Status: 404},
			want:  None, doubt: true},
		{name: "page refresh to the root is weak",
			page: chain(t, "https://example.org/shop/item-42", home, 200, "/"),
			want: HomeRedirect, str: Weak, doubt: true},
		{name: "home link redirected to /en/",
			page: chain(t, "https://example.org/", home, 301, "/en/"),
			want: None},
		{name: "home link redirected to www and https",
			page: chain(t, "http://example.org", home, 301, "https://www.example.org/"),
			want: None},
		{name: "moved article redirected to its new address",
			page: chain(t, "https://example.org/2019/05/annual-report", "ordinary/en-news.html", 301, "/news/annual-report-2019"),
			want: None},
		{name: "http to https, same page",
			page: chain(t, "http://example.org/about/team", "ordinary/en-nonprofit.html", 301, "https://example.org/about/team"),
			want: None},
		{name: "login redirect with next",
			page: chain(t, "https://example.org/members/reports/q3", home, 302, "/login?next=/members/reports/q3"),
			want: None},
		{name: "single sign-on",
			page: chain(t, "https://intranet.example.org/wiki/Travel", home, 302,
				"https://login.microsoftonline.com/common/oauth2/v2.0/authorize?client_id=abc&redirect_uri=https%3A%2F%2Fintranet.example.org%2F"),
			want: None},
		{name: "identity provider host",
			page: chain(t, "https://docs.example.org/internal/runbook", home, 302, "https://accounts.example-idp.com/ServiceLogin?continue=https://docs.example.org/internal/runbook"),
			want: None},
		{name: "root with the link's path as return address",
			page: chain(t, "https://example.org/members/reports/q3", home, 302, "/?returnUrl=%2Fmembers%2Freports%2Fq3"),
			want: None},
		{name: "another site's home page: undecided without a probe",
			page: chain(t, "https://oldco.example/products/x200", home, 301, "https://newco.example/"),
			want: None, doubt: true},
		{name: "another site's home page, and the probe goes there too",
			page:  chain(t, "https://oldco.example/products/x200", home, 301, "https://newco.example/"),
			probe: chain(t, "https://oldco.example/products/"+probeName, home, 301, "https://newco.example/"),
			want:  HomeRedirect, str: Confirmed, doubt: true},
		{name: "URL shortener to a home page",
			page:  chain(t, "https://sho.example/aB3x9", home, 301, "https://www.example.org/"),
			probe: &Page{URL: "https://sho.example/" + probeName, Status: 404},
			want:  None, doubt: true},
		{name: "redirect to the site's 404 page",
			page: chain(t, "https://example.org/products/old-widget", "soft404/wagtail.html", 302, "/404.html"),
			want: Soft404, str: Confirmed},
		{name: "redirect to an ASP.NET error page",
			page: chain(t, "https://example.org/reports/q3.aspx", home, 302, "/Error.aspx?aspxerrorpath=/reports/q3.aspx"),
			want: Soft404, str: Confirmed},
		{name: "redirect to a marketplace",
			page: chain(t, "https://trailmixcoffee.com/shop", "parked/hugedomains.html", 302, "https://www.hugedomains.com/domain_profile.cfm?d=trailmixcoffee.com"),
			want: Parked, str: Confirmed},
		{name: "redirect to a Bodis parking subdomain",
			page: chain(t, "http://blue-heron-design.com/portfolio/", "parked/bodis.html", 302, "http://ww25.blue-heron-design.com/portfolio/?subid1=20240107-0331-4ff3-a8f1-2a4e3bfbd8f5"),
			want: Parked, str: Confirmed},
		{name: "redirect to cPanel's suspended page",
			page: chain(t, "https://sunnyside-daycare.example/enrolment/", "suspended/cpanel.html", 302, "/cgi-sys/suspendedpage.cgi"),
			want: Suspended, str: Confirmed},
		{name: "a marketplace's own page redirected",
			page: chain(t, "https://sedo.com/search/details/?domain=example.com", home, 301, "https://sedo.com/en/search/details/?domain=example.com"),
			want: None},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Analyze(tt.page)
			var pa *Analysis
			if tt.probe != nil {
				pa = Analyze(tt.probe)
			}
			got := a.Verdict(pa)
			if got.Kind != tt.want || got.Strength != tt.str {
				t.Errorf("Verdict = %s/%s %v, want %s/%s", got.Kind, got.Strength, got.Evidence, tt.want, tt.str)
			}
			if a.Doubt() != tt.doubt {
				t.Errorf("Doubt = %v, want %v", a.Doubt(), tt.doubt)
			}
		})
	}
}

// TestNotOK checks that an answer that is not 2xx gets no verdict: the
// checker reports it as it is.
func TestNotOK(t *testing.T) {
	for _, st := range []int{404, 410, 500, 503, 301} {
		p := loadPage(t, "soft404/wordpress.html", "https://example.org/a/b", st, "-")
		a := Analyze(p)
		if v := a.Verdict(nil); v.Found() || a.Doubt() {
			t.Errorf("status %d: %s, doubt %v", st, v.Kind, a.Doubt())
		}
	}
}

// TestProbeURL checks the made-up addresses.
func TestProbeURL(t *testing.T) {
	tests := []struct{ link, want string }{
		{"https://example.org/blog/2019/post.html", "https://example.org/blog/2019/" + probeName + ".html"},
		{"https://example.org/blog/2019/post", "https://example.org/blog/2019/" + probeName},
		{"https://example.org/blog/2019/", "https://example.org/blog/2019/" + probeName},
		{"https://example.org", "https://example.org/" + probeName},
		{"http://example.org:8080/a/index.php?id=4#top", "http://example.org:8080/a/" + probeName + ".php"},
		{"https://example.org/caf%C3%A9/men%C3%BC.aspx", "https://example.org/caf%C3%A9/" + probeName + ".aspx"},
		{"https://example.org/files/report.pdf", "https://example.org/files/" + probeName},
	}
	for _, tt := range tests {
		got, err := probeURL(tt.link, probeName)
		if err != nil || got != tt.want {
			t.Errorf("probeURL(%q) = %q, %v; want %q", tt.link, got, err, tt.want)
		}
	}
	for _, bad := range []string{"mailto:a@example.org", "ftp://example.org/x", "/relative/path", "https://", "http://[::1"} {
		if _, err := ProbeURL(bad); !errors.Is(err, ErrNotHTTP) {
			t.Errorf("ProbeURL(%q) error = %v, want ErrNotHTTP", bad, err)
		}
	}
	a, _ := ProbeURL("https://example.org/x/y")
	b, _ := ProbeURL("https://example.org/x/y")
	if a == b || !strings.HasPrefix(a, "https://example.org/x/") || len(a) != len("https://example.org/x/")+20 {
		t.Errorf("ProbeURL gave %q and %q: want two different random names of 20 letters", a, b)
	}
}

// TestRootish checks what counts as a site's home.
func TestRootish(t *testing.T) {
	for p, want := range map[string]bool{
		"": true, "/": true, "/index.html": true, "/en": true, "/en/": true, "/de-at/": true,
		"/pt_BR/index.php": true, "/home": true, "/about": false, "/en/about": false,
		"/blog/": false, "/eng/": false, "/en-verylong/": false, "/12/": false,
	} {
		if got := rootish(p); got != want {
			t.Errorf("rootish(%q) = %v, want %v", p, got, want)
		}
	}
}

// TestScriptHome checks a tiny page whose script sends a deep link home.
func TestScriptHome(t *testing.T) {
	page := func(link, js string) *Page {
		return &Page{URL: link, Status: 200, Body: []byte("<html><head><title>Redirecting</title><script>" + js + "</script></head><body></body></html>")}
	}
	tests := []struct {
		name        string
		page, probe *Page
		want        Kind
		str         Strength
	}{
		{"script to the root", page("https://example.org/news/old", `window.location.href = "/";`), nil, HomeRedirect, Weak},
		{"script to the root, probe too",
			page("https://example.org/news/old", `window.location.href = "/";`),
			page("https://example.org/news/"+probeName, `window.location.href = "/";`), HomeRedirect, Confirmed},
		{"script to the root, probe 404", page("https://example.org/news/old", `location.replace('https://www.example.org/');`),
			&Page{URL: "https://example.org/news/" + probeName, Status: 404}, None, Unsure},
		{"script to a login page", page("https://example.org/members/report", `location.replace('/login?next=/members/report');`), nil, None, Unsure},
		{"script to another page", page("https://example.org/news/old", `location.href = "/news/new-address";`), nil, None, Unsure},
		{"script to another site", page("https://example.org/news/old", `location.href = "https://other.example/";`), nil, None, Unsure},
		{"home link's script", page("https://example.org/", `location.href = "/en/";`), nil, None, Unsure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pa *Analysis
			if tt.probe != nil {
				pa = Analyze(tt.probe)
			}
			if v := Analyze(tt.page).Verdict(pa); v.Kind != tt.want || v.Strength != tt.str {
				t.Errorf("Verdict = %s/%s %v, want %s/%s", v.Kind, v.Strength, v.Evidence, tt.want, tt.str)
			}
		})
	}
}
