package softfail

import (
	"net/http"
	"strings"
)

// parkingLoads are addresses (or parts of them) that only parking landers
// load: Google's AdSense for Domains (caf.js, the feed every pay-per-click
// parking service uses), and the services' own scripts and assets.
var parkingLoads = []string{
	"adsense/domains/caf.js", "sedoparking.com", "parkingcrew.net", "/parking-lander/",
	"bodis.com", "above.com/marketing", "parkingpage.namecheap.com", "park.above.com",
	"dsparking.com", "parklogic.com", "domainsponsor.com", "/parking.2.", "skenzo.com",
}

// parkingInline are fragments of the inline scripts of parking landers
// (lower-cased): Bodis' window.park blob, the AdSense for Domains options
// (domainRegistrant exists only there), and the services' names. A "dp-"
// publisher id counts only next to "pubid": date pickers use dp- classes.
var parkingInline = []string{
	"window.park =", "window.park=", "adsense/domains/caf", "domainregistrant", "parkingcrew",
	"sedoparking",
}

// marketplaces are the registrable domains of parking and domain-sale
// services. A link on one of them is the service's own page, never a
// lander; a link that redirects to one with its own domain in the address
// is for sale.
var marketplaces = set(
	"sedo.com", "sedoparking.com", "bodis.com", "parkingcrew.net", "godaddy.com", "afternic.com",
	"dan.com", "hugedomains.com", "namecheap.com", "above.com", "wsimg.com", "sav.com", "atom.com",
	"porkbun.com", "uniregistry.com", "epik.com", "domainmarket.com", "brandbucket.com",
	"undeveloped.com", "efty.com", "squadhelp.com", "buydomains.com", "domainagents.com",
	"spaceship.com", "dynadot.com", "namebright.com", "parklogic.com", "domainsponsor.com",
)

// saleLinks are parts of marketplace addresses that offer one domain for
// sale; with the link's own domain in the same address they mean the domain
// is for sale.
var saleLinks = []string{
	"dan.com/buy-domain", "afternic.com/forsale", "afternic.com/domain", "domain_profile.cfm",
	"sedo.com/search/details", "godaddy.com/domainsearch", "/forsale/", "buy-domain", "make-offer",
	"makeoffer", "/lander", "inquire", "sav.com/domain", "atom.com/name",
}

// forSale are generic statements of landers that a domain is parked or for
// sale, in the six languages.
var forSale = compile(
	"this domain is for sale", "this domain may be for sale", "this domain name is for sale",
	"the domain is for sale", "this domain is available for purchase", "this domain is parked",
	"is parked free", "courtesy of godaddy", "this domain is registered at",
	"this domain was recently registered", "this domain has recently been registered",
	"this domain name may be for sale",
	"diese domain steht zum verkauf", "diese domain ist zu verkaufen", "diese domain kann erworben werden",
	"diese domain kaufen", "diese domain ist geparkt", "diese domain wurde registriert",
	"ce nom de domaine est a vendre", "ce domaine est a vendre", "ce domaine est en vente",
	"ce nom de domaine est en vente", "acheter ce domaine", "ce domaine est parque",
	"este dominio esta a la venta", "este dominio esta en venta", "este dominio puede estar a la venta",
	"comprar este dominio", "este dominio esta aparcado",
	"questo dominio e in vendita", "questo dominio potrebbe essere in vendita", "acquista questo dominio",
	"questo dominio e parcheggiato",
	"dit domein is te koop", "deze domeinnaam is te koop", "dit domein kan te koop zijn",
	"koop dit domein", "dit domein is geparkeerd",
)

// ownSale are the endings of statements that name the link's own domain:
// "<domain> is for sale".
var ownSale = []string{
	"is for sale", "may be for sale", "might be for sale", "is available for purchase",
	"steht zum verkauf", "ist zu verkaufen", "kann erworben werden", "est a vendre", "est en vente",
	"esta a la venta", "esta en venta", "e in vendita", "is te koop",
}

// ownBuy are the beginnings of statements that name the link's own domain:
// "buy <domain>".
var ownBuy = []string{
	"buy", "the domain name", "the domain", "domain", "kaufen sie", "acheter", "comprar",
	"acquista", "koop",
}

// relatedSearches head the link lists of pay-per-click landers.
var relatedSearches = compile(
	"related searches", "related links", "ahnliche suchanfragen", "verwandte suchanfragen",
	"recherches associees", "liens associes", "busquedas relacionadas", "enlaces relacionados",
	"ricerche correlate", "link correlati", "gerelateerde zoekopdrachten", "gerelateerde links",
)

// saleRedirect reports whether a link's redirects end on a parking or
// marketplace lander for its own domain: a marketplace address that names
// the domain (hugedomains.com/domain_profile.cfm?d=example.com), or a
// parking subdomain with a tracking query (Bodis' ww25.example.com/?subid1=…).
func saleRedirect(link, final string) bool {
	lh, fh := strings.ToLower(hostOf(link)), strings.ToLower(hostOf(final))
	if lh == "" || fh == "" || marketplaces[site(lh)] {
		return false
	}
	name := strings.TrimPrefix(lh, "www.")
	if marketplaces[site(fh)] {
		return strings.Contains(strings.ToLower(final), name)
	}
	if site(fh) == site(lh) && strings.HasPrefix(fh, "ww") && fh != "www."+name {
		n, _, _ := strings.Cut(fh[2:], ".")
		return isNumber(n) && strings.Contains(strings.ToLower(final), "subid")
	}
	return false
}

// parkedCand reads the signs of a parking or marketplace lander. host is
// the link's host name; final the host the reader ended on.
func parkedCand(d *doc, h http.Header, host, final string) (c cand, doubt string) {
	if marketplaces[site(host)] {
		return cand{}, "" // the service's own pages
	}
	found := func(s Strength, ev string) (cand, string) {
		return cand{Parked, s, reasonParked, []string{ev}}, ""
	}
	for _, l := range d.links {
		for _, f := range parkingLoads {
			if strings.Contains(l, f) {
				return found(Confirmed, "loads:"+f)
			}
		}
	}
	inline := strings.ToLower(string(d.inline))
	for _, f := range parkingInline {
		if strings.Contains(inline, f) {
			return found(Confirmed, "script:"+f)
		}
	}
	if i := strings.Index(inline, "pubid"); i >= 0 {
		if near := inline[i:min(i+40, len(inline))]; strings.Contains(near, "'dp-") || strings.Contains(near, "\"dp-") {
			return found(Confirmed, "script:pubid-dp")
		}
	}
	if h.Get("X-Adblock-Key") != "" && d.words < tinyWords {
		return found(Confirmed, "x-adblock-key")
	}
	main := d.mainBag()
	title := " " + norm(d.title) + " "
	for _, name := range names(host, final) {
		n := strings.TrimSpace(norm(name))
		if d.words < shortWords && (has(main.t, n) || has(title, n)) {
			for _, e := range ownSale {
				if has(main.t, n+" "+e) || has(title, n+" "+e) {
					return found(Confirmed, "own-sale")
				}
			}
			for _, b := range ownBuy {
				if has(main.t, b+" "+n) && main.first(forSale) != "" {
					return found(Confirmed, "own-sale")
				}
			}
		}
		for _, a := range d.anchors {
			if strings.Contains(a, name) && containsAny(a, saleLinks) != "" && d.words < shortWords {
				return found(Confirmed, "sale-link")
			}
		}
	}
	if main.first(forSale) != "" {
		if d.words < tinyWords && d.prose < landerProse {
			return found(Confirmed, "for-sale")
		}
		return cand{}, "for-sale" // an article may quote a lander: only a probe can tell
	}
	if main.first(relatedSearches) != "" && d.words < tinyWords && titleIsName(d.title, host, final) {
		return cand{}, "related-searches"
	}
	return cand{}, ""
}

// names returns the domain names a lander may call itself: the link's host
// and the final host, without "www.".
func names(hosts ...string) []string {
	var out []string
	for _, h := range hosts {
		h = strings.TrimPrefix(strings.ToLower(h), "www.")
		if h != "" && strings.Contains(h, ".") && (len(out) == 0 || out[0] != h) {
			out = append(out, h)
		}
	}
	return out
}

// titleIsName reports whether a title is nothing but one of the host names
// (as on most pay-per-click landers).
func titleIsName(title string, hosts ...string) bool {
	t := strings.TrimSpace(norm(title))
	for _, n := range names(hosts...) {
		if t == strings.TrimSpace(norm(n)) {
			return true
		}
	}
	return false
}

// containsAny returns the first of parts that s contains, or "".
func containsAny(s string, parts []string) string {
	for _, p := range parts {
		if strings.Contains(s, p) {
			return p
		}
	}
	return ""
}

// defaultTitles are title phrases of web servers' and hosting panels'
// default pages.
var defaultTitles = compile(
	"apache2 ubuntu default page", "apache2 debian default page", "apache2 default page",
	"apache http server test page", "test page for the apache http server",
	"test page for the nginx http server", "test page for the http server", "http server test page",
	"welcome to nginx", "welcome to openresty", "welcome to tengine", "iis windows server",
	"iis7", "iis8", "iis windows", "caddy works", "litespeed web server", "web server's default page",
	"web server default page", "default web site page", "domain default page", "default web page",
	"future home of something quite cool", "welcome to centos", "test page for nginx",
	"welcome to your new website", "coming soon default page", "default parallels plesk page",
)

// defaultTexts are sentences of default pages.
var defaultTexts = compile(
	"this is the default welcome page used to test the correct operation of the apache2 server",
	"if you see this page the nginx web server is successfully installed",
	"this page is used to test the proper operation of the apache http server",
	"this page is used to test the proper operation of an http server",
	"this page is used to test the proper operation of the nginx http server",
	"your litespeed web server is successfully installed",
	"if you're seeing this you've successfully installed tomcat",
	"the web server software is running but no content has been added yet",
	"this is the default web page for this server", "future home of something quite cool",
	"this page is generated by plesk", "this page was generated by plesk",
	"web server's default page", "if you are the owner of this website please contact your hosting provider",
	"it is possible you have reached this page because",
	"caddy works", "your web server is working", "welcome to openresty",
	"diese seite wird angezeigt weil", "der webserver wurde erfolgreich installiert",
	"si vous voyez cette page le serveur web", "si usted ve esta pagina el servidor web",
	"se vedi questa pagina il server web", "als u deze pagina ziet is de webserver",
)

// suspendedCores are "account suspended" statements for titles and
// headings, with suspendedFillers around them.
var suspendedCores = fields(
	"account suspended", "account has been suspended", "website suspended", "site suspended",
	"website has been suspended", "site has been suspended", "suspended page", "suspended",
	"konto gesperrt", "account gesperrt", "webseite gesperrt", "website gesperrt",
	"compte suspendu", "site suspendu", "cuenta suspendida", "sitio suspendido",
	"account sospeso", "sito sospeso", "account opgeschort", "website opgeschort",
)

// suspendedFillers may surround a suspended statement.
var suspendedFillers = set(
	"this", "the", "has", "been", "temporarily", "website", "site", "account", "hosting",
	"dieser", "dieses", "diese", "wurde", "vorubergehend", "ce", "cet", "a", "ete", "esta",
	"este", "ha", "sido", "questo", "e", "stato", "dit", "deze", "is", "tijdelijk",
)

// suspendedTexts are sentences of suspended placeholders.
var suspendedTexts = compile(
	"this account has been suspended", "this website has been suspended", "this site has been suspended",
	"the account has been suspended", "this account is suspended", "account has been suspended",
	"contact your hosting provider for more information", "dieser account wurde gesperrt",
	"dieses konto wurde gesperrt", "diese website wurde gesperrt", "ce compte a ete suspendu",
	"ce site a ete suspendu", "esta cuenta ha sido suspendida", "este sitio ha sido suspendido",
	"questo account e stato sospeso", "questo sito e stato sospeso", "dit account is opgeschort",
	"deze website is opgeschort",
)

// deadHostingCand reads a default server page or a suspended placeholder:
// confirmed when the title or a heading and the text agree or the page is
// tiny, so that a tutorial quoting "Welcome to nginx!" stays none.
func deadHostingCand(d *doc, final string) cand {
	path := strings.ToLower(final)
	switch {
	case strings.Contains(path, "/cgi-sys/suspendedpage.cgi"):
		return cand{Suspended, Confirmed, reasonSuspended, []string{"suspended-path"}}
	case strings.Contains(path, "/cgi-sys/defaultwebpage.cgi"):
		return cand{DefaultPage, Confirmed, reasonDefault, []string{"default-path"}}
	}
	if d.words >= shortWords {
		return cand{}
	}
	main, title := d.mainBag(), newBag(" "+norm(d.title)+" ")
	tTitle, tText := title.first(defaultTitles) != "", main.first(defaultTexts) != ""
	itWorks := len(d.headings) > 0 && norm(d.headings[0]) == " it works " && d.words < 20
	if itWorks || tTitle && (tText || d.words < 200) || tText && d.words < placeholderWords {
		return cand{DefaultPage, Confirmed, reasonDefault, []string{"default-page"}}
	}
	sTitle := false
	for _, seg := range append(segments(d.title), d.headings...) {
		if statement(seg, suspendedCores, suspendedFillers) {
			sTitle = true
			break
		}
	}
	sText := main.first(suspendedTexts) != ""
	if sTitle && (sText || d.words < 200) || sText && d.words < placeholderWords {
		return cand{Suspended, Confirmed, reasonSuspended, []string{"suspended-page"}}
	}
	return cand{}
}
