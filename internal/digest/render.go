package digest

import (
	"fmt"
	"html/template"
	"strings"
	"time"
)

// The rendering of a digest: plain text built in code, HTML through
// html/template (every value escaped; an edit URL that is not http or
// https is not linked).

// subject names the site and the news.
func subject(d Digest) string {
	who := fmt.Sprintf("Links of %q", d.Site)
	if d.Owner {
		who = fmt.Sprintf("Links of your pages on %q", d.Site)
	}
	return fmt.Sprintf("%s: %s", who, summary(d))
}

// summary is the digest in one line, e.g. "2 broke, 1 recovered, 5 still
// broken".
func summary(d Digest) string {
	return fmt.Sprintf("%s broke, %d recovered, %d still broken", plural(d.Broke, "link", "links"), d.Recovered, d.StillBroken)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func when(t time.Time) string { return t.UTC().Format("Mon, 2 Jan 2006 15:04 MST") }

// title is how a group is named.
func title(g Group) string {
	switch {
	case g.Source.ID == "":
		return "Links on no page"
	case g.Source.Title != "":
		return g.Source.Title
	}
	return g.Source.ID
}

// editURL returns the group's edit URL if it may be linked.
func editURL(g Group) string {
	u := g.Source.EditURL
	if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
		return u
	}
	return ""
}

func greeting(d Digest) string {
	if d.Greeting == "" {
		return "Hello,"
	}
	return "Hello " + d.Greeting + ","
}

func intro(d Digest) string {
	pages := "the site"
	if d.Owner {
		pages = "your pages on the site"
	}
	return fmt.Sprintf("here is what changed in the links of %s %q from %s to %s:", pages, d.Site, when(d.From), when(d.To))
}

func footer(d Digest) string {
	if d.Period == "" {
		return "Digests are off for this site; its settings (digest: off, daily or weekly) change that."
	}
	return fmt.Sprintf("You receive this digest %s. Links an editor ignores are left out. The site's settings (digest: off, daily or weekly) change it.", d.Period)
}

// text renders d as plain text.
func text(d Digest) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n%s\n%s.\n", greeting(d), intro(d), summary(d))
	for _, g := range d.Groups {
		fmt.Fprintf(&b, "\n== %s ==\n", title(g))
		if u := editURL(g); u != "" {
			fmt.Fprintf(&b, "Edit: %s\n", u)
		}
		if len(g.Broke)+g.MoreBroke > 0 {
			fmt.Fprintf(&b, "Broke:\n")
			for _, l := range g.Broke {
				fmt.Fprintf(&b, "  %s\n    %s\n", l.URL, l.Reason)
			}
			if g.MoreBroke > 0 {
				fmt.Fprintf(&b, "  … and %d more (see the report)\n", g.MoreBroke)
			}
		}
		if len(g.Recovered)+g.MoreRecov > 0 {
			fmt.Fprintf(&b, "Recovered:\n")
			for _, l := range g.Recovered {
				fmt.Fprintf(&b, "  %s\n", l.URL)
			}
			if g.MoreRecov > 0 {
				fmt.Fprintf(&b, "  … and %d more (see the report)\n", g.MoreRecov)
			}
		}
		if g.StillBroken > 0 {
			fmt.Fprintf(&b, "Still broken: %d\n", g.StillBroken)
		}
	}
	fmt.Fprintf(&b, "\nThe full report: %s\n\n%s\n", d.ReportURL, footer(d))
	return b.String()
}

var page = template.Must(template.New("digest").Funcs(template.FuncMap{"title": title, "edit": editURL}).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family: sans-serif; line-height: 1.4">
<p>{{.Greeting}}</p>
<p>{{.Intro}}<br><strong>{{.Summary}}.</strong></p>
{{range .D.Groups}}<h2 style="font-size: 1.1em">{{if edit .}}<a href="{{edit .}}">{{title .}}</a>{{else}}{{title .}}{{end}}</h2>
{{if or .Broke .MoreBroke}}<p>Broke:</p>
<ul>{{range .Broke}}<li><a href="{{.URL}}">{{.URL}}</a><br>{{.Reason}}</li>{{end}}{{if .MoreBroke}}<li>… and {{.MoreBroke}} more (see the report)</li>{{end}}</ul>
{{end}}{{if or .Recovered .MoreRecov}}<p>Recovered:</p>
<ul>{{range .Recovered}}<li><a href="{{.URL}}">{{.URL}}</a></li>{{end}}{{if .MoreRecov}}<li>… and {{.MoreRecov}} more (see the report)</li>{{end}}</ul>
{{end}}{{if .StillBroken}}<p>Still broken: {{.StillBroken}}</p>
{{end}}{{end}}<p><a href="{{.D.ReportURL}}">The full report</a></p>
<p style="color: #555; font-size: 0.9em">{{.Footer}}</p>
</body></html>
`))

// render makes the mail of d to to ("" for the contact).
func render(d Digest, to string) (Mail, error) {
	m := Mail{To: to, Subject: subject(d), Text: text(d)}
	var b strings.Builder
	err := page.Execute(&b, struct {
		D                                         Digest
		Subject, Greeting, Intro, Summary, Footer string
	}{d, m.Subject, greeting(d), intro(d), summary(d), footer(d)})
	if err != nil {
		return Mail{}, fmt.Errorf("digest: html: %w", err)
	}
	m.HTML = b.String()
	return m, nil
}
