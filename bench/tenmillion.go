package main

// Workload 7: ten million links and a hundred thousand hosts in PostgreSQL,
// registered through lmsd, then claimed, checked and restarted.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/lmsdproc"
	"github.com/linkmonitor/lms/internal/pgtest"
	"github.com/linkmonitor/lms/pgstore"
)

// tenMillionSpec is the workload: urls links spread over hosts hosts and
// clients clients, registered by callers concurrent registerURLs calls of
// batch URLs each; checkers checker processes of concurrency each.
type tenMillionSpec struct {
	urls, hosts, clients, callers, batch int
	apis, checkers, concurrency          int
	checkFor                             time.Duration // how long the checkers' writes are counted
}

// tenMillionURL is the i-th URL: host i mod hosts is a loopback address of
// its own (127.1.0.0 on), port 9, where nothing listens, so that a check
// is a refused connection: a real check and result write of lmsd's, with
// no farm (10^5 listening hosts would not fit this machine).
func tenMillionURL(i, hosts int) string {
	h := i % hosts
	return fmt.Sprintf("http://127.%d.%d.%d:9/section/page-%08d.html", 1+h>>16, (h>>8)&255, h&255, i)
}

// tenMillion loads the links through lmsd in stages (10^5, 10^6, 10^7 or
// -urls), measuring the registration rate of each stage and the claim time
// at its end, then reports the storage per link, the result writes of
// three checker processes, and how long a restart of every process takes
// to be checking again.
func tenMillion(o *options) error {
	spec := tenMillionSpec{urls: o.urls, hosts: 100_000, clients: 100, callers: 50, batch: 1000,
		apis: 2, checkers: 3, concurrency: 100, checkFor: 30 * time.Second}
	spec.hosts = min(spec.hosts, spec.urls)
	dir, err := os.MkdirTemp("", "lms-bench-10m-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := lmsdproc.Build(context.Background(), dir)
	if err != nil {
		return err
	}
	// Durable (fsync, synchronous commit); more memory and WAL between
	// checkpoints than the defaults, as a server holding 10^7 links would
	// be given: the indexes that a registration adds to at random places
	// (about 3 GB at 10^7) fit in shared_buffers, and the whole pages that
	// the first change of each after a checkpoint logs are compressed, and
	// new WAL files are not zero-filled first (a fresh server creates all of
	// them; a running one recycles its old ones).
	settings := []string{"shared_buffers=4GB", "max_wal_size=16GB", "checkpoint_timeout=30min", "wal_compression=lz4", "wal_init_zero=off"}
	if o.pgStatements {
		settings = append(settings, "shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=all")
	}
	srv, err := pgtest.Launch(pgtest.Config{Durable: true, Settings: settings})
	if err != nil {
		return err
	}
	defer srv.Close()
	dsn, err := srv.NewDatabase("tenmillion")
	if err != nil {
		return err
	}
	fmt.Printf("## Workload 7: %d links on %d hosts in PostgreSQL (durable), %d clients, registered through %d lmsd API processes by %d callers, %d URLs per registerURLs\n\n",
		spec.urls, spec.hosts, spec.clients, spec.apis, spec.callers, spec.batch)
	d := &deployment{bin: bin, dir: dir, dsn: dsn}
	defer d.kill()
	for i := range spec.apis {
		if err := d.start(fmt.Sprintf("api%d", i), "-components", "none", "-pg-max-conns", "20"); err != nil {
			return err
		}
	}
	if err := d.ready(); err != nil {
		return err
	}
	st, err := pgstore.Open(context.Background(), dsn, pgstore.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	reg := newRegistrar(d.apiURLs(), spec)
	if err := reg.clients(); err != nil {
		return err
	}
	// The load stops early, and what it reached is measured as a stage of
	// its own, on the first interrupt (SIGINT; a second one ends the
	// command) or after -load-for.
	loadCtx, stopLoad := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stopLoad()
	if o.loadFor > 0 {
		var cancel context.CancelFunc
		loadCtx, cancel = context.WithTimeoutCause(loadCtx, o.loadFor, fmt.Errorf("-load-for %v", o.loadFor))
		defer cancel()
	}
	fmt.Printf("| links stored | registered in this stage | time | rate | p99 of a call | claim of 100 links: p50 / p99 | claim of 1,000: p50 / p99 | CPU per URL: PostgreSQL / lmsd | WAL per URL | full pages logged per 1,000 URLs | load average |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	loaded := 0
	var total time.Duration
	for _, stage := range []int{100_000, 1_000_000, 3_000_000, 10_000_000, spec.urls} {
		stage = min(stage, spec.urls)
		if stage <= loaded {
			continue
		}
		fmt.Fprintf(os.Stderr, "%s loading %d to %d links\n", time.Now().Format(time.TimeOnly), loaded, stage)
		if o.pgStatements {
			if err := pgStatements(context.Background(), dsn, 0, ""); err != nil {
				return err
			}
		}
		wal0, err := walStats(context.Background(), dsn)
		if err != nil {
			return err
		}
		cpu0, _ := srv.CPUTime()
		api0 := d.cpu("api")
		t0 := time.Now()
		reached, lat, err := reg.load(loadCtx, loaded, stage)
		if err != nil {
			return err
		}
		el := time.Since(t0)
		cpu1, _ := srv.CPUTime()
		api1 := d.cpu("api")
		wal1, err := walStats(context.Background(), dsn)
		if err != nil {
			return err
		}
		n := reached - loaded
		stopped := reached < stage
		if stopped {
			stopLoad() // a second interrupt ends the command
		}
		if n == 0 {
			// Stopped before this stage began: the last one measured
			// the size reached.
			fmt.Printf("\nThe load was stopped at %d links (%v).\n", reached, context.Cause(loadCtx))
			break
		}
		total += el
		c100, err := claimTimes(st, 100, 50)
		if err != nil {
			return err
		}
		c1000, err := claimTimes(st, 1000, 20)
		if err != nil {
			return err
		}
		fmt.Printf("| %d | %d | %.1f s | %.0f URLs/s | %v | %v / %v | %v / %v | %.0f / %.0f µs | %.0f B | %.0f | %s |\n", reached, n, el.Seconds(), float64(n)/el.Seconds(),
			pct(lat, 99), pct(c100, 50), pct(c100, 99), pct(c1000, 50), pct(c1000, 99),
			float64((cpu1-cpu0).Microseconds())/float64(n), float64((api1-api0).Microseconds())/float64(n),
			float64(wal1.bytes-wal0.bytes)/float64(n), float64(wal1.fpi-wal0.fpi)*1000/float64(n), loadAverage())
		loaded = reached
		if o.pgStatements {
			if err := pgStatements(context.Background(), dsn, n, "URL registered"); err != nil {
				return err
			}
		}
		if stopped {
			fmt.Printf("\nThe load was stopped at %d links (%v).\n", reached, context.Cause(loadCtx))
			break
		}
	}
	fmt.Printf("\nWhole load: %d URLs in %.1f s, **%.0f URLs/s**.\n\n", loaded, total.Seconds(), float64(loaded)/total.Seconds())
	if err := storage(st, dsn, loaded); err != nil {
		return err
	}
	for i := range spec.checkers {
		if err := d.start(fmt.Sprintf("checker%d", i), "-components", "checker", "-concurrency", strconv.Itoa(spec.concurrency)); err != nil {
			return err
		}
	}
	if err := d.ready(); err != nil {
		return err
	}
	if err := checkRate(st, srv, d, spec, o.pgStatements); err != nil {
		return err
	}
	return restart(st, d)
}

// registrar registers the workload's clients and URLs over XML-RPC.
type registrar struct {
	apis []string
	spec tenMillionSpec
	hc   *http.Client
}

func newRegistrar(apis []string, spec tenMillionSpec) *registrar {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = spec.callers
	return &registrar{apis: apis, spec: spec, hc: &http.Client{Transport: tr}}
}

func clientID(c int) string { return fmt.Sprintf("client%04d", c) }

// clients registers the clients, each with the password "pw-<id>", ten
// at a time (a registration hashes the password: tens of ms).
func (r *registrar) clients() error {
	errs := make(chan error, r.spec.clients)
	sem := make(chan struct{}, 10)
	for c := range r.spec.clients {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			id := clientID(c)
			var err error
			// A call the store could not complete in time (the machine
			// is shared) is tried again; a client it did create says so.
			for try := 0; try < 3; try++ {
				_, err = lmsdproc.Call(context.Background(), r.hc, r.apis[c%len(r.apis)], "registerClient", "bench", id,
					"http://127.0.0.1:9/", id, id+"@example.org", "pw-"+id)
				if err == nil || strings.Contains(err.Error(), "exists") {
					err = nil
					break
				}
				fmt.Fprintf(os.Stderr, "registerClient failed, sent again: %v\n", err)
				time.Sleep(time.Second)
			}
			if err == nil {
				// One good login per API process first: a process's
				// guard reserves a failure of the client id before each
				// check until it has seen its good credentials, so the
				// callers' first calls at once would use up the id's
				// burst (HTTP 429).
				for _, api := range r.apis {
					if _, err = lmsdproc.Call(context.Background(), r.hc, api, "checkConnection", id, "pw-"+id); err != nil {
						break
					}
				}
			}
			errs <- err
		}()
	}
	var all []error
	for range r.spec.clients {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}

// load registers the URLs from up to to (client i*clients/urls of URL i,
// so that every client gets its share as the load grows) with the callers
// in parallel, and returns how far it got (to, unless ctx ended first:
// the calls under way are finished, no new one is made) and the calls'
// latencies. Every 30 s it prints its progress to stderr.
func (r *registrar) load(ctx context.Context, from, to int) (int, []time.Duration, error) {
	var next atomic.Int64
	next.Store(int64(from))
	var done atomic.Int64
	var mu sync.Mutex
	var lats []time.Duration
	var firstErr error
	var wg sync.WaitGroup
	quit := make(chan struct{})
	go progress(quit, from, &done)
	for w := range r.spec.callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(int64(r.spec.batch))) - r.spec.batch
				if i >= to {
					return
				}
				end := min(i+r.spec.batch, to)
				// One client per batch: batch i/batch goes to client
				// (i/batch) mod clients.
				c := (i / r.spec.batch) % r.spec.clients
				urls := make([]any, 0, end-i)
				for j := i; j < end; j++ {
					urls = append(urls, tenMillionURL(j, r.spec.hosts))
				}
				t0 := time.Now()
				var err error
				// A call that failed (the database restarting under a
				// machine shared with others' tests) is sent again: a
				// registration is idempotent.
				for try := 0; try < 5; try++ {
					_, err = lmsdproc.Call(context.Background(), r.hc, r.apis[w%len(r.apis)], "registerURLs", clientID(c), "pw-"+clientID(c), urls)
					if err == nil {
						break
					}
					fmt.Fprintf(os.Stderr, "registerURLs failed, sent again: %v\n", err)
					time.Sleep(time.Second)
				}
				d := time.Since(t0)
				done.Add(int64(end - i))
				mu.Lock()
				lats = append(lats, d)
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	close(quit)
	// Every batch taken from next was registered.
	return min(int(next.Load()), to), lats, firstErr
}

// progress prints, every 30 s until quit closes, how many links are
// stored (from plus done), the rate of the last 30 s and the load average.
func progress(quit <-chan struct{}, from int, done *atomic.Int64) {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	last := int64(0)
	for {
		select {
		case <-quit:
			return
		case now := <-t.C:
			n := done.Load()
			fmt.Fprintf(os.Stderr, "%s %d links stored, %.0f URLs/s over the last 30 s, load average %s\n",
				now.Format(time.TimeOnly), int64(from)+n, float64(n-last)/30, loadAverage())
			last = n
		}
	}
}

// loadAverage is the machine's load average over the last minute, as
// /proc/loadavg says ("?" where there is none).
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

// walTotals is what the server has written to its WAL so far: bytes, and
// how many full-page images (the first change of a page after a
// checkpoint logs the whole page).
type walTotals struct {
	bytes, fpi int64
}

// walStats reads pg_stat_wal (the whole server's).
func walStats(ctx context.Context, dsn string) (walTotals, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return walTotals{}, err
	}
	defer conn.Close(ctx)
	var w walTotals
	err = conn.QueryRow(ctx, `SELECT wal_bytes::bigint, wal_fpi FROM pg_stat_wal`).Scan(&w.bytes, &w.fpi)
	return w, err
}

// claimTimes claims limit due links n times from st as a checker would
// (3 per host, a minute's lease) and returns how long each claim took;
// between claims (untimed) the links are made due again and the hosts
// released, so that the store stays as the load left it.
func claimTimes(st *pgstore.Store, limit, n int) ([]time.Duration, error) {
	ctx := context.Background()
	var out []time.Duration
	for range n {
		now := time.Now()
		t0 := time.Now()
		ls, err := st.ClaimDue(ctx, now, lms.ClaimOptions{Limit: limit, PerHost: 3, Lease: time.Minute, HostGap: time.Second, Holder: "bench-claims"})
		if err != nil {
			return nil, err
		}
		out = append(out, time.Since(t0))
		if len(ls) != limit {
			return nil, fmt.Errorf("claimed %d links, want %d", len(ls), limit)
		}
		recs := make([]lms.Outcome, len(ls))
		var rel []lms.HostRelease
		seen := map[string]bool{}
		for i, l := range ls {
			recs[i] = lms.Outcome{URL: l.URL, Hold: true, NextDue: now}
			if !seen[l.Host] {
				seen[l.Host] = true
				rel = append(rel, lms.HostRelease{Host: l.Host})
			}
		}
		if err := st.RecordResults(ctx, recs); err != nil {
			return nil, err
		}
		if err := st.ReleaseHosts(ctx, "bench-claims", rel); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// pct returns the p-th percentile of ds, rounded.
func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	d := s[min(len(s)-1, len(s)*p/100)]
	if d > 10*time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Microsecond)
}

// storage prints the size of each table (with its indexes and TOAST) per
// link stored.
func storage(st *pgstore.Store, dsn string, links int) error {
	ctx := context.Background()
	total, err := st.Size(ctx)
	if err != nil {
		return err
	}
	sizes, err := tableSizes(ctx, dsn)
	if err != nil {
		return err
	}
	fmt.Printf("Storage: %.2f GB, **%.0f B per link** (tables with their indexes:", float64(total)/1e9, float64(total)/float64(links))
	for _, t := range sizes {
		if t.bytes >= 1<<20 {
			fmt.Printf(" %s %.0f B,", t.name, float64(t.bytes)/float64(links))
		}
	}
	fmt.Printf(" per link).\n\n")
	return nil
}

// checkRate lets the checker processes check for spec.checkFor (after a
// warm-up of 5 s) and prints how many results they wrote per second, as
// the link counts tell (each link's first result moves it out of
// "unknown"), and the CPU that cost.
func checkRate(st *pgstore.Store, srv *pgtest.Server, d *deployment, spec tenMillionSpec, statements bool) error {
	ctx := context.Background()
	checked := func() (int, error) {
		c, err := st.LinkCounts(ctx)
		return c.Total() - c.Unknown, err
	}
	time.Sleep(5 * time.Second) // warm-up: the first claims
	n0, err := checked()
	if err != nil {
		return err
	}
	if statements {
		if err := pgStatements(ctx, d.dsn, 0, ""); err != nil {
			return err
		}
	}
	cpu0, _ := srv.CPUTime()
	lmsd0 := d.cpu("checker")
	t0 := time.Now()
	time.Sleep(spec.checkFor)
	n1, err := checked()
	if err != nil {
		return err
	}
	el := time.Since(t0)
	cpu1, _ := srv.CPUTime()
	lmsd1 := d.cpu("checker")
	w := float64(n1 - n0)
	fmt.Printf("Result writes, %d checker processes (-concurrency %d, every check a refused connection), over %v: %d results, **%.0f writes/s**; CPU per write: PostgreSQL %.0f µs, lmsd checkers %.0f µs.\n\n",
		spec.checkers, spec.concurrency, spec.checkFor, n1-n0, w/el.Seconds(),
		float64((cpu1-cpu0).Microseconds())/w, float64((lmsd1-lmsd0).Microseconds())/w)
	if statements {
		return pgStatements(ctx, d.dsn, n1-n0, "result written")
	}
	return nil
}

// pgStatements resets pg_stat_statements (n 0) or prints its top
// statements by time, per n things done (per).
func pgStatements(ctx context.Context, dsn string, n int, per string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if n == 0 {
		_, err := conn.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset()`)
		return err
	}
	rows, err := conn.Query(ctx, `SELECT calls, total_exec_time, rows, left(regexp_replace(query, '\s+', ' ', 'g'), 100)
		FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 12`)
	if err != nil {
		return err
	}
	fmt.Printf("\n| statement (pg_stat_statements) | calls | rows | µs per %s |\n|---|---|---|---|\n", per)
	var calls, nrows int64
	var ms float64
	var q string
	_, err = pgx.ForEachRow(rows, []any{&calls, &ms, &nrows, &q}, func() error {
		fmt.Printf("| `%s` | %d | %d | %.1f |\n", q, calls, nrows, ms*1000/float64(n))
		return nil
	})
	fmt.Println()
	return err
}

// tableSize is one table's size with its indexes and TOAST.
type tableSize struct {
	name  string
	bytes int64
}

// tableSizes returns the sizes of the tables of dsn's schema, largest
// first.
func tableSizes(ctx context.Context, dsn string) ([]tableSize, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c
		WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace ORDER BY 2 DESC`)
	if err != nil {
		return nil, err
	}
	var out []tableSize
	var t tableSize
	_, err = pgx.ForEachRow(rows, []any{&t.name, &t.bytes}, func() error { out = append(out, t); return nil })
	return out, err
}
