package report

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/linkmonitor/lms"
)

// The report's two formats, as GET /api/v1/report writes them (API.md,
// the JSON API's OpenAPI document): CSV with a header row and one row a
// link, and JSON {"client": …, "generated": …, "links": [link answers]}.

// CSVHeader is the first row of a CSV report, naming its columns.
var CSVHeader = []string{"url", "state", "reason", "code", "final_url", "permanent_redirect", "last_checked", "failing_since", "failed_checks", "ignored", "suggestion", "sources"}

// IgnoreName is how reports name an ignore mode: "" (not ignored),
// "until_changed" or "forever".
func IgnoreName(m lms.IgnoreMode) string {
	switch m {
	case lms.IgnoredUntilChanged:
		return "until_changed"
	case lms.IgnoredForever:
		return "forever"
	}
	return ""
}

// SafeCell keeps a spreadsheet from reading a cell as a formula: a value
// that starts with = + - @ (or a tab or carriage return, which some
// spreadsheets skip before them) gets a leading apostrophe (OWASP's CSV
// injection advice).
func SafeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func stamp(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.Format(time.RFC3339)
}

// CSVRecord is the row r as the cells of a CSV report, made safe with
// SafeCell. Its sources are one cell: "title <edit URL>" (or the source's
// id), separated by "; ".
func CSVRecord(r Row) []string {
	j := JSONRecord(r)
	parts := make([]string, len(r.Sources))
	for i, s := range r.Sources {
		parts[i] = cmpOr(s.Title, s.ID)
		if s.EditURL != "" {
			parts[i] += " <" + s.EditURL + ">"
		}
	}
	code, sug := "", ""
	if j.Code != nil {
		code = strconv.Itoa(*j.Code)
	}
	if j.Suggestion != nil {
		sug = j.Suggestion.URL
	}
	rec := []string{j.URL, string(j.State), deref(j.Reason), code, deref(j.FinalURL), strconv.FormatBool(j.PermanentRedirect),
		stamp(j.LastChecked), stamp(j.FailingSince), strconv.Itoa(j.FailedChecks), deref(j.Ignored), sug, strings.Join(parts, "; ")}
	for i := range rec {
		rec[i] = SafeCell(rec[i])
	}
	return rec
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// WriteCSV writes the client's report selected by q to w as CSV (RFC 4180:
// CRLF line ends, quoted where needed) with a header row, a page at a
// time (flushed after each when w is an http.ResponseWriter or has a Flush
// method). If the first page cannot be read, nothing is written.
func WriteCSV(ctx context.Context, w io.Writer, e *lms.Engine, clientID string, q Query) error {
	s, err := Open(ctx, e, clientID, q)
	if err != nil {
		return err
	}
	return s.WriteCSV(ctx, w)
}

// WriteCSV writes the report to w as the package's WriteCSV does.
func (s *Stream) WriteCSV(ctx context.Context, w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	err := s.each(ctx, func(r Row) error { return cw.Write(CSVRecord(r)) }, func() {
		cw.Flush()
		flush(w)
	})
	cw.Flush()
	if err != nil {
		return err
	}
	return cw.Error()
}

// flush sends what w holds on to the network, where it can.
func flush(w io.Writer) {
	switch f := w.(type) {
	case http.ResponseWriter:
		_ = http.NewResponseController(f).Flush() // one that wraps another, too
	case interface{ Flush() }:
		f.Flush()
	}
}

// JSONSource is a source of a link in a JSON report.
type JSONSource struct {
	ID      string  `json:"id"`
	Title   *string `json:"title"`
	EditURL *string `json:"edit_url"`
	Owner   *string `json:"owner"`
}

// JSONSuggestion is what to replace a link with.
type JSONSuggestion struct {
	Kind       string     `json:"kind"`
	URL        string     `json:"url"`
	ArchivedAt *time.Time `json:"archived_at,omitempty"`
}

// JSONRow is a link in a JSON report: the JSON API's link answer.
type JSONRow struct {
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
	Sources           []JSONSource    `json:"sources"`
	Ignored           *string         `json:"ignored"`
	Suggestion        *JSONSuggestion `json:"suggestion,omitempty"`
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC().Truncate(time.Millisecond)
	return &u
}

// JSONRecord is the row r as a JSON report writes it.
func JSONRecord(r Row) JSONRow {
	l := r.Link
	out := JSONRow{
		URL: l.URL, State: state(l.State), Reason: strOrNil(l.Reason), FinalURL: strOrNil(l.FinalURL), PermanentRedirect: l.Permanent,
		LastChecked: timeOrNil(l.LastChecked), LastChanged: timeOrNil(l.LastChanged), FailingSince: timeOrNil(r.FailingSince()),
		FailedChecks: r.FailedChecks(), Kind: strOrNil(l.Kind), Host: strOrNil(l.Host),
		Ignored: strOrNil(IgnoreName(r.Ignore)), Sources: make([]JSONSource, len(r.Sources)),
	}
	if l.Code != 0 {
		c := l.Code
		out.Code = &c
	}
	if !l.LastChecked.IsZero() {
		ms := int(l.ResponseTime / time.Millisecond)
		out.ResponseTimeMS = &ms
	}
	for i, s := range r.Sources {
		out.Sources[i] = JSONSource{ID: s.ID, Title: strOrNil(s.Title), EditURL: strOrNil(s.EditURL), Owner: strOrNil(s.Owner)}
	}
	if s := r.Suggestion; s != nil {
		out.Suggestion = &JSONSuggestion{Kind: s.Kind, URL: s.URL, ArchivedAt: timeOrNil(s.ArchivedAt)}
	}
	return out
}

func state(s lms.State) lms.State {
	if !s.Valid() {
		return lms.StateUnknown
	}
	return s
}

// WriteJSON writes the client's report selected by q to w as one JSON
// object {"client": id, "generated": now, "links": [rows…]}, a page at a
// time (flushed as WriteCSV's). If the first page cannot be read, nothing
// is written; if a later one fails, what was written is not valid JSON: a
// cut report cannot be taken for a whole one.
func WriteJSON(ctx context.Context, w io.Writer, e *lms.Engine, clientID string, q Query, now time.Time) error {
	s, err := Open(ctx, e, clientID, q)
	if err != nil {
		return err
	}
	return s.WriteJSON(ctx, w, now)
}

// WriteJSON writes the report to w as the package's WriteJSON does.
func (s *Stream) WriteJSON(ctx context.Context, w io.Writer, now time.Time) error {
	bw := bufio.NewWriter(w)
	id, _ := json.Marshal(s.clientID)
	_, _ = bw.WriteString(`{"client":` + string(id) + `,"generated":"` + now.UTC().Format(time.RFC3339) + `","links":[`)
	enc := json.NewEncoder(bw)
	first := true
	err := s.each(ctx, func(r Row) error {
		if !first {
			_ = bw.WriteByte(',')
		}
		first = false
		return enc.Encode(JSONRecord(r)) // its newline separates the rows
	}, func() {
		_ = bw.Flush()
		flush(w)
	})
	if err != nil {
		_ = bw.Flush()
		return err
	}
	_, _ = bw.WriteString("]}\n")
	return bw.Flush()
}
