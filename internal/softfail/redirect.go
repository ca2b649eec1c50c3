package softfail

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// homeInfo describes a deep link whose redirects end on a site's root.
type homeInfo struct {
	same      bool   // the root is on the link's own site (registrable domain)
	cross     bool   // the root is another site's
	permanent bool   // every hop was permanent (301, 308)
	target    string // the root reached, normalised (scheme-less host + path)
}

// readHome reads p's redirects: a deep link (not a home or language root
// link itself) that ends on a root, a root with a query, an index page or a
// language root (/en/, /de-at/) — unless the end is a login page or carries
// the link's path as a return address.
func readHome(p *Page) (h homeInfo, login bool) {
	if len(p.Hops) == 0 {
		return h, false
	}
	from, err := url.Parse(p.URL)
	if err != nil || !deep(from.Path) {
		return h, false
	}
	to, err := url.Parse(p.Final())
	if err != nil || to.Host == "" {
		return h, false
	}
	if loginURL(to) {
		return h, true
	}
	if !rootish(to.Path) || returnsTo(to, from) {
		return h, false
	}
	h.permanent = true
	for _, hop := range p.Hops {
		if hop.Status != 301 && hop.Status != 308 {
			h.permanent = false
		}
	}
	h.same = site(from.Hostname()) == site(to.Hostname())
	h.cross = !h.same
	h.target = strings.TrimPrefix(strings.ToLower(to.Hostname()), "www.") + cleanRoot(to.Path)
	return h, false
}

// scriptHome reads a page that does nothing but send the reader on with a
// script (location.href = "/", location.replace('/')): if a deep link's
// tiny page sends it to its own site's root, it returns that root as a
// homeInfo like readHome's, never permanent (a script is no 301).
func scriptHome(link, final string, words int, inline []byte) homeInfo {
	if words > 20 || len(inline) == 0 {
		return homeInfo{}
	}
	from, err := url.Parse(link)
	if err != nil || !deep(from.Path) {
		return homeInfo{}
	}
	base, err := url.Parse(final)
	if err != nil {
		return homeInfo{}
	}
	js := string(inline)
	for _, m := range []string{"location.href", "location.replace(", "location.assign(", "location =", "location="} {
		i := strings.Index(js, m)
		if i < 0 {
			continue
		}
		rest := strings.TrimLeft(js[i+len(m):], " =(\t")
		if rest == "" || rest[0] != '"' && rest[0] != '\'' {
			continue
		}
		target, _, ok := strings.Cut(rest[1:], rest[:1])
		if !ok {
			continue
		}
		to, err := base.Parse(target)
		if err != nil || loginURL(to) || !rootish(to.Path) || returnsTo(to, from) ||
			site(to.Hostname()) != site(from.Hostname()) {
			continue
		}
		return homeInfo{same: true, target: strings.TrimPrefix(strings.ToLower(to.Hostname()), "www.") + cleanRoot(to.Path)}
	}
	return homeInfo{}
}

// deep reports whether a link's path names a page below the site's home:
// not "/", not an index page, not a language root.
func deep(p string) bool {
	return !rootish(p)
}

// rootish reports whether a path is a site's home: "/", "", an index page
// (/index.html, /index.php, /default.aspx, /home), a language root
// (/en, /de-at/) or a language root's index.
func rootish(p string) bool {
	p = strings.Trim(strings.ToLower(p), "/")
	if p == "" || indexPage(p) {
		return true
	}
	first, rest, _ := strings.Cut(p, "/")
	if !langCode(first) {
		return false
	}
	return rest == "" || indexPage(rest)
}

// cleanRoot returns the language part of a root path ("/en/" for
// "/en/index.html", "/" for "/home").
func cleanRoot(p string) string {
	p = strings.Trim(strings.ToLower(p), "/")
	first, _, _ := strings.Cut(p, "/")
	if langCode(first) {
		return "/" + first + "/"
	}
	return "/"
}

// indexPage reports whether a path segment is a home or index page.
func indexPage(s string) bool {
	switch s {
	case "index.html", "index.htm", "index.php", "index.asp", "index.aspx", "index.jsp",
		"index.shtml", "index.cfm", "default.asp", "default.aspx", "default.htm", "home",
		"home.html", "home.php", "start", "startseite", "accueil", "inicio", "home.aspx":
		return true
	}
	return false
}

// langCode reports whether s is a language root's segment: "en", "de",
// "en-us", "pt_br", "zh-hans".
func langCode(s string) bool {
	lang, region, ok := strings.Cut(strings.ReplaceAll(s, "_", "-"), "-")
	if len(lang) != 2 || !letters(lang) {
		return false
	}
	return !ok || (len(region) == 2 || len(region) == 4) && letters(region)
}

// letters reports whether s holds ASCII letters only.
func letters(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return s != ""
}

// loginWords are path segments (or their beginnings) of login and single
// sign-on pages.
var loginWords = []string{
	"login", "log-in", "log_in", "signin", "sign-in", "sign_in", "logon", "auth", "sso", "saml",
	"oauth", "oauth2", "cas", "authorize", "wp-login.php", "anmelden", "anmeldung", "connexion",
	"iniciar-sesion", "accedi", "inloggen", "account", "accounts", "session", "sessions", "idp",
	"openid", "adfs",
}

// loginHosts are host name beginnings of identity providers.
var loginHosts = []string{
	"login.", "auth.", "sso.", "accounts.", "id.", "signin.", "idp.", "identity.", "secure.",
}

// loginURL reports whether u is a login or single sign-on page.
func loginURL(u *url.URL) bool {
	host := strings.ToLower(u.Hostname())
	for _, h := range loginHosts {
		if strings.HasPrefix(host, h) {
			return true
		}
	}
	if strings.Contains(host, "okta.com") || strings.Contains(host, "microsoftonline.com") ||
		strings.Contains(host, "auth0.com") {
		return true
	}
	for _, seg := range strings.Split(strings.ToLower(u.Path), "/") {
		for _, w := range loginWords {
			if seg == w || strings.HasPrefix(seg, w+".") || strings.HasPrefix(seg, w+"-") {
				return true
			}
		}
	}
	return false
}

// returnsTo reports whether to's query carries from's path back (a login
// or consent page's return address: ?next=/a/b, ?returnUrl=…).
func returnsTo(to, from *url.URL) bool {
	p := strings.TrimSuffix(from.Path, "/")
	if p == "" {
		return false
	}
	for _, vs := range to.Query() {
		for _, v := range vs {
			if strings.Contains(v, p) {
				return true
			}
		}
	}
	return false
}

// errorSegments are path segments of sites' "not found" pages that
// redirects lead to (/404.html, /page-not-found/, /Error.aspx?aspxerrorpath=…).
var errorSegments = set(
	"404", "404.html", "404.htm", "404.php", "404.aspx", "404.shtml", "error404", "error-404",
	"error_404", "error404.html", "not-found", "notfound", "not_found", "page-not-found",
	"pagenotfound", "page_not_found", "pagenotfound.aspx", "notfound.aspx", "notfound.html",
	"seite-nicht-gefunden", "fehler-404", "page-introuvable", "erreur-404", "pagina-no-encontrada",
	"error-404.html", "pagina-non-trovata", "pagina-niet-gevonden", "niet-gevonden",
)

// errorURL reports whether a redirect's end is a site's "not found" page:
// a path segment of errorSegments or a query that names the error
// (?aspxerrorpath=…, ?error=404, ?code=404).
func errorURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	for _, seg := range strings.Split(strings.ToLower(u.Path), "/") {
		if errorSegments[seg] {
			return true
		}
	}
	q := u.Query()
	if q.Has("aspxerrorpath") {
		return true
	}
	for _, k := range []string{"error", "code", "status", "err"} {
		if q.Get(k) == "404" {
			return true
		}
	}
	return false
}

// site returns the registrable domain of a host name (example.co.uk for
// www.shop.example.co.uk), or the host itself when it has none.
func site(host string) string {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	s, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		return host
	}
	return s
}

// hostOf returns the host name of a URL, or "".
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// pathWords returns the normalised words of a URL's path, which a page may
// echo ("The page /old/page was not found").
func pathWords(raw string) map[string]bool {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	w := strings.Fields(norm(u.Path + " " + u.RawQuery))
	if len(w) == 0 {
		return nil
	}
	m := make(map[string]bool, len(w))
	for _, x := range w {
		m[x] = true
	}
	return m
}

// ErrNotHTTP is returned by ProbeURL for a link that is not an absolute
// http or https URL.
var ErrNotHTTP = errors.New("softfail: not an absolute http or https URL")

// probeExts are the page extensions a probe keeps, since servers route by
// them (a PHP site answers /x.php and /x differently).
var probeExts = set(".html", ".htm", ".php", ".asp", ".aspx", ".jsp", ".cfm", ".shtml", ".php5")

// ProbeURL returns a made-up address next to link: the same scheme, host
// and directory, a random 20-letter name, and the link's page extension if
// it has one (https://example.org/blog/2019/kqzmwuvxbrtyplneahcd.html for
// https://example.org/blog/2019/post.html). A host that answers it with a
// page like the link's answers any address so: the link's page is a soft
// 404. The name is random so that no real page can match it; a caller that
// keeps one probe per host may compare it with any link of the host.
func ProbeURL(link string) (string, error) {
	return probeURL(link, randomName())
}

// probeURL builds the probe address with the given name.
func probeURL(link, name string) (string, error) {
	u, err := url.Parse(link)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNotHTTP, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%w: %q", ErrNotHTTP, link)
	}
	dir, last := path.Split(u.EscapedPath())
	if dir == "" {
		dir = "/"
	}
	ext := strings.ToLower(path.Ext(last))
	if !probeExts[ext] {
		ext = ""
	}
	return u.Scheme + "://" + u.Host + dir + name + ext, nil
}

// randomName returns 20 random lower-case letters.
func randomName() string {
	const abc = "abcdefghijklmnopqrstuvwxyz"
	var b [20]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	for i := range b {
		b[i] = abc[int(b[i])%len(abc)]
	}
	return string(b[:])
}
