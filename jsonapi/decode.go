package jsonapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// readJSON decodes the request body into v: application/json only (415),
// at most MaxBodyBytes (413), well-formed (400), one value, no unknown
// fields and the right types (422 naming the field). The body is read
// within the decoding budget of the guard.
func (s *Server) readJSON(w http.ResponseWriter, r *http.Request, v any) *problem {
	if mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" ||
		(params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8")) {
		return newProblem(http.StatusUnsupportedMediaType, `Send the body as "application/json; charset=utf-8".`)
	}
	limit := s.guard.Config().MaxBodyBytes
	if r.ContentLength > limit {
		return tooLarge(limit)
	}
	n := r.ContentLength
	if n < 0 {
		n = limit
	}
	release, err := s.guard.Acquire(r.Context(), guardAddr(r, s.cfg), n)
	if err != nil {
		return problemOf(err)
	}
	defer release()
	if s.cfg.BodyTimeout > 0 {
		// A body that trickles in must not hold its budget for long.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.BodyTimeout))
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeProblem(err, limit)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return tooLarge(limit)
		}
		return newProblem(http.StatusBadRequest, "The body holds more than one JSON value.")
	}
	return nil
}

func tooLarge(limit int64) *problem {
	return newProblem(http.StatusRequestEntityTooLarge, fmt.Sprintf("The body is over %d bytes.", limit))
}

// decodeProblem turns an error of encoding/json into a problem that names
// what was wrong without Go's error text.
func decodeProblem(err error, limit int64) *problem {
	var (
		syn     *json.SyntaxError
		typ     *json.UnmarshalTypeError
		tooBig  *http.MaxBytesError
		invalid *json.InvalidUnmarshalError
	)
	switch {
	case errors.As(err, &tooBig):
		return tooLarge(limit)
	case errors.As(err, &syn):
		return newProblem(http.StatusBadRequest, fmt.Sprintf("The body is not well-formed JSON (at byte %d).", syn.Offset))
	case errors.Is(err, io.EOF):
		return newProblem(http.StatusBadRequest, "The body is empty; a JSON object is expected.")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return newProblem(http.StatusBadRequest, "The body ends in the middle of a JSON value.")
	case errors.As(err, &typ):
		field := "/" + strings.ReplaceAll(typ.Field, ".", "/")
		if typ.Field == "" {
			field = ""
		}
		return newProblem(http.StatusUnprocessableEntity, "A field has the wrong type; nothing was changed.",
			fieldError{Field: field, Detail: fmt.Sprintf("expected %s, got a JSON %s", jsonType(typ.Type.Kind().String()), typ.Value)})
	case errors.As(err, &invalid):
		return newProblem(http.StatusInternalServerError, "The server failed to decode the request.")
	}
	// encoding/json reports an unknown field only in its text:
	// `json: unknown field "name"`.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name, _ = strconv.Unquote(name)
		return newProblem(http.StatusUnprocessableEntity, "The body has a field this operation does not know; nothing was changed.",
			fieldError{Field: "/" + name, Detail: "unknown field"})
	}
	var fe *fieldProblem
	if errors.As(err, &fe) {
		return newProblem(http.StatusUnprocessableEntity, "A field is not valid; nothing was changed.", fieldError(*fe))
	}
	return newProblem(http.StatusBadRequest, "The body is not a valid JSON document.")
}

// fieldProblem is returned by UnmarshalJSON methods of request types.
type fieldProblem fieldError

func (f *fieldProblem) Error() string { return f.Field + ": " + f.Detail }

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "int", "int64", "int32", "uint", "uint64", "float64":
		return "a number"
	}
	return "another type"
}

// nullable is a request field that may be absent, null or a value (PATCH:
// absent keeps, null removes).
type nullable[T any] struct {
	Set  bool // present in the body
	Null bool // present as null
	V    T
}

// UnmarshalJSON implements json.Unmarshaler.
func (n *nullable[T]) UnmarshalJSON(b []byte) error {
	n.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		n.Null = true
		return nil
	}
	return json.Unmarshal(b, &n.V)
}

// The opaque cursors: base64url of a version and the key to go on after.

func encodeCursor(after string) string {
	if after == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte("1\x00" + after))
}

func decodeCursor(c string) (string, bool) {
	if c == "" {
		return "", true
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", false
	}
	after, ok := strings.CutPrefix(string(b), "1\x00")
	return after, ok && after != ""
}

// query reads the query parameters of a listing: only those in allowed
// (an unknown one is a 422, so that a typo is not silently ignored), each
// at most once; limit (1..1000, default 100) and cursor are read here.
type query struct {
	v      url.Values
	limit  int
	after  string
	probes []fieldError
}

func readQuery(r *http.Request, allowed ...string) (*query, *problem) {
	q := &query{v: r.URL.Query(), limit: 100}
	for k, vs := range q.v {
		known := k == "limit" || k == "cursor"
		for _, a := range allowed {
			known = known || a == k
		}
		switch {
		case !known:
			q.probes = append(q.probes, fieldError{Field: k, Detail: "unknown query parameter"})
		case len(vs) > 1:
			q.probes = append(q.probes, fieldError{Field: k, Detail: "given more than once"})
		}
	}
	if l := q.v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			q.probes = append(q.probes, fieldError{Field: "limit", Detail: "want a whole number from 1 to 1000"})
		}
		q.limit = n
	}
	if c := q.v.Get("cursor"); c != "" {
		after, ok := decodeCursor(c)
		if !ok {
			q.probes = append(q.probes, fieldError{Field: "cursor", Detail: "not a cursor this server gave out"})
		}
		q.after = after
	}
	if len(q.probes) > 0 {
		return nil, newProblem(http.StatusUnprocessableEntity, "The query has invalid parameters.", q.probes...)
	}
	return q, nil
}
