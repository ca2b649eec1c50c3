package jsonapi_test

import (
	"context"
	"testing"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/guard"
)

// TestDigestSetting: a client created over the JSON API gets a daily
// digest unless it asks otherwise; GET and PATCH of the client and of the
// admin paths read and change it; a bad value is a 422 naming the field
// and changes nothing; a client registered over XML-RPC starts off. Every
// answer is validated against the OpenAPI document (the harness's
// transport).
func TestDigestSetting(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := newEnv(t, st.open(t), guard.Config{})
			me := bearer(e.newClient("wp-main"))
			type digestOnly struct {
				Digest string `json:"digest"`
			}
			var c digestOnly
			e.do("GET", "/api/v1/client", me, nil).want(t, 200).json(t, &c)
			if c.Digest != "daily" {
				t.Fatalf("a new JSON API client: digest %q, want daily", c.Digest)
			}
			e.do("PATCH", "/api/v1/client", me, map[string]any{"digest": "weekly"}).want(t, 200).json(t, &c)
			if c.Digest != "weekly" {
				t.Fatalf("PATCH weekly answered digest %q", c.Digest)
			}
			for _, bad := range []any{"hourly", "", nil, 1} {
				p := e.do("PATCH", "/api/v1/client", me, map[string]any{"digest": bad, "notifications": false}).want(t, 422).problem(t)
				if !p.names("/digest") {
					t.Errorf("PATCH digest %v: the problem does not name /digest: %+v", bad, p)
				}
			}
			got, err := e.e.Client(context.Background(), "wp-main")
			if err != nil || got.Digest != lms.DigestWeekly || !got.Notify {
				t.Fatalf("after the refused patches: digest %q, notify %v, err %v; want weekly, true", got.Digest, got.Notify, err)
			}
			e.do("PATCH", "/api/v1/admin/clients/wp-main", admin, map[string]any{"digest": "off"}).want(t, 200).json(t, &c)
			if c.Digest != "off" {
				t.Fatalf("admin PATCH off answered digest %q", c.Digest)
			}
			e.do("GET", "/api/v1/admin/clients/wp-main", admin, nil).want(t, 200).json(t, &c)
			if c.Digest != "off" {
				t.Fatalf("admin GET: digest %q, want off", c.Digest)
			}

			var made struct{ Client digestOnly }
			e.do("POST", "/api/v1/admin/clients", admin, map[string]any{"id": "weekly-site", "contact_email": "w@example.org", "digest": "weekly"}).want(t, 201).json(t, &made)
			if made.Client.Digest != "weekly" {
				t.Fatalf("created with digest weekly: %q", made.Client.Digest)
			}
			p := e.do("POST", "/api/v1/admin/clients", admin, map[string]any{"id": "bad-site", "contact_email": "b@example.org", "digest": "monthly"}).want(t, 422).problem(t)
			if !p.names("/digest") {
				t.Errorf("create with digest monthly: the problem does not name /digest: %+v", p)
			}
			if _, err := e.e.Client(context.Background(), "bad-site"); err == nil {
				t.Errorf("a refused create made the client")
			}

			// registerClient (XML-RPC) leaves digests off.
			if _, err := e.e.RegisterClient(context.Background(), adminSecret, lms.Registration{ID: "plone", ContactEmail: "p@example.org", CallbackURL: "http://plone.example/db"}); err != nil {
				t.Fatal(err)
			}
			e.do("GET", "/api/v1/admin/clients/plone", admin, nil).want(t, 200).json(t, &c)
			if c.Digest != "off" {
				t.Fatalf("a client of registerClient: digest %q, want off", c.Digest)
			}
		})
	}
}
