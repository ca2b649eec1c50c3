package jsonapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/report"
)

// GET /api/v1/report: every link of the client for a spreadsheet, as CSV
// or JSON. Which links and how they are written is package report's (the
// web UI's export writes the same bytes); it streams them a page at a time,
// so memory does not grow with the number of links. An error on the first
// page is answered as a problem; one after the first byte cuts the
// connection, so that a cut report is not taken for a whole one.

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
	rq := report.Query{LinkQuery: lms.LinkQuery{State: st}} // ignored links left out
	if withIgnored {
		rq.Ignored = report.WithIgnored
	}
	ctx := r.Context()
	rep, err := report.Open(ctx, s.e, id, rq)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if format == "csv" {
		h.Set("Content-Type", "text/csv; charset=utf-8; header=present")
		h.Set("Content-Disposition", `attachment; filename="`+fileName(id)+`-links.csv"`)
		w.WriteHeader(http.StatusOK)
		err = rep.WriteCSV(ctx, w)
	} else {
		h.Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		err = rep.WriteJSON(ctx, w, time.Now())
	}
	if err != nil {
		s.log.Error("JSON API report cut short", "client", id, "format", format, "err", err)
		panic(http.ErrAbortHandler) // the client sees a cut connection, not a short report
	}
	return nil
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
