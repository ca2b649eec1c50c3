// Package pgstore is an lms.Store on PostgreSQL (through pgx and its pool),
// made to be shared by several lms processes: every acknowledged write is
// committed before the call returns, and the processes cooperate only
// through the database.
//
//   - Open creates and migrates the schema with versioned migrations
//     embedded in the binary, under an advisory lock, so that any number of
//     processes may start at once on a fresh database.
//   - ClaimDue takes ready hosts from an index on the hosts table with
//     FOR UPDATE SKIP LOCKED, then a few due links of each from the index of
//     links by host and due time, so two processes never get one link or
//     one host at once and a claim costs O(log n) per link. Claimed links
//     are leased (their due time is the end of the lease) and their hosts
//     held by the claiming process until then: a crashed process's links
//     and hosts come back when the leases end.
//   - Writes are batched (arrays through unnest, never a statement per URL)
//     and take their row locks in one global order, so concurrent writers
//     do not deadlock; a result batch and its pending notifications are one
//     transaction.
//   - Store implements lms.Waker with LISTEN/NOTIFY: a process learns within
//     milliseconds that another one registered links, made notifications
//     pending or queued a mail. The NOTIFYs follow the commits, at most one
//     per 20 ms per Store, so that they do not serialise the commits.
//   - Every call is bounded on the client side (Options.CallTimeout), so
//     that a frozen or cut-off server fails calls instead of holding them.
//   - One clock: every time that processes share (a link's due time and
//     lease, a host's hold, next allowed time and back-off, a client's
//     leases) is kept in the database's clock, the callers' times
//     translated on the way in and out with an offset measured at every
//     call (see dbClock), so processes whose clocks differ by minutes
//     still never take each other's hosts or ask a host early.
//   - RecordResults calls made at once share one transaction (a group
//     commit), each acknowledged once it committed.
//   - ReleaseHosts hands a stopping process's hosts over at once, with
//     their next allowed times, and wakes the other processes' checkers.
//   - Store implements lms.ThrottleStore: the guessing throttles of every
//     API process sharing the database, in one table, in its clock.
//
// The rules of the store contract that memstore and boltstore share are
// applied from internal/storerules: the argument checks (CheckURLs,
// CheckClaim, CheckHold, CheckOutcomes), a new client and UpdateClient's
// copy (NewClient, UpdateClient), what a result does to a link and that
// only a change of state is notified (Check.Apply), the pacing of a claimed
// host (PacedUntil), a pending update's form (Pending) and the state
// indexes (StateIndex, StateAt). These remain SQL, done set-wise in the
// statements that lock the rows, so that they hold across processes and
// cost one statement per batch, not one per row:
//
//   - a host held by another holder (HeldByOther): the claim's and
//     HoldHost's WHERE clauses (holder, held_until, avail_at), under the
//     row locks that make a hold exclusive between processes;
//   - a page of links (InPage, PageFull): the WHERE url > after, the state
//     filter and the LIMIT of ClientLinks, an index range scan;
//   - the state counts of clients and links (Move): deltas summed per
//     client in the statement that locks the client_counts rows (the
//     connection's shard of each), and one link_counts shard per
//     connection;
//   - a Hold keeping a link's check columns: the CASE WHEN hold of the
//     result UPDATE, which writes a batch in one statement.
//
// Use a database (or a schema, through search_path) of its own.
package pgstore

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/storerules"
	"github.com/linkmonitor/lms/internal/unixnano"
)

// Options configure Open. The zero value is ready to use.
type Options struct {
	// MaxConns is the most connections the store's pool opens. Default 10.
	MaxConns int32
	// StatementTimeout bounds every statement the store runs (PostgreSQL's
	// statement_timeout). Default: the DSN's statement_timeout if it sets
	// one, else 30 s; negative disables.
	StatementTimeout time.Duration
	// ConnectTimeout bounds each connection attempt; Open fails after it
	// when the server cannot be reached. Default: the DSN's
	// connect_timeout, else 5 s.
	ConnectTimeout time.Duration
	// CallTimeout bounds every call of the store on the client side, its
	// retries, pool waits and connection attempts included: a call that
	// gets no answer within it fails with an error wrapping ErrTimeout,
	// even when the server is frozen or cut off and cannot enforce
	// StatementTimeout. It is the bound of a call on up to 10,000 URLs or
	// records (the most of one XML-RPC call); a call on more, or a
	// DeleteClient of a client with more links, gets proportionally
	// longer. Open's schema migration is bounded by ten times it.
	// Default DefaultCallTimeout; negative disables.
	CallTimeout time.Duration
	// History bounds each link's history of state changes; zero fields
	// are lms.HistoryRetention's defaults.
	History lms.HistoryRetention
	// Now is the clock of the times the caller passes and gets back (the
	// engine's Config.Now). The store keeps every time that processes share
	// in the database's clock and translates (see the package doc).
	// Default time.Now.
	Now func() time.Time
}

// Store is the PostgreSQL lms.Store. Create it with Open.
type Store struct {
	pool    *pgxpool.Pool
	conn    *pgx.ConnConfig // for the listeners' dedicated connections
	id      string          // tells this Store's notifications from others'
	addr    string          // host:port, for error messages
	closed  atomic.Bool
	mu      sync.Mutex     // orders Close against starting listeners
	stop    chan struct{}  // closed by Close: listeners end
	wg      sync.WaitGroup // the listeners
	once    sync.Once
	hostIDs hostCache
	clock   dbClock     // the database's clock (see dbClock)
	records recordGroup // RecordResults' group commits
	// lastSweep is when spent throttle rows were last deleted (Unix
	// nanoseconds, this process's clock).
	lastSweep atomic.Int64
	// wake-ups to send (see wake)
	wakeMu      sync.Mutex
	wakeBits    lms.Wakeup
	wakeKick    chan struct{}
	retries     atomic.Int64  // transactions run again (deadlocks, broken connections)
	callTimeout time.Duration // bounds each call (see call)
	listenQuiet time.Duration // see listenOnce
	// listenEnded, when set (by tests), receives without blocking the
	// error that ended each LISTEN connection.
	listenEnded chan error
	retention   lms.HistoryRetention // of each link's history (editors.go)
}

var (
	_ lms.Store = (*Store)(nil)
	_ lms.Waker = (*Store)(nil)
)

// Open connects to the database dsn names (a URL or key=value string; empty
// means the PG* environment variables and libpq's defaults), creates or
// migrates the schema, and returns the store. An unreachable server fails
// within Options.ConnectTimeout with an error naming it.
func Open(ctx context.Context, dsn string, opt Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgstore: DSN: %w", err)
	}
	cfg.MaxConns = cmpOr(opt.MaxConns, 10)
	params := cfg.ConnConfig.RuntimeParams
	timeout := opt.StatementTimeout
	if timeout == 0 && params["statement_timeout"] == "" {
		timeout = 30 * time.Second
	}
	if timeout > 0 {
		params["statement_timeout"] = strconv.FormatInt(timeout.Milliseconds(), 10)
	}
	if params["idle_in_transaction_session_timeout"] == "" {
		// A transaction left open by a stuck client must not hold its
		// locks for ever.
		params["idle_in_transaction_session_timeout"] = strconv.FormatInt(max(timeout, time.Minute).Milliseconds(), 10)
	}
	if opt.ConnectTimeout > 0 || cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = cmpOr(opt.ConnectTimeout, 5*time.Second)
	}
	cfg.ConnConfig.DialFunc = dialer(cfg.ConnConfig.ConnectTimeout)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	s := &Store{
		conn: cfg.ConnConfig.Copy(),
		id:   hex.EncodeToString(b),
		addr: net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))),
		stop: make(chan struct{}),
		// The kick is buffered: wake never waits.
		wakeKick:    make(chan struct{}, 1),
		callTimeout: cmpOr(opt.CallTimeout, DefaultCallTimeout),
		listenQuiet: listenQuiet,
		retention:   opt.History.WithDefaults(),
	}
	if strings.HasPrefix(cfg.ConnConfig.Host, "/") {
		s.addr = fmt.Sprintf("%s/.s.PGSQL.%d", cfg.ConnConfig.Host, cfg.ConnConfig.Port)
	}
	s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		s.pool.Close()
		return nil, err
	}
	s.clock.local, s.clock.caller = time.Now, opt.Now
	if s.clock.caller == nil {
		s.clock.caller = time.Now
	}
	s.clock.query = func(ctx context.Context) (int64, error) {
		var n int64
		err := s.pool.QueryRow(ctx, clockQuery).Scan(&n)
		return n, err
	}
	if err := s.clock.sync(ctx); err != nil {
		s.pool.Close()
		return nil, s.wrap(ctx, "read the clock", err)
	}
	s.wg.Add(1)
	go s.sendWakeups()
	return s, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Close implements lms.Store: it ends the listeners, sends the wake-ups
// that wait to be sent, and closes the pool.
func (s *Store) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed.Store(true)
		close(s.stop)
		s.mu.Unlock()
		s.wg.Wait()
		s.pool.Close()
	})
	return nil
}

// Size returns the bytes the store's tables and indexes take in the
// database.
func (s *Store) Size(ctx context.Context) (int64, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	var n int64
	err := s.read(ctx, "size", func(q querier) error {
		return q.QueryRow(ctx, `SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c
			WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace
			AND c.relname = ANY($1)`, tableNames).Scan(&n)
	})
	return n, err
}

var tableNames = []string{"clients", "client_counts", "link_counts", "hosts", "links", "subscriptions", "pending", "schema_migrations", "link_history", "sources", "source_links", "daily_counts"}

// migrations are the schema's versions, applied in order by Open.
//
//go:embed migrations/*.sql
var migrations embed.FS

// lockKey is the advisory lock that serialises migrations ("lms schema").
const lockKey = 0x6c6d7320736368

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, p := range names {
		base := strings.TrimPrefix(p, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: no version number", p)
		}
		b, err := migrations.ReadFile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: base, sql: string(b)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	return out, nil
}

// SchemaVersion is the schema version this build creates and reads.
func SchemaVersion() int {
	ms, _ := loadMigrations()
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// migrate applies the missing migrations, each in a transaction, while
// holding the advisory lock: processes opening a fresh database at once
// wait for the first one.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return fmt.Errorf("pgstore: %w", err)
	}
	if s.callTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, 10*s.callTimeout, s.timeoutError(10*s.callTimeout))
		defer cancel()
	}
	actx, cancel := context.WithTimeout(ctx, s.conn.ConnectTimeout+time.Second)
	conn, err := s.pool.Acquire(actx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("pgstore: open: %w", ctx.Err())
		}
		return fmt.Errorf("pgstore: cannot connect to PostgreSQL at %s: %s (is the server running, and do -dsn, $LMS_DSN or the PG* variables name it?)", s.addr, connectError(err))
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(lockKey)); err != nil {
		return s.wrap(ctx, "migrate: lock", err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(lockKey))
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return s.wrap(ctx, "migrate", err)
	}
	var have int
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&have); err != nil {
		return s.wrap(ctx, "migrate", err)
	}
	if latest := ms[len(ms)-1].version; have > latest {
		return fmt.Errorf("pgstore: the database has schema version %d, newer than this build's %d: upgrade lms", have, latest)
	}
	for _, m := range ms {
		if m.version <= have {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name)
			return err
		})
		if err != nil {
			return s.wrap(ctx, "migrate to "+m.name, err)
		}
	}
	return nil
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// connectError says on one line why a connection failed: the network's
// error when there is one (pgx's lists every attempt, often the same one
// twice: with and without TLS), else the driver's or the server's.
func connectError(err error) string {
	var op *net.OpError
	if errors.As(err, &op) {
		return oneLine(op)
	}
	return oneLine(err)
}

// querier is what reads and writes run on: a pooled connection or a
// transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// begin checks what every method checks first: a live context and an open
// store.
func (s *Store) begin(ctx context.Context, op string) error {
	if ctx.Err() != nil {
		return fmt.Errorf("pgstore: %s: %w", op, context.Cause(ctx))
	}
	if s.closed.Load() {
		return fmt.Errorf("pgstore: %s: %w", op, lms.ErrClosed)
	}
	return nil
}

// passErr marks an error of a transaction's own (a sentinel, the error of
// UpdateClient's fn) that is returned as it is.
type passErr struct{ error }

func (e passErr) Unwrap() error { return e.error }

// pass returns err marked to be returned as it is by tx.
func pass(err error) error { return passErr{err} }

// tx runs fn in a transaction and commits it. A transaction that failed on
// a broken connection before anything was sent, on a deadlock or on a
// serialization failure is run again (fn must not have effects outside tx).
func (s *Store) tx(ctx context.Context, op string, fn func(pgx.Tx) error) error {
	if err := s.begin(ctx, op); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		err := pgx.BeginFunc(ctx, s.pool, fn)
		if err == nil {
			return nil
		}
		if attempt < 3 && retryable(err) && ctx.Err() == nil && !s.closed.Load() {
			s.retries.Add(1)
			continue
		}
		return s.wrap(ctx, op, err)
	}
}

// read runs fn on a pooled connection (fn's statements each see the data
// as of their start), with the retry of tx.
func (s *Store) read(ctx context.Context, op string, fn func(querier) error) error {
	if err := s.begin(ctx, op); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		err := fn(s.pool)
		if err == nil {
			return nil
		}
		if attempt < 3 && retryable(err) && ctx.Err() == nil && !s.closed.Load() {
			continue
		}
		return s.wrap(ctx, op, err)
	}
}

func retryable(err error) bool {
	var pe passErr
	if errors.As(err, &pe) {
		return false
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "40P01" || pg.Code == "40001" // deadlock_detected, serialization_failure
	}
	return pgconn.SafeToRetry(err)
}

// wrap translates an error of the driver or the server into the Store's
// contract; it is the one place that knows pgx's errors.
func (s *Store) wrap(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var pe passErr
	if errors.As(err, &pe) {
		return pe.error
	}
	if ctx.Err() != nil {
		// The caller's cancellation, or the call timeout (timeoutError).
		return fmt.Errorf("pgstore: %s: %w", op, context.Cause(ctx))
	}
	if s.closed.Load() {
		return fmt.Errorf("pgstore: %s: %w", op, lms.ErrClosed)
	}
	if pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded) {
		// A connection attempt that ran into its own timeout a hair before
		// the call's deadline: the server did not answer in time all the same.
		return fmt.Errorf("pgstore: %s: %w", op, s.timeoutError(s.callTimeout))
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case "23505": // unique_violation
			return fmt.Errorf("pgstore: %s: %w", op, lms.ErrExists)
		case "57014": // query_canceled: statement_timeout
			return fmt.Errorf("pgstore: %s: statement timeout: %w", op, err)
		}
		return fmt.Errorf("pgstore: %s: %w", op, err)
	}
	return fmt.Errorf("pgstore: %s (PostgreSQL at %s): %w", op, s.addr, err)
}

// text makes s storable in a text column: PostgreSQL refuses NUL bytes and
// invalid UTF-8, which become U+FFFD.
func text(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

func nanos(t time.Time) int64 { return unixnano.From(t) }

func fromNanos(n int64) time.Time { return unixnano.To(n) }

// stateIndex is the column value of a state: its storerules.StateIndex
// (unknown for anything else).
func stateIndex(st lms.State) int16 { return int16(storerules.StateIndex(st)) }

// stateOf is the state of a column value (unknown when out of range).
func stateOf(i int16) lms.State {
	if i < 0 {
		return lms.StateUnknown
	}
	return storerules.StateAt(uint8(min(i, 255)))
}

// counts are state counts as the count tables hold them: by state index.
type counts [5]int64

func (c *counts) add(st int16, n int64) { c[st] += n }

func (c counts) zero() bool { return c == counts{} }

func (c counts) export() lms.StateCounts {
	return lms.StateCounts{OK: int(c[0]), Temporary: int(c[1]), Unavailable: int(c[2]), Unsupported: int(c[3]), Unknown: int(c[4])}
}

// hostCache remembers host ids by name: rows of hosts are never deleted and
// their ids never change. It is dropped when it grows past its bound.
type hostCache struct {
	mu sync.Mutex
	m  map[string]int32
}

const hostCacheMax = 200_000

func (c *hostCache) get(name string) (int32, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.m[name]
	return id, ok
}

func (c *hostCache) put(name string, id int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= hostCacheMax {
		c.m = make(map[string]int32)
	}
	c.m[name] = id
}
