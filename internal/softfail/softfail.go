// Package softfail recognises links that are alive but wrong: the server
// answers 200, yet the page the link meant is gone. It knows three shapes:
//
//   - soft 404s: a page that says it does not exist ("Page not found",
//     "Seite nicht gefunden", "Page introuvable", …), or a host that answers
//     any made-up path with the same page;
//   - parked, for-sale and dead-hosting domains: parking and marketplace
//     landers (Sedo, Bodis, ParkingCrew, GoDaddy/Afternic, Dan.com,
//     HugeDomains, …), default web-server pages and "account suspended"
//     placeholders, served directly or reached by redirect;
//   - links sent to the home page: a deep link redirected to the site's root
//     (or the root with a query, or a language root such as /en/).
//
// The package is a pure function of what a check saw; it does no I/O. A
// caller reads a page, describes it as a [Page] and asks [Analyze]. The
// [Analysis] says whether the page gives a reason to doubt it
// ([Analysis.Doubt]); only then is a probe of a made-up path on the same host
// worth its request ([ProbeURL] builds the address). The probe's answer,
// analysed the same way, sharpens the verdict ([Analysis.Verdict]), after the
// method of Bar-Yossef et al., "Sic Transit Gloria Telae" (WWW 2004): a link
// whose page is near-identical to the host's answer for a random path points
// to nothing. An Analysis is small and immutable, so a caller can keep the
// probe's per host for a check interval and share it between goroutines.
//
// False alarms cost more than misses. Every signal has look-alikes that stay
// [None]: an article about 404 pages, a shop that sells domain names, a home
// link redirected to /en/, a moved article redirected to its new address, a
// login redirect, a single-page application that serves one shell for every
// route, a page that merely contains "not found" in its text.
package softfail

import (
	"net/http"
)

// MaxBody is how much of a body is read; the rest is ignored. Signals of
// every kind sit near the top of a page.
const MaxBody = 256 << 10

// Page is what one check saw of a link: the address asked, the redirects
// followed, and the final answer.
type Page struct {
	// URL is the link as requested (absolute, http or https).
	URL string
	// Hops are the redirects followed, in order; empty if there was none.
	Hops []Hop
	// Status is the HTTP status of the final answer.
	Status int
	// Header is the final answer's header; nil is allowed.
	Header http.Header
	// Body is the final answer's body, decoded from its Content-Encoding.
	// Only its first MaxBody bytes are read. A body that is not valid UTF-8
	// is read as Windows-1252.
	Body []byte
}

// Hop is one redirect: an answer that sent the reader on.
type Hop struct {
	// From is the address asked.
	From string
	// Status is the answer's status: 301, 302, 303, 307, 308, or 200 for a
	// page refresh (<meta http-equiv="refresh"> or a Refresh header).
	Status int
	// Location is the target as the server wrote it (for logs).
	Location string
	// To is the target resolved against From: the next address asked.
	To string
}

// Final returns where the reader ends up: the last hop's target, or URL
// when there was no redirect.
func (p *Page) Final() string {
	if n := len(p.Hops); n > 0 {
		return p.Hops[n-1].To
	}
	return p.URL
}

// Kind says what kind of "alive but wrong" a link is.
type Kind uint8

// The kinds. Parked, DefaultPage and Suspended all mean the site is gone
// (dead hosting); they differ in what the reader sees.
const (
	// None: nothing wrong was found.
	None Kind = iota
	// Soft404 is a page that says it does not exist, or the same page the
	// host shows for any made-up address.
	Soft404
	// Parked is a parking or domain-marketplace lander: the domain is
	// parked or for sale.
	Parked
	// HomeRedirect is a deep link that now leads to the site's home page.
	HomeRedirect
	// DefaultPage is a web server's or hosting panel's default page where
	// the site used to be.
	DefaultPage
	// Suspended is a hosting account's "suspended" placeholder.
	Suspended
)

// String returns the machine-readable name of k for the JSON API:
// "none", "soft_404", "parked", "home_redirect", "default_page",
// "suspended".
func (k Kind) String() string {
	switch k {
	case Soft404:
		return "soft_404"
	case Parked:
		return "parked"
	case HomeRedirect:
		return "home_redirect"
	case DefaultPage:
		return "default_page"
	case Suspended:
		return "suspended"
	}
	return "none"
}

// DeadHosting reports whether k means the whole site is gone (parked,
// default page, suspended) rather than one page.
func (k Kind) DeadHosting() bool {
	return k == Parked || k == DefaultPage || k == Suspended
}

// Strength says how sure a verdict is.
type Strength uint8

// The strengths.
const (
	// Unsure goes with None.
	Unsure Strength = iota
	// Weak evidence: report the link temporarily unavailable and look
	// again (with a probe when Doubt allows one).
	Weak
	// Confirmed evidence: report the link unavailable (after the usual
	// re-check that confirms any definitive failure).
	Confirmed
)

// String returns "unsure", "weak" or "confirmed".
func (s Strength) String() string {
	switch s {
	case Weak:
		return "weak"
	case Confirmed:
		return "confirmed"
	}
	return "unsure"
}

// Verdict is the detector's answer for one link.
type Verdict struct {
	// Kind is what was found; None if nothing.
	Kind Kind
	// Strength is Unsure for None, else Weak or Confirmed.
	Strength Strength
	// Reason says in plain words, for an editor, what was found; empty
	// for None.
	Reason string
	// Evidence names the signals that decided, for logs and tests (never
	// for clients): e.g. "title", "heading", "probe-same", "caf.js".
	Evidence []string
}

// Found reports whether the verdict says the link is wrong.
func (v Verdict) Found() bool { return v.Kind != None }

// The reasons, one per kind and cause, for editors.
const (
	reasonSoft404      = "The page says it was not found"
	reasonSoft404Probe = "The page is gone: the site shows this same page for any address"
	reasonParked       = "The domain is parked or for sale"
	reasonHome         = "The link now leads to the site's home page"
	reasonDefault      = "The site shows only a web server's default page"
	reasonSuspended    = "The site's hosting account is suspended"
)

// Detect analyses page and, when the caller has it, the host's answer to a
// made-up path (probe may be nil), and returns the verdict. It is
// Analyze(page).Verdict(Analyze(probe)).
func Detect(page, probe *Page) Verdict {
	var pa *Analysis
	if probe != nil {
		pa = Analyze(probe)
	}
	return Analyze(page).Verdict(pa)
}
