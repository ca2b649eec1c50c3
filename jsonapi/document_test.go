package jsonapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/linkmonitor/lms/internal/guard"
	"github.com/linkmonitor/lms/jsonapi"
)

// TestDocument: the document is valid OpenAPI 3.1, served without
// credentials, and rendered at /api/docs.
func TestDocument(t *testing.T) {
	for _, err := range docValidator(t).ValidateDocument() {
		t.Errorf("document: %v", err)
	}
	e := newEnv(t, stores[0].open(t), guard.Config{})
	a := e.do("GET", "/api/v1/openapi.json", noAuth, nil).want(t, 200)
	if !bytes.Equal(a.body, jsonapi.Document()) {
		t.Fatal("the served document is not the embedded one")
	}
	d := e.do("GET", "/api/docs", noAuth, nil).want(t, 200)
	if !strings.Contains(string(d.body), "/api/v1/openapi.json") || !strings.Contains(string(d.body), `id="problem-invalid"`) {
		t.Fatalf("/api/docs: %.200s", d.body)
	}

	// Content negotiation: what a browser, curl or an OpenAPI tool sends
	// is served; an Accept that admits nothing the path serves is a 406
	// (documented, so that every operation has its 4XX).
	accept := func(v string) auth { return func(r *http.Request) { r.Header.Set("Accept", v) } }
	for path, tc := range map[string]struct{ ok, refused []string }{
		"/api/v1/openapi.json": {
			ok:      []string{"*/*", "application/json", "application/vnd.oai.openapi+json", "application/*;q=0.5", "application/yaml, application/json;q=0.1"},
			refused: []string{"application/yaml", "text/html", "application/json;q=0", "nonsense"},
		},
		"/api/docs": {
			ok:      []string{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "text/*"},
			refused: []string{"application/json", "text/html;q=0"},
		},
	} {
		for _, a := range tc.ok {
			e.do("GET", path, accept(a), nil).want(t, 200)
		}
		for _, a := range tc.refused {
			e.do("GET", path, accept(a), nil).want(t, 406).problem(t)
		}
	}
}

// TestValidatorCatchesDrift: the validating transport of the tests fails
// answers that do not match the document, so that it cannot pass
// everything.
func TestValidatorCatchesDrift(t *testing.T) {
	v := docValidator(t)
	req, _ := http.NewRequest("GET", "http://127.0.0.1/api/v1/client", nil)
	for _, tc := range []struct {
		name, ct, body string
		status         int
	}{
		{"wrong type", "application/json", `{"id": 5}`, 200},
		{"undocumented field", "application/json", strings.Replace(validClient, `"tokens":1`, `"tokens":1,"secret":"x"`, 1), 200},
		{"digest not one of the three", "application/json", strings.Replace(validClient, `"digest":"daily"`, `"digest":"hourly"`, 1), 200},
		{"undocumented status", "application/problem+json", `{"type":"x","title":"x","status":418}`, 418},
	} {
		resp := &http.Response{StatusCode: tc.status, Header: http.Header{"Content-Type": {tc.ct}}, Body: io.NopCloser(strings.NewReader(tc.body)), Request: req}
		if v.Validate(req, resp, []byte(tc.body)) == nil {
			t.Errorf("%s: the validator passes it", tc.name)
		}
	}
	resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(validClient)), Request: req}
	if err := v.Validate(req, resp, []byte(validClient)); err != nil {
		t.Fatalf("a valid answer fails: %v", err)
	}
}

const validClient = `{"id":"c","contact_name":null,"contact_email":"c@example.org","callback_url":null,"webhook_url":null,"notifications":true,"created":"2026-12-01T09:00:00Z","counts":{"ok":0,"temporary_unavailable":0,"unavailable":0,"unsupported_protocol":0,"unknown":0,"total":0},"notify_failures":0,"last_notified":null,"last_notify_error":null,"notifications_disabled_at":null,"last_sync":null,"last_sync_error":null,"tokens":1,"digest":"daily"}`

// TestLint runs the Redocly linter over the document when npx works
// (it fetches @redocly/cli 2.77.0 once): no errors allowed. Run it with
// LMS_LINT=1; without, it is skipped, as where node is missing.
func TestLint(t *testing.T) {
	if os.Getenv("LMS_LINT") == "" {
		t.Skip("set LMS_LINT=1 to lint the document with npx @redocly/cli")
	}
	npx, err := exec.LookPath("npx")
	if err != nil {
		t.Skip("npx is not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, npx, "--yes", "@redocly/cli@2.77.0", "lint", "--format", "stylish", filepath.Join(".", "openapi.json")).CombinedOutput()
	if err != nil {
		for _, offline := range []string{"ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ETIMEDOUT", "network request"} {
			if strings.Contains(string(out), offline) {
				t.Skipf("npx cannot fetch @redocly/cli: %s", offline)
			}
		}
		t.Fatalf("redocly lint: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
