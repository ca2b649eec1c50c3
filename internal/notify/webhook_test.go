package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/linkmonitor/lms/internal/netguard"
	"github.com/linkmonitor/lms/internal/secret"
	"github.com/linkmonitor/lms/internal/stdwebhook"
)

var t0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func testDeliverer() *Deliverer {
	return New(nil, Config{Now: func() time.Time { return t0 }, ProcessID: "me", Sealer: secret.NewSealer("admin secret")})
}

// feedDue serves a client only while its callback's rounds do not come.
func TestFeedDue(t *testing.T) {
	t.Parallel()
	h := testDeliverer()
	on := Client{ID: "c", URL: "https://hooks.example/in", CallbackURL: "https://site.example/cb", Notify: true}
	cases := []struct {
		name string
		edit func(*Client)
		want bool
	}{
		{"callback works", func(*Client) {}, false},
		{"callback backing off", func(c *Client) { c.NotifyFailures, c.NextNotify = 2, t0.Add(time.Minute) }, true},
		{"back-off over", func(c *Client) { c.NotifyFailures, c.NextNotify = 2, t0 }, false},
		{"callback switched off by failures", func(c *Client) { c.Notify, c.NotifyDisabledAt = false, t0.Add(-time.Hour) }, true},
		{"notifications switched off by the client", func(c *Client) { c.Notify = false }, false},
		{"no callback", func(c *Client) { c.CallbackURL, c.Notify, c.NotifyDisabledAt = "", false, t0 }, false},
		{"webhook off", func(c *Client) { c.Notify, c.NotifyDisabledAt, c.DisabledAt = false, t0, t0 }, false},
		{"no webhook", func(c *Client) { c.Notify, c.NotifyDisabledAt, c.URL = false, t0, "" }, false},
		{"leased elsewhere", func(c *Client) {
			c.Notify, c.NotifyDisabledAt, c.LeaseHolder, c.LeaseUntil = false, t0, "other", t0.Add(time.Second)
		}, false},
		{"leased here", func(c *Client) {
			c.Notify, c.NotifyDisabledAt, c.LeaseHolder, c.LeaseUntil = false, t0, "me", t0.Add(time.Second)
		}, true},
		{"lease ended", func(c *Client) { c.Notify, c.NotifyDisabledAt, c.LeaseHolder, c.LeaseUntil = false, t0, "other", t0 }, true},
	}
	for _, tc := range cases {
		c := on
		tc.edit(&c)
		if got := h.feedDue(c, t0); got != tc.want {
			t.Errorf("%s: feedDue = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestErrorText(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("dial: %w", netguard.ErrPolicy), "the webhook URL's address is not allowed (private or special-purpose network)"},
		{context.DeadlineExceeded, "the receiver did not answer in time"},
		{&net.OpError{Op: "read", Err: timeout{}}, "the receiver did not answer in time"},
		{context.Canceled, "the server stopped during the delivery"},
		{&net.DNSError{Err: "no such host", Name: "hooks.example"}, "the webhook URL's host name cannot be resolved"},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, "the receiver cannot be reached (connection refused or no route)"},
		{errors.New("EOF"), "the connection failed before the receiver answered"},
	}
	for _, tc := range cases {
		if got := errorText(tc.err); got != tc.want {
			t.Errorf("errorText(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

type timeout struct{}

func (timeout) Error() string   { return "i/o timeout" }
func (timeout) Timeout() bool   { return true }
func (timeout) Temporary() bool { return true }

// keys signs with the secret and, until OldUntil, with the previous one; a
// secret that cannot be unsealed is an error, not an unsigned delivery.
func TestKeys(t *testing.T) {
	t.Parallel()
	h := testDeliverer()
	seal := func(id string) (string, []byte) {
		s := stdwebhook.NewSecret()
		k, err := stdwebhook.Key(s)
		if err != nil {
			t.Fatal(err)
		}
		return h.cfg.Sealer.Seal(SealID(id), s), k
	}
	cur, curKey := seal("c")
	old, oldKey := seal("c")
	c := Client{ID: "c", Secret: cur, OldSecret: old, OldUntil: t0.Add(time.Second)}
	if keys, err := h.keys(c); err != nil || len(keys) != 2 || !slices.Equal(keys[0], curKey) || !slices.Equal(keys[1], oldKey) {
		t.Errorf("during the rotation: keys %d, %v; want both", len(keys), err)
	}
	c.OldUntil = t0
	if keys, err := h.keys(c); err != nil || len(keys) != 1 || !slices.Equal(keys[0], curKey) {
		t.Errorf("after the rotation: keys %d, %v; want the new one", len(keys), err)
	}
	if keys, err := h.keys(Client{ID: "c"}); err != nil || len(keys) != 0 {
		t.Errorf("before the first secret: keys %d, %v; want none", len(keys), err)
	}
	other, _ := seal("d") // sealed for another client
	if _, err := h.keys(Client{ID: "c", Secret: other}); !errors.Is(err, errSecretSealed) {
		t.Errorf("another client's secret: %v, want errSecretSealed", err)
	}
}

// NewEvent's body is the documented envelope; the event is due at once.
func TestNewEvent(t *testing.T) {
	t.Parallel()
	ev, err := NewEvent("c", EventLinksSynced, t0, syncedData{SyncID: "s", Page: 2, Last: true, Links: []linkChange{}})
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID == "" || ev.ClientID != "c" || ev.Type != EventLinksSynced || !ev.Created.Equal(t0) || !ev.NextAttempt.Equal(t0) || !ev.Pending() {
		t.Errorf("event %+v", ev.Delivery)
	}
	var got map[string]any
	if err := json.Unmarshal(ev.Body, &got); err != nil {
		t.Fatal(err)
	}
	want := `{"data":{"last":true,"links":[],"page":2,"sync_id":"s"},"timestamp":"2026-12-07T12:00:00Z","type":"links.synced"}`
	if b, _ := json.Marshal(got); string(b) != want {
		t.Errorf("body %s, want %s", b, want)
	}
}
