package pgstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/pgtest"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func openT(t testing.TB, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func testURL(i, hosts int) string { return fmt.Sprintf("http://h%04d.example.org/page/%d", i%hosts, i) }

// TestClaimPlan: with 10^4 links stored and statistics gathered, the
// claim's statements and the host refresh use indexes: no sequential scan
// of links or hosts.
func TestClaimPlan(t *testing.T) {
	ctx := context.Background()
	s := openT(t, pgtest.Start(t))
	if err := s.CreateClient(ctx, lms.Client{ID: "c"}); err != nil {
		t.Fatal(err)
	}
	const n, hosts = 10_000, 1_000
	for i := 0; i < n; i += 1000 {
		var batch []string
		for j := i; j < i+1000; j++ {
			batch = append(batch, testURL(j, hosts))
		}
		if _, err := s.Subscribe(ctx, "c", batch, t0.Add(time.Duration(i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ClaimDue(ctx, t0.Add(time.Hour), lms.ClaimOptions{Limit: 100, PerHost: 3, Lease: time.Minute, Holder: "p1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	now, lease := nanos(t0.Add(2*time.Hour)), nanos(t0.Add(2*time.Hour+time.Minute))
	ids := []int32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, q := range []struct {
		name string
		sql  string
		args []any
	}{
		{"claimHostsHeld", claimHostsHeld, []any{"p1", now, []int32{}, 34}},
		{"claimHostsFree", claimHostsFree, []any{now, []int32{}, 34}},
		{"claimLinks", claimLinks, []any{ids, now, 3}},
		{"claimUpdateHosts", claimUpdateHosts, []any{ids, []int32{3, 3, 3, 3, 3, 3, 3, 3, 3, 3}, "p1", lease, slices.Repeat([]int64{now + 2*int64(time.Second)}, 10)}},
		{"refreshHosts", refreshHosts, []any{ids}},
		{"dueCount", dueCount, []any{now, 1000}},
	} {
		var lines []string
		rows, err := s.pool.Query(ctx, "EXPLAIN "+q.sql, q.args...)
		if err != nil {
			t.Fatalf("EXPLAIN %s: %v", q.name, err)
		}
		for rows.Next() {
			var l string
			if err := rows.Scan(&l); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, l)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("EXPLAIN %s: %v", q.name, err)
		}
		plan := strings.Join(lines, "\n")
		t.Logf("%s:\n%s", q.name, plan)
		for _, table := range []string{"links", "hosts", "subscriptions"} {
			if strings.Contains(plan, "Seq Scan on "+table) {
				t.Errorf("%s scans %s sequentially:\n%s", q.name, table, plan)
			}
		}
	}
}

// TestConcurrentWriters: 20 result writers on shared links, with
// subscribers coming and going, claims from two stores and acks, never
// deadlock, and leave counts and host readiness exactly as the rows say.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Start(t)
	a, b := openT(t, dsn), openT(t, dsn)
	const clients, links, hosts = 6, 300, 7
	all := make([]string, links)
	for i := range all {
		all[i] = testURL(i, hosts)
	}
	for c := range clients {
		id := fmt.Sprintf("c%d", c)
		if err := a.CreateClient(ctx, lms.Client{ID: id}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Subscribe(ctx, id, all[c*20:], t0); err != nil {
			t.Fatal(err)
		}
	}
	states := lms.States()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	run := func(n int, fn func(r *rand.Rand) error) {
		for w := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(w), uint64(n)))
				for range 30 {
					if err := fn(r); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
	}
	stores := []*Store{a, b}
	run(20, func(r *rand.Rand) error {
		var recs []lms.Outcome
		for range 1 + r.IntN(8) {
			st := states[r.IntN(len(states))]
			recs = append(recs, lms.Outcome{URL: all[r.IntN(links)], Checked: t0, NextDue: t0.Add(time.Duration(r.IntN(100)) * time.Minute),
				Result: lms.Result{State: st, Reason: string(st)}})
		}
		return stores[r.IntN(2)].RecordResults(ctx, recs)
	})
	run(4, func(r *rand.Rand) error {
		id := fmt.Sprintf("c%d", r.IntN(clients))
		var us []string
		for range 1 + r.IntN(30) {
			us = append(us, all[r.IntN(links)])
		}
		s := stores[r.IntN(2)]
		var err error
		switch r.IntN(3) {
		case 0:
			_, err = s.Subscribe(ctx, id, us, t0)
		case 1:
			_, err = s.Unsubscribe(ctx, id, us)
		default:
			_, _, err = s.ReplaceSubscriptions(ctx, id, append(us, all[:100]...), t0)
		}
		return err
	})
	run(2, func(r *rand.Rand) error {
		s := stores[r.IntN(2)]
		_, err := s.ClaimDue(ctx, t0.Add(time.Duration(r.IntN(200))*time.Minute), lms.ClaimOptions{Limit: 20, PerHost: 3, Lease: time.Minute, Holder: fmt.Sprint("p", r.IntN(2))})
		if err != nil {
			return err
		}
		id := fmt.Sprintf("c%d", r.IntN(clients))
		p, err := s.PendingUpdates(ctx, id, 50)
		if err != nil {
			return err
		}
		return s.AckUpdates(ctx, id, p)
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent writers: %v", err)
	}
	if n := a.retries.Load() + b.retries.Load(); n != 0 {
		t.Errorf("%d transactions had to be retried (deadlocks)", n)
	}
	checkInvariants(t, a)
}

// checkInvariants compares what the store maintains with what its rows
// say.
func checkInvariants(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	for _, q := range []struct{ what, sql string }{
		{"client count shards", `SELECT count(*) FROM clients c WHERE (SELECT count(*) FROM client_counts k WHERE k.client_id = c.id) <> 16`},
		{"client counts of no client", `SELECT count(*) FROM client_counts k WHERE NOT EXISTS (SELECT 1 FROM clients c WHERE c.id = k.client_id)`},
		{"client counts", `SELECT count(*) FROM client_totals k LEFT JOIN (
			SELECT s.client_id, count(*) FILTER (WHERE l.state = 0) ok, count(*) FILTER (WHERE l.state = 1) te,
				count(*) FILTER (WHERE l.state = 2) un, count(*) FILTER (WHERE l.state = 3) us, count(*) FILTER (WHERE l.state = 4) uk
			FROM subscriptions s JOIN links l ON l.url = s.url GROUP BY s.client_id) r ON r.client_id = k.client_id
			WHERE (k.ok, k.temporary, k.unavailable, k.unsupported, k.unknown) IS DISTINCT FROM
				(coalesce(r.ok, 0), coalesce(r.te, 0), coalesce(r.un, 0), coalesce(r.us, 0), coalesce(r.uk, 0))`},
		{"subscriber counts", `SELECT count(*) FROM links l WHERE l.subs <> (SELECT count(*) FROM subscriptions s WHERE s.url = l.url)`},
		{"link counts", `SELECT count(*) FROM (SELECT sum(ok) ok, sum(temporary) te, sum(unavailable) un, sum(unsupported) us, sum(unknown) uk FROM link_counts) k,
			(SELECT count(*) FILTER (WHERE state = 0) ok, count(*) FILTER (WHERE state = 1) te, count(*) FILTER (WHERE state = 2) un,
				count(*) FILTER (WHERE state = 3) us, count(*) FILTER (WHERE state = 4) uk FROM links WHERE subs > 0) r
			WHERE (k.ok, k.te, k.un, k.us, k.uk) IS DISTINCT FROM (r.ok, r.te, r.un, r.us, r.uk)`},
		{"host readiness", `SELECT count(*) FROM hosts h WHERE h.min_due IS DISTINCT FROM (SELECT min(due) FROM links l WHERE l.host_id = h.id AND l.subs > 0)
			OR h.ready_at IS DISTINCT FROM CASE WHEN h.min_due IS NULL THEN NULL ELSE greatest(h.min_due, h.not_before) END
			OR h.avail_at IS DISTINCT FROM CASE WHEN h.min_due IS NULL THEN NULL ELSE greatest(h.min_due, h.not_before, h.held_until) END`},
		{"pending of subscriptions", `SELECT count(*) FROM pending p WHERE NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.client_id = p.client_id AND s.url = p.url)`},
	} {
		var bad int
		if err := s.pool.QueryRow(ctx, q.sql).Scan(&bad); err != nil {
			t.Fatalf("%s: %v", q.what, err)
		}
		if bad != 0 {
			t.Errorf("%s: %d rows disagree", q.what, bad)
		}
	}
}

// TestDeleteLockOrder: the statements that delete a client's rows take
// their row locks in URL order whatever the plan, as AckUpdates and result
// writes do. Sequential scans (forced here) visit the rows in the heap's
// order, which is made the reverse of URL order: a delete that locked rows
// as the scan found them would hold the second URL's row while waiting for
// the first, which the other transaction holds while asking for the
// second — a deadlock, retried.
func TestDeleteLockOrder(t *testing.T) {
	ctx := context.Background()
	// The server logs a session that waits for a lock longer than
	// deadlock_timeout: the signal that the delete waits.
	srv := pgtest.New(t, pgtest.Config{Settings: []string{"log_lock_waits=on", "deadlock_timeout=20ms"}})
	dsn := srv.CreateSchema(t)
	s := openT(t, dsn+"&enable_indexscan=off&enable_bitmapscan=off&enable_indexonlyscan=off")
	// Each case has links of its own, in unknown state.
	urls := func(client string) (string, string) {
		return "http://x.example/" + client + "/1", "http://x.example/" + client + "/2"
	}
	unsubscribe := func(client string) error {
		u1, u2 := urls(client)
		_, err := s.Unsubscribe(ctx, client, []string{u1, u2})
		return err
	}
	for _, c := range []struct {
		name, table string
		op          func(client string) error
	}{
		{"unsubscribe", "subscriptions", unsubscribe},
		{"unsubscribe", "pending", unsubscribe},
		{"delete-client", "pending", func(client string) error { return s.DeleteClient(ctx, client) }},
	} {
		t.Run(c.name+"/"+c.table, func(t *testing.T) {
			client := c.name + "-" + c.table
			u1, u2 := urls(client)
			if err := s.CreateClient(ctx, lms.Client{ID: client}); err != nil {
				t.Fatal(err)
			}
			// Rows go to the heap in the order they are written: u2 first.
			for _, u := range []string{u2, u1} {
				if _, err := s.Subscribe(ctx, client, []string{u}, t0); err != nil {
					t.Fatal(err)
				}
				if err := s.RecordResults(ctx, []lms.Outcome{{URL: u, Checked: t0, NextDue: t0.Add(time.Hour),
					Result: lms.Result{State: lms.StateOK, Reason: "OK"}}}); err != nil {
					t.Fatal(err)
				}
			}
			other, err := s.pool.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Release()
			tx, err := other.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback(ctx) }()
			lock := func(u string) error {
				_, err := tx.Exec(ctx, `SELECT 1 FROM `+c.table+` WHERE client_id = $1 AND url = $2 FOR UPDATE`, client, u)
				return err
			}
			if err := lock(u1); err != nil {
				t.Fatal(err)
			}
			before := s.retries.Load()
			waits := srv.WatchLog("still waiting for")
			done := make(chan error, 1)
			go func() { done <- c.op(client) }()
			defer func() {
				_ = tx.Rollback(ctx)
				if err := <-done; err != nil {
					t.Errorf("%s: %v", c.name, err)
				}
				if n := s.retries.Load() - before; n != 0 {
					t.Errorf("%s was retried %d times (deadlock)", c.name, n)
				}
			}()
			// Wait until the delete waits for the row the other
			// transaction holds.
			select {
			case <-waits:
			case <-time.After(10 * time.Second):
				t.Fatalf("%s never waited for the locked row", c.name)
			}
			start := time.Now()
			if err := lock(u2); err != nil {
				t.Errorf("the other transaction's second lock: %v", err)
			}
			if d := time.Since(start); d > 500*time.Millisecond {
				t.Errorf("the other transaction waited %v for the second row: %s took it out of order", d, c.name)
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
	checkInvariants(t, s)
}

// TestWakeupsCoalesced: result writes from 20 concurrent writers send at
// most one NOTIFY per notifyEvery between them, the last write's wake-up
// is not lost, and after a quiet spell a write is announced at once.
func TestWakeupsCoalesced(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Start(t)
	s := openT(t, dsn)
	ln, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close(ctx)
	if _, err := ln.Exec(ctx, "LISTEN "+wakeChannel); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateClient(ctx, lms.Client{ID: "c"}); err != nil {
		t.Fatal(err)
	}
	const writers, writes = 20, 30
	all := make([]string, writers)
	for i := range all {
		all[i] = testURL(i, 5)
	}
	if _, err := s.Subscribe(ctx, "c", all, t0); err != nil {
		t.Fatal(err)
	}
	// The subscription's wake-up.
	next := func(within time.Duration) (string, bool) {
		wctx, cancel := context.WithTimeout(ctx, within)
		defer cancel()
		n, err := ln.WaitForNotification(wctx)
		if err != nil {
			return "", false
		}
		return n.Payload, true
	}
	if _, ok := next(time.Second); !ok {
		t.Fatal("no wake-up for the subscription")
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			states := []lms.State{lms.StateOK, lms.StateUnavailable}
			for i := range writes {
				// Every write changes the link's state: each makes a
				// notification pending.
				err := s.RecordResults(ctx, []lms.Outcome{{URL: all[w], Checked: t0, NextDue: t0.Add(time.Hour),
					Result: lms.Result{State: states[i%2], Reason: "r"}}})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// The NOTIFYs of the run, up to the one sent after the last commit.
	got := 0
	for {
		p, ok := next(200 * time.Millisecond)
		if !ok {
			break
		}
		if !strings.HasPrefix(p, fmt.Sprint(int(lms.WakePending), " ")) {
			t.Errorf("payload %q, want a pending wake-up", p)
		}
		got++
	}
	limit := int(elapsed/notifyEvery) + 2
	t.Logf("%d writes in %v: %d NOTIFYs (at most %d allowed)", writers*writes, elapsed, got, limit)
	if got == 0 || got > limit {
		t.Errorf("%d NOTIFYs for %d writes in %v, want 1..%d", got, writers*writes, elapsed, limit)
	}
	// After a quiet spell a write is announced at once.
	start = time.Now()
	if err := s.RecordResults(ctx, []lms.Outcome{{URL: all[0], Checked: t0, Result: lms.Result{State: lms.StateTemporary, Reason: "r"}}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := next(time.Second); !ok {
		t.Fatal("no wake-up for the last write")
	} else if d := time.Since(start); d > 250*time.Millisecond {
		t.Errorf("wake-up %v after a write in a quiet spell, want at once", d)
	}
}
