package lms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/linkmonitor/lms/internal/netguard"
	"github.com/linkmonitor/lms/internal/secret"
	"github.com/linkmonitor/lms/internal/stdwebhook"
)

// webhookAttemptTimeout bounds one POST to a receiver (Standard Webhooks
// asks receivers to answer quickly and do their work later).
const webhookAttemptTimeout = 30 * time.Second

// webhookStore is what the webhooks use of the Store.
type webhookStore interface {
	ClientStore
	SubscriptionStore
	NotificationStore
	WebhookStore
}

// webhooks makes and delivers each client's webhook events: the notifier
// and the syncer hand it events (handOff, synced), which the store keeps
// in a per-client queue; run delivers each queue in order, at most one
// delivery in flight per client (the store's claim holds the client's
// oldest event for this process), a 2xx acknowledging, anything else
// retried with the notifier's back-off and jitter under the same event id.
// After NotifyMaxFailures failures in a row the webhook is turned off and
// its contact mailed; its events wait.
type webhooks struct {
	store    webhookStore
	client   *http.Client
	sealer   *secret.Sealer
	mailOwed func() // wakes the mailer
	cfg      Config
	log      *slog.Logger
	wake     chan struct{}

	delivered, failures, disabled atomic.Uint64
}

func newWebhooks(store webhookStore, cfg Config, sealer *secret.Sealer, mailOwed func()) *webhooks {
	cc := cfg.CheckerConfig
	tr := &http.Transport{
		// The SSRF rules of callbacks: every resolved address is checked.
		DialContext:           netguard.Dialer(cc.ConnectTimeout, cc.AllowPrivate, cc.AllowedPrefixes...).DialContext,
		TLSClientConfig:       cc.TLSConfig,
		TLSHandshakeTimeout:   cc.ConnectTimeout,
		ResponseHeaderTimeout: webhookAttemptTimeout,
		MaxIdleConnsPerHost:   32, // many clients may share one receiving service
		IdleConnTimeout:       time.Minute,
		ForceAttemptHTTP2:     true,
	}
	return &webhooks{
		store: store,
		client: &http.Client{
			Transport: tr,
			// A redirect is not an acknowledgement: the receiver must answer
			// 2xx itself.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		sealer: sealer, mailOwed: mailOwed, cfg: cfg, log: cfg.Logger, wake: make(chan struct{}, 1),
	}
}

// poke tells the deliverer that an event may be due now.
func (h *webhooks) poke() { poke(h.wake) }

func (h *webhooks) run(ctx context.Context) error {
	// As in the notifier, failing receivers have slots of their own.
	workers := newClientWorkers(h.cfg.NotifyConcurrency, max(1, h.cfg.NotifyConcurrency/4))
	defer workers.wait()
	defer h.client.CloseIdleConnections()
	fed := map[string]time.Time{}
	rounds(ctx, h.cfg.NotifyPoll, h.wake, func() {
		h.feedAll(ctx, fed) // webhook_feed.go
		ids, err := h.store.WebhookClients(ctx)
		if err != nil && ctx.Err() == nil {
			h.log.Error("listing clients with webhook events", "err", err)
		}
		for _, id := range ids {
			c, err := h.store.GetClient(ctx, id)
			if err != nil || !webhookOn(c) {
				continue
			}
			lane := 0
			if c.WebhookFailures > 0 {
				lane = 1
			}
			workers.try(id, lane, func() { h.serve(ctx, id) })
		}
	})
	return nil
}

// serve delivers the client's due events in order until one fails or none
// is due.
func (h *webhooks) serve(ctx context.Context, id string) {
	for ctx.Err() == nil {
		c, err := h.store.GetClient(ctx, id)
		if err != nil || !webhookOn(c) {
			return
		}
		now := h.cfg.Now()
		ev, ok, err := h.store.ClaimWebhook(ctx, id, h.cfg.ProcessID, now, webhookAttemptTimeout+time.Minute)
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
			if err := h.store.RecordWebhookAttempt(context.WithoutCancel(ctx), id, ev.WebhookDelivery); err != nil {
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
func (h *webhooks) record(ctx context.Context, c Client, d WebhookDelivery) bool {
	now := h.cfg.Now()
	ctx = context.WithoutCancel(ctx)
	if d.Delivered.IsZero() {
		h.failures.Add(1)
		failures := c.WebhookFailures + 1
		d.NextAttempt = now.Add(notifyBackoff(h.cfg.NotifyInterval, h.cfg.NotifyBackoffMax, failures, rand.Float64()))
	}
	if err := h.store.RecordWebhookAttempt(ctx, c.ID, d); err != nil {
		h.log.Error("recording a webhook attempt", "client", c.ID, "event", d.ID, "err", err)
		return false
	}
	if !d.Delivered.IsZero() {
		h.delivered.Add(1)
		if c.WebhookFailures > 0 || c.WebhookLastError != "" {
			h.updateClient(ctx, c.ID, func(c *Client) { c.WebhookFailures, c.WebhookLastError = 0, "" })
		}
		return true
	}
	disabled := false
	var after Client
	h.updateClient(ctx, c.ID, func(cl *Client) {
		cl.WebhookFailures++
		cl.WebhookLastError = d.Error
		if cl.WebhookFailures >= h.cfg.NotifyMaxFailures && webhookOn(*cl) {
			cl.WebhookDisabledAt, disabled = now, true
			cl.Outbox = append(cl.Outbox, OutboxMail{Kind: MailWebhookDisabled, Queued: now})
		}
		after = *cl
	})
	h.log.Warn("webhook delivery failed", "client", c.ID, "event", d.ID, "failures", after.WebhookFailures, "retry_at", d.NextAttempt, "err", d.Error)
	if disabled {
		h.disabled.Add(1)
		h.log.Warn("webhook turned off after repeated failures", "client", c.ID, "failures", after.WebhookFailures)
		h.mailOwed()
	}
	return false
}

func (h *webhooks) updateClient(ctx context.Context, id string, fn func(*Client)) {
	if _, err := h.store.UpdateClient(ctx, id, func(c *Client) error { fn(c); return nil }); err != nil {
		h.log.Error("recording webhook bookkeeping", "client", id, "err", err)
	}
}

// attempt POSTs ev to c's webhook once, signed with c's secrets, and
// returns the event's delivery record after it (NextAttempt left as it
// was: the caller decides).
func (h *webhooks) attempt(ctx context.Context, c Client, ev WebhookEvent) WebhookDelivery {
	d := ev.WebhookDelivery
	d.Attempts++
	d.Status, d.Error = 0, ""
	keys, err := h.keys(c)
	if err != nil {
		d.Error = err.Error()
		return d
	}
	ctx, cancel := context.WithTimeout(ctx, min(webhookAttemptTimeout, h.cfg.NotifyTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.WebhookURL, bytes.NewReader(ev.Body))
	if err != nil {
		d.Error = "the webhook URL cannot be used"
		return d
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", h.cfg.CheckerConfig.UserAgent)
	stdwebhook.SetHeaders(req.Header, ev.ID, h.cfg.Now(), ev.Body, keys...)
	resp, err := h.client.Do(req)
	if err != nil {
		d.Error = webhookError(err)
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

// errSecretSealed means the webhook secret cannot be unsealed: the admin
// secret changed since it was made.
var errSecretSealed = errors.New("the signing secret cannot be unsealed (the admin secret changed): make a new one")

// keys returns the signing keys of c's deliveries: its secret, and during
// a rotation the previous one; none before the first secret.
func (h *webhooks) keys(c Client) ([][]byte, error) {
	var keys [][]byte
	for _, sealed := range []string{c.WebhookSecret, c.WebhookOldSecret} {
		if sealed == "" || (sealed == c.WebhookOldSecret && !h.cfg.Now().Before(c.WebhookOldUntil)) {
			continue
		}
		s, ok := h.sealer.Open(webhookSealID(c.ID), sealed)
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

// webhookError says in plain words why a POST got no answer.
func webhookError(err error) string {
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

// snapshot adds the webhook counters to st.
func (h *webhooks) snapshot(st *Stats) {
	st.WebhooksDelivered, st.WebhookFailures, st.WebhooksDisabled = h.delivered.Load(), h.failures.Load(), h.disabled.Load()
}
