package jsonapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/linkmonitor/lms"
)

// The client's links and sources.

// urlList is the body of PUT and DELETE /api/v1/links and of POST
// /api/v1/links/query.
type urlList struct {
	URLs []string `json:"urls"`
}

// readURLs reads a urlList: present and at most lms.MaxURLsPerCall.
func (s *Server) readURLs(w http.ResponseWriter, r *http.Request) ([]string, error) {
	var req urlList
	if p := s.readJSON(w, r, &req); p != nil {
		return nil, p
	}
	if req.URLs == nil {
		return nil, invalid("/urls", "required: an array of URLs")
	}
	if len(req.URLs) > lms.MaxURLsPerCall {
		return nil, invalid("/urls", "at most 10000 URLs in one call")
	}
	return req.URLs, nil
}

func (s *Server) putLinks(w http.ResponseWriter, r *http.Request, id string) error {
	urls, err := s.readURLs(w, r)
	if err != nil {
		return err
	}
	added, err := s.e.RegisterLinks(r.Context(), id, urls)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int{"added": added})
	return nil
}

func (s *Server) deleteLinks(w http.ResponseWriter, r *http.Request, id string) error {
	urls, err := s.readURLs(w, r)
	if err != nil {
		return err
	}
	removed, err := s.e.UnregisterLinks(r.Context(), id, urls)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int{"removed": removed})
	return nil
}

func (s *Server) queryLinks(w http.ResponseWriter, r *http.Request, id string) error {
	urls, err := s.readURLs(w, r)
	if err != nil {
		return err
	}
	ds, err := s.e.QueryLinks(r.Context(), id, urls)
	if err != nil {
		return err
	}
	modes, err := s.ignoreModes(r.Context(), id, "", maxURL(ds))
	if err != nil {
		return err
	}
	out, err := s.decorate(r.Context(), ds, modes)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"links": out})
	return nil
}

// stateParam reads ?state=, one of the five state strings.
func stateParam(q *query) (lms.State, *problem) {
	st := lms.State(q.v.Get("state"))
	if st != "" && !st.Valid() {
		return "", invalid("state", `one of "ok", "temporary unavailable", "unavailable", "unsupported protocol", "unknown"`)
	}
	return st, nil
}

func (s *Server) listLinks(w http.ResponseWriter, r *http.Request, id string) error {
	q, p := readQuery(r, "state", "q", "source", "owner", "host", "ignored")
	if p != nil {
		return p
	}
	st, p := stateParam(q)
	if p != nil {
		return p
	}
	set, only, p := boolParam(q, "ignored")
	if p != nil {
		return p
	}
	if set && only {
		return s.listIgnored(w, r, id, q, st)
	}
	ds, next, err := s.e.ListLinks(r.Context(), id, lms.LinkQuery{
		After: q.after, Limit: q.limit, State: st,
		Source: q.v.Get("source"), Owner: q.v.Get("owner"), Host: q.v.Get("host"), Q: q.v.Get("q"),
	})
	if err != nil {
		if q.v.Get("source") != "" && problemOf(err).Status == http.StatusNotFound {
			return newProblem(http.StatusNotFound, "The client has no source with this id.")
		}
		return err
	}
	modes, err := s.ignoreModes(r.Context(), id, q.after, maxURL(ds))
	if err != nil {
		return err
	}
	if set { // ignored=false: only those not ignored
		kept := ds[:0]
		for _, d := range ds {
			if modes[d.URL] == lms.NotIgnored {
				kept = append(kept, d)
			}
		}
		ds = kept
	}
	out, err := s.decorate(r.Context(), ds, modes)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, linksPage{Links: out, NextCursor: strOrNil(encodeCursor(next))})
	return nil
}

// listIgnored answers GET /api/v1/links?ignored=true: a page of the
// links the client ignores, other filters applied to it.
func (s *Server) listIgnored(w http.ResponseWriter, r *http.Request, id string, q *query, st lms.State) error {
	page, err := s.e.IgnoredLinks(r.Context(), id, lms.Page{After: q.after, Limit: q.limit, State: st})
	if err != nil {
		return err
	}
	modes := make(map[string]lms.IgnoreMode, len(page))
	urls := make([]string, 0, len(page))
	for _, l := range page {
		if !matches(l.Link, q) {
			continue
		}
		modes[l.URL] = l.Mode
		urls = append(urls, l.URL)
	}
	ds, err := s.e.QueryLinks(r.Context(), id, urls)
	if err != nil {
		return err
	}
	kept := ds[:0]
	for _, d := range ds {
		if sourceMatches(d.Sources, q) {
			kept = append(kept, d)
		}
	}
	out, err := s.decorate(r.Context(), kept, modes)
	if err != nil {
		return err
	}
	ans := linksPage{Links: out}
	if len(page) == q.limit {
		ans.NextCursor = strOrNil(encodeCursor(page[len(page)-1].URL))
	}
	writeJSON(w, http.StatusOK, ans)
	return nil
}

// matches applies the host and q filters of a listing to l.
func matches(l lms.Link, q *query) bool {
	if h := q.v.Get("host"); h != "" && l.Host != strings.ToLower(h) {
		return false
	}
	return q.v.Get("q") == "" || strings.Contains(strings.ToLower(l.URL), strings.ToLower(q.v.Get("q")))
}

// sourceMatches applies the source and owner filters of a listing.
func sourceMatches(refs []lms.SourceRef, q *query) bool {
	src, owner := q.v.Get("source"), q.v.Get("owner")
	if src == "" && owner == "" {
		return true
	}
	for _, r := range refs {
		if (src == "" || r.ID == src) && (owner == "" || r.Owner == owner) {
			return true
		}
	}
	return false
}

type linksPage struct {
	Links      []linkJSON `json:"links"`
	NextCursor *string    `json:"next_cursor,omitempty"`
}

// sourceRequest is the body of PUT /api/v1/sources/{source_id}.
type sourceRequest struct {
	Title *string  `json:"title"`
	URL   *string  `json:"url"`
	Owner *string  `json:"owner"`
	Links []string `json:"links"`
}

func (s *Server) putSource(w http.ResponseWriter, r *http.Request, id string) error {
	var req sourceRequest
	if p := s.readJSON(w, r, &req); p != nil {
		return p
	}
	var errs []fieldError
	if req.Title == nil {
		errs = append(errs, fieldError{Field: "/title", Detail: "required"})
	}
	if req.URL == nil {
		errs = append(errs, fieldError{Field: "/url", Detail: "required: where an editor edits the source"})
	}
	if req.Links == nil {
		errs = append(errs, fieldError{Field: "/links", Detail: "required: every URL the source uses (may be empty)"})
	}
	if len(req.Links) > lms.MaxSourceLinks {
		errs = append(errs, fieldError{Field: "/links", Detail: "at most 10000 links"})
	}
	if len(errs) > 0 {
		return newProblem(http.StatusUnprocessableEntity, "The request has invalid fields; nothing was changed.", errs...)
	}
	src := lms.Source{SourceRef: lms.SourceRef{ID: r.PathValue("source_id"), Title: *req.Title, EditURL: *req.URL}, Links: req.Links}
	if req.Owner != nil {
		src.Owner = *req.Owner
	}
	added, removed, err := s.e.PutSource(r.Context(), id, src)
	if err != nil {
		if p := problemOf(err); p.Status == http.StatusUnprocessableEntity && p.Errors == nil {
			return newProblem(http.StatusUnprocessableEntity, "The source is not valid; nothing was changed.",
				fieldError{Field: "/", Detail: "source id (1 to 256 bytes, no control characters), title (at most 1000 bytes), url (a URL), owner (at most 320 bytes): one line each"})
		}
		return err
	}
	writeJSON(w, http.StatusOK, putSourceAnswer{ID: src.ID, Added: added, Removed: removed})
	return nil
}

type putSourceAnswer struct {
	ID      string `json:"id"`
	Added   int    `json:"added"`
	Removed int    `json:"removed"`
}

func (s *Server) getSource(w http.ResponseWriter, r *http.Request, id string) error {
	src, err := s.e.GetSource(r.Context(), id, r.PathValue("source_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sourceDetail{sourceRefJSON: sourceRef(src.SourceRef), Links: src.Links, Updated: timeOrNil(src.Updated)})
	return nil
}

type sourceDetail struct {
	sourceRefJSON
	Links   []string   `json:"links"`
	Updated *time.Time `json:"updated"`
}

func (s *Server) deleteSource(w http.ResponseWriter, r *http.Request, id string) error {
	if _, err := s.e.DeleteSource(r.Context(), id, r.PathValue("source_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listSources(w http.ResponseWriter, r *http.Request, id string) error {
	q, p := readQuery(r, "state")
	if p != nil {
		return p
	}
	st, p := stateParam(q)
	if p != nil {
		return p
	}
	list, err := s.e.Sources(r.Context(), id, lms.SourcePage{After: q.after, Limit: q.limit + 1, State: st})
	if err != nil {
		return err
	}
	ans := sourcesPage{Sources: []sourceJSON{}}
	for i, x := range list {
		if i == q.limit {
			ans.NextCursor = strOrNil(encodeCursor(list[i-1].ID))
			break
		}
		ans.Sources = append(ans.Sources, sourceSummary(x))
	}
	writeJSON(w, http.StatusOK, ans)
	return nil
}

type sourcesPage struct {
	Sources    []sourceJSON `json:"sources"`
	NextCursor *string      `json:"next_cursor,omitempty"`
}
