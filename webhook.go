package lms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/linkmonitor/lms/internal/logsafe"
	"github.com/linkmonitor/lms/internal/stdwebhook"
	"github.com/linkmonitor/lms/internal/validate"
)

// The webhook event types (API.md, "Webhooks").
const (
	EventLinksChanged = "links.changed" // a batch of state changes of the client's links
	EventLinksSynced  = "links.synced"  // one page of the full state list after a sync
	EventWebhookTest  = "webhook.test"  // sent on request (TestWebhook)
)

// MailWebhookDisabled says that the webhook was turned off after repeated
// failed deliveries.
const MailWebhookDisabled MailKind = "webhook disabled"

// WebhookRotationOverlap is how long the previous secret keeps signing
// after RotateWebhookSecret, so that receivers can switch without losing a
// delivery.
const WebhookRotationOverlap = 24 * time.Hour

// SetWebhookURL sets the URL the client's webhook events are POSTed to; ""
// removes the webhook. Setting a URL turns a webhook that repeated failures
// turned off on again (with its failure count reset), so that the events it
// kept are delivered. A URL that is not http(s) with a host gives
// ErrInvalid; whether its address may be reached (the SSRF rules of
// callbacks) is decided at each delivery.
func (e *Engine) SetWebhookURL(ctx context.Context, clientID, rawURL string) error {
	if rawURL != "" {
		if err := validate.CallbackURL(rawURL); err != nil {
			return fmt.Errorf("lms: webhook URL: %w: %w", ErrInvalid, err)
		}
	}
	wasOff := false
	_, err := e.store.UpdateClient(ctx, clientID, func(c *Client) error {
		wasOff = !c.WebhookDisabledAt.IsZero()
		c.WebhookURL = rawURL
		c.WebhookFailures, c.WebhookDisabledAt, c.WebhookLastError = 0, time.Time{}, ""
		return nil
	})
	if err != nil {
		return fmt.Errorf("lms: set webhook URL: %w", err)
	}
	e.log.Info("webhook URL set", "client", clientID, "url", logsafe.URL(rawURL))
	if wasOff && rawURL != "" {
		e.hooks.retryNow(ctx, clientID)
	}
	e.hooks.poke()
	return nil
}

// RotateWebhookSecret makes a new signing secret for the client's webhook
// and returns it ("whsec_" and the base64 of 32 random bytes); lms keeps it
// only sealed. The previous secret, if any, signs as well for
// WebhookRotationOverlap, so deliveries carry both signatures meanwhile.
func (e *Engine) RotateWebhookSecret(ctx context.Context, clientID string) (string, error) {
	s := stdwebhook.NewSecret()
	sealed := e.sealer.Seal(webhookSealID(clientID), s)
	now := e.now()
	_, err := e.store.UpdateClient(ctx, clientID, func(c *Client) error {
		c.WebhookOldSecret, c.WebhookOldUntil = "", time.Time{}
		if c.WebhookSecret != "" {
			c.WebhookOldSecret, c.WebhookOldUntil = c.WebhookSecret, now.Add(WebhookRotationOverlap)
		}
		c.WebhookSecret = sealed
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("lms: rotate webhook secret: %w", err)
	}
	e.log.Info("webhook secret rotated", "client", clientID)
	return s, nil
}

// TestWebhook sends a webhook.test event to the client's webhook now, once
// (it is not retried and does not count toward turning the webhook off),
// and returns its delivery as logged. A client without a webhook URL gives
// ErrInvalid; a failed attempt is not an error: the delivery says why.
func (e *Engine) TestWebhook(ctx context.Context, clientID string) (WebhookDelivery, error) {
	c, err := e.store.GetClient(ctx, clientID)
	if err != nil {
		return WebhookDelivery{}, fmt.Errorf("lms: test webhook: %w", err)
	}
	if c.WebhookURL == "" {
		return WebhookDelivery{}, fmt.Errorf("lms: test webhook: %w: the client has no webhook URL", ErrInvalid)
	}
	ev, err := newEvent(c.ID, EventWebhookTest, e.now(), map[string]string{"client_id": c.ID})
	if err != nil {
		return WebhookDelivery{}, err
	}
	ev.NextAttempt = time.Time{} // logged, never claimed
	if err := e.store.EnqueueWebhook(ctx, ev, nil, false); err != nil {
		return WebhookDelivery{}, fmt.Errorf("lms: test webhook: %w", err)
	}
	d := e.hooks.attempt(ctx, c, ev)
	d.NextAttempt = time.Time{}
	if err := e.store.RecordWebhookAttempt(context.WithoutCancel(ctx), c.ID, d); err != nil {
		return d, fmt.Errorf("lms: test webhook: %w", err)
	}
	return d, nil
}

// WebhookDeliveries returns the client's last webhook deliveries, newest
// first: at most limit (1..WebhookLogSize; other values mean
// WebhookLogSize), plus none of the older ones.
func (e *Engine) WebhookDeliveries(ctx context.Context, clientID string, limit int) ([]WebhookDelivery, error) {
	if limit <= 0 || limit > WebhookLogSize {
		limit = WebhookLogSize
	}
	ds, err := e.store.WebhookDeliveries(ctx, clientID, limit)
	if err != nil {
		return nil, fmt.Errorf("lms: webhook deliveries: %w", err)
	}
	return ds, nil
}

// retryNow makes the oldest event of a webhook that was off due at once
// (its back-off may have had minutes to run); nothing is in flight for a
// webhook that is off.
func (h *webhooks) retryNow(ctx context.Context, clientID string) {
	ds, err := h.store.WebhookDeliveries(ctx, clientID, 0)
	if err != nil {
		h.log.Warn("listing webhook events", "client", clientID, "err", err)
		return
	}
	for i := len(ds) - 1; i >= 0; i-- {
		if d := ds[i]; d.Pending() {
			if now := h.cfg.Now(); d.NextAttempt.After(now) {
				d.NextAttempt = now
				if err := h.store.RecordWebhookAttempt(ctx, clientID, d); err != nil {
					h.log.Warn("making a webhook event due", "client", clientID, "err", err)
				}
			}
			return
		}
	}
}

// webhookSealID is what a webhook secret is sealed for: bound to the
// client, and never to be opened as its password.
func webhookSealID(clientID string) string { return "webhook\x00" + clientID }

// webhookOn reports whether c's webhook takes events: a URL, not turned
// off.
func webhookOn(c Client) bool { return c.WebhookURL != "" && c.WebhookDisabledAt.IsZero() }

// eventBody is the JSON body of every delivery.
type eventBody struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      any    `json:"data"`
}

// linkChange is one link in links.changed and links.synced.
type linkChange struct {
	URL               string      `json:"url"`
	State             State       `json:"state"`
	Reason            string      `json:"reason"`
	Code              int         `json:"code"`
	FinalURL          *string     `json:"final_url"`
	PermanentRedirect bool        `json:"permanent_redirect"`
	Sources           []sourceRef `json:"sources"`
}

// sourceRef is a SourceRef on the wire.
type sourceRef struct {
	ID      string  `json:"id"`
	Title   string  `json:"title"`
	EditURL string  `json:"edit_url"`
	Owner   *string `json:"owner"`
}

// changedData is the data of links.changed.
type changedData struct {
	Changes []linkChange `json:"changes"`
}

// syncedData is the data of links.synced: pages of one sync share SyncID;
// Last marks the final page.
type syncedData struct {
	SyncID string       `json:"sync_id"`
	Page   int          `json:"page"`
	Last   bool         `json:"last"`
	Links  []linkChange `json:"links"`
}

// newEvent makes an event due at once, with a new id.
func newEvent(clientID, typ string, now time.Time, data any) (WebhookEvent, error) {
	body, err := json.Marshal(eventBody{Type: typ, Timestamp: now.UTC().Format(time.RFC3339Nano), Data: data})
	if err != nil {
		return WebhookEvent{}, fmt.Errorf("lms: webhook event: %w", err)
	}
	return WebhookEvent{
		WebhookDelivery: WebhookDelivery{ID: stdwebhook.NewID(), ClientID: clientID, Type: typ, Created: now, NextAttempt: now},
		Body:            body,
	}, nil
}

// changes describes updates with their links' details and, when the
// store keeps sources, where each is used. links may hold details the
// caller has already read; missing ones are looked up.
func (h *webhooks) changes(ctx context.Context, clientID string, ups []Update, links map[string]Link) ([]linkChange, error) {
	urls := make([]string, 0, len(ups))
	var missing []string
	for _, u := range ups {
		urls = append(urls, u.URL)
		if _, ok := links[u.URL]; !ok {
			missing = append(missing, u.URL)
		}
	}
	if len(missing) > 0 {
		found, err := h.store.LookupLinks(ctx, missing)
		if err != nil {
			return nil, err
		}
		if links == nil {
			links = found
		} else {
			for k, v := range found {
				links[k] = v
			}
		}
	}
	var sources map[string][]SourceRef
	if sl, ok := h.store.(SourceLookup); ok {
		var err error
		if sources, err = sl.LinkSources(ctx, clientID, urls); err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	out := make([]linkChange, len(ups))
	for i, u := range ups {
		l := links[u.URL]
		ch := linkChange{URL: u.URL, State: u.State, Reason: u.Reason, Code: l.Code, PermanentRedirect: l.Permanent, Sources: []sourceRef{}}
		if l.FinalURL != "" {
			f := l.FinalURL
			ch.FinalURL = &f
		}
		for _, s := range sources[u.URL] {
			r := sourceRef{ID: s.ID, Title: s.Title, EditURL: s.EditURL}
			if s.Owner != "" {
				o := s.Owner
				r.Owner = &o
			}
			ch.Sources = append(ch.Sources, r)
		}
		out[i] = ch
	}
	return out, nil
}

// handOff gives the chunk ps of c's pending changes to its webhook as one
// links.changed event (the notifier calls it under the client's notify
// lease, before the callback's push). Without a callback the changes are
// acknowledged in the same step; with one, they stay pending for it and
// only those not handed before go into the event. A client whose webhook
// is off keeps its changes pending. It returns how many changes the event
// carries.
func (h *webhooks) handOff(ctx context.Context, c Client, ps []PendingUpdate) (int, error) {
	if !webhookOn(c) || len(ps) == 0 {
		return 0, nil
	}
	callback := c.CallbackURL != ""
	fresh := ps
	if callback {
		var err error
		if fresh, err = h.store.UnhandedUpdates(ctx, c.ID, ps); err != nil {
			return 0, err
		}
		if len(fresh) == 0 {
			return 0, nil
		}
	}
	ups := make([]Update, len(fresh))
	for i, p := range fresh {
		ups[i] = p.Update
	}
	chs, err := h.changes(ctx, c.ID, ups, nil)
	if err != nil {
		return 0, err
	}
	ev, err := newEvent(c.ID, EventLinksChanged, h.cfg.Now(), changedData{Changes: chs})
	if err != nil {
		return 0, err
	}
	if err := h.store.EnqueueWebhook(ctx, ev, fresh, !callback); err != nil {
		return 0, err
	}
	h.poke()
	return len(fresh), nil
}

// synced queues one page of the full state list after a sync of c as a
// links.synced event (the syncer calls it per page).
func (h *webhooks) synced(ctx context.Context, c Client, syncID string, page int, last bool, ls []Link) error {
	if !webhookOn(c) {
		return nil
	}
	ups := make([]Update, len(ls))
	byURL := make(map[string]Link, len(ls))
	for i, l := range ls {
		ups[i] = l.Update()
		byURL[l.URL] = l
	}
	chs, err := h.changes(ctx, c.ID, ups, byURL)
	if err != nil {
		return err
	}
	ev, err := newEvent(c.ID, EventLinksSynced, h.cfg.Now(), syncedData{SyncID: syncID, Page: page, Last: last, Links: chs})
	if err != nil {
		return err
	}
	if err := h.store.EnqueueWebhook(ctx, ev, nil, false); err != nil {
		return err
	}
	h.poke()
	return nil
}

// webhookDisabledMail tells the contact that the webhook was turned off.
func webhookDisabledMail(cfg Config, c Client) Message {
	body := fmt.Sprintf("Hello %s,\n\n"+
		"the Link Monitoring Server at %s/ could not deliver webhook events to\n"+
		"your client %q %d times in a row, and has turned its webhook off.\n\n"+
		"Webhook URL:         %s\n"+
		"Switched off at:     %s\n"+
		"Last error:          %s\n\n"+
		"No event is lost: they wait, in order. Once the receiver works again, set\n"+
		"the webhook URL again (PATCH /api/v1/client) and they will be delivered.\n",
		c.ContactName, cfg.PublicURL, c.ID, c.WebhookFailures, logsafe.URL(c.WebhookURL), fmtTime(c.WebhookDisabledAt), c.WebhookLastError)
	return Message{To: contact(c), Subject: fmt.Sprintf("Webhook of client id %q turned off", c.ID), Body: body}
}
