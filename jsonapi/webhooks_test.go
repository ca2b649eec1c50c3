package jsonapi_test

import (
	"strings"
	"testing"

	"github.com/linkmonitor/lms/internal/guard"
)

// TestWebhookPaths: a secret is shown once as whsec_…, a test delivery is
// made at once and appears in the log, a client without a webhook URL is
// told so; every answer matches the document.
func TestWebhookPaths(t *testing.T) {
	e := newEnv(t, stores[0].open(t), guard.Config{})
	me := bearer(e.newClient("c"))
	p := e.do("POST", "/api/v1/client/webhook/test", me, nil).want(t, 422).problem(t)
	if !p.names("webhook_url") {
		t.Fatalf("%+v", p)
	}
	var sec struct{ Secret string }
	e.do("POST", "/api/v1/client/webhook/secret", me, nil).want(t, 201).json(t, &sec)
	if !strings.HasPrefix(sec.Secret, "whsec_") {
		t.Fatalf("secret %q", sec.Secret)
	}
	// A receiver that cannot be reached (port 9 of loopback, which the
	// SSRF rules refuse as well): the delivery says why.
	var c struct {
		WebhookURL *string `json:"webhook_url"`
	}
	e.do("PATCH", "/api/v1/client", me, map[string]any{"webhook_url": "http://127.0.0.1:9/hook"}).want(t, 200).json(t, &c)
	if c.WebhookURL == nil || *c.WebhookURL != "http://127.0.0.1:9/hook" {
		t.Fatalf("webhook_url %v", c.WebhookURL)
	}
	var d struct {
		ID    string  `json:"id"`
		Type  string  `json:"type"`
		Error *string `json:"error"`
	}
	e.do("POST", "/api/v1/client/webhook/test", me, nil).want(t, 202).json(t, &d)
	if d.Type != "webhook.test" || d.ID == "" || d.Error == nil {
		t.Fatalf("test delivery %+v", d)
	}
	var log struct {
		Deliveries []struct {
			ID string `json:"id"`
		} `json:"deliveries"`
	}
	e.do("GET", "/api/v1/webhook/deliveries?limit=5", me, nil).want(t, 200).json(t, &log)
	if len(log.Deliveries) != 1 || log.Deliveries[0].ID != d.ID {
		t.Fatalf("deliveries %+v", log)
	}
	e.do("PATCH", "/api/v1/client", me, map[string]any{"webhook_url": nil}).want(t, 200).json(t, &c)
	if c.WebhookURL != nil {
		t.Fatalf("webhook_url after null: %v", *c.WebhookURL)
	}
	e.do("PATCH", "/api/v1/client", me, map[string]any{"webhook_url": "ftp://x.example/"}).want(t, 422).problem(t)
}
