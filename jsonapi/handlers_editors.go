package jsonapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/linkmonitor/lms"
)

// The editors' paths (issue 22): a link's history, re-check now, ignore
// and unignore; the report is in report.go.

// historyEntryJSON is one state change of a link.
type historyEntryJSON struct {
	Time     *time.Time `json:"time"`
	State    lms.State  `json:"state"`
	Reason   *string    `json:"reason"`
	Code     *int       `json:"code"`
	FinalURL *string    `json:"final_url"`
}

type historyPage struct {
	URL        string             `json:"url"`
	Changes    []historyEntryJSON `json:"changes"`
	NextCursor *string            `json:"next_cursor,omitempty"`
}

func (s *Server) linkHistory(w http.ResponseWriter, r *http.Request, id string) error {
	q, p := readQuery(r, "url")
	if p != nil {
		return p
	}
	u := q.v.Get("url")
	if u == "" {
		return invalid("url", "required: the link's URL, as registered")
	}
	var before time.Time
	if q.after != "" {
		n, err := strconv.ParseInt(q.after, 10, 64)
		if err != nil || n <= 0 {
			return invalid("cursor", "not a cursor this server gave out")
		}
		before = time.Unix(0, n)
	}
	h, err := s.e.LinkHistory(r.Context(), id, u, before, q.limit+1)
	if err != nil {
		if problemOf(err).Status == http.StatusNotFound {
			return newProblem(http.StatusNotFound, "The client has no link with this URL.")
		}
		return err
	}
	ans := historyPage{URL: u, Changes: []historyEntryJSON{}}
	for i, e := range h {
		if i == q.limit {
			ans.NextCursor = strOrNil(encodeCursor(strconv.FormatInt(h[i-1].Time.UnixNano(), 10)))
			break
		}
		st := e.State
		if !st.Valid() {
			st = lms.StateUnknown
		}
		ans.Changes = append(ans.Changes, historyEntryJSON{Time: timeOrNil(e.Time), State: st, Reason: strOrNil(e.Reason), Code: intOrNil(e.Code), FinalURL: strOrNil(e.FinalURL)})
	}
	writeJSON(w, http.StatusOK, ans)
	return nil
}

func (s *Server) recheck(w http.ResponseWriter, r *http.Request, id string) error {
	urls, err := s.readURLs(w, r)
	if err != nil {
		return err
	}
	n, err := s.e.Recheck(r.Context(), id, urls)
	if err != nil {
		if p := problemOf(err); p.Status == http.StatusUnprocessableEntity {
			return invalid("/urls", "more URLs than the client may re-check in an hour")
		}
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]int{"rechecking": n})
	return nil
}

// ignoreRequest is the body of POST /api/v1/links/ignore.
type ignoreRequest struct {
	URLs         []string `json:"urls"`
	UntilChanged *bool    `json:"until_changed"`
}

func (s *Server) ignore(w http.ResponseWriter, r *http.Request, id string) error {
	var req ignoreRequest
	if p := s.readJSON(w, r, &req); p != nil {
		return p
	}
	if req.URLs == nil {
		return invalid("/urls", "required: an array of URLs")
	}
	if len(req.URLs) > lms.MaxURLsPerCall {
		return invalid("/urls", "at most 10000 URLs in one call")
	}
	until := req.UntilChanged == nil || *req.UntilChanged
	n, err := s.e.Ignore(r.Context(), id, req.URLs, until)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int{"ignored": n})
	return nil
}

func (s *Server) unignore(w http.ResponseWriter, r *http.Request, id string) error {
	urls, err := s.readURLs(w, r)
	if err != nil {
		return err
	}
	n, err := s.e.Unignore(r.Context(), id, urls)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int{"unignored": n})
	return nil
}

// ignoreModes returns how the client ignores those of its links in the URL
// range (after, last] that it ignores; the ignored links are read in
// pages, so this costs the client's ignored links in the range.
func (s *Server) ignoreModes(ctx context.Context, id, after, last string) (map[string]lms.IgnoreMode, error) {
	out := map[string]lms.IgnoreMode{}
	for {
		page, err := s.e.IgnoredLinks(ctx, id, lms.Page{After: after, Limit: 1000})
		if err != nil {
			return nil, err
		}
		for _, l := range page {
			if l.URL > last {
				return out, nil
			}
			out[l.URL] = l.Mode
		}
		if len(page) < 1000 {
			return out, nil
		}
		after = page[len(page)-1].URL
	}
}

// decorate adds to each of ls how the client ignores it and its
// suggestion; modes holds the ignored ones.
func (s *Server) decorate(ctx context.Context, ds []lms.LinkDetail, modes map[string]lms.IgnoreMode) ([]linkJSON, error) {
	plain := make([]lms.Link, len(ds))
	for i, d := range ds {
		plain[i] = d.Link
	}
	sug, err := s.e.Suggestions(ctx, plain)
	if err != nil {
		return nil, err
	}
	out := links(ds)
	for i := range out {
		out[i].Ignored = ignoredOf(modes[out[i].URL])
		if x, ok := sug[out[i].URL]; ok {
			out[i].Suggestion = &suggestionJSON{Kind: x.Kind, URL: x.URL, ArchivedAt: timeOrNil(x.ArchivedAt)}
		}
	}
	return out, nil
}

// maxURL returns the greatest of the links' URLs.
func maxURL(ds []lms.LinkDetail) string {
	hi := ""
	for _, d := range ds {
		hi = max(hi, d.URL)
	}
	return hi
}

// boolParam reads a query parameter that is "true" or "false"; absent
// is unset.
func boolParam(q *query, name string) (set, v bool, p *problem) {
	switch q.v.Get(name) {
	case "":
		return false, false, nil
	case "true":
		return true, true, nil
	case "false":
		return true, false, nil
	}
	return false, false, invalid(name, `"true" or "false"`)
}
