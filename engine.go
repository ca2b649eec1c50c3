package lms

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/mail"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/linkmonitor/lms/internal/dispatch"
	"github.com/linkmonitor/lms/internal/logsafe"
	"github.com/linkmonitor/lms/internal/notify"
	"github.com/linkmonitor/lms/internal/outage"
	"github.com/linkmonitor/lms/internal/pace"
	"github.com/linkmonitor/lms/internal/quota"
	"github.com/linkmonitor/lms/internal/secret"
	"github.com/linkmonitor/lms/internal/validate"
	"github.com/linkmonitor/lms/internal/wayback"
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

// Config configures an Engine. The zero value is valid: every zero field
// means the default given in its comment (Policy's and CheckerConfig's
// fields document theirs). New rejects negative durations and counts
// (naming the field), except where a field says what a negative value
// means.
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
	// ProcessID names this process among those sharing the store: it holds
	// hosts and clients under this name (ClaimOptions.Holder, Lease).
	// Default: host name, process id and a random suffix.
	ProcessID string

	// Checker checks URLs. Default NewDefaultChecker(CheckerConfig).
	Checker Checker
	// CheckerConfig configures the default Checker.
	CheckerConfig CheckerConfig
	// Notifier delivers updates; required when RunNotifier or RunSyncer
	// runs (package xmlrpcapi has the XML-RPC one).
	Notifier Notifier
	// Lister fetches clients' link lists; required when RunSyncer runs.
	Lister LinkLister
	// Mailer sends the mails of the outbox (registration, notifications
	// disabled). Default: none; mails then wait in the outbox.
	Mailer Mailer
	// Logger receives structured logs, every value cut to 200 bytes and
	// warnings and errors limited to 10 a minute per message. Default:
	// discarded.
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
	// Policy decides when links are due.
	Policy Policy
	// Lease is how long claimed links, and their hosts, stay with this
	// process before others may take them. Default 10 min.
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
	// OutageProbes are reference URLs (sites that should always answer) the
	// guard requests first when it suspects an outage; without them it
	// requests URLs that answered recently. Default none.
	OutageProbes []string

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
	// NotifyConcurrency is how many clients are served at once (clients
	// whose last push failed have a quarter as many slots of their own).
	// Default 256.
	NotifyConcurrency int
	// NotifyTimeout bounds one delivery round to one client. Default 2 min.
	NotifyTimeout time.Duration
	// NotifyPoll is how often the notifier looks for pending changes.
	// Default 1 s.
	NotifyPoll time.Duration
	// MailPoll is how often the outbox is looked at. Default 5 s.
	MailPoll time.Duration
	// DigestPoll is how often due digests are looked for. Default 1 min.
	DigestPoll time.Duration

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

	// RecheckPerHour caps the URLs each client may ask to re-check in an
	// hour (Engine.Recheck). Default 1,000; negative: no cap.
	RecheckPerHour int

	// ArchiveEndpoint is the Wayback-Machine compatible availability
	// service asked for archived copies of broken links (suggest.go),
	// through the checks' address policy. Default
	// "https://archive.org/wayback/available".
	ArchiveEndpoint string
	// NoArchive switches archive look-ups off.
	NoArchive bool
	// ArchiveTTL is how long a look-up's answer, found or not, stands while
	// the link stays broken. Default 30 days.
	ArchiveTTL time.Duration
}

// withDefaults fills zero fields and validates the rest. Each default is
// written here once (Policy's in Policy.WithDefaults, CheckerConfig's in
// CheckerConfig.withDefaults).
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
		{"MailPoll", &c.MailPoll, 5 * time.Second},
		{"DigestPoll", &c.DigestPoll, time.Minute},
		{"SyncInterval", &c.SyncInterval, 24 * time.Hour},
		{"SyncPoll", &c.SyncPoll, 5 * time.Second},
		{"SyncTimeout", &c.SyncTimeout, 10 * time.Minute},
		{"ArchiveTTL", &c.ArchiveTTL, 30 * 24 * time.Hour},
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
		{"NotifyConcurrency", &c.NotifyConcurrency, 256},
		{"SyncConcurrency", &c.SyncConcurrency, 4},
	}
	for _, n := range counts {
		if *n.p < 0 {
			return c, fmt.Errorf("lms: Config.%s is %d: %w (must not be negative)", n.name, *n.p, ErrInvalid)
		}
		if *n.p == 0 {
			*n.p = n.def
		}
	}
	if err := checkNotNegative(c.Policy, c.CheckerConfig); err != nil {
		return c, err
	}
	if c.RecheckPerHour == 0 {
		c.RecheckPerHour = 1000
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
	for _, u := range c.OutageProbes {
		if err := validate.URL(u); err != nil {
			return c, fmt.Errorf("lms: Config.OutageProbes %q: %w: %w", u, ErrInvalid, err)
		}
	}
	c.ArchiveEndpoint = cmp.Or(c.ArchiveEndpoint, wayback.DefaultEndpoint)
	if err := wayback.CheckEndpoint(c.ArchiveEndpoint); err != nil && !c.NoArchive {
		return c, fmt.Errorf("lms: Config.ArchiveEndpoint: %w: %w", ErrInvalid, err)
	}
	if c.ProcessID == "" {
		c.ProcessID = defaultProcessID()
	}
	if c.Unpaced {
		c.HostInterval = 0
	}
	c.Policy = c.Policy.WithDefaults()
	if c.CheckerConfig.ProbeInterval == 0 {
		c.CheckerConfig.ProbeInterval = c.Policy.Interval // one probe per host per check interval
	}
	c.CheckerConfig = c.CheckerConfig.withDefaults()
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	} else {
		// Values from clients and sites are cut, and repeated failures
		// (a store down, a flood) rate-limited per message.
		c.Logger = slog.New(logsafe.Handler(c.Logger.Handler(), 10, time.Minute))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Checker == nil {
		c.Checker = NewDefaultChecker(c.CheckerConfig)
	}
	return c, nil
}

// checkNotNegative rejects negative durations and counts in the policy and
// the checker configuration, naming the field.
func checkNotNegative(p Policy, cc CheckerConfig) error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"Policy.Interval", p.Interval}, {"Policy.MinRecheck", p.MinRecheck},
		{"Policy.RetryInterval", p.RetryInterval}, {"Policy.MaxRetryAfter", p.MaxRetryAfter},
		{"Policy.ConfirmDelay", p.ConfirmDelay}, {"Policy.FailingInterval", p.FailingInterval},
		{"CheckerConfig.ConnectTimeout", cc.ConnectTimeout}, {"CheckerConfig.Timeout", cc.Timeout},
	} {
		if d.v < 0 {
			return fmt.Errorf("lms: Config.%s is %v: %w (must not be negative)", d.name, d.v, ErrInvalid)
		}
	}
	for _, n := range []struct {
		name string
		v    int
	}{
		{"Policy.FailuresToUnavailable", p.FailuresToUnavailable}, {"Policy.TransientFailuresToUnavailable", p.TransientFailuresToUnavailable},
		{"CheckerConfig.MaxRedirects", cc.MaxRedirects},
	} {
		if n.v < 0 {
			return fmt.Errorf("lms: Config.%s is %d: %w (must not be negative)", n.name, n.v, ErrInvalid)
		}
	}
	if cc.MaxBytes < 0 {
		return fmt.Errorf("lms: Config.CheckerConfig.MaxBytes is %d: %w (must not be negative)", cc.MaxBytes, ErrInvalid)
	}
	return nil
}

// defaultProcessID names this process: host name, process id and a random
// suffix (a restarted process is a new holder).
func defaultProcessID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "lms"
	}
	return fmt.Sprintf("%s/%d/%04x", host, os.Getpid(), rand.Uint32()&0xffff)
}

// Engine is the link monitor: the API operations as methods (api.go), and
// Run for the background components, each a value of its own built from the
// store roles it uses. Create it with New; it is safe for concurrent use.
type Engine struct {
	store  Store
	cfg    Config
	log    *slog.Logger
	sealer *secret.Sealer

	passwords *secret.Verifier

	// The checker component: the scheduler claims, the dispatcher
	// (internal/dispatch) queues per host and starts checks in its request
	// slots, the pool runs them; the host pacer, the host holds
	// (internal/pace) and the guard answer their questions.
	pacer    *pace.Pacer
	guard    *outage.Guard
	disp     *dispatch.Dispatcher[Link]
	pool     *pool
	sched    *scheduler
	notifier *notify.Notifier
	syncer   *notify.Syncer
	hooks    *notify.Deliverer
	mailer   *notify.Mailer
	digests  *notify.Digester
	rechecks *quota.Quota    // per-client cap of Recheck (editors.go)
	archive  *wayback.Worker // archive look-ups (suggest.go); nil when off
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
		store:    store,
		cfg:      cfg,
		log:      cfg.Logger,
		sealer:   secret.NewSealer(cfg.AdminSecret),
		rechecks: quota.New(cfg.RecheckPerHour),
	}
	e.passwords = secret.NewVerifier(e.sealer)
	e.pacer = pace.New(cfg.HostInterval)
	holds := newHostHolds(store, cfg, e.pacer)
	e.guard = newOutageGuard(cfg, newProbe(cfg, e.pacer, holds))
	e.pool = newPool(store, cfg, e.pacer, e.guard)
	e.sched = newScheduler(store, cfg)
	e.disp = newDispatcher(cfg, e.pacer, holds, e.pool, e.sched)
	e.mailer, e.hooks, e.notifier, e.syncer, e.digests = newNotify(store, cfg, e.sealer, e.sched.linksAdded)
	e.archive = newArchiver(store, cfg, e.pacer)
	return e, nil
}

func (e *Engine) now() time.Time { return e.cfg.Now() }

// Config returns the effective configuration, defaults filled in.
func (e *Engine) Config() Config { return e.cfg }

// Store returns the engine's store.
func (e *Engine) Store() Store { return e.store }

// Run runs the enabled components until ctx is cancelled, then waits for
// every goroutine to stop and returns nil. In-flight checks are abandoned
// and their links made due again; the checker's queued links and the hosts
// it holds are handed back to the store at once, with each host's next
// allowed time, so that other processes sharing it carry on without
// waiting for the leases; nothing acknowledged is lost. It returns
// an error only if a component fails for good.
func (e *Engine) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	if e.cfg.Components&RunChecker != 0 {
		g.Go(func() error { return e.runChecker(gctx) })
	}
	if e.cfg.Components&RunNotifier != 0 {
		g.Go(func() error { return e.notifier.Run(gctx) })
		g.Go(func() error { return e.mailer.Run(gctx) })
		g.Go(func() error { return e.digests.Run(gctx) })
		g.Go(func() error { return e.hooks.Run(gctx) })
	}
	if e.cfg.Components&RunSyncer != 0 {
		g.Go(func() error { return e.syncer.Run(gctx) })
		g.Go(func() error { return e.recordDailyCounts(gctx) })
	}
	if e.archive != nil {
		g.Go(func() error { return e.archive.Run(gctx) })
	}
	if w, ok := e.store.(Waker); ok {
		g.Go(func() error { e.relayWakeups(gctx, w); return nil })
	}
	e.log.Info("engine running", "components", e.cfg.Components, "process", e.cfg.ProcessID, "concurrency", e.cfg.Concurrency, "host_interval", e.cfg.HostInterval)
	err := g.Wait()
	if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)) {
		e.log.Info("engine stopped")
		return nil
	}
	return err
}

// runChecker runs the claim loop, the dispatcher (with the checks it
// starts) and the guard's probe loop; once all have stopped, the links
// still queued are made due again at once and the hosts this process holds
// are handed over (ScheduleStore.ReleaseHosts).
func (e *Engine) runChecker(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return e.disp.RunClaims(gctx) })
	g.Go(func() error { return e.disp.Run(gctx) })
	g.Go(func() error { return e.guard.Run(gctx) })
	err := g.Wait()
	if rerr := e.disp.ReleaseQueued(); rerr != nil {
		// The hosts come back when their leases end, as after a crash.
		e.log.Warn("handing hosts over at stop", "err", rerr)
	}
	return err
}

// relayWakeups passes other processes' wake-ups to the components.
func (e *Engine) relayWakeups(ctx context.Context, w Waker) {
	for ev := range w.Wakeups(ctx) {
		if ev&WakeLinksAdded != 0 {
			e.sched.linksAdded()
		}
		if ev&WakePending != 0 {
			e.notifier.Poke()
		}
		if ev&WakeMail != 0 {
			e.mailer.Owed()
		}
	}
}
