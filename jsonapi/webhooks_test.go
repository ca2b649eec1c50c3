package jsonapi_test

import (
	"context"
	"testing"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/guard"
)

// TestWebhooksMissing: while the Engine has no webhook side, its paths
// answer 503 with Retry-After, and setting a webhook URL changes nothing.
func TestWebhooksMissing(t *testing.T) {
	e := newEnv(t, stores[0].open(t), guard.Config{})
	if _, ok := any(e.e).(interface {
		RotateWebhookSecret(ctx context.Context, clientID string) (string, error)
		TestWebhook(ctx context.Context, clientID string) (lms.WebhookDelivery, error)
	}); ok {
		t.Skip("the Engine has its webhook side; its own tests cover these paths")
	}
	me := bearer(e.newClient("c"))
	for _, c := range []struct{ method, path string }{
		{"POST", "/api/v1/client/webhook/secret"},
		{"POST", "/api/v1/client/webhook/test"},
		{"GET", "/api/v1/webhook/deliveries"},
	} {
		a := e.do(c.method, c.path, me, nil).want(t, 503)
		a.problem(t)
		if a.header.Get("Retry-After") == "" {
			t.Fatalf("%s %s: no Retry-After", c.method, c.path)
		}
	}
	e.do("PATCH", "/api/v1/client", me, map[string]any{"webhook_url": "https://cms.example/hook", "contact_name": "New"}).want(t, 503).problem(t)
	if c, _ := e.e.Client(context.Background(), "c"); c.ContactName != "Web team" {
		t.Fatalf("a refused PATCH changed the contact: %q", c.ContactName)
	}
}
