package lms

import (
	"context"
	"fmt"
	"time"

	"github.com/linkmonitor/lms/internal/logsafe"
	"github.com/linkmonitor/lms/internal/notify"
	"github.com/linkmonitor/lms/internal/stdwebhook"
	"github.com/linkmonitor/lms/internal/validate"
)

// The webhook event types (API.md, "Webhooks").
const (
	EventLinksChanged = notify.EventLinksChanged // a batch of state changes of the client's links
	EventLinksSynced  = notify.EventLinksSynced  // one page of the full state list after a sync
	EventWebhookTest  = notify.EventTest         // sent on request (TestWebhook)
)

// MailWebhookDisabled says that the webhook was turned off after repeated
// failed deliveries.
const MailWebhookDisabled MailKind = notify.KindWebhookDisabled

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
		e.hooks.RetryNow(ctx, clientID)
	}
	e.hooks.Poke()
	return nil
}

// RotateWebhookSecret makes a new signing secret for the client's webhook
// and returns it ("whsec_" and the base64 of 32 random bytes); lms keeps it
// only sealed. The previous secret, if any, signs as well for
// WebhookRotationOverlap, so deliveries carry both signatures meanwhile.
func (e *Engine) RotateWebhookSecret(ctx context.Context, clientID string) (string, error) {
	s := stdwebhook.NewSecret()
	sealed := e.sealer.Seal(notify.SealID(clientID), s)
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
	d, err := e.hooks.Test(ctx, hookClient(c))
	if err != nil {
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
