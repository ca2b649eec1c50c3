package pgtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkmonitor/lms/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func query(t *testing.T, dsn string) string {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	defer c.Close(ctx)
	var db string
	if err := c.QueryRow(ctx, "SELECT current_schema()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestStart: two Starts give two different databases on one shared server.
func TestStart(t *testing.T) {
	a, b := pgtest.Start(t), pgtest.Start(t)
	if da, db := query(t, a), query(t, b); da == db {
		t.Errorf("both Starts gave schema %q", da)
	}
}

// TestRestart: a server of the test's own refuses connections while
// stopped and serves the same data again after a restart.
func TestRestart(t *testing.T) {
	srv := pgtest.New(t, pgtest.Config{})
	dsn := srv.CreateDB(t)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	srv.Stop(t)
	if _, err := pgx.Connect(ctx, dsn); err == nil {
		t.Fatal("connected to a stopped server")
	}
	srv.Start(t)
	c, err = pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var v int
	if err := c.QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != 42 {
		t.Errorf("after restart: %d, %v; want 42", v, err)
	}
}

// TestFreeze: a frozen server answers no query on an existing connection
// (its backend is frozen too) and accepts no new session; after Thaw the
// same connection answers, and WatchLog signals a line logged from then on.
func TestFreeze(t *testing.T) {
	srv := pgtest.New(t, pgtest.Config{Settings: []string{"log_min_messages=notice"}})
	dsn := srv.CreateDB(t)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if err := srv.Freeze(); err != nil {
		t.Fatal(err)
	}
	thawed := false
	defer func() {
		if !thawed {
			_ = srv.Thaw()
		}
	}()
	qctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err = c.Ping(qctx)
	cancel()
	if err == nil {
		t.Error("a query on an existing connection was answered while frozen")
	}
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	if nc, err := pgx.Connect(cctx, dsn); err == nil {
		nc.Close(ctx)
		t.Error("a new session was accepted while frozen")
	}
	cancel()
	if err := srv.Thaw(); err != nil {
		t.Fatal(err)
	}
	thawed = true
	seen := srv.WatchLog("pgtest-watch-marker")
	c2, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect after the thaw: %v", err)
	}
	defer c2.Close(ctx)
	if _, err := c2.Exec(ctx, `DO $$ BEGIN RAISE LOG 'pgtest-watch-marker'; END $$`); err != nil {
		t.Fatal(err)
	}
	select {
	case <-seen:
	case <-time.After(10 * time.Second):
		t.Error("WatchLog did not signal the logged line")
	}
}
