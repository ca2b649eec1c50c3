// Command lmsd is the reference Link Monitoring Server: the XML-RPC API
// (POST / and /RPC2), the web pages (/, /alerts, /admin), /metrics and
// /healthz, over a bbolt file, memory or PostgreSQL, with the Engine running
// the checker, notifier and syncer.
//
// The pages and probes anyone can reach (/, /alerts, /healthz, /metrics)
// share one Stats snapshot, computed at most once per -snapshot-ttl; the
// metrics name no client unless -metrics-per-client is set, and
// -metrics-addr moves them to a listener of their own. No secret is ever
// logged: a generated admin secret goes into a 0600 file whose name is
// logged.
//
//	go run ./examples/lmsd                  # 127.0.0.1:8080, lms.db, mails into ./lms-mail
//	go run ./examples/lmsd -store postgres -dsn postgres://lms@db/lms -admin-secret S
//	go run ./examples/lmsd -store postgres -components none …    # API only; checker, notifier,syncer elsewhere
//	go run ./examples/lmsd -help            # every flag
package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/mail"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/boltstore"
	"github.com/linkmonitor/lms/internal/guard"
	"github.com/linkmonitor/lms/internal/logsafe"
	"github.com/linkmonitor/lms/jsonapi"
	"github.com/linkmonitor/lms/mailer"
	"github.com/linkmonitor/lms/memstore"
	"github.com/linkmonitor/lms/prommetrics"
	"github.com/linkmonitor/lms/webui"
	"github.com/linkmonitor/lms/xmlrpcapi"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A second SIGINT or SIGTERM ends the process at once (its hosts and
	// links come back when their leases end, as after a crash).
	context.AfterFunc(ctx, stop)
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "lmsd:", err)
		}
		os.Exit(2)
	}
}

// options are the parsed flags.
type options struct {
	addr, store, db, secret, publicURL                  string
	smtp, smtpUser, smtpTLS, mailFrom, mailCC, mailDir  string
	outageProbes                                        string
	allowPrivate, metricsPerClient, browserUA           bool
	allowNetworks                                       string
	allowedPrefixes                                     []netip.Prefix
	metricsAddr                                         string
	snapshotTTL                                         time.Duration
	concurrency                                         int
	checkMaxBytes                                       int64
	hostInterval, checkInterval, minRecheck             time.Duration
	confirmDelay                                        time.Duration
	notifyInterval, syncInterval, shutdownTimeout       time.Duration
	stopGrace                                           time.Duration
	userAgent, components, logFormat, logLevel, onReady string
	pg                                                  pgFlags
	processID                                           string
	lease, claimPoll, notifyPoll                        time.Duration
	historyChanges, recheckPerHour                      int // editors (issue 22)
	historyAge                                          time.Duration
	wayback                                             string // archive look-ups ("" off)
}

func parseFlags(args []string, getenv func(string) string, out io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("lmsd", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address (host:port)")
	fs.StringVar(&o.store, "store", "bolt", "store: bolt, memory or postgres")
	fs.StringVar(&o.db, "db", "lms.db", "bolt file (with -store bolt)")
	fs.StringVar(&o.secret, "admin-secret", "", "admin secret for registerClient, removeClient and /admin (default: $LMS_ADMIN_SECRET, else kept in DB.secret, created on first start; required with -store postgres)")
	fs.StringVar(&o.publicURL, "public-url", "", "the server's URL as clients see it (default http://ADDR)")
	fs.StringVar(&o.smtp, "smtp", "", "SMTP relay HOST:PORT; without it mails are written into -mail-dir")
	fs.StringVar(&o.smtpUser, "smtp-user", "", "SMTP user (password from $LMS_SMTP_PASSWORD)")
	fs.StringVar(&o.smtpTLS, "smtp-tls", "mandatory", "SMTP TLS: mandatory, opportunistic, none or implicit")
	fs.StringVar(&o.mailFrom, "mail-from", "lms@localhost", "sender of mails")
	fs.StringVar(&o.mailCC, "mail-cc", "", `copy every registration mail to these addresses ("a@x b@y")`)
	fs.StringVar(&o.outageProbes, "outage-probe", "", `URLs that should always answer ("https://a.example/ https://b.example/"): the "is it us?" guard asks them first when it suspects a local outage`)
	fs.StringVar(&o.mailDir, "mail-dir", "lms-mail", "directory for .eml files when -smtp is not set")
	fs.BoolVar(&o.allowPrivate, "allow-private", false, "let checks and callbacks reach loopback and private networks (intranets, tests)")
	fs.StringVar(&o.allowNetworks, "allow-networks", "", `networks checks and callbacks may reach although private ("10.1.0.0/16 fd00:1::/48"); -allow-private lets all through`)
	fs.IntVar(&o.concurrency, "concurrency", 20, "most checks in flight")
	fs.DurationVar(&o.hostInterval, "host-interval", time.Second, "least time between two requests to one host (0: no pacing, for your own hosts only)")
	fs.DurationVar(&o.checkInterval, "check-interval", 24*time.Hour, "time between regular checks of a link")
	fs.DurationVar(&o.minRecheck, "min-recheck", time.Hour, "shortest time between two regular checks of one link")
	fs.DurationVar(&o.confirmDelay, "confirm-delay", 0, "time from a first failure to the re-check that confirms it, 4x longer per further confirmation (default: min-recheck/12)")
	fs.BoolVar(&o.browserUA, "browser-user-agent", true, "the one retry of an answer that may come from a bot wall sends a browser's User-Agent (false: -user-agent, with the other browser headers)")
	fs.Int64Var(&o.checkMaxBytes, "check-max-bytes", 1<<20, "most bytes one check reads (page body; FTP banner and replies)")
	fs.DurationVar(&o.notifyInterval, "notify-interval", 15*time.Second, "least time between two pushes to one client")
	fs.DurationVar(&o.syncInterval, "sync-interval", 24*time.Hour, "time between full syncs of a client")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long SIGTERM waits for in-flight work")
	fs.DurationVar(&o.stopGrace, "stop-grace", 5*time.Second, "how long checks in flight at SIGTERM may finish and write their results before they are abandoned (0: at once); below -shutdown-timeout; a second SIGTERM ends the process at once")
	fs.StringVar(&o.userAgent, "user-agent", lms.DefaultUserAgent, "User-Agent of checks")
	fs.StringVar(&o.components, "components", "checker,notifier,syncer", "components to run: any of checker, notifier, syncer, or none (the API and pages always run)")
	fs.StringVar(&o.processID, "process-id", "", "this process's name among those sharing a store: it holds hosts and clients under it (default host/pid/random)")
	fs.DurationVar(&o.lease, "lease", 10*time.Minute, "how long claimed links, held hosts and clients stay with this process before others may take them (a crashed process's work comes back after it)")
	fs.DurationVar(&o.claimPoll, "claim-poll", 250*time.Millisecond, "how often an idle checker looks for due links (at most a quarter of -host-interval); other processes' registrations wake it at once")
	fs.DurationVar(&o.notifyPoll, "notify-poll", time.Second, "how often the notifier looks for pending changes; changes made by other processes wake it at once")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&o.onReady, "ready-file", "", "write the listen address into this file once serving (for scripts and tests)")
	fs.DurationVar(&o.snapshotTTL, "snapshot-ttl", webui.DefaultStatsTTL, "how long /, /alerts, /healthz and /metrics reuse one stats snapshot")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "serve /metrics on this address (host:port) instead of -addr")
	fs.BoolVar(&o.metricsPerClient, "metrics-per-client", false, "add per-client series to /metrics (labelled with client ids)")
	fs.IntVar(&o.historyChanges, "history-changes", 100, "state changes kept per link in its history, the newest (-1: no history)")
	fs.DurationVar(&o.historyAge, "history-age", 365*24*time.Hour, "a link's history drops changes this much older than its newest")
	fs.IntVar(&o.recheckPerHour, "recheck-per-hour", 1000, "URLs each client may ask to re-check in an hour (recheckURLs; -1: no cap)")
	fs.StringVar(&o.wayback, "wayback", "https://archive.org/wayback/available", `Wayback-Machine compatible availability service asked for archived copies of broken links, through the checks' address policy ("": no look-ups)`)
	o.pg.register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags only; see -help)", fs.Arg(0))
	}
	if o.secret == "" {
		o.secret = getenv("LMS_ADMIN_SECRET")
	}
	switch {
	case o.store != "bolt" && o.store != "memory" && o.store != "postgres":
		return nil, fmt.Errorf("-store %q: want bolt, memory or postgres", o.store)
	case o.concurrency < 1:
		return nil, fmt.Errorf("-concurrency %d: must be at least 1", o.concurrency)
	case o.hostInterval < 0:
		return nil, fmt.Errorf("-host-interval %v: must not be negative", o.hostInterval)
	case o.confirmDelay < 0:
		return nil, fmt.Errorf("-confirm-delay %v: must not be negative", o.confirmDelay)
	case o.checkMaxBytes < 4096:
		return nil, fmt.Errorf("-check-max-bytes %d: must be at least 4096", o.checkMaxBytes)
	case o.checkInterval <= 0, o.minRecheck <= 0, o.notifyInterval <= 0, o.syncInterval <= 0, o.shutdownTimeout <= 0, o.snapshotTTL <= 0,
		o.lease <= 0, o.claimPoll <= 0, o.notifyPoll <= 0:
		return nil, errors.New("-check-interval, -min-recheck, -notify-interval, -sync-interval, -shutdown-timeout, -snapshot-ttl, -lease, -claim-poll and -notify-poll must be positive")
	case o.historyChanges == 0 || o.historyChanges < -1, o.recheckPerHour == 0 || o.recheckPerHour < -1:
		return nil, fmt.Errorf("-history-changes %d, -recheck-per-hour %d: want -1 (none, no cap) or at least 1", o.historyChanges, o.recheckPerHour)
	case o.stopGrace < 0 || o.stopGrace >= o.shutdownTimeout:
		return nil, fmt.Errorf("-stop-grace %v: want 0 or more, below -shutdown-timeout %v (the hosts are handed over after it)", o.stopGrace, o.shutdownTimeout)
	case o.historyAge <= 0:
		return nil, fmt.Errorf("-history-age %v: must be positive", o.historyAge)
	case o.minRecheck > o.checkInterval:
		return nil, fmt.Errorf("-min-recheck %v exceeds -check-interval %v", o.minRecheck, o.checkInterval)
	}
	for _, f := range strings.FieldsFunc(o.allowNetworks, func(r rune) bool { return r == ',' || r == ' ' }) {
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("-allow-networks %q: want networks such as 10.1.0.0/16: %w", f, err)
		}
		o.allowedPrefixes = append(o.allowedPrefixes, p.Masked())
	}
	if _, _, err := net.SplitHostPort(o.addr); err != nil {
		return nil, fmt.Errorf("-addr %q: %w", o.addr, err)
	}
	if o.metricsAddr != "" {
		if _, _, err := net.SplitHostPort(o.metricsAddr); err != nil {
			return nil, fmt.Errorf("-metrics-addr %q: %w", o.metricsAddr, err)
		}
	}
	if o.store == "postgres" {
		if err := o.pg.check(getenv); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// componentSet returns the components of -components; none (the API and
// the pages only) is 0.
func (o *options) componentSet() (lms.Components, error) {
	var c lms.Components
	names := strings.FieldsFunc(o.components, func(r rune) bool { return r == ',' || r == ' ' })
	if len(names) == 1 && names[0] == "none" {
		return 0, nil
	}
	for _, name := range names {
		switch name {
		case "checker", "scheduler":
			c |= lms.RunChecker
		case "notifier":
			c |= lms.RunNotifier
		case "syncer":
			c |= lms.RunSyncer
		default:
			return 0, fmt.Errorf("-components: unknown component %q (want checker, notifier, syncer, or none alone)", name)
		}
	}
	if c == 0 {
		return 0, errors.New("-components: name at least one of checker, notifier, syncer, or none")
	}
	return c, nil
}

func newLogger(o *options, out io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, fmt.Errorf("-log-level %q: %w", o.logLevel, err)
	}
	hopts := &slog.HandlerOptions{Level: level}
	// Whatever a component logs is cut to 200 bytes a value, a password in
	// a URL (a callback's, say) is hidden, and repeated warnings are
	// limited: see internal/logsafe.
	switch o.logFormat {
	case "text":
		return slog.New(logsafe.Handler(slog.NewTextHandler(out, hopts), 10, time.Minute)), nil
	case "json":
		return slog.New(logsafe.Handler(slog.NewJSONHandler(out, hopts), 10, time.Minute)), nil
	}
	return nil, fmt.Errorf("-log-format %q: want text or json", o.logFormat)
}

// adminSecret returns the configured secret, or generates one: with the
// bolt store it is kept beside the bolt file (DB.secret) and reused on the
// next start; with the memory store it is valid for this run only and
// written into a new file in $TMPDIR, which the returned cleanup removes.
// Either file is mode 0600, and only its name is logged, never the secret.
func adminSecret(o *options, getenv func(string) string, log *slog.Logger) (secret string, cleanup func(), err error) {
	cleanup = func() {}
	if o.secret != "" {
		return o.secret, cleanup, nil
	}
	if o.store == "postgres" {
		return "", nil, errPostgresSecret
	}
	if o.store == "memory" {
		s := newSecret()
		f, err := os.CreateTemp(cmp.Or(getenv("TMPDIR"), os.TempDir()), "lmsd-admin-secret-*") // mode 0600
		if err != nil {
			return "", nil, fmt.Errorf("admin secret: %w", err)
		}
		path := f.Name()
		_, err = f.WriteString(s + "\n")
		if err = errors.Join(err, f.Close()); err != nil {
			_ = os.Remove(path)
			return "", nil, fmt.Errorf("admin secret: %w", err)
		}
		log.Warn("no -admin-secret given: generated one for this run; it is in the file (removed when lmsd stops)", "file", path)
		return s, func() { _ = os.Remove(path) }, nil
	}
	path := o.db + ".secret"
	if b, err := os.ReadFile(path); err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return s, cleanup, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", nil, fmt.Errorf("admin secret: %w", err)
	}
	s := newSecret()
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", nil, fmt.Errorf("admin secret: %w", err)
	}
	log.Warn("no -admin-secret given: generated one and stored it in the file", "file", path)
	return s, cleanup, nil
}

// newSecret returns 18 random bytes in hex.
func newSecret() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

func newMailer(o *options, getenv func(string) string) (lms.Mailer, error) {
	from, err := mail.ParseAddress(o.mailFrom)
	if err != nil {
		return nil, fmt.Errorf("-mail-from %q: %w", o.mailFrom, err)
	}
	if o.smtp == "" {
		return &mailer.Dir{Path: o.mailDir, From: *from}, nil
	}
	host, portS, err := net.SplitHostPort(o.smtp)
	if err != nil {
		return nil, fmt.Errorf("-smtp %q: %w", o.smtp, err)
	}
	port, err := strconv.Atoi(portS)
	if err != nil || port < 1 || port > 65535 {
		return nil, fmt.Errorf("-smtp %q: bad port", o.smtp)
	}
	tls := map[string]mailer.TLSPolicy{"mandatory": mailer.TLSMandatory, "opportunistic": mailer.TLSOpportunistic, "none": mailer.NoTLS, "implicit": mailer.ImplicitTLS}
	policy, ok := tls[o.smtpTLS]
	if !ok {
		return nil, fmt.Errorf("-smtp-tls %q: want mandatory, opportunistic, none or implicit", o.smtpTLS)
	}
	return &mailer.SMTP{Host: host, Port: port, TLS: policy, Username: o.smtpUser, Password: getenv("LMS_SMTP_PASSWORD"), From: *from}, nil
}

// storeWhere is what the start-up log says of where the store is: the bolt
// file, the PostgreSQL server and database (no credentials), and the
// components, named as -components names them.
func storeWhere(o *options) []any {
	var out []any
	switch o.store {
	case "bolt":
		out = append(out, "db", o.db)
	case "postgres":
		out = append(out, "postgres", o.pg.where())
	}
	return append(out, "components", o.components)
}

func openStore(ctx context.Context, o *options) (lms.Store, error) {
	history := lms.HistoryRetention{MaxChanges: o.historyChanges, MaxAge: o.historyAge}
	switch o.store {
	case "memory":
		return memstore.NewWithOptions(memstore.Options{History: history}), nil
	case "postgres":
		return openPostgres(ctx, &o.pg, history)
	}
	return boltstore.Open(o.db, boltstore.Options{Timeout: time.Second, History: history})
}

// run is the whole server; it returns when ctx is cancelled (after a
// graceful stop) or on a start-up error.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	o, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	comps, err := o.componentSet()
	if err != nil {
		return err
	}
	log, err := newLogger(o, stderr)
	if err != nil {
		return err
	}
	cc, err := mailer.ParseList(o.mailCC)
	if err != nil {
		return fmt.Errorf("-mail-cc: %w", err)
	}
	mlr, err := newMailer(o, getenv)
	if err != nil {
		return err
	}
	secret, removeSecret, err := adminSecret(o, getenv, log)
	if err != nil {
		return err
	}
	defer removeSecret()
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	var metricsLn net.Listener
	if o.metricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", o.metricsAddr); err != nil {
			return fmt.Errorf("-metrics-addr: listen: %w", err)
		}
		defer metricsLn.Close()
	}
	if o.publicURL == "" {
		o.publicURL = "http://" + ln.Addr().String()
	}
	st, err := openStore(ctx, o)
	if err != nil {
		return err
	}
	defer st.Close()

	callbacks := xmlrpcapi.NewCallbackClient(xmlrpcapi.CallbackConfig{AllowPrivate: o.allowPrivate, AllowedPrefixes: o.allowedPrefixes, UserAgent: o.userAgent})
	defer callbacks.Close()
	e, err := lms.New(st, lms.Config{
		AdminSecret: secret, PublicURL: o.publicURL, MailCC: cc, Mailer: mlr, Logger: log,
		Notifier: callbacks, Lister: callbacks, Components: comps, ProcessID: o.processID,
		Lease: o.lease, ClaimPoll: o.claimPoll, NotifyPoll: o.notifyPoll, StopGrace: stopGrace(o.stopGrace),
		CheckerConfig: lms.CheckerConfig{AllowPrivate: o.allowPrivate, AllowedPrefixes: o.allowedPrefixes, UserAgent: o.userAgent, HonestRetry: !o.browserUA, MaxBytes: o.checkMaxBytes},
		OutageProbes:  strings.Fields(o.outageProbes),
		Concurrency:   o.concurrency, HostInterval: o.hostInterval, Unpaced: o.hostInterval == 0,
		Policy: lms.Policy{Interval: o.checkInterval, MinRecheck: o.minRecheck, RetryInterval: min(3*time.Hour, o.checkInterval),
			ConfirmDelay: o.confirmDelay},
		NotifyInterval: o.notifyInterval, SyncInterval: o.syncInterval, RecheckPerHour: o.recheckPerHour,
		ArchiveEndpoint: o.wayback, NoArchive: o.wayback == "",
	})
	if err != nil {
		return err
	}
	handler, metrics, err := newHandlers(e, handlerConfig{
		secret: secret, log: log, snapshotTTL: o.snapshotTTL, metricsPerClient: o.metricsPerClient, separateMetrics: metricsLn != nil,
	})
	if err != nil {
		return err
	}
	newServer := func(h http.Handler) *http.Server {
		return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: 2 * time.Minute,
			IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	}
	srv := newServer(handler)

	engineCtx, stopEngine := context.WithCancel(context.WithoutCancel(ctx))
	defer stopEngine()
	engineDone := make(chan error, 1)
	go func() {
		if comps == 0 { // -components none: the API and the pages only
			<-engineCtx.Done()
			engineDone <- nil
			return
		}
		engineDone <- e.Run(engineCtx)
	}()
	serveDone := make(chan error, 2)
	go func() { serveDone <- srv.Serve(ln) }()
	var metricsSrv *http.Server
	if metricsLn != nil {
		metricsSrv = newServer(metrics)
		go func() { serveDone <- metricsSrv.Serve(metricsLn) }()
		log.Info("metrics serving", "addr", metricsLn.Addr().String())
	}
	where := append([]any{"addr", ln.Addr().String(), "public_url", o.publicURL, "store", o.store}, storeWhere(o)...)
	where = append(where, "process", e.Config().ProcessID)
	log.Info("lmsd serving", where...)
	if o.onReady != "" {
		if err := os.WriteFile(o.onReady, []byte(ln.Addr().String()), 0o644); err != nil {
			return fmt.Errorf("-ready-file: %w", err)
		}
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("stopping", "cause", context.Cause(ctx))
	case err := <-serveDone:
		runErr = fmt.Errorf("http server: %w", err)
	case err := <-engineDone:
		engineDone <- err
		runErr = fmt.Errorf("engine stopped: %w", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	if metricsSrv != nil {
		_ = metricsSrv.Shutdown(shutdownCtx)
	}
	stopEngine()
	select {
	case err := <-engineDone:
		if err != nil && runErr == nil {
			runErr = err
		}
	case <-shutdownCtx.Done():
		return errors.New("in-flight work did not stop within -shutdown-timeout")
	}
	log.Info("stopped")
	return runErr
}

// handlerConfig configures newHandlers.
type handlerConfig struct {
	secret           string
	log              *slog.Logger
	snapshotTTL      time.Duration // default webui.DefaultStatsTTL
	metricsPerClient bool          // -metrics-per-client
	separateMetrics  bool          // -metrics-addr: /metrics is not on the main handler
}

// newHandlers returns the main handler (the API, the pages, health, and
// metrics unless they are separate) and the metrics handler. The pages,
// /healthz and /metrics share one cached Stats snapshot.
func newHandlers(e *lms.Engine, cfg handlerConfig) (app, metrics http.Handler, err error) {
	snapshot := webui.NewStatsCache(e, webui.CacheConfig{TTL: cfg.snapshotTTL, Logger: cfg.log})
	// One guard for every front door (and the report pages' sign-in): a guess counts the same through
	// either, and the bytes decoded at once are bounded across both.
	// Over a store that several processes share, the guessing throttles
	// are the store's: N API processes allow what one allows.
	shared, _ := e.Store().(lms.ThrottleStore)
	g := guard.New(guard.Config{Shared: shared})
	api := xmlrpcapi.NewServer(e, xmlrpcapi.ServerConfig{Logger: cfg.log, Guard: g})
	jsonAPI := jsonapi.New(e, jsonapi.Config{Logger: cfg.log, Guard: g})
	uiCfg := webui.Config{AdminSecret: cfg.secret, Logger: cfg.log, Stats: snapshot, Guard: g}
	if !cfg.separateMetrics {
		uiCfg.MetricsURL = "/metrics"
	}
	ui, err := webui.New(e, uiCfg)
	if err != nil {
		return nil, nil, err
	}
	reg := prometheus.NewRegistry()
	// Every series carries the process id, so a dashboard over several
	// processes of one deployment tells them apart.
	prometheus.WrapRegistererWith(prometheus.Labels{"process": e.Config().ProcessID}, reg).MustRegister(prommetrics.New(snapshot, prommetrics.Config{PerClient: cfg.metricsPerClient}),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	mux := http.NewServeMux()
	mux.Handle("/RPC2", api) // answers 405 to anything but POST
	if !cfg.separateMetrics {
		mux.Handle("GET /metrics", metrics)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		// The snapshot's store reads stand for the store's health; a
		// failure is logged by the cache, not told to whoever asks. A
		// checker whose last claim failed cannot renew its leases and
		// holds: the others will take its work over.
		st, err := snapshot.Stats(r.Context())
		if err != nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		if st.ClaimFailing {
			http.Error(w, "leases not renewed", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.Handle("/", ui)
	// XML-RPC answers POST on every path but the admin and report pages': the root,
	// /RPC2 (Python's default) and whatever path an old client was
	// configured with (the original served /lms or /v2).
	// The JSON API owns /api/ (before the XML-RPC catch-all).
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			jsonAPI.ServeHTTP(w, r)
			return
		}
		if r.Method == http.MethodPost && r.URL.Path != "/admin" && !strings.HasPrefix(r.URL.Path, "/admin/") && !strings.HasPrefix(r.URL.Path, "/report/") {
			api.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	}), metrics, nil
}

// stopGrace returns lms.Config.StopGrace for -stop-grace: 0 is none.
func stopGrace(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
