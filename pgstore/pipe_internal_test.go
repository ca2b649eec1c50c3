package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/pgtest"
)

// settings reads the planner settings probePlans changes, on q.
func settings(t *testing.T, ctx context.Context, q querier) [3]string {
	t.Helper()
	var v [3]string
	if err := q.QueryRow(ctx, `SELECT current_setting('plan_cache_mode'), current_setting('enable_seqscan'), current_setting('jit')`).Scan(&v[0], &v[1], &v[2]); err != nil {
		t.Fatalf("settings: %v", err)
	}
	return v
}

// TestPipedTx: a piped transaction plans with probePlans' settings, its
// writes are committed with the last batch or not at all when a statement
// fails, and the settings end with it: the pool's connection (there is one)
// is back to the defaults and outside any transaction.
func TestPipedTx(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, pgtest.Start(t), Options{MaxConns: 1})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	defaults := settings(t, ctx, s.pool)
	if defaults[0] == "force_generic_plan" || defaults[1] == "off" {
		t.Fatalf("settings before: %v", defaults)
	}
	add := func(n int64) *pgx.Batch {
		b := &pgx.Batch{}
		b.Queue(`UPDATE link_counts SET ok = ok + $1 WHERE shard = 0`, n)
		return b
	}
	sum := func() int64 {
		var n int64
		if err := s.pool.QueryRow(ctx, `SELECT sum(ok) FROM link_counts`).Scan(&n); err != nil {
			t.Fatalf("sum: %v", err)
		}
		return n
	}

	var inside [3]string
	err = s.pipedTx(ctx, "test", func(p *pipe) (*pgx.Batch, error) {
		b := &pgx.Batch{}
		b.Queue(`SELECT current_setting('plan_cache_mode'), current_setting('enable_seqscan'), current_setting('jit')`)
		br, err := p.send(ctx, b)
		if err != nil {
			return nil, err
		}
		if err := readBatch(br, []any{&inside[0], &inside[1], &inside[2]}, func() error { return nil }); err != nil {
			return nil, err
		}
		return add(5), nil
	})
	if err != nil {
		t.Fatalf("pipedTx: %v", err)
	}
	if want := [3]string{"force_generic_plan", "off", "off"}; inside != want {
		t.Errorf("settings inside = %v, want %v", inside, want)
	}
	if got := sum(); got != 5 {
		t.Errorf("after a commit: sum = %d, want 5", got)
	}

	// A statement of the last batch fails: the first batch's write is not
	// committed either.
	err = s.pipedTx(ctx, "test", func(p *pipe) (*pgx.Batch, error) {
		br, err := p.send(ctx, add(7))
		if err != nil {
			return nil, err
		}
		if err := br.Close(); err != nil {
			return nil, err
		}
		b := add(11)
		b.Queue(`SELECT 1 / (SELECT count(*) FROM link_counts WHERE shard < 0)`) // division by zero
		return b, nil
	})
	if err == nil {
		t.Fatal("pipedTx with a failing statement: no error")
	}
	if got := sum(); got != 5 {
		t.Errorf("after a failed transaction: sum = %d, want 5", got)
	}
	if got := settings(t, ctx, s.pool); got != defaults {
		t.Errorf("settings after = %v, want %v", got, defaults)
	}
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	if st := c.Conn().PgConn().TxStatus(); st != 'I' {
		t.Errorf("pooled connection in transaction status %q", st)
	}
}

// TestCountShardSkipsLocked: a result write adds to a client counts shard
// that no other transaction holds instead of waiting for the one of its
// backend pid; here another transaction holds all the client's shards but
// one, not its connection's, and the write goes to that one.
func TestCountShardSkipsLocked(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Start(t)
	s, err := Open(ctx, dsn, Options{MaxConns: 1})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	var pid int
	if err := s.pool.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	free := (pid%16 + 5) % 16
	if err := s.CreateClient(ctx, lms.Client{ID: "c"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	const u = "http://h.example.org/a"
	if _, err := s.Subscribe(ctx, "c", []string{u}, now); err != nil {
		t.Fatal(err)
	}
	other, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, `SELECT 1 FROM client_counts WHERE client_id = 'c' AND shard <> $1 FOR UPDATE`, free); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rec := lms.Outcome{URL: u, Result: lms.Result{State: lms.StateOK, Code: 200, Reason: "OK"}, Checked: now, NextDue: now.Add(time.Hour)}
	if err := s.RecordResults(wctx, []lms.Outcome{rec}); err != nil {
		t.Fatalf("RecordResults while 15 shards are held: %v", err)
	}
	var ok, unknown int
	if err := s.pool.QueryRow(ctx, `SELECT ok, unknown FROM client_counts WHERE client_id = 'c' AND shard = $1`, free).Scan(&ok, &unknown); err != nil {
		t.Fatal(err)
	}
	if ok != 1 || unknown != -1 {
		t.Errorf("shard %d: ok %d, unknown %d; want 1, -1", free, ok, unknown)
	}
}
