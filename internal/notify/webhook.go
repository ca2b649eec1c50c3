// Package notify delivers each client's pending changes: to its XML-RPC
// callback (Notifier, notifier.go) and as webhook events (Deliverer).
//
// The notifier pushes a client's pending changes in chunks, at most one
// round per Interval, acknowledging each chunk the client accepted; after
// MaxFailures failures in a row it switches the client's notifications
// off and owes its contact a mail. Each chunk goes to the webhook first.
//
// The notifier and the syncer hand the deliverer webhook events (HandOff,
// Synced), which the store keeps in a per-client queue; Run delivers each
// queue in order, at most one delivery in flight per client (the store's
// claim holds the client's oldest event for this process), a 2xx
// acknowledging, anything else retried with the notifier's back-off and
// jitter under the same event id. After Config.MaxFailures failures in a
// row the webhook is turned off and its contact mailed; its events wait.
// Deliveries are signed as Standard Webhooks (internal/stdwebhook).
//
// The package knows nothing of the lms model: it works on its own small
// types (Client, Event, Pending, …) through Store, which the root adapts.
package notify

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/linkmonitor/lms/internal/loop"
	"github.com/linkmonitor/lms/internal/secret"
)

// The event types (API.md, "Webhooks").
const (
	EventLinksChanged = "links.changed" // a batch of state changes of the client's links
	EventLinksSynced  = "links.synced"  // one page of the full state list after a sync
	EventTest         = "webhook.test"  // sent on request (Test)
)

// attemptTimeout bounds one POST to a receiver (Standard Webhooks asks
// receivers to answer quickly and do their work later).
const attemptTimeout = 30 * time.Second

// Client is what the deliverer knows of a client: its webhook, the
// webhook's bookkeeping, and the callback side that feed reads.
type Client struct {
	ID string
	// The webhook: where events go ("" if nowhere), the sealed signing
	// secret, and during a rotation the previous one until OldUntil.
	URL               string
	Secret, OldSecret string
	OldUntil          time.Time
	// The delivery bookkeeping: failed attempts in a row, why the last
	// failed, and when repeated failures turned the webhook off.
	Failures   int
	LastError  string
	DisabledAt time.Time
	// The XML-RPC callback side: its URL ("" if none) and the client's
	// sealed password, its notifications and their bookkeeping, and the
	// notify lease.
	CallbackURL, SealedPassword string
	Notify                      bool
	NotifyFailures              int
	NextNotify, LastNotified    time.Time
	LastNotifyError             string
	NotifyDisabledAt            time.Time
	LeaseHolder                 string
	LeaseUntil                  time.Time
	// The syncer's bookkeeping and its lease.
	SyncForced, SyncTooLargeMailed bool
	NextSync, LastSync             time.Time
	LastSyncError                  string
	SyncLeaseHolder                string
	SyncLeaseUntil                 time.Time
	// The digests: the mode ("daily", "weekly"; "" off) and its period (0
	// off), the end of the last digest's window, the client's creation
	// and who the digest greets.
	Digest                    string
	DigestPeriod              time.Duration
	DigestCovered, Created    time.Time
	ContactName, ContactEmail string
	// Outbox holds the mails owed to the contact (see Mailer).
	Outbox []Mail
}

func (c Client) hasCallback() bool { return c.CallbackURL != "" }

// On reports whether c's webhook takes events: a URL, not turned off.
func On(c Client) bool { return c.URL != "" && c.DisabledAt.IsZero() }

// leaseHeld reports whether c's notify lease is held at now by a holder
// other than holder.
func (c Client) leaseHeld(now time.Time, holder string) bool {
	return c.LeaseHolder != "" && c.LeaseHolder != holder && now.Before(c.LeaseUntil)
}

// Delivery is one delivery of an event to a client: its id is the
// webhook-id header, the same on every attempt.
type Delivery struct {
	ID          string    // unique; the webhook-id of every attempt
	ClientID    string    // the client it goes to
	Type        string    // event type
	Created     time.Time // when the event was made
	Attempts    int       // attempts so far
	Status      int       // HTTP status of the last attempt; 0 if there was none
	Error       string    // why the last attempt failed, in plain words; "" after a success
	NextAttempt time.Time // when it is tried again; zero once delivered or given up
	Delivered   time.Time // when a 2xx acknowledged it; zero until then
}

// Pending reports whether the event is still to be delivered: not
// acknowledged and not given up (a zero NextAttempt means no further
// attempt).
func (d Delivery) Pending() bool { return d.Delivered.IsZero() && !d.NextAttempt.IsZero() }

// Event is one event in a client's queue: its delivery record and the body
// that every attempt sends, byte for byte.
type Event struct {
	Delivery
	Body []byte
}

// Update is a state change of a link: the new state and why.
type Update struct {
	URL, State, Reason string
}

// Pending is a state change waiting to be delivered to a client; Seq
// identifies it.
type Pending struct {
	Update
	Seq uint64
}

// Link is what an event tells of a link besides its state: the status code
// of the final response, where the reader ends up, and whether the
// redirect there is permanent.
type Link struct {
	Code      int
	FinalURL  string
	Permanent bool
}

// Source names a source that uses a link.
type Source struct {
	ID, Title, EditURL string
	Owner              string // "" if none was given
}

// Store is what the package uses of the store; the errors it returns are
// passed on. The methods named as lms.Store's mean the same.
type Store interface {
	// Client returns the client with this id.
	Client(ctx context.Context, id string) (Client, error)
	// UpdateClient applies fn to the client atomically and returns it as
	// stored; an error of fn changes nothing and is returned. fn changes
	// only the webhook's, the notifications', the syncer's and the
	// digests' bookkeeping, the leases and the outbox.
	UpdateClient(ctx context.Context, id string, fn func(*Client) error) (Client, error)
	// Enqueue stores ev as the client's newest event and hands it the
	// pending changes handed: acknowledged with ack, else marked handed.
	Enqueue(ctx context.Context, ev Event, handed []Pending, ack bool) error
	// Unhanded returns those of ps not marked handed to the webhook.
	Unhanded(ctx context.Context, clientID string, ps []Pending) ([]Pending, error)
	// WebhookClients returns the ids of the clients with events to
	// deliver.
	WebhookClients(ctx context.Context) ([]string, error)
	// Claim returns the client's oldest due event, held for holder until
	// now+lease; ok is false if there is none.
	Claim(ctx context.Context, clientID, holder string, now time.Time, lease time.Duration) (ev Event, ok bool, err error)
	// RecordWebhookAttempt stores what an attempt found and ends the event's hold.
	RecordWebhookAttempt(ctx context.Context, clientID string, d Delivery) error
	// WebhookDeliveries returns the client's events, newest first (all if limit
	// is 0).
	WebhookDeliveries(ctx context.Context, clientID string, limit int) ([]Delivery, error)
	// PendingClients returns the ids of the clients with pending changes.
	PendingClients(ctx context.Context) ([]string, error)
	// PendingUpdates returns the client's pending changes (all if limit
	// is 0).
	PendingUpdates(ctx context.Context, clientID string, limit int) ([]Pending, error)
	// PendingCount returns how many links have pending changes for the
	// client.
	PendingCount(ctx context.Context, clientID string) (int, error)
	// Ack removes delivered changes (a change whose Seq differs stays).
	Ack(ctx context.Context, clientID string, delivered []Pending) error
	// AllClients returns every client, ordered by id.
	AllClients(ctx context.Context) ([]Client, error)
	// ReplaceSubscriptions makes urls the client's complete set of plain
	// registrations and returns how many subscriptions began and ended.
	ReplaceSubscriptions(ctx context.Context, clientID string, urls []string, now time.Time) (added, removed int, err error)
	// ClientLinks returns one page of the client's links ordered by URL:
	// those after after, at most limit.
	ClientLinks(ctx context.Context, clientID, after string, limit int) ([]Stored, error)
	// Links returns what is stored of those of urls that are known.
	Links(ctx context.Context, urls []string) (map[string]Link, error)
	// Sources returns, per URL, the client's sources that use it; nil if
	// the store keeps no sources.
	Sources(ctx context.Context, clientID string, urls []string) (map[string][]Source, error)
}

// Config sets up a Deliverer.
type Config struct {
	Now       func() time.Time
	Logger    *slog.Logger
	ProcessID string         // the holder of this process's claims and leases
	Sealer    *secret.Sealer // opens the clients' signing secrets
	UserAgent string
	// The network: the dialer (the SSRF rules of callbacks), the TLS
	// configuration and the connect timeout.
	Dial           func(ctx context.Context, network, addr string) (net.Conn, error)
	TLSConfig      *tls.Config
	ConnectTimeout time.Duration
	// The notifier's settings, which deliveries follow: its poll, the
	// interval and largest wait of its back-off, failures in a row that
	// turn a webhook off, the timeout of one delivery, its chunk of
	// changes, and how many clients are served at once.
	Poll, Interval, BackoffMax, Timeout time.Duration
	MaxFailures, Chunk, Concurrency     int
	// MailOwed wakes the mailer after a webhook or the notifications were
	// turned off.
	MailOwed func()
	// Push delivers updates to a client's callback (updateManyStates); nil
	// only if the notifier does not run.
	Push func(ctx context.Context, to Endpoint, ups []Update) error
}

// Deliverer makes and delivers the webhook events.
type Deliverer struct {
	store  Store
	client *http.Client
	cfg    Config
	log    *slog.Logger
	wake   chan struct{}

	delivered, failures, disabled atomic.Uint64
}

// New returns a deliverer of store's events.
func New(store Store, cfg Config) *Deliverer {
	tr := &http.Transport{
		DialContext:           cfg.Dial,
		TLSClientConfig:       cfg.TLSConfig,
		TLSHandshakeTimeout:   cfg.ConnectTimeout,
		ResponseHeaderTimeout: attemptTimeout,
		MaxIdleConnsPerHost:   32, // many clients may share one receiving service
		IdleConnTimeout:       time.Minute,
		ForceAttemptHTTP2:     true,
	}
	return &Deliverer{
		store: store,
		client: &http.Client{
			Transport: tr,
			// A redirect is not an acknowledgement: the receiver must answer
			// 2xx itself.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		cfg: cfg, log: cfg.Logger, wake: make(chan struct{}, 1),
	}
}

// Poke tells the deliverer that an event may be due now.
func (h *Deliverer) Poke() { loop.Poke(h.wake) }

// Run delivers the due events until ctx ends.
func (h *Deliverer) Run(ctx context.Context) error {
	// As in the notifier, failing receivers have slots of their own.
	workers := loop.NewWorkers(h.cfg.Concurrency, max(1, h.cfg.Concurrency/4))
	defer workers.Wait()
	defer h.client.CloseIdleConnections()
	fed := map[string]time.Time{}
	loop.Rounds(ctx, h.cfg.Poll, h.wake, func() {
		h.feedAll(ctx, fed) // feed.go
		ids, err := h.store.WebhookClients(ctx)
		if err != nil && ctx.Err() == nil {
			h.log.Error("listing clients with webhook events", "err", err)
		}
		for _, id := range ids {
			c, err := h.store.Client(ctx, id)
			if err != nil || !On(c) {
				continue
			}
			lane := 0
			if c.Failures > 0 {
				lane = 1
			}
			workers.Try(id, lane, func() { h.serve(ctx, id) })
		}
	})
	return nil
}

// Counters returns the deliveries acknowledged, the failed attempts, and
// the webhooks turned off after repeated failures, since start.
func (h *Deliverer) Counters() (delivered, failures, disabled uint64) {
	return h.delivered.Load(), h.failures.Load(), h.disabled.Load()
}
