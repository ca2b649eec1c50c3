package softfail

import (
	"slices"
	"strings"
	"testing"
)

// TestPhrasesNormal checks that every phrase table is written in the form
// appendNorm gives text, or it could never match.
func TestPhrasesNormal(t *testing.T) {
	tables := map[string][]string{
		"notFoundCores": joined(notFoundCores), "notFoundRefs": texts(notFoundRefs),
		"notFoundBody": texts(notFoundBody), "aboutErrors": texts(aboutErrors), "forSale": texts(forSale),
		"ownSale": ownSale, "ownBuy": ownBuy, "relatedSearches": texts(relatedSearches),
		"defaultTitles": texts(defaultTitles), "defaultTexts": texts(defaultTexts),
		"suspendedCores": joined(suspendedCores), "suspendedTexts": texts(suspendedTexts),
	}
	for name, tab := range tables {
		for _, p := range tab {
			if got := strings.TrimSpace(norm(p)); got != p {
				t.Errorf("%s: %q is %q in normal form", name, p, got)
			}
		}
	}
	for name, m := range map[string]map[string]bool{"notFoundFillers": notFoundFillers, "suspendedFillers": suspendedFillers} {
		for w := range m {
			if got := strings.TrimSpace(norm(w)); got != w {
				t.Errorf("%s: %q is %q in normal form", name, w, got)
			}
		}
	}
}

// TestNorm checks the normal form of text.
func TestNorm(t *testing.T) {
	for in, want := range map[string]string{
		"Page Not Found!":                 " page not found ",
		"Oops! That page can’t be found.": " oops that page can't be found ",
		"Seite nicht gefunden – Straße":   " seite nicht gefunden strasse ",
		"La página no EXISTE":             " la pagina no existe ",
		"n'existe   plus":                 " n'existe plus ",
		"'quoted' words":                  " quoted words ",
		"Œuvre d’art — ÉTÉ":               " oeuvre d'art ete ",
		"日本語のページ":                         " 日本語のページ ",
		"":                                " ",
	} {
		if got := norm(in); got != want {
			t.Errorf("norm(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestStatement checks the "not found" statements of titles and headings
// against look-alikes.
func TestStatement(t *testing.T) {
	yes := []string{
		"Page not found", "404", "Error 404", "404 Not Found", "Oops! That page can’t be found.",
		"This page could not be found.", "Seite nicht gefunden", "Fehler 404", "Page introuvable",
		"La page demandée est introuvable.", "Página no encontrada", "¡Vaya! Esta página no existe",
		"Pagina non trovata", "Ops! Pagina non trovata", "Pagina niet gevonden",
		"Oeps! Deze pagina bestaat niet (meer)", "Nothing here", "Hmm, we can't find that",
		"Sorry, the page you were looking for doesn't exist",
	}
	no := []string{
		"How to fix a 404 not found error", "What is a 404 page?", "Why free will does not exist",
		"Lost", "Not available in your country", "Nicht mehr verfügbar", "Command not found in bash",
		"The 404 club", "Designing a 404 page that actually helps people", "Errors", "Error",
		"Trailhead 2 Tent (2019)", "File not found when running npm install",
	}
	for _, s := range yes {
		if !statement(s, notFoundCores, notFoundFillers) {
			t.Errorf("statement(%q) = false, want true", s)
		}
	}
	for _, s := range no {
		if statement(s, notFoundCores, notFoundFillers) {
			t.Errorf("statement(%q) = true, want false", s)
		}
	}
}

// TestSegments checks how titles are split.
func TestSegments(t *testing.T) {
	got := segments("Page not found – My Site | Home: Start")
	want := []string{"Page not found", "My Site", "Home", "Start"}
	if !slices.Equal(got, want) {
		t.Errorf("segments = %q, want %q", got, want)
	}
}

// TestJaccard checks the similarity of shingle sets.
func TestJaccard(t *testing.T) {
	words := func(s string) []uint32 { return wordHashes(norm(s)) }
	a := shingles(words("the quick brown fox jumps over the lazy dog"), nil)
	b := shingles(words("the quick brown fox jumps over the lazy dog"), nil)
	c := shingles(words("a completely different sentence about something else entirely"), nil)
	if j := jaccard(a, b); j != 1 {
		t.Errorf("same text: %v, want 1", j)
	}
	if j := jaccard(a, c); j != 0 {
		t.Errorf("different text: %v, want 0", j)
	}
	echo := map[uint32]bool{hash32("foo"): true}
	d := shingles(words("the page foo was not found 2024"), echo)
	e := shingles(words("the page was not found 1999"), nil)
	if j := jaccard(d, e); j != 1 {
		t.Errorf("echo and numbers left out: %v, want 1", j)
	}
}

// TestLatin1 checks that a page in Windows-1252 is read.
func TestLatin1(t *testing.T) {
	body := []byte("<html><head><title>Seite nicht gefunden</title></head><body><h1>Fehler 404 \x96 Seite nicht gefunden</h1><p>Die gew\xfcnschte Seite existiert nicht. Zur\xfcck zur Startseite.</p></body></html>")
	v := Detect(&Page{URL: "https://example.de/a/b", Status: 200, Body: body}, nil)
	if v.Kind != Soft404 || v.Strength != Confirmed {
		t.Errorf("Detect = %s/%s %v, want soft_404/confirmed", v.Kind, v.Strength, v.Evidence)
	}
}

// TestNotPage checks that answers that are not pages get no verdict.
func TestNotPage(t *testing.T) {
	for _, ct := range []string{"application/pdf", "image/png", "application/octet-stream"} {
		p := loadPage(t, "soft404/wordpress.html", "https://example.org/a/b", 200, ct)
		if v := Detect(p, nil); v.Found() {
			t.Errorf("%s: %s", ct, v.Kind)
		}
	}
}

// TestKindNames checks the machine-readable names.
func TestKindNames(t *testing.T) {
	want := []string{"none", "soft_404", "parked", "home_redirect", "default_page", "suspended"}
	for k := None; k <= Suspended; k++ {
		if k.String() != want[k] {
			t.Errorf("Kind(%d) = %q, want %q", k, k, want[k])
		}
		if k.DeadHosting() != (k == Parked || k == DefaultPage || k == Suspended) {
			t.Errorf("%s.DeadHosting() = %v", k, k.DeadHosting())
		}
	}
}

// TestTitleSVG checks that an icon's <title> is not read as the page's.
func TestTitleSVG(t *testing.T) {
	d := readDoc(nil, []byte(`<html><head><title>Page not found | Site</title></head><body><svg><title>Search</title></svg><h1>x</h1></body></html>`))
	if d.title != "Page not found | Site" {
		t.Errorf("title = %q", d.title)
	}
	d = readDoc(nil, []byte(`<html><body><svg><title>Menu</title></svg><title>Real</title></body></html>`))
	if d.title != "Real" {
		t.Errorf("title = %q, want the first title outside svg", d.title)
	}
}

// TestCountWords checks the word count of text beyond the kept text.
func TestCountWords(t *testing.T) {
	for in, want := range map[string]int{"": 0, "one": 1, " two  words ": 2, "a,b.c": 3, "Straße über": 2} {
		if got := countWords([]byte(in)); got != want {
			t.Errorf("countWords(%q) = %d, want %d", in, got, want)
		}
	}
}
