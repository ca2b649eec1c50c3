package lms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/mail"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/linkmonitor/lms/internal/secret"
	"github.com/linkmonitor/lms/internal/validate"
)

// Components selects what Engine.Run runs. The zero value runs everything.
type Components uint8

// The components. The scheduler is part of RunChecker: due links are handed
// out by the Store's ClaimDue under a lease, so several checker processes
// can share one store, like the original's separate services.
const (
	RunChecker  Components = 1 << iota // scheduler and checker pool
	RunNotifier                        // pushes pending changes to clients
	RunSyncer                          // daily (or forced) full sync with each client
	RunAll      = RunChecker | RunNotifier | RunSyncer
)

// Endpoint is how to reach a client: its id and password (sent as the
// first two arguments of every callback) and its callback URL.
type Endpoint struct {
	ClientID string
	Password string
	URL      string
}

// String names the components, e.g. "checker,notifier".
func (c Components) String() string {
	var names []string
	for _, x := range []struct {
		c    Components
		name string
	}{{RunChecker, "checker"}, {RunNotifier, "notifier"}, {RunSyncer, "syncer"}} {
		if c&x.c != 0 {
			names = append(names, x.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ",")
}

// Notifier delivers state updates to one client (updateManyStates). It
// returns nil only if the client accepted them.
type Notifier interface {
	Notify(ctx context.Context, cb Endpoint, updates []Update) error
}

// NotifierFunc adapts a function to the Notifier interface.
type NotifierFunc func(ctx context.Context, cb Endpoint, updates []Update) error

// Notify calls f.
func (f NotifierFunc) Notify(ctx context.Context, cb Endpoint, updates []Update) error {
	return f(ctx, cb, updates)
}

// LinkLister fetches a client's complete list of links
// (xmlrpc_getAllLinks). The list may contain duplicates and garbage.
type LinkLister interface {
	ListLinks(ctx context.Context, cb Endpoint) ([]string, error)
}

// LinkListerFunc adapts a function to the LinkLister interface.
type LinkListerFunc func(ctx context.Context, cb Endpoint) ([]string, error)

// ListLinks calls f.
func (f LinkListerFunc) ListLinks(ctx context.Context, cb Endpoint) ([]string, error) {
	return f(ctx, cb)
}

// Config configures an Engine. The zero value is valid and means the
// defaults given on each field; negative durations and counts are rejected
// by New with the field's name.
type Config struct {
	// AdminSecret authorises management calls (registerClient, removing
	// clients) and keys the sealing of client passwords. Empty means
	// management calls are refused.
	AdminSecret string
	// PublicURL is the server's address as clients see it, for mails and
	// the info frame. Default "http://127.0.0.1:8080".
	PublicURL string
	// MailCC receives a copy of every registration mail.
	MailCC []mail.Address

	// Checker checks URLs. Default NewChecker(CheckerConfig).
	Checker Checker
	// CheckerConfig configures the default Checker.
	CheckerConfig CheckerConfig
	// Notifier delivers updates; required when RunNotifier or RunSyncer
	// runs (package xmlrpcapi has the XML-RPC one).
	Notifier Notifier
	// Lister fetches clients' link lists; required when RunSyncer runs.
	Lister LinkLister
	// Mailer sends registration and "notifications disabled" mails.
	// Default: none (mails are logged and dropped).
	Mailer Mailer
	// Logger receives structured logs. Default: discarded.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time

	// Components selects what Run runs. Default RunAll.
	Components Components

	// Concurrency is the most checks in flight. Default 20.
	Concurrency int
	// HostInterval is the least time between two requests to one host.
	// Default 1 s.
	HostInterval time.Duration
	// Unpaced switches per-host spacing off entirely (HostInterval is
	// ignored): only for benchmarks and for hosts of your own.
	Unpaced bool
	// HostBackoff is how long a host rests after 429 or 503 without
	// Retry-After. Default 1 min.
	HostBackoff time.Duration
	// MaxHostBackoff caps a host's rest after 429/503. Default 1 h.
	MaxHostBackoff time.Duration
	// Policy decides when links are due. Zero fields take their defaults.
	Policy Policy
	// Lease is how long claimed links stay with this checker before others
	// may take them. Default 10 min.
	Lease time.Duration
	// ClaimPoll is how often the checker looks for due links when idle.
	// Default 250 ms.
	ClaimPoll time.Duration

	// OutageWindow is the window of the "is it us?" guard. Default 1 min.
	OutageWindow time.Duration
	// OutageMinHosts is how many distinct hosts must fail at the network
	// level within the window to suspect an outage. Default 10; negative
	// disables the guard.
	OutageMinHosts int
	// OutageRatio is the share of all checks in the window that must be
	// network failures. Default 0.8.
	OutageRatio float64
	// OutageRecheck is when a held-back link is checked again. Default 5 min.
	OutageRecheck time.Duration

	// NotifyInterval is the least time between two pushes to one client.
	// Default 15 s.
	NotifyInterval time.Duration
	// NotifyBackoffMax caps the retry back-off after failed pushes.
	// Default 10 min.
	NotifyBackoffMax time.Duration
	// NotifyMaxFailures is how many consecutive failures switch a client's
	// notifications off. Default 20.
	NotifyMaxFailures int
	// NotifyChunk is the most updates in one updateManyStates call.
	// Default 1000.
	NotifyChunk int
	// NotifyConcurrency is how many clients are served at once. Default 16.
	NotifyConcurrency int
	// NotifyTimeout bounds one delivery round to one client. Default 2 min.
	NotifyTimeout time.Duration
	// NotifyPoll is how often the notifier looks for pending changes.
	// Default 1 s.
	NotifyPoll time.Duration

	// SyncInterval is the time between two full syncs of a client.
	// Default 24 h.
	SyncInterval time.Duration
	// SyncPoll is how often the syncer looks for due or forced syncs.
	// Default 5 s.
	SyncPoll time.Duration
	// SyncConcurrency is how many clients sync at once. Default 4.
	SyncConcurrency int
	// SyncTimeout bounds one sync. Default 10 min.
	SyncTimeout time.Duration
}

// withDefaults fills zero fields and validates the rest.
func (c Config) withDefaults() (Config, error) {
	durations := []struct {
		name string
		p    *time.Duration
		def  time.Duration
	}{
		{"HostInterval", &c.HostInterval, time.Second},
		{"HostBackoff", &c.HostBackoff, time.Minute},
		{"MaxHostBackoff", &c.MaxHostBackoff, time.Hour},
		{"Lease", &c.Lease, 10 * time.Minute},
		{"ClaimPoll", &c.ClaimPoll, 250 * time.Millisecond},
		{"OutageWindow", &c.OutageWindow, time.Minute},
		{"OutageRecheck", &c.OutageRecheck, 5 * time.Minute},
		{"NotifyInterval", &c.NotifyInterval, 15 * time.Second},
		{"NotifyBackoffMax", &c.NotifyBackoffMax, 10 * time.Minute},
		{"NotifyTimeout", &c.NotifyTimeout, 2 * time.Minute},
		{"NotifyPoll", &c.NotifyPoll, time.Second},
		{"SyncInterval", &c.SyncInterval, 24 * time.Hour},
		{"SyncPoll", &c.SyncPoll, 5 * time.Second},
		{"SyncTimeout", &c.SyncTimeout, 10 * time.Minute},
		{"Policy.Interval", &c.Policy.Interval, 24 * time.Hour},
		{"Policy.MinRecheck", &c.Policy.MinRecheck, time.Hour},
		{"Policy.RetryInterval", &c.Policy.RetryInterval, 3 * time.Hour},
		{"Policy.MaxRetryAfter", &c.Policy.MaxRetryAfter, 24 * time.Hour},
		{"CheckerConfig.ConnectTimeout", &c.CheckerConfig.ConnectTimeout, 10 * time.Second},
		{"CheckerConfig.Timeout", &c.CheckerConfig.Timeout, 30 * time.Second},
	}
	for _, d := range durations {
		if *d.p < 0 {
			return c, fmt.Errorf("lms: Config.%s is %v: %w (must not be negative)", d.name, *d.p, ErrInvalid)
		}
		if *d.p == 0 {
			*d.p = d.def
		}
	}
	counts := []struct {
		name string
		p    *int
		def  int
	}{
		{"Concurrency", &c.Concurrency, 20},
		{"NotifyMaxFailures", &c.NotifyMaxFailures, 20},
		{"NotifyChunk", &c.NotifyChunk, 1000},
		{"NotifyConcurrency", &c.NotifyConcurrency, 16},
		{"SyncConcurrency", &c.SyncConcurrency, 4},
		{"Policy.FailuresToUnavailable", &c.Policy.FailuresToUnavailable, 2},
		{"CheckerConfig.MaxRedirects", &c.CheckerConfig.MaxRedirects, 10},
	}
	for _, n := range counts {
		if *n.p < 0 {
			return c, fmt.Errorf("lms: Config.%s is %d: %w (must not be negative)", n.name, *n.p, ErrInvalid)
		}
		if *n.p == 0 {
			*n.p = n.def
		}
	}
	if c.OutageMinHosts == 0 {
		c.OutageMinHosts = 10
	}
	if c.OutageRatio == 0 {
		c.OutageRatio = 0.8
	}
	if c.OutageRatio < 0 || c.OutageRatio > 1 {
		return c, fmt.Errorf("lms: Config.OutageRatio is %v: %w (must be within 0..1)", c.OutageRatio, ErrInvalid)
	}
	if c.Policy.Jitter > 1 {
		return c, fmt.Errorf("lms: Config.Policy.Jitter is %v: %w (must be at most 1)", c.Policy.Jitter, ErrInvalid)
	}
	if c.Components == 0 {
		c.Components = RunAll
	}
	if c.Components&^RunAll != 0 {
		return c, fmt.Errorf("lms: Config.Components is %d: %w", c.Components, ErrInvalid)
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://127.0.0.1:8080"
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("lms: Config.PublicURL %q: %w (want an http or https URL)", c.PublicURL, ErrInvalid)
	}
	if c.Components&(RunNotifier|RunSyncer) != 0 && c.Notifier == nil {
		return c, fmt.Errorf("lms: Config.Notifier: %w: required to run the notifier or the syncer (see xmlrpcapi.NewCallbackClient)", ErrInvalid)
	}
	if c.Components&RunSyncer != 0 && c.Lister == nil {
		return c, fmt.Errorf("lms: Config.Lister: %w: required to run the syncer (see xmlrpcapi.NewCallbackClient)", ErrInvalid)
	}
	c.Policy = c.Policy.WithDefaults()
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.CheckerConfig = c.CheckerConfig.withDefaults()
	if c.Checker == nil {
		c.Checker = NewDefaultChecker(c.CheckerConfig)
	}
	return c, nil
}

// Engine is the link monitor: the API operations as methods, and Run for
// the background components. Create it with New; it is safe for concurrent
// use.
type Engine struct {
	store   Store
	cfg     Config
	log     *slog.Logger
	checker Checker
	pool    *checkPool
	sealer  *secret.Sealer

	authMu    sync.Mutex
	authCache map[string]string // client id → password hash it was verified against + proof

	notify *notifyState
	syncs  *syncState
}

// New returns an Engine over store. The Config is validated; errors name the
// offending field and wrap ErrInvalid.
func New(store Store, cfg Config) (*Engine, error) {
	if store == nil {
		return nil, fmt.Errorf("lms: New: %w: nil Store", ErrInvalid)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	e := &Engine{
		store:     store,
		cfg:       cfg,
		log:       cfg.Logger,
		checker:   cfg.Checker,
		sealer:    secret.NewSealer(cfg.AdminSecret),
		authCache: make(map[string]string),
		notify:    &notifyState{},
		syncs:     &syncState{},
	}
	e.pool = newCheckPool(e)
	return e, nil
}

func (e *Engine) now() time.Time { return e.cfg.Now() }

// Config returns the effective configuration, defaults filled in.
func (e *Engine) Config() Config { return e.cfg }

// Store returns the engine's store.
func (e *Engine) Store() Store { return e.store }

// Run runs the enabled components until ctx is cancelled, then waits for
// every goroutine to stop and returns nil. In-flight checks are abandoned
// and their links made due again; nothing acknowledged is lost. It returns
// an error only if a component fails for good.
func (e *Engine) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	if e.cfg.Components&RunChecker != 0 {
		g.Go(func() error { return e.pool.run(gctx) })
	}
	if e.cfg.Components&RunNotifier != 0 {
		g.Go(func() error { return e.runNotifier(gctx) })
	}
	if e.cfg.Components&RunSyncer != 0 {
		g.Go(func() error { return e.runSyncer(gctx) })
	}
	e.log.Info("engine running", "components", e.cfg.Components, "concurrency", e.cfg.Concurrency, "host_interval", e.cfg.HostInterval)
	err := g.Wait()
	if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)) {
		e.log.Info("engine stopped")
		return nil
	}
	return err
}

// Registration is what RegisterClient needs to know about a new client.
type Registration struct {
	ID           string
	Password     string // empty: a 30-character password is generated
	ContactName  string
	ContactEmail string
	CallbackURL  string
}

// CheckAdminSecret returns ErrUnauthorized unless adminSecret is the configured
// admin secret (compared in constant time). An unset admin secret refuses
// everything.
func (e *Engine) CheckAdminSecret(adminSecret string) error {
	if e.cfg.AdminSecret == "" || !secret.Equal(adminSecret, e.cfg.AdminSecret) {
		return fmt.Errorf("lms: admin secret: %w", ErrUnauthorized)
	}
	return nil
}

// RegisterClient creates a client after checking the admin secret, stores
// only a hash of its password, and mails the password to the contact (the
// only channel that delivers it). It returns the password.
func (e *Engine) RegisterClient(ctx context.Context, adminSecret string, r Registration) (string, error) {
	if err := e.CheckAdminSecret(adminSecret); err != nil {
		return "", err
	}
	if err := validate.ClientID(r.ID); err != nil {
		return "", fmt.Errorf("lms: register client: %w: %w", ErrInvalid, err)
	}
	if err := validate.CallbackURL(r.CallbackURL); err != nil {
		return "", fmt.Errorf("lms: register client %q: %w: %w", r.ID, ErrInvalid, err)
	}
	addr, err := mail.ParseAddress(r.ContactEmail)
	if err != nil || len(r.ContactEmail) > 254 {
		return "", fmt.Errorf("lms: register client %q: contact e-mail %q: %w", r.ID, r.ContactEmail, ErrInvalid)
	}
	if len(r.ContactName) > 256 || strings.ContainsAny(r.ContactName, "\r\n") {
		return "", fmt.Errorf("lms: register client %q: contact name: %w", r.ID, ErrInvalid)
	}
	pw, human := r.Password, r.Password != ""
	if pw == "" {
		pw = secret.GeneratePassword()
	} else if len(pw) < 8 || len(pw) > 72 {
		return "", fmt.Errorf("lms: register client %q: password must be 8 to 72 bytes: %w", r.ID, ErrInvalid)
	}
	hash, err := secret.Hash(pw, human)
	if err != nil {
		return "", err
	}
	now := e.now()
	c := Client{
		ID: r.ID, PasswordHash: hash, SealedPassword: e.sealer.Seal(r.ID, pw),
		ContactName: r.ContactName, ContactEmail: addr.Address, CallbackURL: r.CallbackURL,
		Notify: true, Created: now,
		// Spread the daily syncs of clients over the interval.
		NextSync: now.Add(time.Duration(rand.Int64N(int64(e.cfg.SyncInterval)))),
	}
	if err := e.store.CreateClient(ctx, c); err != nil {
		return "", fmt.Errorf("lms: register client %q: %w", r.ID, err)
	}
	e.log.Info("client registered", "client", r.ID, "callback", r.CallbackURL)
	e.sendMail(ctx, e.registrationMail(c, pw))
	return pw, nil
}

// Authenticate returns nil if pw is the password of client id, and an error
// wrapping ErrUnauthorized otherwise (also for unknown clients). An unknown
// id costs the same work as a wrong password of a known one: the password is
// verified against a dummy hash of the kind generated passwords have, so the
// time of the answer does not tell which ids exist.
func (e *Engine) Authenticate(ctx context.Context, id, pw string) error {
	c, err := e.store.GetClient(ctx, id)
	known := err == nil
	if !known {
		if !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrInvalid) {
			return err
		}
		c = Client{ID: id, PasswordHash: dummyPasswordHash}
	}
	proof := e.sealer.Proof(id, pw, c.PasswordHash)
	e.authMu.Lock()
	cached := e.authCache[id]
	e.authMu.Unlock()
	if cached == "" || !secret.Equal(cached, proof) {
		if !secret.Verify(c.PasswordHash, pw) || !known {
			return fmt.Errorf("lms: client %q: %w", id, ErrUnauthorized)
		}
		e.authMu.Lock()
		e.authCache[id] = proof
		e.authMu.Unlock()
	}
	// The callback needs the password; reseal it if the admin secret changed.
	if _, ok := e.sealer.Open(id, c.SealedPassword); !ok {
		sealed := e.sealer.Seal(id, pw)
		if _, err := e.store.UpdateClient(ctx, id, func(c *Client) error { c.SealedPassword = sealed; return nil }); err != nil {
			// Authenticated all the same; the next call tries again.
			e.log.Warn("resealing the client password", "client", id, "err", err)
		}
	}
	return nil
}

// dummyPasswordHash is what Authenticate verifies a password of an unknown
// client id against: a salted SHA-256 like those of generated passwords
// (secret.Hash), of a password nobody knows.
const dummyPasswordHash = "sha256$8d1f0c7e52a94b36e0f4a1c29b7d5e63$5f3c9a0e7b21d84c6a9e0f1b3d5c7a92e4f6081b3c5d7e9f0a2b4c6d8e0f1a23"

// errNoPassword means the client's password cannot be unsealed (the admin
// secret changed) and the client has not authenticated since.
var errNoPassword = errors.New("client password unavailable: the admin secret changed; it is learnt again at the client's next call")

// callback returns how to reach c.
func (e *Engine) callback(c Client) (Endpoint, error) {
	pw, ok := e.sealer.Open(c.ID, c.SealedPassword)
	if !ok {
		return Endpoint{}, errNoPassword
	}
	return Endpoint{ClientID: c.ID, Password: pw, URL: c.CallbackURL}, nil
}

// RegisterURLs subscribes the client to every valid string of urls (invalid
// ones are dropped silently) and returns, in input order and with duplicates
// repeated, the state of each submitted URL that has been checked before.
func (e *Engine) RegisterURLs(ctx context.Context, clientID string, urls []string) ([]Update, error) {
	valid := validate.URLs(urls)
	if len(valid) > 0 {
		added, err := e.store.Subscribe(ctx, clientID, valid, e.now())
		if err != nil {
			return nil, fmt.Errorf("lms: register URLs: %w", err)
		}
		if added > 0 {
			e.pool.linksAdded() // checked within milliseconds, not at the next poll
		}
	} else if _, err := e.store.GetClient(ctx, clientID); err != nil {
		return nil, fmt.Errorf("lms: register URLs: %w", err)
	}
	known, err := e.store.LookupLinks(ctx, valid)
	if err != nil {
		return nil, fmt.Errorf("lms: register URLs: %w", err)
	}
	out := []Update{}
	for _, u := range urls {
		if l, ok := known[u]; ok && !l.LastChecked.IsZero() {
			out = append(out, l.Update())
		}
	}
	return out, nil
}

// UnregisterURLs removes the client's subscriptions to urls; unknown ones
// are ignored and the links stay known to the server.
func (e *Engine) UnregisterURLs(ctx context.Context, clientID string, urls []string) error {
	if _, err := e.store.Unsubscribe(ctx, clientID, urls); err != nil {
		return fmt.Errorf("lms: unregister URLs: %w", err)
	}
	return nil
}

// Notifications reports whether the client's notifications are on.
func (e *Engine) Notifications(ctx context.Context, clientID string) (bool, error) {
	c, err := e.store.GetClient(ctx, clientID)
	if err != nil {
		return false, fmt.Errorf("lms: notifications: %w", err)
	}
	return c.Notify, nil
}

// SetNotifications switches the client's notifications (and syncs) on or
// off. Nothing pending is dropped; switching on resets the failure count,
// so everything pending is delivered at the next notifier tick.
func (e *Engine) SetNotifications(ctx context.Context, clientID string, on bool) error {
	_, err := e.store.UpdateClient(ctx, clientID, func(c *Client) error {
		if on && !c.Notify {
			c.NotifyFailures, c.NextNotify, c.NotifyDisabledAt = 0, time.Time{}, time.Time{}
		}
		c.Notify = on
		return nil
	})
	if err != nil {
		return fmt.Errorf("lms: set notifications: %w", err)
	}
	return nil
}

// ForceSync asks for a full sync of the client at the next syncer tick (if
// its notifications are on).
func (e *Engine) ForceSync(ctx context.Context, clientID string) error {
	_, err := e.store.UpdateClient(ctx, clientID, func(c *Client) error { c.SyncForced = true; return nil })
	if err != nil {
		return fmt.Errorf("lms: force sync: %w", err)
	}
	return nil
}

// InfoFrameURL is the page getInfoFrameURL points clients to.
func (e *Engine) InfoFrameURL() string { return e.cfg.PublicURL + "/alerts" }

// Client returns one client.
func (e *Engine) Client(ctx context.Context, id string) (Client, error) {
	c, err := e.store.GetClient(ctx, id)
	if err != nil {
		return Client{}, fmt.Errorf("lms: client: %w", err)
	}
	return c, nil
}

// Clients returns all clients ordered by id.
func (e *Engine) Clients(ctx context.Context) ([]Client, error) {
	cs, err := e.store.ListClients(ctx)
	if err != nil {
		return nil, fmt.Errorf("lms: clients: %w", err)
	}
	return cs, nil
}

// ClientLinks returns a page of the client's links with all their details.
func (e *Engine) ClientLinks(ctx context.Context, clientID string, p Page) ([]Link, error) {
	ls, err := e.store.ClientLinks(ctx, clientID, p)
	if err != nil {
		return nil, fmt.Errorf("lms: client links: %w", err)
	}
	return ls, nil
}

// LinkStates returns the full details of each of urls, in input order; URLs
// the server does not know come back in state unknown.
func (e *Engine) LinkStates(ctx context.Context, clientID string, urls []string) ([]Link, error) {
	if _, err := e.store.GetClient(ctx, clientID); err != nil {
		return nil, fmt.Errorf("lms: link states: %w", err)
	}
	known, err := e.store.LookupLinks(ctx, urls)
	if err != nil {
		return nil, fmt.Errorf("lms: link states: %w", err)
	}
	out := make([]Link, len(urls))
	for i, u := range urls {
		l, ok := known[u]
		if !ok {
			l = Link{URL: u, State: StateUnknown, Host: HostKey(u)}
		}
		out[i] = l
	}
	return out, nil
}

// RemoveClient deletes a client, its subscriptions and pending
// notifications, after checking the admin secret.
func (e *Engine) RemoveClient(ctx context.Context, adminSecret, id string) error {
	if err := e.CheckAdminSecret(adminSecret); err != nil {
		return err
	}
	if err := e.store.DeleteClient(ctx, id); err != nil {
		return fmt.Errorf("lms: remove client: %w", err)
	}
	e.authMu.Lock()
	delete(e.authCache, id)
	e.authMu.Unlock()
	e.log.Info("client removed", "client", id)
	return nil
}
