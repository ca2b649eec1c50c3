package jsonapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/guard"
)

// problem is an RFC 9457 problem details object. Detail is written for
// people and never carries Go error text.
type problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Errors []fieldError `json:"errors,omitempty"`

	retryAfter time.Duration // sets Retry-After (429, 503)
	challenge  bool          // sets WWW-Authenticate (401)
}

// fieldError is one thing wrong with a request: where (a JSON pointer into
// the body, or a query parameter) and what.
type fieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// problemTypes are the type URIs, relative to the server: /api/docs
// explains each.
var problemTitles = map[int]struct{ slug, title string }{
	http.StatusBadRequest:            {"bad-request", "The request body is not well-formed JSON"},
	http.StatusUnauthorized:          {"unauthorized", "Credentials are missing or wrong"},
	http.StatusForbidden:             {"forbidden", "These credentials may not do this"},
	http.StatusNotFound:              {"not-found", "No such resource"},
	http.StatusMethodNotAllowed:      {"method-not-allowed", "The resource does not answer this method"},
	http.StatusNotAcceptable:         {"not-acceptable", "No acceptable representation"},
	http.StatusConflict:              {"conflict", "The resource exists already"},
	http.StatusRequestEntityTooLarge: {"too-large", "The request body is too large"},
	http.StatusUnsupportedMediaType:  {"unsupported-media-type", "The request body must be application/json"},
	http.StatusUnprocessableEntity:   {"invalid", "The request is well-formed but invalid"},
	http.StatusTooManyRequests:       {"throttled", "Too many failed credential checks"},
	http.StatusInternalServerError:   {"internal", "The server failed"},
	http.StatusServiceUnavailable:    {"unavailable", "The server is busy"},
}

// newProblem returns the problem of status with detail.
func newProblem(status int, detail string, errs ...fieldError) *problem {
	t := problemTitles[status]
	return &problem{Type: "/api/docs#problem-" + t.slug, Title: t.title, Status: status, Detail: detail, Errors: errs}
}

// invalid is a 422 naming the field.
func invalid(field, detail string) *problem {
	return newProblem(http.StatusUnprocessableEntity, "The request has invalid fields.", fieldError{Field: field, Detail: detail})
}

// problemOf maps an error of the Engine or the guard to its problem, in
// one table. Unknown errors are 500 without their text.
func problemOf(err error) *problem {
	var p *problem
	var ue *lms.URLError
	var ie *lms.InputError
	var rl *lms.RateLimitError
	switch {
	case errors.As(err, &p):
		return p
	case errors.As(err, &ie):
		field := inputFields[ie.Field]
		if field == "" {
			field = "/"
		}
		return newProblem(http.StatusUnprocessableEntity, "The request has an invalid field; nothing was changed.",
			fieldError{Field: field, Detail: ie.Problem})
	case errors.As(err, &ue):
		errs := make([]fieldError, len(ue.Index))
		for i, idx := range ue.Index {
			errs[i] = fieldError{Field: "/" + ue.Field + "/" + strconv.Itoa(idx), Detail: ue.Reason[i]}
		}
		return newProblem(http.StatusUnprocessableEntity, "Some URLs are not valid; nothing was changed.", errs...)
	case errors.As(err, &rl):
		p := newProblem(http.StatusTooManyRequests, "The client asked for more "+rl.What+" than it may in an hour; try again later.")
		p.Type, p.Title = "/api/docs#problem-rate-limited", "Over the client's hourly cap"
		p.retryAfter = time.Duration(rl.RetrySeconds()) * time.Second
		return p
	case errors.Is(err, guard.ErrThrottled):
		p := newProblem(http.StatusTooManyRequests, "Too many failed credential checks from this client id or address; try again later.")
		return p
	case errors.Is(err, guard.ErrBusy):
		p := newProblem(http.StatusServiceUnavailable, "The server is decoding too many requests; try again shortly.")
		p.retryAfter = 5 * time.Second
		return p
	case errors.Is(err, lms.ErrUnauthorized):
		p := newProblem(http.StatusUnauthorized, "The credentials are wrong.")
		p.challenge = true
		return p
	case errors.Is(err, lms.ErrNotFound):
		return newProblem(http.StatusNotFound, "The resource does not exist.")
	case errors.Is(err, lms.ErrExists):
		return newProblem(http.StatusConflict, "A resource with this name exists already.")
	case errors.Is(err, lms.ErrInvalid):
		return newProblem(http.StatusUnprocessableEntity, "An argument is not valid; nothing was changed.")
	case errors.Is(err, lms.ErrClosed), errors.Is(err, context.DeadlineExceeded):
		p := newProblem(http.StatusServiceUnavailable, "The store is not available; try again shortly.")
		p.retryAfter = 5 * time.Second
		return p
	}
	return newProblem(http.StatusInternalServerError, "The server failed to answer; the operator finds the cause in its log.")
}

// inputFields are the JSON pointers of the Engine's input fields
// (lms.InputError.Field).
var inputFields = map[string]string{"ID": "/id", "CallbackURL": "/callback_url", "ContactEmail": "/contact_email", "ContactName": "/contact_name"}

// challenge is the WWW-Authenticate header of a 401.
const challenge = `Bearer realm="lms", Basic realm="lms", charset="UTF-8"`

// writeProblem writes p.
func writeProblem(w http.ResponseWriter, p *problem) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	if p.challenge || p.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", challenge)
	}
	if p.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((p.retryAfter+time.Second-1)/time.Second)))
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// writeJSON writes v as the answer with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
