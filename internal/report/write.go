package report

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/linkmonitor/lms"
)

// CSVHeader is the first row of a CSV report, naming its columns.
var CSVHeader = []string{
	"url", "state", "reason", "code", "final_url", "permanent_redirect", "last_checked", "last_changed",
	"failing_since", "failed_checks", "ignored", "source_ids", "source_titles", "source_edit_urls", "owners",
}

// listSep joins the values of one column of several sources.
const listSep = "; "

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

// SafeCell makes a cell safe to open in a spreadsheet: a value that starts
// with a character a spreadsheet reads as the start of a formula (= + - @,
// or a tab or carriage return before one) gets a leading apostrophe, so it
// is shown as text and never evaluated (OWASP "CSV injection").
func SafeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// CSVRecord is the row r as the cells of a CSV report, made safe with
// SafeCell.
func CSVRecord(r Row) []string {
	ids, titles, edits, owners := make([]string, len(r.Sources)), make([]string, len(r.Sources)), make([]string, len(r.Sources)), make([]string, 0, len(r.Sources))
	for i, s := range r.Sources {
		ids[i], titles[i], edits[i] = s.ID, s.Title, s.EditURL
		if s.Owner != "" {
			owners = append(owners, s.Owner)
		}
	}
	code := ""
	if r.Code != 0 {
		code = strconv.Itoa(r.Code)
	}
	rec := []string{
		r.URL, string(state(r.State)), r.Reason, code, r.FinalURL, strconv.FormatBool(r.Permanent), stamp(r.LastChecked), stamp(r.LastChanged),
		stamp(r.FailingSince()), strconv.Itoa(r.FailedChecks()), IgnoreName(r.Ignore),
		strings.Join(ids, listSep), strings.Join(titles, listSep), strings.Join(edits, listSep), strings.Join(owners, listSep),
	}
	for i := range rec {
		rec[i] = SafeCell(rec[i])
	}
	return rec
}

func state(s lms.State) lms.State {
	if !s.Valid() {
		return lms.StateUnknown
	}
	return s
}

// WriteCSV writes the client's report selected by q to w as CSV (RFC 4180:
// CRLF line ends, quoted where needed) with a header row, a row at a time.
func WriteCSV(ctx context.Context, w io.Writer, e *lms.Engine, clientID string, q Query) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	err := Each(ctx, e, clientID, q, func(r Row) error { return cw.Write(CSVRecord(r)) })
	cw.Flush()
	if err != nil {
		return err
	}
	return cw.Error()
}

// JSONSource is a source of a JSON report row.
type JSONSource struct {
	ID      string  `json:"id"`
	Title   string  `json:"title"`
	EditURL *string `json:"url"`
	Owner   *string `json:"owner"`
}

// JSONRow is a row of a JSON report: the fields of a link answer of the
// JSON API that an editor acts on, and how the client ignores it.
type JSONRow struct {
	URL               string       `json:"url"`
	State             lms.State    `json:"state"`
	Reason            *string      `json:"reason"`
	Code              *int         `json:"code"`
	FinalURL          *string      `json:"final_url"`
	PermanentRedirect bool         `json:"permanent_redirect"`
	LastChecked       *time.Time   `json:"last_checked"`
	LastChanged       *time.Time   `json:"last_changed"`
	FailingSince      *time.Time   `json:"failing_since"`
	FailedChecks      int          `json:"failed_checks"`
	Ignored           *string      `json:"ignored"`
	Sources           []JSONSource `json:"sources"`
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
	t = t.UTC()
	return &t
}

// JSONRecord is the row r as a JSON report writes it.
func JSONRecord(r Row) JSONRow {
	out := JSONRow{
		URL: r.URL, State: state(r.State), Reason: strOrNil(r.Reason), FinalURL: strOrNil(r.FinalURL), PermanentRedirect: r.Permanent,
		LastChecked: timeOrNil(r.LastChecked), LastChanged: timeOrNil(r.LastChanged), FailingSince: timeOrNil(r.FailingSince()),
		FailedChecks: r.FailedChecks(), Ignored: strOrNil(IgnoreName(r.Ignore)), Sources: make([]JSONSource, len(r.Sources)),
	}
	if r.Code != 0 {
		c := r.Code
		out.Code = &c
	}
	for i, s := range r.Sources {
		out.Sources[i] = JSONSource{ID: s.ID, Title: s.Title, EditURL: strOrNil(s.EditURL), Owner: strOrNil(s.Owner)}
	}
	return out
}

// WriteJSON writes the client's report selected by q to w as one JSON
// object {"client": id, "generated_at": time, "links": [rows…]}, a row at
// a time. now is the generated_at time.
func WriteJSON(ctx context.Context, w io.Writer, e *lms.Engine, clientID string, q Query, now time.Time) error {
	bw := bufio.NewWriter(w)
	id, _ := json.Marshal(clientID)
	fmt.Fprintf(bw, `{"client":%s,"generated_at":%q,"links":[`, id, now.UTC().Format(time.RFC3339))
	enc := json.NewEncoder(bw)
	first := true
	err := Each(ctx, e, clientID, q, func(r Row) error {
		if !first {
			if err := bw.WriteByte(','); err != nil {
				return err
			}
		}
		first = false
		return enc.Encode(JSONRecord(r)) // its newline separates the rows
	})
	if err != nil {
		_ = bw.Flush()
		return err
	}
	if _, err := bw.WriteString("]}\n"); err != nil {
		return err
	}
	return bw.Flush()
}
