package apicontract_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/linkmonitor/lms/internal/apicontract"
)

// TestValidate: answers that match the document pass; a wrong status, a
// wrong shape, and an answer outside the document that is not a problem
// fail.
func TestValidate(t *testing.T) {
	c, err := apicontract.Load()
	if err != nil {
		t.Fatal(err)
	}
	if errs := c.ValidateDocument(); len(errs) > 0 {
		t.Fatalf("the document: %v", errs)
	}
	problem := `{"type":"/api/docs#problem-not-found","title":"No such resource","status":404,"detail":"There is no such path."}`
	for _, tc := range []struct {
		name, method, path, ct, body string
		status                       int
		ok                           bool
	}{
		{"documented problem", "GET", "/api/v1/client", "application/problem+json", strings.Replace(strings.Replace(problem, "404", "401", 1), "not-found", "unauthorized", 1), 401, true},
		{"undocumented status", "GET", "/api/v1/client", "application/problem+json", strings.Replace(problem, "404", "418", 1), 418, false},
		{"wrong shape", "GET", "/api/v1/client", "application/json", `{"id": 5}`, 200, false},
		{"unknown path, a problem", "GET", "/api/v1/nothing", "application/problem+json", problem, 404, true},
		{"unknown path, no problem", "GET", "/api/v1/nothing", "text/plain", "404 page not found", 404, false},
		{"unknown path, extra field", "GET", "/api/v1/nothing", "application/problem+json", strings.Replace(problem, `"detail"`, `"stack":"x","detail"`, 1), 404, false},
	} {
		req, _ := http.NewRequest(tc.method, "http://127.0.0.1"+tc.path, nil)
		resp := &http.Response{StatusCode: tc.status, Header: http.Header{"Content-Type": {tc.ct}}, Body: io.NopCloser(strings.NewReader("unread")), Request: req}
		err := c.Validate(req, resp, []byte(tc.body))
		if (err == nil) != tc.ok {
			t.Errorf("%s: Validate = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}
