// Package webui serves the human side of an lms server: a welcome page with
// live counts, the alerts page that getInfoFrameURL points clients to, the
// report pages where a site's editors sign in to see and act on its links
// (/report/: session.go, report.go, chart.go), and an admin area behind
// HTTP basic auth (user "admin", password the admin secret) to list, add
// and remove clients, browse a client's links and report pages, see its
// delivery health and force a sync. Templates and styles are embedded;
// there is no JavaScript.
//
// The pages anyone can load are cheap and discreet: / and /alerts render a
// StatsCache snapshot (computed at most once every few seconds, however
// many views) and show counts only, never a client id. The admin pages'
// flash messages travel in a signed cookie, so a crafted link cannot set
// them, and credentials in callback URLs are not shown.
package webui

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/guard"
	"github.com/linkmonitor/lms/internal/logsafe"
	"github.com/linkmonitor/lms/internal/throttle"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pageSize is the number of links on one page of the client page.
const pageSize = 100

// maxFormBytes bounds form submissions.
const maxFormBytes = 64 << 10

// Config configures the pages.
type Config struct {
	// AdminSecret is the password of user "admin". Empty disables /admin.
	AdminSecret string
	// Logger receives errors. Default: discarded.
	Logger *slog.Logger
	// Stats serves the snapshot of / and /alerts. Default: a StatsCache
	// over the engine with the default TTL. A server that also exports the
	// snapshot (health, metrics) passes its one cache here.
	Stats StatsSource
	// MetricsURL is linked from every page's footer. Default (empty): no
	// link.
	MetricsURL string
	// Guard throttles the guesses at client credentials on the report
	// pages' sign-in (per client id and per source address). A server
	// with other front doors passes their one guard, so that a guess
	// counts the same whichever door it came through. Default: a guard of
	// its own.
	Guard *guard.Guard
}

// UI is the web UI. Create it with New; it is an http.Handler serving /,
// /alerts, /static/ and /admin.
type UI struct {
	e    *lms.Engine
	cfg  Config
	log  *slog.Logger
	tmpl map[string]*template.Template
	mux  *http.ServeMux
	csrf string
	// flashKey signs flash cookies (flash.go).
	flashKey []byte
	logins   *loginGuard
	// The report pages (session.go, report.go).
	sessionKey []byte
	guard      *guard.Guard
}

// New returns the web UI for e.
func New(e *lms.Engine, cfg Config) (*UI, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Stats == nil {
		cfg.Stats = NewStatsCache(e, CacheConfig{Logger: cfg.Logger})
	}
	if cfg.Guard == nil {
		cfg.Guard = guard.New(guard.Config{})
	}
	u := &UI{e: e, cfg: cfg, log: cfg.Logger, tmpl: map[string]*template.Template{}, mux: http.NewServeMux(), flashKey: flashKey(cfg.AdminSecret), logins: newLoginGuard(e),
		sessionKey: sessionKeyFor(cfg.AdminSecret), guard: cfg.Guard}
	m := hmac.New(sha256.New, []byte(cfg.AdminSecret))
	m.Write([]byte("lms csrf token v1"))
	u.csrf = hex.EncodeToString(m.Sum(nil))
	funcs := template.FuncMap{
		"stateClass": func(s lms.State) string { return strings.Fields(string(s) + " x")[0] },
		"path":       url.PathEscape,
		"redact":     logsafe.Redact,
	}
	for page, f := range reportFuncs() {
		funcs[page] = f
	}
	for _, page := range []string{"home", "alerts", "admin", "newclient", "client", "login", "report", "link"} {
		t, err := template.New(page).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+page+".html")
		if err != nil {
			return nil, fmt.Errorf("webui: template %s: %w", page, err)
		}
		u.tmpl[page] = t
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("webui: %w", err)
	}
	u.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	u.mux.HandleFunc("GET /{$}", u.home)
	u.mux.HandleFunc("GET /alerts", u.alerts)
	admin := http.NewServeMux()
	admin.HandleFunc("GET /admin", u.admin)
	admin.HandleFunc("GET /admin/{$}", u.admin)
	admin.HandleFunc("GET /admin/clients/new", u.newClient)
	admin.HandleFunc("POST /admin/clients", u.createClient)
	admin.HandleFunc("GET /admin/clients/{id}", u.client)
	admin.HandleFunc("POST /admin/clients/{id}/remove", u.clientAction(u.removeClient))
	admin.HandleFunc("POST /admin/clients/{id}/sync", u.clientAction(u.forceSync))
	admin.HandleFunc("POST /admin/clients/{id}/password", u.clientAction(u.newPassword))
	u.adminReportRoutes(admin)
	cop := http.NewCrossOriginProtection()
	u.mux.Handle("/admin", u.basicAuth(cop.Handler(admin)))
	u.mux.Handle("/admin/", u.basicAuth(cop.Handler(admin)))
	u.mux.Handle("/report/", cop.Handler(u.reportRoutes()))
	u.mux.Handle("GET /report", http.RedirectHandler("/report/", http.StatusSeeOther))
	return u, nil
}

// ServeHTTP implements http.Handler.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "SAMEORIGIN")
	w.Header().Set("Referrer-Policy", "same-origin")
	u.mux.ServeHTTP(w, r)
}

func (u *UI) basicAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pw, ok := r.BasicAuth()
		addr, now := throttle.SourceKey(r.RemoteAddr), time.Now()
		var attempt *loginAttempt
		if ok {
			var allowed bool
			if attempt, allowed = u.logins.begin(r.Context(), addr, now); !allowed {
				w.Header().Set("Retry-After", "6")
				http.Error(w, "429 Too Many Requests: too many wrong passwords, try again later", http.StatusTooManyRequests)
				return
			}
		}
		var adm lms.Admin
		var err error = lms.ErrUnauthorized
		if ok {
			adm, err = u.e.Admin(pw) // the one check of the secret; the handlers act as adm
		}
		if !ok || u.cfg.AdminSecret == "" || subtle.ConstantTimeEq(int32(len(user)), 5) == 0 ||
			subtle.ConstantTimeCompare([]byte(user), []byte("admin")) == 0 || err != nil {
			attempt.end(r.Context(), true)
			w.Header().Set("WWW-Authenticate", `Basic realm="LMS admin", charset="UTF-8"`)
			http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
			return
		}
		attempt.end(r.Context(), false)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), adminKey{}, adm)))
	})
}

type adminKey struct{}

// adminOf returns the Admin basicAuth put in ctx (the zero Admin, which
// refuses everything, outside /admin).
func adminOf(ctx context.Context) lms.Admin {
	adm, _ := ctx.Value(adminKey{}).(lms.Admin)
	return adm
}

func (u *UI) render(w http.ResponseWriter, status int, page string, data map[string]any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	data["MetricsURL"] = u.cfg.MetricsURL
	var b strings.Builder
	if err := u.tmpl[page].ExecuteTemplate(&b, page+".html", data); err != nil {
		u.log.Error("rendering page", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

func (u *UI) fail(w http.ResponseWriter, err error) {
	u.log.Error("web page", "err", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

// publicStats is what the pages anyone can load show of a snapshot: counts
// only, no client ids.
type publicStats struct {
	Links            lms.StateCounts
	Clients          int
	ChecksLastMinute int
	DueBacklog       int
	HostsBackedOff   int
	Outage           bool
	OutageSince      time.Time
}

// publicSnapshot returns the cached snapshot's public part.
func (u *UI) publicSnapshot(r *http.Request) (publicStats, error) {
	st, err := u.cfg.Stats.Stats(r.Context())
	if err != nil {
		return publicStats{}, err
	}
	return publicStats{
		Links: st.Links, Clients: len(st.Clients), ChecksLastMinute: st.ChecksLastMinute, DueBacklog: st.DueBacklog,
		HostsBackedOff: st.HostsBackedOff, Outage: st.Outage, OutageSince: st.OutageSince,
	}, nil
}

func (u *UI) home(w http.ResponseWriter, r *http.Request) {
	st, err := u.publicSnapshot(r)
	if err != nil {
		u.fail(w, err)
		return
	}
	cfg := u.e.Config()
	u.render(w, http.StatusOK, "home", map[string]any{
		"Title": "Welcome", "Stats": st, "PublicURL": cfg.PublicURL, "Concurrency": cfg.Concurrency, "HostInterval": cfg.HostInterval,
	})
}

func (u *UI) alerts(w http.ResponseWriter, r *http.Request) {
	st, err := u.publicSnapshot(r)
	if err != nil {
		u.fail(w, err)
		return
	}
	u.render(w, http.StatusOK, "alerts", map[string]any{"Title": "Alerts", "Stats": st})
}

func (u *UI) admin(w http.ResponseWriter, r *http.Request) {
	st, err := u.e.Stats(r.Context())
	if err != nil {
		u.fail(w, err)
		return
	}
	cs, err := u.e.Clients(r.Context())
	if err != nil {
		u.fail(w, err)
		return
	}
	type row struct {
		lms.Client
		Pending int
	}
	pending := map[string]int{}
	for _, c := range st.Clients {
		pending[c.ID] = c.Pending
	}
	rows := make([]row, len(cs))
	for i, c := range cs {
		rows[i] = row{c, pending[c.ID]}
	}
	u.render(w, http.StatusOK, "admin", map[string]any{"Title": "Clients", "Clients": rows, "Flash": u.takeFlash(w, r)})
}

type clientForm struct {
	ID, ContactName, ContactEmail, CallbackURL string
}

func (u *UI) newClient(w http.ResponseWriter, r *http.Request) {
	u.render(w, http.StatusOK, "newclient", map[string]any{"Title": "Add a client", "CSRF": u.csrf, "Form": clientForm{}})
}

// checkForm parses a bounded form and verifies its CSRF token.
func (u *UI) checkForm(w http.ResponseWriter, r *http.Request) bool {
	return u.parseForm(w, r, u.csrf)
}

// parseForm parses a bounded form and verifies that its CSRF token is
// csrf.
func (u *UI) parseForm(w http.ResponseWriter, r *http.Request, csrf string) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "form too large", http.StatusRequestEntityTooLarge)
			return false
		}
		http.Error(w, "malformed form", http.StatusBadRequest)
		return false
	}
	if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(csrf)) != 1 {
		http.Error(w, "invalid or missing CSRF token", http.StatusForbidden)
		return false
	}
	return true
}

func (u *UI) createClient(w http.ResponseWriter, r *http.Request) {
	if !u.checkForm(w, r) {
		return
	}
	f := clientForm{
		ID:           strings.TrimSpace(r.PostForm.Get("id")),
		ContactName:  strings.TrimSpace(r.PostForm.Get("contact_name")),
		ContactEmail: strings.TrimSpace(r.PostForm.Get("contact_email")),
		CallbackURL:  strings.TrimSpace(r.PostForm.Get("callback_url")),
	}
	_, err := adminOf(r.Context()).RegisterClient(r.Context(), lms.Registration{
		ID: f.ID, Password: r.PostForm.Get("password"), ContactName: f.ContactName, ContactEmail: f.ContactEmail, CallbackURL: f.CallbackURL,
		Digest: lms.DigestDaily, // new clients get a daily digest (issue 22)
	})
	if err != nil {
		msg := "Could not add the client: " + err.Error()
		switch {
		case errors.Is(err, lms.ErrExists):
			msg = fmt.Sprintf("A client with id %q exists already.", f.ID)
		case errors.Is(err, lms.ErrInvalid):
			msg = "Please correct the form: " + strings.TrimPrefix(err.Error(), "lms: ")
		}
		u.render(w, http.StatusUnprocessableEntity, "newclient", map[string]any{"Title": "Add a client", "CSRF": u.csrf, "Form": f, "Error": msg})
		return
	}
	u.setFlash(w, fmt.Sprintf("Client %q added; the password was mailed to %s.", f.ID, f.ContactEmail))
	http.Redirect(w, r, "/admin", http.StatusSeeOther)
}

func (u *UI) client(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, err := u.e.Client(r.Context(), id)
	if errors.Is(err, lms.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		u.fail(w, err)
		return
	}
	q := r.URL.Query()
	state := lms.State(q.Get("state"))
	if state != "" && !state.Valid() {
		state = ""
	}
	after := q.Get("after")
	ls, err := u.e.ClientLinks(r.Context(), id, lms.Page{After: after, Limit: pageSize + 1, State: state})
	if err != nil {
		u.fail(w, err)
		return
	}
	next := ""
	if len(ls) > pageSize {
		ls = ls[:pageSize]
		next = ls[pageSize-1].URL
	}
	data, err := u.clientExtras(r.Context(), c)
	if err != nil {
		u.fail(w, err)
		return
	}
	for k, v := range map[string]any{
		"Title": "Client " + c.ID, "Client": c, "Links": ls, "State": state, "States": lms.States(), "After": after, "Next": next,
		"CSRF": u.csrf, "Flash": u.takeFlash(w, r),
	} {
		data[k] = v
	}
	u.render(w, http.StatusOK, "client", data)
}

// clientAction handles a form posted about the client {id}: act does what
// it asks and returns the message to flash and the page to go to next. An
// unknown client is a 404.
func (u *UI) clientAction(act func(ctx context.Context, id string) (flash, next string, err error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !u.checkForm(w, r) {
			return
		}
		flash, next, err := act(r.Context(), r.PathValue("id"))
		switch {
		case errors.Is(err, lms.ErrNotFound):
			http.NotFound(w, r)
		case err != nil:
			u.fail(w, err)
		default:
			u.setFlash(w, flash)
			http.Redirect(w, r, next, http.StatusSeeOther)
		}
	}
}

func (u *UI) removeClient(ctx context.Context, id string) (string, string, error) {
	return fmt.Sprintf("Client %q removed.", id), "/admin", adminOf(ctx).RemoveClient(ctx, id)
}

func (u *UI) forceSync(ctx context.Context, id string) (string, string, error) {
	return "A full sync was requested; it runs within seconds if notifications are on.",
		"/admin/clients/" + url.PathEscape(id), u.e.ForceSync(ctx, id)
}

// newPassword gives the client a new password and mails it to the contact
// (the way back when the registration mail was lost).
func (u *UI) newPassword(ctx context.Context, id string) (string, string, error) {
	return "A new password was generated and mailed to the contact; the old one no longer works.",
		"/admin/clients/" + url.PathEscape(id), adminOf(ctx).NewPassword(ctx, id)
}
