package webui

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/report"
)

// The report pages: a client's links filtered and paged, with counts per
// state and the chart of its link states over time; a link's page with
// its history, sources and suggestion and the re-check and ignore
// buttons; the CSV and JSON export. Editors see them under /report/ for
// their own client (session.go); the operator sees the same pages of
// every client under /admin/clients/{id}/ (admin_report.go). A scope says
// whose pages they are and where their forms go.

// listSize is the number of links on one page of the report list.
const listSize = 50

// historyShown is the most changes the link page shows.
const historyShown = 100

// scope is whose report pages are served and under which paths.
type scope struct {
	ClientID  string
	ListPath  string // the filtered list
	LinkPath  string // a link's page (?url=…); its actions are LinkPath/{action}
	Export    string // the export, without ".csv" or ".json"
	CSRF      string
	Admin     bool   // the operator's view
	flashPath string // the cookie path of the flash messages
	flashKey  []byte
}

func (u *UI) editorScope(s session) scope {
	return scope{ClientID: s.ClientID, ListPath: "/report/", LinkPath: "/report/link", Export: "/report/export", CSRF: u.csrfOf(s), flashPath: sessionPath, flashKey: u.sessionKey}
}

func (u *UI) reportRoutes() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /report/login", u.loginPage)
	m.HandleFunc("POST /report/login", u.login)
	m.HandleFunc("POST /report/logout", u.logout)
	m.HandleFunc("GET /report/{$}", u.withSession(func(w http.ResponseWriter, r *http.Request) {
		u.listPage(w, r, u.editorScope(sessionOf(r.Context())))
	}))
	m.HandleFunc("GET /report/link", u.withSession(func(w http.ResponseWriter, r *http.Request) {
		u.linkPage(w, r, u.editorScope(sessionOf(r.Context())))
	}))
	m.HandleFunc("POST /report/link/{action}", u.withSession(func(w http.ResponseWriter, r *http.Request) {
		s := sessionOf(r.Context())
		if !u.checkSessionForm(w, r, s) {
			return
		}
		u.linkAction(w, r, u.editorScope(s), r.PathValue("action"))
	}))
	for _, format := range []string{"csv", "json"} {
		m.HandleFunc("GET /report/export."+format, u.withSession(func(w http.ResponseWriter, r *http.Request) {
			u.export(w, r, sessionOf(r.Context()).ClientID, format)
		}))
	}
	return m
}

// filters are the list's filters as the form gives them.
type filters struct {
	State, Host, Source, Owner, Q, Ignored string
}

func readFilters(q url.Values) (filters, report.Query) {
	f := filters{
		State: q.Get("state"), Host: strings.TrimSpace(q.Get("host")), Source: strings.TrimSpace(q.Get("source")),
		Owner: strings.TrimSpace(q.Get("owner")), Q: strings.TrimSpace(q.Get("q")), Ignored: q.Get("ignored"),
	}
	if !lms.State(f.State).Valid() {
		f.State = ""
	}
	rq := report.Query{LinkQuery: lms.LinkQuery{State: lms.State(f.State), Host: f.Host, Source: f.Source, Owner: f.Owner, Q: f.Q}}
	switch f.Ignored {
	case "with":
		rq.Ignored = report.WithIgnored
	case "only":
		rq.Ignored = report.OnlyIgnored
	default:
		f.Ignored = ""
	}
	return f, rq
}

// Encode is the filters as a query string (without a cursor), encoded
// already.
func (f filters) Encode() template.URL {
	v := url.Values{}
	for k, s := range map[string]string{"state": f.State, "host": f.Host, "source": f.Source, "owner": f.Owner, "q": f.Q, "ignored": f.Ignored} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return template.URL(v.Encode()) // #nosec: url.Values.Encode escapes every value
}

// With returns the filters' query string with key set to value.
func (f filters) With(key, value string) template.URL {
	v, _ := url.ParseQuery(string(f.Encode()))
	if value == "" {
		v.Del(key)
	} else {
		v.Set(key, value)
	}
	return template.URL(v.Encode())
}

func (u *UI) listPage(w http.ResponseWriter, r *http.Request, sc scope) {
	ctx := r.Context()
	c, err := u.e.Client(ctx, sc.ClientID)
	if errors.Is(err, lms.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		u.fail(w, err)
		return
	}
	f, q := readFilters(r.URL.Query())
	after := r.URL.Query().Get("after")
	rows, next, err := report.Page(ctx, u.e, sc.ClientID, q, after, listSize)
	notice := ""
	switch {
	case errors.Is(err, lms.ErrNotFound) && f.Source != "":
		notice, err = fmt.Sprintf("There is no source %q.", f.Source), nil
	case errors.Is(err, lms.ErrInvalid):
		notice, err = "These filters cannot be used: "+strings.TrimPrefix(err.Error(), "lms: "), nil
	}
	if err != nil {
		u.fail(w, err)
		return
	}
	chart, err := u.chartOf(ctx, c)
	if err != nil {
		u.fail(w, err)
		return
	}
	u.render(w, http.StatusOK, "report", map[string]any{
		"Title": "Links of " + c.ID, "Scope": sc, "Client": c, "Rows": rows, "Filters": f, "States": lms.States(),
		"After": after, "Next": next, "Notice": notice, "Chart": chart, "Session": !sc.Admin,
		"Flash": takeFlashAt(w, r, sc.flashPath, sc.flashKey),
	})
}

func (u *UI) linkPage(w http.ResponseWriter, r *http.Request, sc scope) {
	ctx := r.Context()
	raw := r.URL.Query().Get("url")
	il, err := u.e.ClientLink(ctx, sc.ClientID, raw)
	if errors.Is(err, lms.ErrNotFound) || errors.Is(err, lms.ErrInvalid) {
		http.NotFound(w, r) // another client's link, or none: the same answer
		return
	}
	if err != nil {
		u.fail(w, err)
		return
	}
	ds, err := u.e.QueryLinks(ctx, sc.ClientID, []string{raw})
	if err != nil {
		u.fail(w, err)
		return
	}
	row := report.Row{LinkDetail: lms.LinkDetail{Link: il.Link}, Ignore: il.Mode}
	if len(ds) == 1 {
		row.Sources = ds[0].Sources
	}
	hist, err := u.e.LinkHistory(ctx, sc.ClientID, raw, time.Time{}, historyShown)
	if err != nil && !errors.Is(err, lms.ErrNotFound) {
		u.fail(w, err)
		return
	}
	sug, err := u.suggestion(ctx, sc.ClientID, raw)
	if err != nil {
		u.fail(w, err)
		return
	}
	u.render(w, http.StatusOK, "link", map[string]any{
		"Title": "Link", "Scope": sc, "Row": row, "History": hist, "Suggestion": sug, "Session": !sc.Admin,
		"Flash": takeFlashAt(w, r, sc.flashPath, sc.flashKey),
	})
}

// suggestion returns what to replace the link with (the target of a
// permanent redirect, an archived copy), if anything.
func (u *UI) suggestion(ctx context.Context, clientID, rawURL string) (*lms.Suggestion, error) {
	s, ok, err := u.e.LinkSuggestion(ctx, clientID, rawURL)
	if err != nil || !ok {
		return nil, err
	}
	return &s, nil
}

func (u *UI) linkAction(w http.ResponseWriter, r *http.Request, sc scope, action string) {
	ctx := r.Context()
	raw := r.PostForm.Get("url")
	if _, err := u.e.ClientLink(ctx, sc.ClientID, raw); err != nil {
		if errors.Is(err, lms.ErrNotFound) || errors.Is(err, lms.ErrInvalid) {
			http.NotFound(w, r)
			return
		}
		u.fail(w, err)
		return
	}
	var msg string
	var err error
	switch action {
	case "recheck":
		_, err = u.e.Recheck(ctx, sc.ClientID, []string{raw})
		msg = "The link will be checked again within a few minutes (as soon as its site may be asked again); reload this page to see the result."
		var rl *lms.RateLimitError
		if errors.As(err, &rl) {
			at := time.Now().Add(time.Duration(rl.RetrySeconds()) * time.Second).UTC()
			msg, err = fmt.Sprintf("Too many re-checks were asked for this site in the last hour. Please try again in %s (after %s UTC).",
				roughly(time.Duration(rl.RetrySeconds())*time.Second), at.Format("15:04")), nil
		}
	case "ignore":
		forever := r.PostForm.Get("mode") == "forever"
		_, err = u.e.Ignore(ctx, sc.ClientID, []string{raw}, !forever)
		msg = "The link is ignored until its state changes: no notifications, not in digests or reports."
		if forever {
			msg = "The link is ignored for good: no notifications, not in digests or reports, until you stop ignoring it."
		}
	case "unignore":
		_, err = u.e.Unignore(ctx, sc.ClientID, []string{raw})
		msg = "The link is no longer ignored."
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		u.fail(w, err)
		return
	}
	setFlashAt(w, sc.flashPath, sc.flashKey, msg)
	http.Redirect(w, r, sc.LinkPath+"?url="+url.QueryEscape(raw), http.StatusSeeOther)
}

// roughly says a duration in words an editor reads at a glance.
func roughly(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d seconds", max(1, int(d.Seconds())))
	case d < 2*time.Minute:
		return "a minute"
	case d < time.Hour:
		return fmt.Sprintf("%d minutes", int(d.Minutes()+0.5))
	}
	if d < 48*time.Hour {
		return fmt.Sprintf("%d hours", int(d.Hours()+0.5))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24+0.5))
}

// export writes the client's report with the list's filters as CSV or
// JSON, the same rows as GET /api/v1/report (package report).
func (u *UI) export(w http.ResponseWriter, r *http.Request, clientID, format string) {
	_, q := readFilters(r.URL.Query()) // ignored links left out unless asked
	w.Header().Set("Cache-Control", "no-store")
	name := "lms-report-" + fileSafe(clientID) + "-" + time.Now().UTC().Format("2006-01-02") + "." + format
	var err error
	switch format {
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8; header=present")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
		err = report.WriteCSV(r.Context(), w, u.e, clientID, q)
	case "json":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
		err = report.WriteJSON(r.Context(), w, u.e, clientID, q, time.Now())
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		// The answer has begun: the browser sees a cut connection, not a
		// short file, and the log says why.
		u.log.Error("report export cut short", "client", clientID, "format", format, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// fileSafe keeps the letters, digits, '.', '-' and '_' of s for a file
// name, and replaces the rest with '_'.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return r
		}
		return '_'
	}, s)
}

// reportFuncs are the template functions of the report pages.
func reportFuncs() template.FuncMap {
	return template.FuncMap{
		"exportPath": func(listPath string) string {
			return strings.TrimSuffix(strings.TrimSuffix(listPath, "/"), "/report") + "/export"
		},
		"ignoreName": report.IgnoreName,
		"ignoreWords": func(m lms.IgnoreMode) string {
			switch m {
			case lms.IgnoredUntilChanged:
				return "ignored until its state changes"
			case lms.IgnoredForever:
				return "ignored for good"
			}
			return ""
		},
		// codeNote is the status code to show beside a reason, "" when
		// there is none or the reason names it already.
		"codeNote": func(reason string, code int) string {
			if c := strconv.Itoa(code); code != 0 && !strings.Contains(reason, c) {
				return c
			}
			return ""
		},
		"when": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04 UTC")
		},
		"ago": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return roughly(time.Since(t)) + " ago"
		},
	}
}
