package softfail

import (
	"net/url"
	"slices"
)

// sameAt is the Jaccard similarity of two pages' 3-word shingles from
// which they count as the same page (Bar-Yossef et al. compare a link's
// page with a random path's the same way).
const sameAt = 0.9

// cand is one detector's candidate verdict.
type cand struct {
	kind     Kind
	strength Strength
	reason   string
	evidence []string
}

// Analysis is what the detector read from one answer: the candidates of
// each detector, the reasons to doubt the page, and the page's fingerprint
// for comparing it with a probe. It is immutable and small (a few KiB at
// most), safe to keep and to share between goroutines.
type Analysis struct {
	ok        bool     // the final status is 2xx
	decisive  bool     // the answer says something about the host: 2xx, 404 or 410
	final     string   // where the reader ended up
	home      homeInfo // a deep link that ended on a root
	cands     []cand
	doubts    []string // what a probe could settle
	words     []uint32 // hashes of the visible words, for comparing with a probe
	echo      []uint32 // hashes of the words of the requested and final paths
	notFound  int      // "not found" text signals
	shell     bool     // a single-page application's shell with no text of its own
	canonRoot bool     // a deep page whose canonical address is the home page
}

// Analyze reads one answer: the page a link led to, or a probe's. It never
// fails; what it cannot read (a PDF, garbage) gives no candidate. Only the
// first MaxBody bytes of the body are read.
func Analyze(p *Page) *Analysis {
	a := &Analysis{
		ok:       p.Status >= 200 && p.Status < 300,
		decisive: p.Status >= 200 && p.Status < 300 || p.Status == 404 || p.Status == 410,
		final:    p.Final(),
	}
	var login bool
	a.home, login = readHome(p)
	if !a.ok || login {
		return a
	}
	switch {
	case a.home.same && a.home.permanent:
		a.add(cand{HomeRedirect, Confirmed, reasonHome, []string{"root-redirect"}}, "")
	case a.home.same:
		a.add(cand{HomeRedirect, Weak, reasonHome, []string{"root-redirect"}}, "root-redirect")
	case a.home.cross:
		a.add(cand{}, "root-redirect")
	}
	if len(p.Hops) > 0 && saleRedirect(p.URL, a.final) {
		a.add(cand{Parked, Confirmed, reasonParked, []string{"sale-redirect"}}, "")
	}
	if len(p.Hops) > 0 && errorURL(a.final) && !errorURL(p.URL) {
		a.add(cand{Soft404, Confirmed, reasonSoft404, []string{"redirect-to-error-page"}}, "")
	}
	d := readDoc(p.Header, p.Body[:min(len(p.Body), MaxBody)])
	if !d.html {
		return a
	}
	if a.home.target == "" {
		if h := scriptHome(p.URL, a.final, d.words, d.inline); h.same {
			a.home = h
			a.add(cand{HomeRedirect, Weak, reasonHome, []string{"script-redirect"}}, "root-redirect")
		}
	}
	host, final := hostOf(p.URL), hostOf(a.final)
	a.add(deadHostingCand(d, a.final), "")
	a.add(parkedCand(d, p.Header, host, final))
	sig := readSoft404(d)
	a.notFound = sig.count()
	a.add(soft404Cand(sig))
	a.shell = d.scripts > 0 && d.words < shellWords && (d.mount || d.words < 10)
	a.canonRoot = canonicalRoot(p.URL, a.final, d.canonical)
	if a.canonRoot && !a.shell {
		a.add(cand{}, "canonical-home")
	}
	a.words = wordHashes(string(d.text))
	for _, u := range []string{p.URL, a.final} {
		for w := range pathWords(u) {
			a.echo = append(a.echo, hash32(w))
		}
	}
	slices.Sort(a.echo)
	a.echo = slices.Compact(a.echo)
	return a
}

// add records a candidate (if it has a kind) and a reason to doubt (if
// any).
func (a *Analysis) add(c cand, doubt string) {
	if c.kind != None {
		a.cands = append(a.cands, c)
	}
	if doubt != "" && !slices.Contains(a.doubts, doubt) {
		a.doubts = append(a.doubts, doubt)
	}
}

// canonicalRoot reports whether a deep link's page names its own site's
// home page as its canonical address (what a site that shows its home page
// for any address does).
func canonicalRoot(link, final, canonical string) bool {
	if canonical == "" {
		return false
	}
	l, err := url.Parse(link)
	if err != nil || !deep(l.Path) {
		return false
	}
	f, err := url.Parse(final)
	if err != nil {
		return false
	}
	c, err := f.Parse(canonical)
	if err != nil || c.Host == "" {
		return false
	}
	return rootish(c.Path) && site(c.Hostname()) == site(f.Hostname())
}

// Doubt reports whether the page gives a reason to doubt it that a probe of
// a made-up path on the same host (see ProbeURL) could settle: a weak
// "not found" signal, a redirect to a root, a home page's canonical
// address on a deep page, a for-sale hint. It is false for a page already
// confirmed wrong and for a page that gives no reason: those are not worth
// a request.
func (a *Analysis) Doubt() bool {
	return a.ok && len(a.doubts) > 0 && a.best().strength < Confirmed
}

// Verdict returns the verdict on the page a was read from. probe is the
// analysis of the same host's answer to a made-up path (see ProbeURL), or
// nil. The probe counts only when the page gives a reason to doubt it:
//
//   - the same page for the link and the made-up path (or the same root
//     both were sent to) confirms the doubt: a soft 404, or the home page
//     when the doubt was a redirect to it or a canonical home address;
//     a single-page application's bare shell is the same for every route by
//     design and stays none;
//   - a different answer (a real 404, another page) clears weak evidence:
//     the host tells its missing pages apart, so the link's page is its own;
//   - an answer that says nothing (5xx, a bot wall) changes nothing.
func (a *Analysis) Verdict(probe *Analysis) Verdict {
	if !a.ok {
		return Verdict{}
	}
	cands := slices.Clone(a.cands)
	if probe != nil && probe.decisive && len(a.doubts) > 0 {
		switch {
		case a.home.target != "" && probe.home.target == a.home.target:
			cands = append(cands, cand{HomeRedirect, Confirmed, reasonHome, []string{"probe-same-root"}})
		case probe.ok && a.sameAs(probe):
			if !a.shell {
				cands = append(cands, a.probeCand())
			}
		default:
			cands = slices.DeleteFunc(cands, func(c cand) bool { return c.strength < Confirmed })
		}
	}
	b := pick(cands)
	if b.kind == None {
		return Verdict{}
	}
	return Verdict{Kind: b.kind, Strength: b.strength, Reason: b.reason, Evidence: b.evidence}
}

// probeCand is what a probe that answered like the page confirms.
func (a *Analysis) probeCand() cand {
	switch {
	case slices.Contains(a.doubts, "for-sale") || slices.Contains(a.doubts, "related-searches"):
		return cand{Parked, Confirmed, reasonParked, []string{"probe-same"}}
	case a.notFound > 0:
		return cand{Soft404, Confirmed, reasonSoft404, []string{"probe-same"}}
	case a.canonRoot || a.home.target != "":
		return cand{HomeRedirect, Confirmed, reasonHome, []string{"probe-same"}}
	}
	return cand{Soft404, Confirmed, reasonSoft404Probe, []string{"probe-same"}}
}

// sameAs reports whether a and b are the same page: near-identical
// visible text once the words of either's address are left out. Two pages
// without text are undecidable, not the same.
func (a *Analysis) sameAs(b *Analysis) bool {
	echo := make(map[uint32]bool, len(a.echo)+len(b.echo))
	for _, w := range slices.Concat(a.echo, b.echo) {
		echo[w] = true
	}
	x, y := shingles(a.words, echo), shingles(b.words, echo)
	if len(x) == 0 && len(y) == 0 {
		return false // nothing to compare: undecidable, not the same
	}
	return jaccard(x, y) >= sameAt
}

// best returns the strongest candidate of a without a probe.
func (a *Analysis) best() cand {
	return pick(a.cands)
}

// priority orders kinds of equal strength: what says most about the link
// wins.
func priority(k Kind) int {
	switch k {
	case Parked:
		return 5
	case Suspended:
		return 4
	case DefaultPage:
		return 3
	case Soft404:
		return 2
	case HomeRedirect:
		return 1
	}
	return 0
}

// pick returns the strongest candidate, by strength then priority.
func pick(cs []cand) cand {
	var b cand
	for _, c := range cs {
		if c.strength > b.strength || c.strength == b.strength && priority(c.kind) > priority(b.kind) {
			b = c
		}
	}
	return b
}
