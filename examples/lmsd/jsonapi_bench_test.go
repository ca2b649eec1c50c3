package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/linkmonitor/lms/internal/apibench"
	"github.com/linkmonitor/lms/internal/lmsdproc"
	"github.com/linkmonitor/lms/internal/pgtest"
)

// BenchmarkJSONAPI measures the JSON API's registration through lmsd
// against registerURLs in the same run (so that a busy machine slows them
// alike): 50 concurrent clients, batches of 100 and 1,000 fresh URLs, on
// PostgreSQL and bolt, each load on a fresh store of its own (a store that
// another load filled first is slower: bigger indexes). The checker does
// not run. On PostgreSQL it also reports the server's CPU per URL, and
// with LMS_BENCH_PG_STATEMENTS set its blocks and WAL records per URL and
// its costliest statements (pg_stat_statements).
func BenchmarkJSONAPI(b *testing.B) {
	cfg := pgtest.Config{Durable: true}
	if os.Getenv("LMS_BENCH_PG_STATEMENTS") != "" {
		cfg.Settings = []string{"shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=all"}
	}
	srv := pgtest.New(b, cfg)
	for _, store := range []string{"postgres", "bolt"} {
		for _, batch := range []int{100, 1000} {
			for _, load := range []string{"registerURLs", "PUT-links", "PUT-sources"} {
				b.Run(fmt.Sprintf("%s/batch=%d/%s", store, batch, load), func(b *testing.B) {
					args := []string{"-store", store, "-db", filepath.Join(b.TempDir(), "lms.db")}
					measure := func() func() { return func() {} }
					if store == "postgres" {
						dsn := srv.CreateSchema(b)
						args = []string{"-store", "postgres", "-dsn", dsn, "-pg-max-conns", "20"}
						measure = func() func() { return pgCost(b, srv, dsn, batch) }
					}
					benchJSON(b, args, batch, load, measure)
				})
			}
		}
	}
}

// benchJSON runs one load on a fresh lmsd; measure is called when the
// load starts, and what it returns when the load is done.
func benchJSON(b *testing.B, storeArgs []string, batch int, load string, measure func() func()) {
	dir := b.TempDir()
	ready := filepath.Join(dir, "ready")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	args := append([]string{"-addr", "127.0.0.1:0", "-admin-secret", secret, "-components", "notifier", "-log-level", "error",
		"-mail-dir", filepath.Join(dir, "mail"), "-ready-file", ready}, storeArgs...)
	go func() { done <- run(ctx, args, os.Getenv, io.Discard) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	base := "http://" + waitFile(b, ready)
	clients := make([]apibench.Client, 50)
	tokens := make([]string, 50)
	for c := range clients {
		clients[c] = apibench.Client{ID: fmt.Sprintf("c%02d", c), Password: fmt.Sprintf("password-%02d", c)}
		if _, err := lmsdproc.Call(ctx, nil, base+"/RPC2", "registerClient", secret, clients[c].ID, "http://127.0.0.1:1/db", "n", "a@example.org", clients[c].Password); err != nil {
			b.Fatal(err)
		}
		tokens[c] = newToken(b, base, clients[c])
	}
	// The hosts exist before the measurements (all three loads spread over
	// the same 10,000), so that none of them pays for creating them.
	warm := make([]string, 10000)
	for i := range warm {
		warm[i] = fmt.Sprintf("http://h%05d.example.org/", i)
	}
	putWarm(b, base, tokens[0], warm)
	// One call per client with the load's credentials before the load, as
	// a CMS that is up has made: the guard's cache of good credentials
	// (the last good one per client) then knows them, and the load
	// measures registration, not fifty first password checks. (Those
	// would pass too: past the address's 30 at once (AddrBurst) they wait
	// for the checks before them; see internal/guard's checking.)
	for c := range clients {
		if load == "registerURLs" {
			if _, err := lmsdproc.Call(ctx, nil, base+"/RPC2", "checkConnection", clients[c].ID, clients[c].Password); err != nil {
				b.Fatal(err)
			}
		} else {
			getClient(b, base, tokens[c])
		}
	}
	defer measure()()
	switch load {
	case "registerURLs":
		apibench.RegisterURLs(b, base+"/RPC2", clients, batch)
	case "PUT-links":
		apibench.PutJSON(b, base, tokens, batch, false)
	default:
		apibench.PutJSON(b, base, tokens, batch, true)
	}
}

// newToken makes an API token for c, authenticated with its password.
func newToken(b *testing.B, base string, c apibench.Client) string {
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/client/tokens", bytes.NewReader([]byte(`{"name":"bench"}`)))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(c.ID, c.Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var t struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&t); err != nil || resp.StatusCode != 201 {
		b.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return t.Token
}

func putWarm(b *testing.B, base, token string, urls []string) {
	j, _ := json.Marshal(map[string]any{"urls": urls})
	req, _ := http.NewRequest(http.MethodPut, base+"/api/v1/links", bytes.NewReader(j))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("warm-up: %d", resp.StatusCode)
	}
}

// getClient reads the client's settings with token.
func getClient(b *testing.B, base, token string) {
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/client", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("GET /api/v1/client: %d", resp.StatusCode)
	}
}

// pgCost starts measuring what the load of a benchmark costs the
// PostgreSQL server; the function it returns reports it per URL. It starts
// with a CHECKPOINT, so that every load starts from the same state of the
// server (its dirty pages written, no checkpoint due) rather than paying
// for the loads before it.
func pgCost(b *testing.B, srv *pgtest.Server, dsn string, batch int) func() {
	ctx := context.Background()
	pgExec(b, dsn, `CHECKPOINT`)
	stmts := os.Getenv("LMS_BENCH_PG_STATEMENTS") != ""
	if stmts {
		pgExec(b, dsn, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements SCHEMA public; SELECT public.pg_stat_statements_reset()`)
	}
	cpu0, _ := srv.CPUTime()
	return func() {
		cpu1, err := srv.CPUTime()
		n := float64(b.N * batch)
		if err == nil {
			b.ReportMetric(float64((cpu1-cpu0).Microseconds())/n, "pg-cpu-µs/url")
		}
		if !stmts {
			return
		}
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close(ctx)
		var blocks, wal float64
		if err := conn.QueryRow(ctx, `SELECT sum(shared_blks_hit + shared_blks_read), sum(wal_records) FROM public.pg_stat_statements
			WHERE query NOT LIKE '%pg_stat_statements%'`).Scan(&blocks, &wal); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(blocks/n, "pg-blocks/url")
		b.ReportMetric(wal/n, "pg-wal-records/url")
		rows, err := conn.Query(ctx, `SELECT total_exec_time, wal_records, calls, left(regexp_replace(query, '\s+', ' ', 'g'), 120)
			FROM public.pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC LIMIT 12`)
		if err != nil {
			b.Fatal(err)
		}
		var ms float64
		var recs, calls int64
		var q string
		_, err = pgx.ForEachRow(rows, []any{&ms, &recs, &calls, &q}, func() error {
			b.Logf("%5.1f µs/url %5.2f WAL records/url %5.2f calls/op | %s", ms*1000/n, float64(recs)/n, float64(calls)/float64(b.N), q)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func pgExec(b *testing.B, dsn, sql string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		b.Fatal(err)
	}
}
