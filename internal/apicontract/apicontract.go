// Package apicontract holds the JSON API's answers to its contract, the
// OpenAPI 3.1 document of package jsonapi, for the tests of jsonapi and of
// lmsd: a Contract validates an answer with an implementation we did not
// write (pb33f/libopenapi-validator), and its Transport does so for every
// answer a test's http.Client gets, so that the document cannot drift
// from what the server sends.
package apicontract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	vErrors "github.com/pb33f/libopenapi-validator/errors"

	"github.com/linkmonitor/lms/jsonapi"
)

// Contract is the OpenAPI document loaded into a validator. It is safe
// for concurrent use.
type Contract struct {
	mu sync.Mutex // the validator's caches
	v  validator.Validator
}

// Load loads jsonapi's document. It fails if the document is not one the
// validator can read.
func Load() (*Contract, error) {
	doc, err := libopenapi.NewDocument(jsonapi.Document())
	if err != nil {
		return nil, fmt.Errorf("apicontract: the OpenAPI document does not load: %w", err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		return nil, fmt.Errorf("apicontract: the OpenAPI document does not load: %w", errors.Join(errs...))
	}
	return &Contract{v: v}, nil
}

// ValidateDocument checks the document itself against the OpenAPI 3.1
// schema and returns what is wrong with it.
func (c *Contract) ValidateDocument() []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []error
	if ok, errs := c.v.ValidateDocument(); !ok {
		for _, e := range errs {
			out = append(out, e)
		}
	}
	return out
}

// Validate checks one answer to req, whose body is body (resp.Body is not
// read), against the document. An answer to a path or method the document
// does not have must be a problem (type, title, status and at most a
// detail). It returns nil if the answer matches, else every mismatch.
func (c *Contract) Validate(req *http.Request, resp *http.Response, body []byte) error {
	vreq := req.Clone(context.Background())
	vreq.Body = http.NoBody
	vresp := *resp
	vresp.Body = io.NopCloser(bytes.NewReader(body))
	c.mu.Lock()
	ok, errs := c.v.ValidateHttpResponse(vreq, &vresp)
	c.mu.Unlock()
	if ok {
		return nil
	}
	if pathUnknown(errs) {
		return CheckProblem(resp, body)
	}
	var all []error
	for _, e := range errs {
		all = append(all, fmt.Errorf("%s %s → %d does not match the OpenAPI document: %w", req.Method, req.URL.Path, resp.StatusCode, e))
	}
	return errors.Join(all...)
}

// pathUnknown reports whether every error says the document has no such
// path or operation.
func pathUnknown(errs []*vErrors.ValidationError) bool {
	for _, e := range errs {
		if !e.IsPathMissingError() && !e.IsOperationMissingError() {
			return false
		}
	}
	return len(errs) > 0
}

// CheckProblem checks that an answer is an RFC 9457 problem as API.md
// has them: application/problem+json with type, title and the answer's
// status, and nothing but those and a detail.
func CheckProblem(resp *http.Response, body []byte) error {
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		return fmt.Errorf("answer %d has Content-Type %q, want a problem", resp.StatusCode, ct)
	}
	var p struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil || p.Type == "" || p.Title == "" || p.Status != resp.StatusCode {
		return fmt.Errorf("answer %d is not a problem: %.500s", resp.StatusCode, body)
	}
	return nil
}

// Transport returns an http.RoundTripper that sends requests with base
// (nil: http.DefaultTransport) and validates every answer before the
// caller sees it, reporting each mismatch with t.Errorf. The answer's
// body is read whole and handed on unchanged.
func (c *Contract) Transport(t testing.TB, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &validating{t: t, base: base, c: c}
}

type validating struct {
	t    testing.TB
	base http.RoundTripper
	c    *Contract
}

func (v *validating) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := v.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err := v.c.Validate(req, resp, body); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			v.t.Errorf("%s\nbody: %.500s", line, body)
		}
	}
	return resp, nil
}
