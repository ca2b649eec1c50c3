package xmlrpcapi

// The editors' extensions (issue 22) beside getURLStates: a link's history,
// re-check now, ignore and unignore, and a link's suggestion. PROTOCOL.md's methods are unchanged.

import (
	"context"
	"errors"
	"time"

	"github.com/linkmonitor/lms"
)

// maxHistory is the most entries one getURLHistory call returns.
const maxHistory = 1000

// editorMethods are the table entries of the extensions.
func (s *Server) editorMethods(t map[string]method) {
	t["getURLHistory"] = method{"The state changes of one of the client's URLs, newest first, at most limit (default and most 1000): structs time, state, reason, code, final_url.", "array string string string [int]", s.getURLHistory, 2}
	t["recheckURLs"] = method{"Check the client's URLs again now, ahead of the schedule and within the politeness rules; returns how many were made due (others' and unknown URLs are skipped). Capped per client (default 1000 URLs an hour): HTTP 429 with Retry-After beyond.", "int string string array", s.recheckURLs, 2}
	t["ignoreURLs"] = method{"Ignore the client's URLs: no notification of them to this client until their state changes again (until_changed true) or until unignoreURLs; returns how many changed.", "int string string array boolean", s.ignoreURLs, 2}
	t["unignoreURLs"] = method{"Undo ignoreURLs; returns how many changed.", "int string string array", s.unignoreURLs, 2}
	t["getURLSuggestion"] = method{"What to replace one of the client's URLs with: a struct kind (redirect: where it moved permanently; archive: an archived copy of a broken link, with archived_at), url; an empty struct when there is nothing to suggest.", "struct string string string", s.getURLSuggestion, 2}
}

func (s *Server) getURLSuggestion(ctx context.Context, a []any) (any, error) {
	id, err := s.client(ctx, a, 3, 3)
	if err != nil {
		return nil, err
	}
	u, err := str(a, 2, "url")
	if err != nil {
		return nil, err
	}
	sg, ok, err := s.e.LinkSuggestion(ctx, id, u)
	if err != nil {
		return nil, show(err, lms.ErrNotFound, "URL %.40q is not registered by client %.40q", u, id)
	}
	if !ok {
		return Struct{}, nil
	}
	out := Struct{{"kind", sg.Kind}, {"url", sg.URL}}
	if !sg.ArchivedAt.IsZero() {
		out = append(out, Member{"archived_at", sg.ArchivedAt})
	}
	return out, nil
}

func (s *Server) getURLHistory(ctx context.Context, a []any) (any, error) {
	id, err := s.client(ctx, a, 3, 4)
	if err != nil {
		return nil, err
	}
	u, err := str(a, 2, "url")
	if err != nil {
		return nil, err
	}
	limit := maxHistory
	if len(a) == 4 {
		n, ok := a[3].(int64)
		if !ok || n < 1 || n > maxHistory {
			return nil, paramErr("argument 4 (limit) must be an int from 1 to %d", maxHistory)
		}
		limit = int(n)
	}
	h, err := s.e.LinkHistory(ctx, id, u, time.Time{}, limit)
	if err != nil {
		return nil, show(err, lms.ErrNotFound, "URL %.40q is not registered by client %.40q", u, id)
	}
	out := make([]any, len(h))
	for i, e := range h {
		out[i] = Struct{{"time", e.Time}, {"state", string(e.State)}, {"reason", e.Reason}, {"code", e.Code}, {"final_url", e.FinalURL}}
	}
	return out, nil
}

func (s *Server) recheckURLs(ctx context.Context, a []any) (any, error) {
	id, urls, err := s.clientURLs(ctx, a)
	if err != nil {
		return nil, err
	}
	n, err := s.e.Recheck(ctx, id, urls)
	if err != nil {
		return nil, show(clientErr(id, err), lms.ErrInvalid, "more URLs than a client may re-check in an hour")
	}
	return n, nil
}

func (s *Server) ignoreURLs(ctx context.Context, a []any) (any, error) {
	id, err := s.client(ctx, a, 4, 4)
	if err != nil {
		return nil, err
	}
	urls, err := s.urlList(a, 2)
	if err != nil {
		return nil, err
	}
	untilChanged, err := boolean(a[3])
	if err != nil {
		return nil, paramErr("argument 4 (until_changed) must be a boolean")
	}
	n, err := s.e.Ignore(ctx, id, urls, untilChanged)
	if err != nil {
		return nil, clientErr(id, err)
	}
	return n, nil
}

func (s *Server) unignoreURLs(ctx context.Context, a []any) (any, error) {
	id, urls, err := s.clientURLs(ctx, a)
	if err != nil {
		return nil, err
	}
	n, err := s.e.Unignore(ctx, id, urls)
	if err != nil {
		return nil, clientErr(id, err)
	}
	return n, nil
}

// retryAfter returns the seconds a rate-limited call must wait, if err is
// one.
func retryAfter(err error) (int, bool) {
	var rl *lms.RateLimitError
	if errors.As(err, &rl) {
		return rl.RetrySeconds(), true
	}
	return 0, false
}
