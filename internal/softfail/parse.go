package softfail

import (
	"bytes"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Bounds on what is kept of one page, so that the cost of a page and the
// size of an Analysis stay small whatever the input.
const (
	maxText     = 32 << 10 // normalised visible text kept (more than maxWords words)
	maxHeadings = 6        // <h1>/<h2> read, in order
	maxLinks    = 128      // script, iframe, stylesheet and form addresses kept
	maxAnchors  = 256      // <a href> addresses kept
	maxInline   = 32 << 10 // inline script text kept
	maxTitle    = 512      // bytes of the title kept
)

// doc is what the detector reads from a page's markup.
type doc struct {
	html      bool     // the answer is an HTML page (or could be)
	title     string   // the <title>, spaces collapsed
	headings  []string // the first <h1>/<h2> texts
	marker    string   // a "not found" class or id on html, body, main or h1
	text      []byte   // normalised visible text (see appendNorm), capped
	main      []byte   // the same outside nav, header, footer and aside, capped at mainWindow
	bag       *bag     // main as a bag, once asked for
	words     int      // visible words outside nav, header, footer and aside
	prose     int      // of those, the words inside <p>
	canonical string   // <link rel=canonical> or og:url
	links     []string // script, iframe, stylesheet and form addresses
	anchors   []string // <a href> addresses
	inline    []byte   // inline script text, capped
	scripts   int      // <script> elements
	mount     bool     // a single-page application's mount point
	code      bool     // <pre> or <code>: the page shows code
}

// contentKind reports whether header's Content-Type allows a page: HTML, XHTML,
// or none at all. Plain text is read as text.
func contentKind(h http.Header) (page, text bool) {
	ct := h.Get("Content-Type")
	if ct == "" {
		return true, false
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return true, false
	}
	switch {
	case mt == "text/html" || mt == "application/xhtml+xml":
		return true, false
	case mt == "text/plain":
		return false, true
	}
	return false, false
}

// readDoc reads body (already capped) as markup or, for text/plain, as
// text whose first line is its title.
func readDoc(header http.Header, body []byte) *doc {
	page, text := contentKind(header)
	d := &doc{html: page || text, text: []byte{' '}}
	if !page && !text {
		return d
	}
	if !utf8.Valid(body) {
		body = latin1(body)
	}
	if text {
		first, _, _ := bytes.Cut(bytes.TrimSpace(body), []byte{'\n'})
		d.title = collapse(string(first))
		d.headings = []string{d.title} // a plain-text answer's first line is its heading too
		d.text = appendNorm(d.text, string(body[:min(len(body), maxText)]))
		d.words = strings.Count(string(d.text), " ") - 1
		d.prose = d.words
		d.main = d.text[:min(len(d.text), mainWindow)]
		return d
	}
	d.text = make([]byte, 1, min(len(body), maxText)+64)
	d.text[0] = ' '
	d.main = make([]byte, 0, min(len(body)/2, mainWindow)+64)
	d.parse(body)
	return d
}

// parse reads the markup with the tokenizer (no tree: bounded memory and
// one pass). Tags are tracked with counters that tolerate sloppy nesting.
func (d *doc) parse(body []byte) {
	z := html.NewTokenizer(bytes.NewReader(body))
	var (
		raw      atom.Atom // script, style, title or textarea whose text comes next
		chrome   int       // depth inside nav, header, footer, aside
		hidden   int       // depth inside noscript, template, svg
		inP      bool
		heading  = -1 // index in d.headings being read
		title    []byte
		titled   bool // the document's <title> has ended (an SVG's <title> is no page title)
		inlineOK bool // the current script is inline
	)
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			d.title = collapse(string(title))
			return
		case html.TextToken:
			t := z.Text()
			switch raw {
			case atom.Title:
				if !titled && hidden == 0 && len(title) < maxTitle {
					title = append(title, t[:min(len(t), maxTitle-len(title))]...)
				}
				continue
			case atom.Script:
				if inlineOK && len(d.inline) < maxInline {
					d.inline = append(d.inline, t[:min(len(t), maxInline-len(d.inline))]...)
				}
				continue
			case atom.Style, atom.Textarea:
				continue
			}
			if hidden > 0 {
				continue
			}
			if heading >= 0 {
				d.headings[heading] += string(t)
			}
			d.addText(t, chrome == 0, inP && chrome == 0)
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			a := atom.Lookup(name)
			raw = 0
			switch a {
			case atom.Title, atom.Style, atom.Textarea:
				raw = a
			case atom.Script:
				raw, inlineOK = a, true
				d.scripts++
			case atom.Nav, atom.Header, atom.Footer, atom.Aside:
				chrome++
			case atom.Noscript, atom.Template, atom.Svg:
				hidden++
			case atom.P:
				inP = true
			case atom.Pre, atom.Code:
				d.code = true
			case atom.H1, atom.H2:
				if len(d.headings) < maxHeadings && tt == html.StartTagToken {
					d.headings = append(d.headings, "")
					heading = len(d.headings) - 1
				}
			case 0:
				if string(name) == "app-root" {
					d.mount = true
				}
			}
			if block(a) && a != atom.P {
				inP = false
			}
			if hasAttr {
				if d.attrs(z, a) && a == atom.Script {
					inlineOK = false
				}
			}
			if tt == html.SelfClosingTagToken {
				raw = 0
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			raw = 0
			switch a {
			case atom.Title:
				titled = titled || hidden == 0 && len(title) > 0
			case atom.Nav, atom.Header, atom.Footer, atom.Aside:
				chrome = max(chrome-1, 0)
			case atom.Noscript, atom.Template, atom.Svg:
				hidden = max(hidden-1, 0)
			case atom.H1, atom.H2, atom.H3:
				heading = -1
			}
			if block(a) {
				inP = false
			}
		}
	}
}

// addText adds a text node's words to the visible text and its counts.
func (d *doc) addText(t []byte, counted, prose bool) {
	var n int
	if len(d.text) < maxText {
		before := len(d.text)
		d.text = appendNorm(d.text, string(t))
		added := d.text[before:]
		n = bytes.Count(added, []byte{' '})
		if counted && len(d.main) < mainWindow {
			if len(d.main) == 0 {
				d.main = append(d.main, ' ')
			}
			d.main = append(d.main, added...)
		}
	} else {
		n = countWords(t)
	}
	if counted {
		d.words += n
		if prose {
			d.prose += n
		}
	}
}

// countWords counts the runs of bytes other than ASCII space and
// punctuation in t, without allocating.
func countWords(t []byte) int {
	n, in := 0, false
	for _, c := range t {
		w := c >= utf8.RuneSelf || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
		if w && !in {
			n++
		}
		in = w
	}
	return n
}

// attrs reads the attributes of a start tag a and reports whether it had a
// src (for a script: an external one).
func (d *doc) attrs(z *html.Tokenizer, a atom.Atom) (src bool) {
	var rel, prop, content, href string
	for {
		k, v, more := z.TagAttr()
		switch string(k) {
		case "src":
			src = true
			if a == atom.Script || a == atom.Iframe || a == atom.Img || a == atom.Frame {
				d.addLink(string(v))
			}
		case "action":
			if a == atom.Form {
				d.addLink(string(v))
			}
		case "href":
			href = string(v)
		case "rel":
			rel = strings.ToLower(string(v))
		case "property", "name":
			prop = strings.ToLower(string(v))
		case "content":
			content = string(v)
		case "class", "id":
			switch a {
			case atom.Html, atom.Body, atom.Main, atom.H1:
				if d.marker == "" {
					d.marker = markerIn(v)
				}
			}
			if string(k) == "id" && mountID(v) {
				d.mount = true
			}
		case "ng-version", "data-reactroot", "data-server-rendered":
			d.mount = true
		}
		if !more {
			break
		}
	}
	switch a {
	case atom.Link:
		switch {
		case hasWord(rel, "canonical") && d.canonical == "":
			d.canonical = strings.TrimSpace(href)
		case hasWord(rel, "stylesheet"), hasWord(rel, "preload"), hasWord(rel, "preconnect"):
			d.addLink(href)
		}
	case atom.Meta:
		if prop == "og:url" && d.canonical == "" {
			d.canonical = strings.TrimSpace(content)
		}
	case atom.A:
		if href != "" && len(d.anchors) < maxAnchors {
			d.anchors = append(d.anchors, strings.ToLower(href))
		}
	}
	return src
}

// addLink keeps an address of a resource the page loads.
func (d *doc) addLink(u string) {
	if u != "" && len(d.links) < maxLinks {
		d.links = append(d.links, strings.ToLower(strings.TrimSpace(u)))
	}
}

// markerIn returns the first "not found" marker among the class or id
// tokens v, or "".
func markerIn(v []byte) string {
	for _, f := range strings.Fields(strings.ToLower(string(v))) {
		if markerClasses[f] || strings.HasPrefix(f, "template-404") || strings.HasPrefix(f, "page-404") {
			return f
		}
	}
	return ""
}

// mountID reports whether an element id is a single-page application's
// mount point (React's root, Vue's app, Next.js, Nuxt, Svelte, Quasar).
func mountID(v []byte) bool {
	switch strings.ToLower(string(v)) {
	case "root", "app", "__next", "__nuxt", "svelte", "q-app", "react-root", "ember-app", "main-app":
		return true
	}
	return false
}

// hasWord reports whether the space-separated list s holds w.
func hasWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

// block reports whether a is a block element, which ends an open <p>.
func block(a atom.Atom) bool {
	switch a {
	case atom.P, atom.Div, atom.Section, atom.Article, atom.Main, atom.H1, atom.H2, atom.H3,
		atom.H4, atom.H5, atom.H6, atom.Ul, atom.Ol, atom.Li, atom.Table, atom.Tr, atom.Td,
		atom.Form, atom.Blockquote, atom.Pre, atom.Header, atom.Footer, atom.Nav, atom.Aside,
		atom.Body, atom.Dl, atom.Figure, atom.Hr:
		return true
	}
	return false
}

// mainBag returns the bag of the normalised text outside the page's
// chrome, built once.
func (d *doc) mainBag() *bag {
	if d.bag == nil {
		t := " "
		if len(d.main) > 0 {
			t = string(d.main)
		}
		d.bag = newBag(t)
	}
	return d.bag
}

// collapse trims s and turns every run of white space into one space.
func collapse(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
