package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"github.com/linkmonitor/lms/internal/backoff"
	"github.com/linkmonitor/lms/internal/netguard"
	"github.com/linkmonitor/lms/internal/stdwebhook"
)

// serve delivers the client's due events in order until one fails or none
// is due.
func (h *Deliverer) serve(ctx context.Context, id string) {
	for ctx.Err() == nil {
		c, err := h.store.Client(ctx, id)
		if err != nil || !On(c) {
			return
		}
		now := h.cfg.Now()
		ev, ok, err := h.store.Claim(ctx, id, h.cfg.ProcessID, now, attemptTimeout+time.Minute)
		if err != nil {
			if ctx.Err() == nil {
				h.log.Error("claiming a webhook event", "client", id, "err", err)
			}
			return
		}
		if !ok {
			return
		}
		d := h.attempt(ctx, c, ev)
		if ctx.Err() != nil && d.Delivered.IsZero() {
			// Shutting down: not the receiver's fault. The event goes
			// back as it was, its hold ended, so that the next process
			// tries it at once (after a crash, the hold's end does).
			if err := h.store.RecordWebhookAttempt(context.WithoutCancel(ctx), id, ev.Delivery); err != nil {
				h.log.Warn("handing a webhook event back", "client", id, "err", err)
			}
			return
		}
		if !h.record(ctx, c, d) {
			return
		}
	}
}

// record stores an attempt of the queue and the client's bookkeeping, and
// reports whether the queue may go on.
func (h *Deliverer) record(ctx context.Context, c Client, d Delivery) bool {
	now := h.cfg.Now()
	ctx = context.WithoutCancel(ctx)
	if d.Delivered.IsZero() {
		h.failures.Add(1)
		failures := c.Failures + 1
		d.NextAttempt = now.Add(backoff.Retry(h.cfg.Interval, h.cfg.BackoffMax, failures, rand.Float64()))
	}
	if err := h.store.RecordWebhookAttempt(ctx, c.ID, d); err != nil {
		h.log.Error("recording a webhook attempt", "client", c.ID, "event", d.ID, "err", err)
		return false
	}
	if !d.Delivered.IsZero() {
		h.delivered.Add(1)
		if c.Failures > 0 || c.LastError != "" {
			h.updateClient(ctx, c.ID, func(c *Client) { c.Failures, c.LastError = 0, "" })
		}
		return true
	}
	disabled := false
	var after Client
	h.updateClient(ctx, c.ID, func(cl *Client) {
		cl.Failures++
		cl.LastError = d.Error
		if cl.Failures >= h.cfg.MaxFailures && On(*cl) {
			cl.DisabledAt, disabled = now, true
			cl.Outbox = append(cl.Outbox, Mail{Kind: KindWebhookDisabled, Queued: now})
		}
		after = *cl
	})
	h.log.Warn("webhook delivery failed", "client", c.ID, "event", d.ID, "failures", after.Failures, "retry_at", d.NextAttempt, "err", d.Error)
	if disabled {
		h.disabled.Add(1)
		h.log.Warn("webhook turned off after repeated failures", "client", c.ID, "failures", after.Failures)
		h.cfg.MailOwed()
	}
	return false
}

func (h *Deliverer) updateClient(ctx context.Context, id string, fn func(*Client)) {
	if _, err := h.store.UpdateClient(ctx, id, func(c *Client) error { fn(c); return nil }); err != nil {
		h.log.Error("recording webhook bookkeeping", "client", id, "err", err)
	}
}

// Test sends a webhook.test event to c's webhook now, once (it is not
// retried and does not count toward turning the webhook off), logs it and
// returns its delivery. A failed attempt is not an error: the delivery
// says why.
func (h *Deliverer) Test(ctx context.Context, c Client) (Delivery, error) {
	ev, err := NewEvent(c.ID, EventTest, h.cfg.Now(), map[string]string{"client_id": c.ID})
	if err != nil {
		return Delivery{}, err
	}
	ev.NextAttempt = time.Time{} // logged, never claimed
	if err := h.store.Enqueue(ctx, ev, nil, false); err != nil {
		return Delivery{}, err
	}
	d := h.attempt(ctx, c, ev)
	d.NextAttempt = time.Time{}
	if err := h.store.RecordWebhookAttempt(context.WithoutCancel(ctx), c.ID, d); err != nil {
		return d, err
	}
	return d, nil
}

// attempt POSTs ev to c's webhook once, signed with c's secrets, and
// returns the event's delivery record after it (NextAttempt left as it
// was: the caller decides).
func (h *Deliverer) attempt(ctx context.Context, c Client, ev Event) Delivery {
	d := ev.Delivery
	d.Attempts++
	d.Status, d.Error = 0, ""
	keys, err := h.keys(c)
	if err != nil {
		d.Error = err.Error()
		return d
	}
	ctx, cancel := context.WithTimeout(ctx, min(attemptTimeout, h.cfg.Timeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(ev.Body))
	if err != nil {
		d.Error = "the webhook URL cannot be used"
		return d
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", h.cfg.UserAgent)
	stdwebhook.SetHeaders(req.Header, ev.ID, h.cfg.Now(), ev.Body, keys...)
	resp, err := h.client.Do(req)
	if err != nil {
		d.Error = errorText(err)
		return d
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	d.Status = resp.StatusCode
	if resp.StatusCode/100 != 2 {
		d.Error = fmt.Sprintf("the receiver answered HTTP %d", resp.StatusCode)
		return d
	}
	d.Delivered, d.NextAttempt = h.cfg.Now(), time.Time{}
	return d
}

// SealID is what a client's webhook secret is sealed for: bound to the
// client, and never to be opened as its password.
func SealID(clientID string) string { return "webhook\x00" + clientID }

// errSecretSealed means the webhook secret cannot be unsealed: the admin
// secret changed since it was made.
var errSecretSealed = errors.New("the signing secret cannot be unsealed (the admin secret changed): make a new one")

// keys returns the signing keys of c's deliveries: its secret, and during
// a rotation the previous one; none before the first secret.
func (h *Deliverer) keys(c Client) ([][]byte, error) {
	var keys [][]byte
	for _, sealed := range []string{c.Secret, c.OldSecret} {
		if sealed == "" || (sealed == c.OldSecret && !h.cfg.Now().Before(c.OldUntil)) {
			continue
		}
		s, ok := h.cfg.Sealer.Open(SealID(c.ID), sealed)
		if !ok {
			return nil, errSecretSealed
		}
		k, err := stdwebhook.Key(s)
		if err != nil {
			return nil, errSecretSealed
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// errorText says in plain words why a POST got no answer.
func errorText(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, netguard.ErrPolicy):
		return "the webhook URL's address is not allowed (private or special-purpose network)"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "the receiver did not answer in time"
	case errors.Is(err, context.Canceled):
		return "the server stopped during the delivery"
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return "the webhook URL's host name cannot be resolved"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return "the receiver cannot be reached (connection refused or no route)"
	}
	return "the connection failed before the receiver answered"
}
