package softfail

import "strings"

// Thresholds of page size, in visible words outside nav, header, footer and
// aside. A "not found" page is short; an article about one is not.
const (
	shortProse = 250  // words inside <p> of a short page
	shortWords = 1500 // visible words of a short page
	tinyWords  = 400  // visible words of a lander or placeholder
	// landerProse is the most prose of a lander that only says "for sale".
	landerProse = 80
	// placeholderWords is the most words of a default or suspended page
	// known by its text alone (a tutorial or news story quotes the text).
	placeholderWords = 120
	shellWords       = 40 // visible words of a single-page application's shell
	mainWindow       = 8 << 10
	sentenceAt       = 60 // bytes between a "not found" core and the page it names
)

// textSignals are the "not found" signals of one page.
type textSignals struct {
	title   bool   // a title segment is a "not found" statement
	heading bool   // an <h1>/<h2> is one
	marker  string // a CMS "not found" class or id
	body    bool   // the opening text says the page was not found
	about   bool   // the page discusses errors (cancels title, heading, body)
	short   bool
}

// count returns how many signals hold.
func (s textSignals) count() int {
	n := 0
	if s.marker != "" {
		n++
	}
	if s.about {
		return n
	}
	for _, b := range []bool{s.title, s.heading, s.body} {
		if b {
			n++
		}
	}
	return n
}

// evidence names the signals that hold.
func (s textSignals) evidence() []string {
	var ev []string
	if s.marker != "" {
		ev = append(ev, "marker:"+s.marker)
	}
	if s.about {
		return ev
	}
	if s.title {
		ev = append(ev, "title")
	}
	if s.heading {
		ev = append(ev, "heading")
	}
	if s.body {
		ev = append(ev, "text")
	}
	return ev
}

// readSoft404 reads the "not found" signals of d.
func readSoft404(d *doc) textSignals {
	s := textSignals{marker: d.marker, short: d.prose < shortProse && d.words < shortWords}
	for _, seg := range segments(d.title) {
		if statement(seg, notFoundCores, notFoundFillers) {
			s.title = true
			break
		}
	}
	for _, h := range d.headings {
		if statement(h, notFoundCores, notFoundFillers) {
			s.heading = true
			break
		}
	}
	main := d.mainBag()
	s.body = notFoundSentence(main)
	s.about = aboutErrorsIn(main, d.code)
	return s
}

// notFoundSentence reports whether the normalised text t says that the page
// asked for was not found: a core ("could not be found") with a reference to
// the page ("the page you requested") within a sentence's reach.
func notFoundSentence(b *bag) bool {
	t := b.t
	for _, c := range notFoundBody {
		if !b.mayHave(c) {
			continue
		}
		for off := 0; ; {
			i := strings.Index(t[off:], " "+c.text+" ")
			if i < 0 {
				break
			}
			i += off
			lo, hi := max(i-sentenceAt, 0), min(i+len(c.text)+2+sentenceAt, len(t))
			win := t[lo:hi]
			for _, r := range notFoundRefs {
				if b.mayHave(r) && has(win, r.text) {
					return true
				}
			}
			off = i + 1
		}
	}
	return false
}

// aboutErrorsIn reports whether t discusses errors: two distinct terms of
// aboutErrors, or one on a page that shows code.
func aboutErrorsIn(b *bag, code bool) bool {
	n := 0
	for _, p := range aboutErrors {
		if b.has(p) {
			n++
			if n >= 2 || code {
				return true
			}
		}
	}
	return false
}

// soft404Cand turns the text signals into a candidate: confirmed with two
// signals on a short page or three on any page, weak with one on a short
// page. It also reports whether a probe could decide what the text alone
// cannot.
func soft404Cand(s textSignals) (c cand, doubt string) {
	n := s.count()
	switch {
	case n >= 3, n >= 2 && s.short:
		return cand{Soft404, Confirmed, reasonSoft404, s.evidence()}, ""
	case n == 1 && s.short:
		return cand{Soft404, Weak, reasonSoft404, s.evidence()}, "not-found-text"
	case n == 2:
		return cand{}, "not-found-text"
	}
	return cand{}, ""
}
