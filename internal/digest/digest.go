// Package digest makes the content of lms's digest mails (issue 22): for
// one client and one window of time, which links broke, which recovered and
// how many are still broken, grouped by the source (page) that uses them,
// rendered as plain text and HTML; and the same for each owner of sources
// that names a mail address, with only that owner's pages.
//
// It knows nothing of stores or of the lms model: the caller says, per
// link, its status at the start and at the end of the window and where it
// is used (Input), and gets mails back (Mails). Ignored links are the
// caller's to leave out.
package digest

import (
	"cmp"
	"net/mail"
	"slices"
	"strings"
	"time"
)

// Status is a link's condition at one instant, as far as a digest cares.
type Status uint8

// The statuses.
const (
	// Other is any state that is neither broken nor ok: unknown (not yet
	// checked, or not known at all then), temporary unavailable (unclear,
	// re-checked soon), unsupported protocol.
	Other Status = iota
	// Broken: the link is unavailable (a confirmed failure).
	Broken
	// OK: the link works.
	OK
)

// Source is a page (or other source) of the client that uses links.
type Source struct {
	ID      string
	Title   string
	EditURL string // where an editor edits it; "" if none
	Owner   string // an editor's id or mail address; "" if none
}

// Link is one of the client's links: its status at the start and at the
// end of the window, the reason at the end, and the sources using it.
type Link struct {
	URL     string
	Then    Status // at Input.From
	Now     Status // at Input.To
	Reason  string // why it is in its state at Input.To (for a broken link)
	Sources []Source
}

// Input is what one client's digest is made from.
type Input struct {
	Site        string    // the client's id
	ContactName string    // who the client's digest greets
	Period      string    // "daily" or "weekly", for the footer
	From, To    time.Time // the window: changes after From, up to To
	ReportURL   string    // the report page, linked from every digest
	Links       []Link    // the links that matter: broken at From or at To
	// MaxListed bounds the links listed (broke and recovered) in one mail,
	// so that a mail stays readable and small; the rest are counted and
	// the report page has them. Default 200.
	MaxListed int
}

// Line is one listed link.
type Line struct {
	URL    string
	Reason string // "" for a recovered link
}

// Group is what happened to the links of one source.
type Group struct {
	Source      Source // the zero Source: links no source uses
	Broke       []Line // listed, at most Input.MaxListed over the whole mail
	Recovered   []Line
	MoreBroke   int // broke but not listed (over the bound)
	MoreRecov   int // recovered but not listed
	StillBroken int // broken at From and at To
}

// Digest is one mail's content.
type Digest struct {
	Site, Greeting, Period, ReportURL string
	From, To                          time.Time
	Owner                             bool // a digest of one owner's pages
	// Totals over distinct links (a link on two pages counts once here,
	// and in each group).
	Broke, Recovered, StillBroken int
	Groups                        []Group
}

// Empty reports whether the digest has nothing to say: no link broke and
// none recovered in the window. Links that are still broken alone do not
// make a mail (they would make the same mail every day).
func (d Digest) Empty() bool { return d.Broke == 0 && d.Recovered == 0 }

// Mail is one digest mail, ready to send.
type Mail struct {
	To      string // the recipient's address; "" for the client's contact
	Subject string
	Text    string // text/plain
	HTML    string // text/html, the same content
}

// kind classifies a link's change over the window.
func kind(l Link) (broke, recovered, still bool) {
	switch {
	case l.Now == Broken && l.Then != Broken:
		return true, false, false
	case l.Then == Broken && l.Now == OK:
		return false, true, false
	case l.Then == Broken && l.Now == Broken:
		return false, false, true
	}
	return false, false, false
}

// Make builds the digest of in. The groups are ordered by title, then id;
// the links of no source come last.
func Make(in Input) Digest {
	d := Digest{Site: in.Site, Greeting: in.ContactName, Period: in.Period, ReportURL: in.ReportURL, From: in.From, To: in.To}
	groups := map[string]*Group{}
	group := func(s Source) *Group {
		g := groups[s.ID]
		if g == nil {
			g = &Group{Source: s}
			groups[s.ID] = g
		}
		return g
	}
	links := slices.Clone(in.Links)
	slices.SortFunc(links, func(a, b Link) int { return strings.Compare(a.URL, b.URL) })
	listed, limit := 0, cmp.Or(in.MaxListed, 200)
	for _, l := range links {
		broke, recovered, still := kind(l)
		if !broke && !recovered && !still {
			continue
		}
		d.Broke, d.Recovered, d.StillBroken = d.Broke+b2i(broke), d.Recovered+b2i(recovered), d.StillBroken+b2i(still)
		srcs := l.Sources
		if len(srcs) == 0 {
			srcs = []Source{{}}
		}
		for _, s := range srcs {
			g := group(s)
			switch {
			case still:
				g.StillBroken++
			case listed >= limit && broke:
				g.MoreBroke++
			case listed >= limit:
				g.MoreRecov++
			case broke:
				g.Broke, listed = append(g.Broke, Line{URL: l.URL, Reason: l.Reason}), listed+1
			default:
				g.Recovered, listed = append(g.Recovered, Line{URL: l.URL}), listed+1
			}
		}
	}
	for _, g := range groups {
		d.Groups = append(d.Groups, *g)
	}
	slices.SortFunc(d.Groups, func(a, b Group) int {
		if (a.Source.ID == "") != (b.Source.ID == "") {
			return b2i(a.Source.ID == "") - b2i(b.Source.ID == "")
		}
		return cmp.Or(strings.Compare(a.Source.Title, b.Source.Title), strings.Compare(a.Source.ID, b.Source.ID))
	})
	return d
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// OwnerAddress returns the mail address an owner names: an owner that
// contains '@' and parses as an address (net/mail), such as
// "jane@site.example" or "Jane Doe <jane@site.example>"; ok is false for
// an editor's id or anything else.
func OwnerAddress(owner string) (addr string, ok bool) {
	if !strings.Contains(owner, "@") {
		return "", false
	}
	a, err := mail.ParseAddress(owner)
	if err != nil {
		return "", false
	}
	return a.Address, true
}

// ForOwner returns in restricted to the sources whose owner names addr
// (see OwnerAddress): only the links they use, each with only those
// sources.
func (in Input) ForOwner(addr string) Input {
	out := in
	out.Links, out.ContactName = nil, ""
	for _, l := range in.Links {
		var mine []Source
		for _, s := range l.Sources {
			if a, ok := OwnerAddress(s.Owner); ok && strings.EqualFold(a, addr) {
				mine = append(mine, s)
			}
		}
		if len(mine) > 0 {
			l.Sources = mine
			out.Links = append(out.Links, l)
		}
	}
	return out
}

// Owners returns the distinct owner addresses of the sources in in,
// sorted (compared without regard to case; the first spelling wins).
func (in Input) Owners() []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range in.Links {
		for _, s := range l.Sources {
			if a, ok := OwnerAddress(s.Owner); ok && !seen[strings.ToLower(a)] {
				seen[strings.ToLower(a)] = true
				out = append(out, a)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Mails returns the mails of in: the client's digest (To "") and one per
// owner address of its sources, each only if it has something to say.
func Mails(in Input) ([]Mail, error) {
	var out []Mail
	d := Make(in)
	if d.Empty() {
		return nil, nil // no owner digest can have more to say
	}
	m, err := render(d, "")
	if err != nil {
		return nil, err
	}
	out = append(out, m)
	for _, a := range in.Owners() {
		od := Make(in.ForOwner(a))
		if od.Empty() {
			continue
		}
		od.Owner = true
		m, err := render(od, a)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}
