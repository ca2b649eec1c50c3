package webui

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/logsafe"
)

// The operator's side of the report pages: the same list, link page and
// chart of every client under /admin/clients/{id}/, and on the client's
// admin page its JSON API side (webhook, tokens) and the health of its
// callback and webhook.

func (u *UI) adminScope(id string) scope {
	base := "/admin/clients/" + url.PathEscape(id)
	return scope{ClientID: id, ListPath: base + "/report", LinkPath: base + "/link", Export: base + "/export", CSRF: u.csrf, Admin: true, flashPath: "/admin", flashKey: u.flashKey}
}

func (u *UI) adminReportRoutes(admin *http.ServeMux) {
	admin.HandleFunc("GET /admin/clients/{id}/report", func(w http.ResponseWriter, r *http.Request) {
		u.listPage(w, r, u.adminScope(r.PathValue("id")))
	})
	admin.HandleFunc("GET /admin/clients/{id}/link", func(w http.ResponseWriter, r *http.Request) {
		u.linkPage(w, r, u.adminScope(r.PathValue("id")))
	})
	admin.HandleFunc("POST /admin/clients/{id}/link/{action}", func(w http.ResponseWriter, r *http.Request) {
		if u.checkForm(w, r) {
			u.linkAction(w, r, u.adminScope(r.PathValue("id")), r.PathValue("action"))
		}
	})
	for _, format := range []string{"csv", "json"} {
		admin.HandleFunc("GET /admin/clients/{id}/export."+format, func(w http.ResponseWriter, r *http.Request) {
			id := r.PathValue("id")
			if _, err := u.e.Client(r.Context(), id); err != nil {
				if errors.Is(err, lms.ErrNotFound) {
					http.NotFound(w, r)
					return
				}
				u.fail(w, err)
				return
			}
			u.export(w, r, id, format)
		})
	}
}

// health is how a client's callback or webhook is doing.
type health struct {
	Name          string // "XML-RPC callback", "Webhook"
	Target        string // where to, credentials redacted; "" if none is set
	On            bool
	Failures      int       // in a row
	LastError     string    // in plain words
	Detail        string    // the error as recorded, for the operator
	NextAttempt   time.Time // zero if none is planned
	DisabledSince time.Time // zero while on
	LastSuccess   time.Time // zero if unknown
}

// healthOf returns the health of c's callback and webhook; deliveries are
// the webhook's last ones, newest first.
func healthOf(c lms.Client, deliveries []lms.WebhookDelivery) []health {
	cb := health{
		Name: "XML-RPC callback", Target: c.CallbackURL, On: c.Notify, Failures: c.NotifyFailures,
		LastError: plainError(c.LastNotifyError), Detail: c.LastNotifyError, DisabledSince: c.NotifyDisabledAt, LastSuccess: c.LastNotified,
	}
	if c.Notify && c.NotifyFailures > 0 {
		cb.NextAttempt = c.NextNotify
	}
	wh := health{
		Name: "Webhook", Target: c.WebhookURL, On: c.WebhookURL != "" && c.WebhookDisabledAt.IsZero(), Failures: c.WebhookFailures,
		LastError: c.WebhookLastError, DisabledSince: c.WebhookDisabledAt,
	}
	for _, d := range deliveries {
		if wh.NextAttempt.IsZero() && !d.NextAttempt.IsZero() {
			wh.NextAttempt = d.NextAttempt
		}
		if wh.LastSuccess.IsZero() && !d.Delivered.IsZero() {
			wh.LastSuccess = d.Delivered
		}
	}
	return []health{cb, wh}
}

// plainError says in plain words why a push to a client failed, from the
// text the notifier recorded (which may be a Go error's).
func plainError(s string) string {
	l := strings.ToLower(s)
	switch {
	case s == "":
		return ""
	case strings.Contains(l, "connection refused"):
		return "The site refused the connection: nothing listens at the callback address."
	case strings.Contains(l, "no such host"), strings.Contains(l, "server misbehaving"):
		return "The callback's host name does not resolve."
	case strings.Contains(l, "deadline exceeded"), strings.Contains(l, "timeout"), strings.Contains(l, "timed out"):
		return "The site did not answer in time."
	case strings.Contains(l, "certificate"), strings.Contains(l, "tls"), strings.Contains(l, "x509"):
		return "The site's TLS certificate was not accepted."
	case strings.Contains(l, "not allowed"), strings.Contains(l, "ssrf"), strings.Contains(l, "prohibited"):
		return "The callback address is not one lms may call (a private or local network)."
	case strings.Contains(l, "401"), strings.Contains(l, "403"), strings.Contains(l, "unauthorized"), strings.Contains(l, "forbidden"):
		return "The site refused lms's credentials."
	case strings.Contains(l, "404"):
		return "The site has no callback at that address (HTTP 404)."
	case strings.Contains(l, "fault"):
		return "The site answered with an XML-RPC fault: its link checker failed to take the update."
	case strings.Contains(l, "500"), strings.Contains(l, "502"), strings.Contains(l, "503"), strings.Contains(l, "504"):
		return "The site answered with a server error."
	case strings.Contains(l, "eof"), strings.Contains(l, "reset"), strings.Contains(l, "broken pipe"):
		return "The site closed the connection before answering."
	}
	return "The push failed: " + logsafe.Redact(s)
}

// clientExtras is what the client's admin page shows beyond its links:
// the chart, the health of its callback and webhook, its tokens.
func (u *UI) clientExtras(ctx context.Context, c lms.Client) (map[string]any, error) {
	chart, err := u.chartOf(ctx, c)
	if err != nil {
		return nil, err
	}
	ds, err := u.e.WebhookDeliveries(ctx, c.ID, 20)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Chart": chart, "Health": healthOf(c, ds), "Deliveries": ds, "Scope": u.adminScope(c.ID)}, nil
}
