package jsonapi

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/linkmonitor/lms"
)

// GET /api/v1/report: every link of the client for a spreadsheet, as CSV
// or JSON, streamed a page at a time (memory does not grow with the number
// of links). An error after the first byte aborts the answer, so that a
// cut report is not taken for a whole one.

// reportPage is how many links are read and written at a time.
const reportPage = 1000

// reportColumns are the CSV header row.
var reportColumns = []string{"url", "state", "reason", "code", "final_url", "permanent_redirect", "last_checked", "failing_since", "failed_checks", "ignored", "suggestion", "sources"}

func (s *Server) report(w http.ResponseWriter, r *http.Request, id string) error {
	q, p := readQuery(r, "format", "ignored", "state")
	if p != nil {
		return p
	}
	if q.v.Has("limit") || q.v.Has("cursor") {
		return invalid("limit", "the report is never paged: it holds every link")
	}
	format := q.v.Get("format")
	if format == "" {
		format = "json"
	}
	if format != "csv" && format != "json" {
		return invalid("format", `"csv" or "json"`)
	}
	_, withIgnored, p := boolParam(q, "ignored")
	if p != nil {
		return p
	}
	st, p := stateParam(q)
	if p != nil {
		return p
	}
	ctx := r.Context()
	// The first page is read before the answer starts: an error there is
	// still a problem.
	ds, next, err := s.e.ListLinks(ctx, id, lms.LinkQuery{Limit: reportPage, State: st})
	if err != nil {
		return err
	}
	var out reportWriter
	if format == "csv" {
		out = newCSVReport(w, id)
	} else {
		out = newJSONReport(w, id, time.Now())
	}
	after := ""
	for {
		modes, err := s.ignoreModes(ctx, id, after, maxURL(ds))
		if err == nil {
			if !withIgnored {
				kept := ds[:0]
				for _, d := range ds {
					if modes[d.URL] == lms.NotIgnored {
						kept = append(kept, d)
					}
				}
				ds = kept
			}
			var ls []linkJSON
			if ls, err = s.decorate(ctx, ds, modes); err == nil {
				err = out.links(ls)
			}
		}
		if err == nil && next != "" {
			after = next
			ds, next, err = s.e.ListLinks(ctx, id, lms.LinkQuery{After: after, Limit: reportPage, State: st})
			if err == nil {
				continue
			}
		}
		if err != nil {
			s.log.Error("JSON API report cut short", "client", id, "err", err)
			panic(http.ErrAbortHandler) // the client sees a cut connection, not a short report
		}
		return out.end()
	}
}

// reportWriter writes one format of the report.
type reportWriter interface {
	links(ls []linkJSON) error
	end() error
}

type csvReport struct {
	w  *csv.Writer
	rc *http.ResponseController
}

func newCSVReport(w http.ResponseWriter, id string) *csvReport {
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8; header=present")
	h.Set("Content-Disposition", `attachment; filename="`+fileName(id)+`-links.csv"`)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	c := &csvReport{w: csv.NewWriter(w), rc: http.NewResponseController(w)}
	c.w.UseCRLF = true // RFC 4180
	_ = c.w.Write(reportColumns)
	return c
}

func (c *csvReport) links(ls []linkJSON) error {
	for _, l := range ls {
		row := []string{l.URL, string(l.State), deref(l.Reason), intCell(l.Code), deref(l.FinalURL), strconv.FormatBool(l.PermanentRedirect),
			timeCell(l.LastChecked), timeCell(l.FailingSince), strconv.Itoa(l.FailedChecks), deref(l.Ignored), "", sourcesCell(l.Sources)}
		if l.Suggestion != nil {
			row[10] = l.Suggestion.URL
		}
		for i := range row {
			row[i] = safeCell(row[i])
		}
		if err := c.w.Write(row); err != nil {
			return err
		}
	}
	c.w.Flush()
	_ = c.rc.Flush()
	return c.w.Error()
}

func (c *csvReport) end() error { c.w.Flush(); return c.w.Error() }

// safeCell keeps a spreadsheet from reading a cell as a formula: a cell
// that starts with = + - @ (or a tab or carriage return, which some
// spreadsheets skip before them) gets a leading apostrophe (OWASP's CSV
// injection advice).
func safeCell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func intCell(n *int) string {
	if n == nil {
		return ""
	}
	return strconv.Itoa(*n)
}

func timeCell(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.Format(time.RFC3339)
}

// sourcesCell lists the sources as "title <edit URL>" (or their ids),
// separated by "; ".
func sourcesCell(refs []sourceRefJSON) string {
	parts := make([]string, len(refs))
	for i, r := range refs {
		name := r.ID
		if r.Title != nil {
			name = *r.Title
		}
		if r.EditURL != nil {
			name += " <" + *r.EditURL + ">"
		}
		parts[i] = name
	}
	return strings.Join(parts, "; ")
}

// fileName keeps the characters of a client id that are safe in a file
// name.
func fileName(id string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return r
		}
		return '_'
	}, id)
}

// jsonReport writes {"client": …, "generated": …, "links": [ … ]} a link
// at a time.
type jsonReport struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	first bool
}

func newJSONReport(w http.ResponseWriter, id string, now time.Time) *jsonReport {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	head, _ := json.Marshal(id)
	_, _ = w.Write([]byte(`{"client":` + string(head) + `,"generated":"` + now.UTC().Format(time.RFC3339) + `","links":[`))
	return &jsonReport{w: w, rc: http.NewResponseController(w), first: true}
}

func (j *jsonReport) links(ls []linkJSON) error {
	var buf []byte
	for _, l := range ls {
		b, err := json.Marshal(l)
		if err != nil {
			return err
		}
		if !j.first {
			buf = append(buf, ',')
		}
		j.first = false
		buf = append(buf, b...)
		buf = append(buf, '\n')
	}
	if _, err := j.w.Write(buf); err != nil {
		return err
	}
	_ = j.rc.Flush()
	return nil
}

func (j *jsonReport) end() error {
	_, err := j.w.Write([]byte("]}\n"))
	return err
}
