package jsonapi

import (
	"cmp"
	"time"

	"github.com/linkmonitor/lms"
)

// The JSON shapes of answers. Absent optional values are omitted or null,
// never ""; times are RFC 3339 in UTC.

// timeOrNil returns t in UTC, or nil for the zero time.
func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC().Truncate(time.Millisecond)
	return &u
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func intOrNil(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

type sourceRefJSON struct {
	ID      string  `json:"id"`
	Title   *string `json:"title"`
	EditURL *string `json:"edit_url"`
	Owner   *string `json:"owner"`
}

func sourceRef(r lms.SourceRef) sourceRefJSON {
	return sourceRefJSON{ID: r.ID, Title: strOrNil(r.Title), EditURL: strOrNil(r.EditURL), Owner: strOrNil(r.Owner)}
}

type linkJSON struct {
	URL               string          `json:"url"`
	State             lms.State       `json:"state"`
	Reason            *string         `json:"reason"`
	Code              *int            `json:"code"`
	FinalURL          *string         `json:"final_url"`
	PermanentRedirect bool            `json:"permanent_redirect"`
	LastChecked       *time.Time      `json:"last_checked"`
	LastChanged       *time.Time      `json:"last_changed"`
	FailingSince      *time.Time      `json:"failing_since"`
	FailedChecks      int             `json:"failed_checks"`
	Kind              *string         `json:"kind"`
	ResponseTimeMS    *int            `json:"response_time_ms"`
	Host              *string         `json:"host"`
	Sources           []sourceRefJSON `json:"sources"`
	Ignored           *string         `json:"ignored"`              // how the client ignores it (handlers_editors.go)
	Suggestion        *suggestionJSON `json:"suggestion,omitempty"` // what to replace it with, if anything
}

// suggestionJSON is what to replace a link with (lms.Suggestion).
type suggestionJSON struct {
	Kind       string     `json:"kind"`
	URL        string     `json:"url"`
	ArchivedAt *time.Time `json:"archived_at,omitempty"`
}

// ignoredOf names an ignore mode; nil when the link is not ignored.
func ignoredOf(m lms.IgnoreMode) *string {
	switch m {
	case lms.IgnoredUntilChanged:
		return strOrNil("until_changed")
	case lms.IgnoredForever:
		return strOrNil("forever")
	}
	return nil
}

func link(d lms.LinkDetail) linkJSON {
	l := d.Link
	st := l.State
	if !st.Valid() {
		st = lms.StateUnknown
	}
	out := linkJSON{
		URL: l.URL, State: st, Reason: strOrNil(l.Reason), Code: intOrNil(l.Code), FinalURL: strOrNil(l.FinalURL),
		PermanentRedirect: l.Permanent, LastChecked: timeOrNil(l.LastChecked), LastChanged: timeOrNil(l.LastChanged),
		Host: strOrNil(l.Host), Sources: make([]sourceRefJSON, len(d.Sources)),
	}
	if st.Failing() {
		// Since the link turned failing (a store that keeps no such time:
		// since it entered its present state).
		out.FailingSince = timeOrNil(cmp.Or(l.FailingSince, l.LastChanged))
		out.FailedChecks = max(l.Failures, 0)
	}
	out.Kind = strOrNil(l.Kind)
	if !l.LastChecked.IsZero() {
		ms := int(l.ResponseTime / time.Millisecond)
		out.ResponseTimeMS = &ms
	}
	for i, r := range d.Sources {
		out.Sources[i] = sourceRef(r)
	}
	return out
}

func links(ds []lms.LinkDetail) []linkJSON {
	out := make([]linkJSON, len(ds))
	for i, d := range ds {
		out[i] = link(d)
	}
	return out
}

// countsJSON are link counts by state, named after the states.
type countsJSON struct {
	OK          int `json:"ok"`
	Temporary   int `json:"temporary_unavailable"`
	Unavailable int `json:"unavailable"`
	Unsupported int `json:"unsupported_protocol"`
	Unknown     int `json:"unknown"`
	Total       int `json:"total"`
}

func counts(c lms.StateCounts) countsJSON {
	return countsJSON{OK: c.OK, Temporary: c.Temporary, Unavailable: c.Unavailable, Unsupported: c.Unsupported, Unknown: c.Unknown, Total: c.Total()}
}

type sourceJSON struct {
	sourceRefJSON
	Counts  countsJSON `json:"counts"`
	Updated *time.Time `json:"updated"`
}

func sourceSummary(s lms.SourceSummary) sourceJSON {
	return sourceJSON{sourceRefJSON: sourceRef(s.SourceRef), Counts: counts(s.Counts), Updated: timeOrNil(s.Updated)}
}

type clientJSON struct {
	ID                      string     `json:"id"`
	ContactName             *string    `json:"contact_name"`
	ContactEmail            *string    `json:"contact_email"`
	CallbackURL             *string    `json:"callback_url"`
	WebhookURL              *string    `json:"webhook_url"`
	Notifications           bool       `json:"notifications"`
	Created                 *time.Time `json:"created"`
	Counts                  countsJSON `json:"counts"`
	NotifyFailures          int        `json:"notify_failures"`
	LastNotified            *time.Time `json:"last_notified"`
	LastNotifyError         *string    `json:"last_notify_error"`
	NotificationsDisabledAt *time.Time `json:"notifications_disabled_at"`
	LastSync                *time.Time `json:"last_sync"`
	LastSyncError           *string    `json:"last_sync_error"`
	Tokens                  int        `json:"tokens"`
	Digest                  string     `json:"digest"`
}

func client(c lms.Client) clientJSON {
	return clientJSON{
		ID: c.ID, ContactName: strOrNil(c.ContactName), ContactEmail: strOrNil(c.ContactEmail),
		CallbackURL: strOrNil(c.CallbackURL), WebhookURL: strOrNil(c.WebhookURL), Notifications: c.Notify,
		Created: timeOrNil(c.Created), Counts: counts(c.Counts), NotifyFailures: c.NotifyFailures,
		LastNotified: timeOrNil(c.LastNotified), LastNotifyError: strOrNil(c.LastNotifyError),
		NotificationsDisabledAt: timeOrNil(c.NotifyDisabledAt), LastSync: timeOrNil(c.LastSync),
		LastSyncError: strOrNil(c.LastSyncError), Tokens: len(c.Tokens), Digest: digestName(c.Digest),
	}
}

// digestName is a digest mode on the wire: "off", "daily" or "weekly".
func digestName(m lms.DigestMode) string {
	if m == lms.DigestOff {
		return "off"
	}
	return string(m)
}

// digestMode reads a digest mode from the wire; ok is false for any other
// string.
func digestMode(s string) (m lms.DigestMode, ok bool) {
	switch s {
	case "off":
		return lms.DigestOff, true
	case string(lms.DigestDaily), string(lms.DigestWeekly):
		return lms.DigestMode(s), true
	}
	return "", false
}

type tokenJSON struct {
	Name    string     `json:"name"`
	Created *time.Time `json:"created"`
	Token   string     `json:"token,omitempty"` // only when it is made
}

type deliveryJSON struct {
	ID          string     `json:"id"`
	Type        string     `json:"type"`
	Created     *time.Time `json:"created"`
	Attempts    int        `json:"attempts"`
	Status      *int       `json:"status"`
	Error       *string    `json:"error"`
	NextAttempt *time.Time `json:"next_attempt"`
	Delivered   *time.Time `json:"delivered"`
}

func delivery(d lms.WebhookDelivery) deliveryJSON {
	return deliveryJSON{
		ID: d.ID, Type: d.Type, Created: timeOrNil(d.Created), Attempts: d.Attempts, Status: intOrNil(d.Status),
		Error: strOrNil(d.Error), NextAttempt: timeOrNil(d.NextAttempt), Delivered: timeOrNil(d.Delivered),
	}
}
