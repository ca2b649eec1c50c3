package digest

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

var (
	t0    = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	about = Source{ID: "about", Title: "About", EditURL: "https://cms.example/about/edit", Owner: "Ed <ed@site.example>"}
	home  = Source{ID: "home", Title: "Home", EditURL: "https://cms.example/home/edit", Owner: "jdoe"}
	news  = Source{ID: "news", Title: "News", Owner: "ED@site.example"}
)

func input(links ...Link) Input {
	return Input{Site: "site", ContactName: "Jane", Period: "daily", From: t0, To: t0.Add(24 * time.Hour), ReportURL: "https://lms.example/report/", Links: links}
}

// TestKinds: a link broke if it is broken at the end and was not at the
// start, recovered if it was broken and is ok, and is still broken if it
// is broken at both ends; anything else is not news.
func TestKinds(t *testing.T) {
	for _, tc := range []struct {
		then, now                     Status
		broke, recovered, stillBroken int
	}{
		{Other, Broken, 1, 0, 0},
		{OK, Broken, 1, 0, 0},
		{Broken, OK, 0, 1, 0},
		{Broken, Broken, 0, 0, 1},
		{Broken, Other, 0, 0, 0}, // unavailable → temporary: unclear, not news
		{OK, OK, 0, 0, 0},
		{Other, OK, 0, 0, 0},
	} {
		d := Make(input(Link{URL: "https://x.example/", Then: tc.then, Now: tc.now, Reason: "r"}))
		if d.Broke != tc.broke || d.Recovered != tc.recovered || d.StillBroken != tc.stillBroken {
			t.Errorf("%v → %v: broke %d, recovered %d, still %d; want %d, %d, %d", tc.then, tc.now, d.Broke, d.Recovered, d.StillBroken, tc.broke, tc.recovered, tc.stillBroken)
		}
	}
}

// TestGroups: a link shows in the group of every source that uses it and
// counts once in the totals; groups are ordered by title, the links of no
// source last; still broken links are counted per group, not listed.
func TestGroups(t *testing.T) {
	d := Make(input(
		Link{URL: "https://b.example/", Then: OK, Now: Broken, Reason: "404", Sources: []Source{home, about}},
		Link{URL: "https://a.example/", Then: Broken, Now: OK, Sources: []Source{about}},
		Link{URL: "https://c.example/", Then: Broken, Now: Broken, Sources: []Source{home}},
		Link{URL: "https://d.example/", Then: Other, Now: Broken, Reason: "refused"},
	))
	if d.Broke != 2 || d.Recovered != 1 || d.StillBroken != 1 {
		t.Fatalf("totals %d/%d/%d, want 2/1/1", d.Broke, d.Recovered, d.StillBroken)
	}
	var names []string
	for _, g := range d.Groups {
		names = append(names, g.Source.ID)
	}
	if strings.Join(names, ",") != "about,home," {
		t.Fatalf("groups %q, want about, home, then no source", names)
	}
	ab, hm, none := d.Groups[0], d.Groups[1], d.Groups[2]
	if len(ab.Broke) != 1 || ab.Broke[0] != (Line{URL: "https://b.example/", Reason: "404"}) || len(ab.Recovered) != 1 || ab.Recovered[0].URL != "https://a.example/" || ab.StillBroken != 0 {
		t.Errorf("about: %+v", ab)
	}
	if len(hm.Broke) != 1 || hm.Broke[0].URL != "https://b.example/" || hm.StillBroken != 1 || len(hm.Recovered) != 0 {
		t.Errorf("home: %+v", hm)
	}
	if len(none.Broke) != 1 || none.Broke[0].URL != "https://d.example/" {
		t.Errorf("no source: %+v", none)
	}
}

// TestMaxListed: over the bound, links are counted per group, not listed,
// and the text says so.
func TestMaxListed(t *testing.T) {
	var links []Link
	for i := range 10 {
		links = append(links, Link{URL: fmt.Sprintf("https://x.example/%02d", i), Then: OK, Now: Broken, Reason: "gone", Sources: []Source{about}})
	}
	links = append(links, Link{URL: "https://y.example/", Then: Broken, Now: OK, Sources: []Source{about}})
	in := input(links...)
	in.MaxListed = 4
	d := Make(in)
	g := d.Groups[0]
	if len(g.Broke) != 4 || g.MoreBroke != 6 || len(g.Recovered) != 0 || g.MoreRecov != 1 || d.Broke != 10 || d.Recovered != 1 {
		t.Fatalf("group %+v, totals %d/%d", g, d.Broke, d.Recovered)
	}
	if g.Broke[3].URL != "https://x.example/03" {
		t.Errorf("the first links in URL order are listed: %+v", g.Broke)
	}
	m, err := render(d, "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Text, "… and 6 more (see the report)") || !strings.Contains(m.HTML, "… and 6 more (see the report)") {
		t.Errorf("the text does not count the links left out:\n%s", m.Text)
	}
}

func TestOwnerAddress(t *testing.T) {
	for owner, want := range map[string]string{
		"ed@site.example":              "ed@site.example",
		"Ed Itor <ed@site.example>":    "ed@site.example",
		"jdoe":                         "",
		"":                             "",
		"not an address @ all":         "",
		"ed@site.example, x@y.example": "",
	} {
		got, ok := OwnerAddress(owner)
		if got != want || ok != (want != "") {
			t.Errorf("OwnerAddress(%q) = %q, %v; want %q", owner, got, ok, want)
		}
	}
}

// TestMails: the contact's digest and one per owner address (compared
// without case: two spellings are one owner), each with only the owner's
// pages; an owner named by an id gets none; an owner whose pages have
// nothing new gets none.
func TestMails(t *testing.T) {
	in := input(
		Link{URL: "https://a.example/", Then: OK, Now: Broken, Reason: "404", Sources: []Source{about, home}},
		Link{URL: "https://n.example/", Then: Broken, Now: OK, Sources: []Source{news}},
		Link{URL: "https://h.example/", Then: OK, Now: Broken, Reason: "refused", Sources: []Source{home}},
	)
	ms, err := Mails(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].To != "" || ms[1].To != "ed@site.example" {
		t.Fatalf("mails to %q, want the contact and one owner", []string{ms[0].To, ms[len(ms)-1].To})
	}
	own := ms[1]
	if own.Subject != `Links of your pages on "site": 1 link broke, 1 recovered, 0 still broken` {
		t.Errorf("owner subject %q", own.Subject)
	}
	for _, not := range []string{"Home", "https://h.example/", "Hello Jane"} {
		if strings.Contains(own.Text, not) || strings.Contains(own.HTML, not) {
			t.Errorf("the owner's mail has %q:\n%s", not, own.Text)
		}
	}
	for _, want := range []string{"== About ==", "== News ==", "https://a.example/", "https://n.example/"} {
		if !strings.Contains(own.Text, want) {
			t.Errorf("the owner's mail lacks %q:\n%s", want, own.Text)
		}
	}

	// Only still broken links: nothing to say, no mail at all.
	ms, err = Mails(input(Link{URL: "https://a.example/", Then: Broken, Now: Broken, Sources: []Source{about}}))
	if err != nil || len(ms) != 0 {
		t.Errorf("nothing new made %d mails (%v)", len(ms), err)
	}
	// The owner's pages have nothing new, other pages have: no owner mail.
	ms, err = Mails(input(
		Link{URL: "https://a.example/", Then: Broken, Now: Broken, Sources: []Source{about}},
		Link{URL: "https://h.example/", Then: OK, Now: Broken, Sources: []Source{home}},
	))
	if err != nil || len(ms) != 1 || ms[0].To != "" {
		t.Errorf("mails %+v (%v), want the contact's only", ms, err)
	}
}

// TestHTMLEscapes: titles, reasons and URLs are escaped; an edit URL that
// is not http(s) is not linked, nor a link URL with a script scheme.
func TestHTMLEscapes(t *testing.T) {
	evil := Source{ID: "x", Title: `<script>alert("t")</script>`, EditURL: "javascript:alert(1)"}
	ms, err := Mails(input(Link{URL: "javascript:alert(2)", Then: OK, Now: Broken, Reason: "<b>bold</b>", Sources: []Source{evil}}))
	if err != nil || len(ms) != 1 {
		t.Fatalf("mails %+v, %v", ms, err)
	}
	h := ms[0].HTML
	for _, bad := range []string{"<script>", "<b>bold", `href="javascript:`} {
		if strings.Contains(h, bad) {
			t.Errorf("the HTML has %q:\n%s", bad, h)
		}
	}
	if !strings.Contains(h, "&lt;script&gt;") || !strings.Contains(h, "&lt;b&gt;bold&lt;/b&gt;") {
		t.Errorf("the HTML does not show the escaped values:\n%s", h)
	}
	if strings.Contains(ms[0].Text, "Edit: javascript") {
		t.Errorf("the text shows a javascript: edit URL:\n%s", ms[0].Text)
	}
}
