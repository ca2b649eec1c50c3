package lms

import (
	"context"
	"errors"
	"time"

	"github.com/linkmonitor/lms/internal/digest"
	"github.com/linkmonitor/lms/internal/netguard"
	"github.com/linkmonitor/lms/internal/notify"
	"github.com/linkmonitor/lms/internal/secret"
)

// Notifier delivers state updates to one client (updateManyStates). It
// returns nil only if the client accepted them.
type Notifier interface {
	Notify(ctx context.Context, to Endpoint, updates []Update) error
}

// NotifierFunc adapts a function to the Notifier interface.
type NotifierFunc func(ctx context.Context, to Endpoint, updates []Update) error

// Notify calls f.
func (f NotifierFunc) Notify(ctx context.Context, to Endpoint, updates []Update) error {
	return f(ctx, to, updates)
}

// LinkLister fetches a client's complete list of links
// (xmlrpc_getAllLinks). The list may contain duplicates and garbage.
type LinkLister interface {
	ListLinks(ctx context.Context, from Endpoint) ([]string, error)
}

// LinkListerFunc adapts a function to the LinkLister interface.
type LinkListerFunc func(ctx context.Context, from Endpoint) ([]string, error)

// ListLinks calls f.
func (f LinkListerFunc) ListLinks(ctx context.Context, from Endpoint) ([]string, error) {
	return f(ctx, from)
}

// Endpoint is how to reach a client: its id and password (sent as the
// first two arguments of every callback) and its callback URL.
type Endpoint struct {
	ClientID string
	Password string
	URL      string
}

// errLeased means another process serves the client, or its turn has not
// come: skip it this round.
var errLeased = errors.New("client served elsewhere or not due")

// newNotify returns the components of internal/notify over store: the
// mailer (the outbox, through Config.Mailer), the webhook deliverer, the
// notifier (pushes to the callbacks through Config.Notifier, each chunk
// handed to the webhook first), the syncer (through Config.Lister) and the
// digester.
func newNotify(store Store, cfg Config, sealer *secret.Sealer, linksAdded func()) (*notify.Mailer, *notify.Deliverer, *notify.Notifier, *notify.Syncer, *notify.Digester) {
	cc := cfg.CheckerConfig
	nc := notify.Config{
		Now: cfg.Now, Logger: cfg.Logger, ProcessID: cfg.ProcessID, Sealer: sealer, UserAgent: cc.UserAgent,
		// The SSRF rules of callbacks: every resolved address is checked.
		Dial:      netguard.Dialer(cc.ConnectTimeout, cc.AllowPrivate, cc.AllowedPrefixes...).DialContext,
		TLSConfig: cc.TLSConfig, ConnectTimeout: cc.ConnectTimeout,
		Poll: cfg.NotifyPoll, Interval: cfg.NotifyInterval, BackoffMax: cfg.NotifyBackoffMax, Timeout: cfg.NotifyTimeout,
		MaxFailures: cfg.NotifyMaxFailures, Chunk: cfg.NotifyChunk, Concurrency: cfg.NotifyConcurrency,
		Push: func(ctx context.Context, to notify.Endpoint, ups []notify.Update) error {
			out := make([]Update, len(ups))
			for i, u := range ups {
				out[i] = Update{URL: u.URL, State: State(u.State), Reason: u.Reason}
			}
			return cfg.Notifier.Notify(ctx, Endpoint(to), out)
		},
	}
	mc := notify.MailConfig{Poll: cfg.MailPoll, PublicURL: cfg.PublicURL, CC: cfg.MailCC}
	if cfg.Mailer != nil {
		mc.Send = func(ctx context.Context, m notify.Message) error { return cfg.Mailer.Send(ctx, Message(m)) }
	}
	mailer := notify.NewMailer(hookStore{store}, nc, mc)
	nc.MailOwed = mailer.Owed
	hooks := notify.New(hookStore{store}, nc)
	syncer := notify.NewSyncer(hooks, notify.SyncConfig{
		Poll: cfg.SyncPoll, Interval: cfg.SyncInterval, Timeout: cfg.SyncTimeout, Concurrency: cfg.SyncConcurrency,
		List: func(ctx context.Context, from notify.Endpoint) ([]string, error) {
			return cfg.Lister.ListLinks(ctx, Endpoint(from))
		},
		LinksAdded: linksAdded, TooLarge: ErrTooLarge,
	})
	digests := notify.NewDigester(hooks, notify.DigestConfig{
		Poll: cfg.DigestPoll, Lag: cfg.Lease, ReportURL: cfg.PublicURL + "/report/",
		Reader: func(id string) (digest.Reader, error) { return digestReader(store, id) },
	})
	return mailer, hooks, notify.NewNotifier(hooks), syncer, digests
}

func hookClient(c Client) notify.Client {
	v := notify.Client{
		ID: c.ID, URL: c.WebhookURL, Secret: c.WebhookSecret, OldSecret: c.WebhookOldSecret, OldUntil: c.WebhookOldUntil,
		Failures: c.WebhookFailures, LastError: c.WebhookLastError, DisabledAt: c.WebhookDisabledAt,
		CallbackURL: c.CallbackURL, SealedPassword: c.SealedPassword, Notify: c.Notify, NotifyFailures: c.NotifyFailures,
		NextNotify: c.NextNotify, LastNotified: c.LastNotified, LastNotifyError: c.LastNotifyError,
		NotifyDisabledAt: c.NotifyDisabledAt, LeaseHolder: c.NotifyLease.Holder, LeaseUntil: c.NotifyLease.Until,
		SyncForced: c.SyncForced, SyncTooLargeMailed: c.SyncTooLargeMailed, NextSync: c.NextSync, LastSync: c.LastSync,
		LastSyncError: c.LastSyncError, SyncLeaseHolder: c.SyncLease.Holder, SyncLeaseUntil: c.SyncLease.Until,
		Digest: string(c.Digest), DigestPeriod: c.Digest.Period(), DigestCovered: c.DigestCovered, Created: c.Created,
		ContactName: c.ContactName, ContactEmail: c.ContactEmail, Outbox: make([]notify.Mail, len(c.Outbox)),
	}
	for i, m := range c.Outbox {
		v.Outbox[i] = notify.Mail{Kind: string(m.Kind), Queued: m.Queued, SealedPassword: m.SealedPassword, Attempts: m.Attempts,
			NextAttempt: m.NextAttempt, LastError: m.LastError, To: m.To, Subject: m.Subject, Body: m.Body, HTML: m.HTML}
	}
	return v
}

// setHookClient writes back to c what internal/notify may change of a
// client (notify.Store.UpdateClient): its components' bookkeeping, the
// leases and the outbox.
func setHookClient(c *Client, v notify.Client) {
	c.WebhookFailures, c.WebhookLastError, c.WebhookDisabledAt = v.Failures, v.LastError, v.DisabledAt
	c.Notify, c.NotifyFailures, c.NextNotify, c.LastNotified = v.Notify, v.NotifyFailures, v.NextNotify, v.LastNotified
	c.LastNotifyError, c.NotifyDisabledAt = v.LastNotifyError, v.NotifyDisabledAt
	c.NotifyLease = Lease{Holder: v.LeaseHolder, Until: v.LeaseUntil}
	c.SyncForced, c.SyncTooLargeMailed, c.NextSync, c.LastSync = v.SyncForced, v.SyncTooLargeMailed, v.NextSync, v.LastSync
	c.LastSyncError, c.SyncLease = v.LastSyncError, Lease{Holder: v.SyncLeaseHolder, Until: v.SyncLeaseUntil}
	c.DigestCovered, c.Outbox = v.DigestCovered, nil
	for _, m := range v.Outbox {
		c.Outbox = append(c.Outbox, OutboxMail{Kind: MailKind(m.Kind), Queued: m.Queued, SealedPassword: m.SealedPassword,
			Attempts: m.Attempts, NextAttempt: m.NextAttempt, LastError: m.LastError, To: m.To, Subject: m.Subject, Body: m.Body, HTML: m.HTML})
	}
}

func hookUpdate(u Update) notify.Update {
	return notify.Update{URL: u.URL, State: string(u.State), Reason: u.Reason}
}

func hookLink(l Link) notify.Link {
	return notify.Link{Code: l.Code, FinalURL: l.FinalURL, Permanent: l.Permanent}
}

func hookPending(ps []PendingUpdate) []notify.Pending {
	if ps == nil {
		return nil
	}
	out := make([]notify.Pending, len(ps))
	for i, p := range ps {
		out[i] = notify.Pending{Update: hookUpdate(p.Update), Seq: p.Seq}
	}
	return out
}

func modelPending(ps []notify.Pending) []PendingUpdate {
	if ps == nil {
		return nil
	}
	out := make([]PendingUpdate, len(ps))
	for i, p := range ps {
		out[i] = PendingUpdate{Update: Update{URL: p.URL, State: State(p.State), Reason: p.Reason}, Seq: p.Seq}
	}
	return out
}

// hookStore is the Store as internal/notify sees it (notify.Store): the
// methods whose types are the model's are converted, the others are the
// Store's.
type hookStore struct{ Store }

func (a hookStore) Client(ctx context.Context, id string) (notify.Client, error) {
	c, err := a.Store.GetClient(ctx, id)
	return hookClient(c), err
}

func (a hookStore) UpdateClient(ctx context.Context, id string, fn func(*notify.Client) error) (notify.Client, error) {
	c, err := a.Store.UpdateClient(ctx, id, func(c *Client) error {
		v := hookClient(*c)
		if err := fn(&v); err != nil {
			return err
		}
		setHookClient(c, v)
		return nil
	})
	return hookClient(c), err
}

func (a hookStore) Enqueue(ctx context.Context, ev notify.Event, handed []notify.Pending, ack bool) error {
	return a.Store.EnqueueWebhook(ctx, WebhookEvent{WebhookDelivery: ev.Delivery, Body: ev.Body}, modelPending(handed), ack)
}

func (a hookStore) Unhanded(ctx context.Context, clientID string, ps []notify.Pending) ([]notify.Pending, error) {
	out, err := a.Store.UnhandedUpdates(ctx, clientID, modelPending(ps))
	return hookPending(out), err
}

func (a hookStore) Claim(ctx context.Context, clientID, holder string, now time.Time, lease time.Duration) (notify.Event, bool, error) {
	ev, ok, err := a.ClaimWebhook(ctx, clientID, holder, now, lease)
	return notify.Event{Delivery: ev.WebhookDelivery, Body: ev.Body}, ok, err
}

func (a hookStore) PendingUpdates(ctx context.Context, clientID string, limit int) ([]notify.Pending, error) {
	ps, err := a.Store.PendingUpdates(ctx, clientID, limit)
	return hookPending(ps), err
}

func (a hookStore) Ack(ctx context.Context, clientID string, ps []notify.Pending) error {
	return a.Store.AckUpdates(ctx, clientID, modelPending(ps))
}

func (a hookStore) AllClients(ctx context.Context) ([]notify.Client, error) {
	cs, err := a.Store.ListClients(ctx)
	out := make([]notify.Client, len(cs))
	for i, c := range cs {
		out[i] = hookClient(c)
	}
	return out, err
}

func (a hookStore) ClientLinks(ctx context.Context, clientID, after string, limit int) ([]notify.Stored, error) {
	ls, err := a.Store.ClientLinks(ctx, clientID, Page{After: after, Limit: limit})
	out := make([]notify.Stored, len(ls))
	for i, l := range ls {
		out[i] = notify.Stored{Update: hookUpdate(l.Update()), Link: hookLink(l)}
	}
	return out, err
}

func (a hookStore) Links(ctx context.Context, urls []string) (map[string]notify.Link, error) {
	ls, err := a.Store.LookupLinks(ctx, urls)
	out := make(map[string]notify.Link, len(ls))
	for u, l := range ls {
		out[u] = hookLink(l)
	}
	return out, err
}

// Sources reads the sources of the client's links; a client the store
// does not know has none.
func (a hookStore) Sources(ctx context.Context, clientID string, urls []string) (map[string][]notify.Source, error) {
	m, err := a.Store.LinkSources(ctx, clientID, urls)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	out := make(map[string][]notify.Source, len(m))
	for u, ss := range m {
		for _, s := range ss {
			out[u] = append(out[u], notify.Source(s))
		}
	}
	return out, nil
}
