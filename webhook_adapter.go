package lms

import (
	"context"
	"errors"
	"time"

	"github.com/linkmonitor/lms/internal/netguard"
	"github.com/linkmonitor/lms/internal/secret"
	"github.com/linkmonitor/lms/internal/webhook"
)

// webhooks is the webhook deliverer (internal/webhook) as the Engine, the
// notifier and the syncer use it, in the model's types.
type webhooks struct{ *webhook.Deliverer }

// webhookStore is what the webhooks use of the Store.
type webhookStore interface {
	ClientStore
	SubscriptionStore
	NotificationStore
	WebhookStore
}

func newWebhooks(store webhookStore, cfg Config, sealer *secret.Sealer, mailOwed func()) *webhooks {
	cc := cfg.CheckerConfig
	return &webhooks{webhook.New(hookStore{store}, webhook.Config{
		Now: cfg.Now, Logger: cfg.Logger, ProcessID: cfg.ProcessID, Sealer: sealer, UserAgent: cc.UserAgent,
		// The SSRF rules of callbacks: every resolved address is checked.
		Dial:      netguard.Dialer(cc.ConnectTimeout, cc.AllowPrivate, cc.AllowedPrefixes...).DialContext,
		TLSConfig: cc.TLSConfig, ConnectTimeout: cc.ConnectTimeout,
		Poll: cfg.NotifyPoll, Interval: cfg.NotifyInterval, BackoffMax: cfg.NotifyBackoffMax, Timeout: cfg.NotifyTimeout,
		MaxFailures: cfg.NotifyMaxFailures, Chunk: cfg.NotifyChunk, Concurrency: cfg.NotifyConcurrency,
		MailOwed: mailOwed,
	})}
}

// handOff gives the chunk ps of c's pending changes to its webhook
// (webhook.Deliverer.HandOff).
func (h *webhooks) handOff(ctx context.Context, c Client, ps []PendingUpdate) (int, error) {
	return h.HandOff(ctx, hookClient(c), hookPending(ps))
}

// synced queues one page ls of the full state list after a sync of c
// (webhook.Deliverer.Synced).
func (h *webhooks) synced(ctx context.Context, c Client, syncID string, page int, last bool, ls []Link) error {
	ups := make([]webhook.Update, len(ls))
	byURL := make(map[string]webhook.Link, len(ls))
	for i, l := range ls {
		ups[i] = hookUpdate(l.Update())
		byURL[l.URL] = hookLink(l)
	}
	return h.Synced(ctx, hookClient(c), syncID, page, last, ups, byURL)
}

// snapshot adds the webhook counters to st.
func (h *webhooks) snapshot(st *Stats) {
	st.WebhooksDelivered, st.WebhookFailures, st.WebhooksDisabled = h.Counters()
}

// webhookOn reports whether c's webhook takes events: a URL, not turned
// off.
func webhookOn(c Client) bool { return webhook.On(hookClient(c)) }

func hookClient(c Client) webhook.Client {
	return webhook.Client{
		ID: c.ID, URL: c.WebhookURL, Secret: c.WebhookSecret, OldSecret: c.WebhookOldSecret, OldUntil: c.WebhookOldUntil,
		Failures: c.WebhookFailures, LastError: c.WebhookLastError, DisabledAt: c.WebhookDisabledAt,
		Callback: c.CallbackURL != "", Notify: c.Notify, NotifyFailures: c.NotifyFailures, NextNotify: c.NextNotify,
		NotifyDisabledAt: c.NotifyDisabledAt, LeaseHolder: c.NotifyLease.Holder, LeaseUntil: c.NotifyLease.Until,
	}
}

// setHookClient writes back to c what the deliverer may change of a client
// (webhook.Store.UpdateClient); turning the webhook off queues the
// contact's mail in the outbox.
func setHookClient(c *Client, v webhook.Client) {
	c.WebhookFailures, c.WebhookLastError, c.WebhookDisabledAt = v.Failures, v.LastError, v.DisabledAt
	c.NotifyLease = Lease{Holder: v.LeaseHolder, Until: v.LeaseUntil}
	if v.MailDisabled {
		c.Outbox = append(c.Outbox, OutboxMail{Kind: MailWebhookDisabled, Queued: v.DisabledAt})
	}
}

func hookUpdate(u Update) webhook.Update {
	return webhook.Update{URL: u.URL, State: string(u.State), Reason: u.Reason}
}

func hookLink(l Link) webhook.Link {
	return webhook.Link{Code: l.Code, FinalURL: l.FinalURL, Permanent: l.Permanent}
}

func hookPending(ps []PendingUpdate) []webhook.Pending {
	if ps == nil {
		return nil
	}
	out := make([]webhook.Pending, len(ps))
	for i, p := range ps {
		out[i] = webhook.Pending{Update: hookUpdate(p.Update), Seq: p.Seq}
	}
	return out
}

func modelPending(ps []webhook.Pending) []PendingUpdate {
	if ps == nil {
		return nil
	}
	out := make([]PendingUpdate, len(ps))
	for i, p := range ps {
		out[i] = PendingUpdate{Update: Update{URL: p.URL, State: State(p.State), Reason: p.Reason}, Seq: p.Seq}
	}
	return out
}

// hookStore is the Store as the deliverer sees it (webhook.Store).
type hookStore struct{ s webhookStore }

func (a hookStore) Client(ctx context.Context, id string) (webhook.Client, error) {
	c, err := a.s.GetClient(ctx, id)
	return hookClient(c), err
}

func (a hookStore) UpdateClient(ctx context.Context, id string, fn func(*webhook.Client) error) (webhook.Client, error) {
	c, err := a.s.UpdateClient(ctx, id, func(c *Client) error {
		v := hookClient(*c)
		if err := fn(&v); err != nil {
			return err
		}
		setHookClient(c, v)
		return nil
	})
	return hookClient(c), err
}

func (a hookStore) Enqueue(ctx context.Context, ev webhook.Event, handed []webhook.Pending, ack bool) error {
	return a.s.EnqueueWebhook(ctx, WebhookEvent{WebhookDelivery: WebhookDelivery(ev.Delivery), Body: ev.Body}, modelPending(handed), ack)
}

func (a hookStore) Unhanded(ctx context.Context, clientID string, ps []webhook.Pending) ([]webhook.Pending, error) {
	out, err := a.s.UnhandedUpdates(ctx, clientID, modelPending(ps))
	return hookPending(out), err
}

func (a hookStore) Clients(ctx context.Context) ([]string, error) { return a.s.WebhookClients(ctx) }

func (a hookStore) Claim(ctx context.Context, clientID, holder string, now time.Time, lease time.Duration) (webhook.Event, bool, error) {
	ev, ok, err := a.s.ClaimWebhook(ctx, clientID, holder, now, lease)
	return webhook.Event{Delivery: webhook.Delivery(ev.WebhookDelivery), Body: ev.Body}, ok, err
}

func (a hookStore) Record(ctx context.Context, clientID string, d webhook.Delivery) error {
	return a.s.RecordWebhookAttempt(ctx, clientID, WebhookDelivery(d))
}

func (a hookStore) Deliveries(ctx context.Context, clientID string, limit int) ([]webhook.Delivery, error) {
	ds, err := a.s.WebhookDeliveries(ctx, clientID, limit)
	out := make([]webhook.Delivery, len(ds))
	for i, d := range ds {
		out[i] = webhook.Delivery(d)
	}
	return out, err
}

func (a hookStore) PendingClients(ctx context.Context) ([]string, error) {
	return a.s.PendingClients(ctx)
}

func (a hookStore) PendingUpdates(ctx context.Context, clientID string, limit int) ([]webhook.Pending, error) {
	ps, err := a.s.PendingUpdates(ctx, clientID, limit)
	return hookPending(ps), err
}

func (a hookStore) Links(ctx context.Context, urls []string) (map[string]webhook.Link, error) {
	ls, err := a.s.LookupLinks(ctx, urls)
	out := make(map[string]webhook.Link, len(ls))
	for u, l := range ls {
		out[u] = hookLink(l)
	}
	return out, err
}

// Sources reads the sources when the store keeps them (SourceLookup); a
// client the store does not know has none.
func (a hookStore) Sources(ctx context.Context, clientID string, urls []string) (map[string][]webhook.Source, error) {
	sl, ok := a.s.(SourceLookup)
	if !ok {
		return nil, nil
	}
	m, err := sl.LinkSources(ctx, clientID, urls)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	out := make(map[string][]webhook.Source, len(m))
	for u, ss := range m {
		for _, s := range ss {
			out[u] = append(out[u], webhook.Source(s))
		}
	}
	return out, nil
}
