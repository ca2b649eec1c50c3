package pgstore_test

import (
	"context"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/pgtest"
	"github.com/linkmonitor/lms/pgstore"
	"github.com/linkmonitor/lms/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func open(t testing.TB, dsn string) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(context.Background(), dsn, pgstore.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) lms.Store { return open(t, pgtest.Start(t)) })
}

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func bg() context.Context { return context.Background() }

func mustClient(t testing.TB, s lms.Store, id string) {
	t.Helper()
	if err := s.CreateClient(bg(), lms.Client{ID: id, PasswordHash: "h", Notify: true, Created: t0}); err != nil {
		t.Fatalf("CreateClient(%s): %v", id, err)
	}
}

func urls(n, hosts int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("http://h%03d.example/%d", i%hosts, i)
	}
	return out
}

// TestTwoProcessesClaim: two Store values (two pools, as two processes
// would have) claiming at once never get the same link, and never links of
// the same host while its hold lasts.
func TestTwoProcessesClaim(t *testing.T) {
	dsn := pgtest.Start(t)
	a, b := open(t, dsn), open(t, dsn)
	mustClient(t, a, "c")
	all := urls(2000, 40)
	if _, err := a.Subscribe(bg(), "c", all, t0); err != nil {
		t.Fatal(err)
	}
	type claimed struct{ url, host, holder string }
	got := make(chan claimed, len(all)*2)
	var wg sync.WaitGroup
	for _, p := range []struct {
		s      *pgstore.Store
		holder string
	}{{a, "p1"}, {b, "p2"}, {a, "p1"}, {b, "p2"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ls, err := p.s.ClaimDue(bg(), t0, lms.ClaimOptions{Limit: 25, PerHost: 2, Lease: time.Hour, Holder: p.holder})
				if err != nil {
					t.Error(err)
					return
				}
				if len(ls) == 0 {
					return
				}
				for _, l := range ls {
					got <- claimed{l.URL, l.Host, p.holder}
				}
			}
		}()
	}
	wg.Wait()
	close(got)
	seen := map[string]bool{}
	holderOf := map[string]string{}
	for c := range got {
		if seen[c.url] {
			t.Errorf("%s claimed twice", c.url)
		}
		seen[c.url] = true
		if h, ok := holderOf[c.host]; ok && h != c.holder {
			t.Errorf("host %s handed to %s and %s during one hold", c.host, h, c.holder)
		}
		holderOf[c.host] = c.holder
	}
	if len(seen) != len(all) {
		t.Errorf("claimed %d links, want all %d", len(seen), len(all))
	}
	per := map[string]int{}
	for _, h := range holderOf {
		per[h]++
	}
	t.Logf("hosts per holder: %v", per)
}

// TestLeaseExpiry: a crashed process's links and hosts come back to
// another process when their leases end.
func TestLeaseExpiry(t *testing.T) {
	dsn := pgtest.Start(t)
	a, b := open(t, dsn), open(t, dsn)
	mustClient(t, a, "c")
	if _, err := a.Subscribe(bg(), "c", []string{"http://x.example/1", "http://x.example/2"}, t0); err != nil {
		t.Fatal(err)
	}
	opt := func(holder string) lms.ClaimOptions {
		return lms.ClaimOptions{Limit: 10, PerHost: 1, Lease: time.Minute, Holder: holder}
	}
	ls, err := a.ClaimDue(bg(), t0, opt("p1"))
	if err != nil || len(ls) != 1 {
		t.Fatalf("p1 claimed %v, %v; want one link", ls, err)
	}
	// p1 dies. Until its lease ends, its link and its host stay away.
	if ls, err := b.ClaimDue(bg(), t0.Add(30*time.Second), opt("p2")); err != nil || len(ls) != 0 {
		t.Errorf("p2 claimed %v, %v during p1's hold", ls, err)
	}
	if _, ok, err := b.HoldHost(bg(), "p2", "x.example", t0.Add(30*time.Second), time.Minute); err != nil || ok {
		t.Errorf("p2 held p1's host: %v, %v", ok, err)
	}
	ls, err = b.ClaimDue(bg(), t0.Add(time.Minute), lms.ClaimOptions{Limit: 10, PerHost: 5, Lease: time.Minute, Holder: "p2"})
	if err != nil || len(ls) != 2 {
		t.Errorf("after the lease p2 claimed %v, %v; want both links", ls, err)
	}
}

// TestConcurrentOpen: five processes opening a fresh database at once all
// succeed, and the schema is created once.
func TestConcurrentOpen(t *testing.T) {
	dsn := pgtest.Start(t)
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := pgstore.Open(bg(), dsn, pgstore.Options{})
			if err == nil {
				err = s.CreateClient(bg(), lms.Client{ID: fmt.Sprintf("c%p", s)})
				_ = s.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
	}
	c, err := pgx.Connect(bg(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(bg())
	var n, v int
	if err := c.QueryRow(bg(), "SELECT count(*), max(version) FROM schema_migrations").Scan(&n, &v); err != nil {
		t.Fatal(err)
	}
	// Versions may have gaps (branches number their migrations apart), so
	// the rows are at most the version.
	if v != pgstore.SchemaVersion() || n < 1 || n > v {
		t.Errorf("schema_migrations: %d rows, version %d; want version %d", n, v, pgstore.SchemaVersion())
	}
}

// TestReopen: everything written is there after the store is opened
// again.
func TestReopen(t *testing.T) {
	dsn := pgtest.Start(t)
	s := open(t, dsn)
	want := lms.Client{ID: "c", PasswordHash: "hash", SealedPassword: "sealed", ContactName: "Ann", ContactEmail: "ann@example.org",
		CallbackURL: "http://c.example/db", Notify: true, Created: t0, NotifyFailures: 2, NextNotify: t0.Add(time.Minute),
		LastNotified: t0.Add(-time.Hour), LastNotifyError: "refused", NotifyDisabledAt: t0.Add(-time.Minute), NextSync: t0.Add(24 * time.Hour),
		LastSync: t0.Add(-24 * time.Hour), SyncForced: true, LastSyncError: "timeout",
		NotifyLease: lms.Lease{Holder: "p1", Until: t0.Add(time.Minute)}, SyncLease: lms.Lease{Holder: "p2", Until: t0.Add(2 * time.Minute)},
		Outbox: []lms.OutboxMail{{Kind: lms.MailRegistration, Queued: t0, SealedPassword: "pw", Attempts: 1, NextAttempt: t0.Add(time.Second), LastError: "421"}}}
	if err := s.CreateClient(bg(), want); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Subscribe(bg(), "c", []string{"http://x.example/", "http://y.example/"}, t0); err != nil {
		t.Fatal(err)
	}
	rec := lms.Outcome{URL: "http://x.example/", Checked: t0, NextDue: t0.Add(time.Hour), Failures: 1,
		Result: lms.Result{State: lms.StateUnavailable, Reason: "Not Found", Code: 404, FinalURL: "http://x.example/a", Permanent: true, ResponseTime: 42 * time.Millisecond}}
	if err := s.RecordResults(bg(), []lms.Outcome{rec}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeferHost(bg(), "y.example", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	before, _ := s.LookupLinks(bg(), []string{"http://x.example/", "http://y.example/"})
	_ = s.Close()

	s = open(t, dsn)
	got, err := s.GetClient(bg(), "c")
	if err != nil {
		t.Fatal(err)
	}
	want.Counts = lms.StateCounts{Unavailable: 1, Unknown: 1}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("client after reopen:\n got %+v\nwant %+v", got, want)
	}
	after, _ := s.LookupLinks(bg(), []string{"http://x.example/", "http://y.example/"})
	if !reflect.DeepEqual(after, before) {
		t.Errorf("links after reopen:\n got %+v\nwant %+v", after, before)
	}
	if p, _ := s.PendingUpdates(bg(), "c", 0); len(p) != 1 || p[0].State != lms.StateUnavailable {
		t.Errorf("pending after reopen = %+v", p)
	}
	if nb, ok, err := s.HoldHost(bg(), "p", "y.example", t0, time.Minute); err != nil || !ok || !nb.Equal(t0.Add(time.Hour)) {
		t.Errorf("deferral after reopen: %v, %v, %v", nb, ok, err)
	}
	if total, _ := s.LinkCounts(bg()); total != (lms.StateCounts{Unavailable: 1, Unknown: 1}) {
		t.Errorf("LinkCounts after reopen = %+v", total)
	}
}

// TestUnreachable: a server that is not there fails Open within seconds,
// with an error naming where it looked.
func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	start := time.Now()
	_, err = pgstore.Open(bg(), "postgres://lms@"+addr+"/lms?sslmode=disable", pgstore.Options{ConnectTimeout: 2 * time.Second})
	if err == nil {
		t.Fatal("Open of a closed port succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Open failed after %v, want within seconds", d)
	}
	if msg := err.Error(); !strings.Contains(msg, "cannot connect to PostgreSQL at "+addr) || strings.Contains(msg, "\n") {
		t.Errorf("error = %q, want one line naming %s", msg, addr)
	}
	// A server that accepts connections but never answers: the connect
	// timeout ends the wait.
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	start = time.Now()
	if _, err := pgstore.Open(bg(), "postgres://lms@"+ln.Addr().String()+"/lms?sslmode=disable", pgstore.Options{ConnectTimeout: time.Second}); err == nil {
		t.Fatal("Open of a silent server succeeded")
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("Open of a silent server failed after %v", d)
	}
}

// TestWakeups: a second Store value hears what the first did within about
// 100 ms; a store does not wake itself.
func TestWakeups(t *testing.T) {
	dsn := pgtest.Start(t)
	a, b := open(t, dsn), open(t, dsn)
	ctx, cancel := context.WithCancel(bg())
	wa, wb := a.Wakeups(ctx), b.Wakeups(ctx)
	// The listeners are connected once a notification goes through.
	mustClient(t, a, "c")
	expect := func(ch <-chan lms.Wakeup, want lms.Wakeup, what string, start time.Time) {
		t.Helper()
		timeout := time.After(2 * time.Second)
		for {
			select {
			case w := <-ch:
				if w&want != 0 {
					t.Logf("%s: woken within %v", what, time.Since(start))
					if d := time.Since(start); d > 500*time.Millisecond {
						t.Errorf("%s: woken after %v, want ~100 ms", what, d)
					}
					return
				}
			case <-timeout:
				t.Fatalf("%s: no wake-up %v within 2 s", what, want)
			}
		}
	}
	// Wait until b's listener is up: a's writes reach it from then on.
	for i := 0; ; i++ {
		if _, err := a.UpdateClient(bg(), "c", func(c *lms.Client) error {
			c.Outbox = append(c.Outbox, lms.OutboxMail{Kind: lms.MailDisabled, Queued: t0.Add(time.Duration(i))})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		select {
		case w := <-wb:
			if w&lms.WakeMail == 0 {
				t.Fatalf("outbox entry woke with %v", w)
			}
		case <-time.After(200 * time.Millisecond):
			if i < 25 {
				continue
			}
			t.Fatal("b never woken by a mail in the outbox")
		}
		break
	}
	start := time.Now()
	if _, err := a.Subscribe(bg(), "c", []string{"http://x.example/"}, t0); err != nil {
		t.Fatal(err)
	}
	expect(wb, lms.WakeLinksAdded, "links added", start)
	start = time.Now()
	if err := a.RecordResults(bg(), []lms.Outcome{{URL: "http://x.example/", Result: lms.Result{State: lms.StateOK, Reason: "OK"}, Checked: t0}}); err != nil {
		t.Fatal(err)
	}
	expect(wb, lms.WakePending, "pending", start)
	// b's write wakes a, not b.
	start = time.Now()
	if _, err := b.Subscribe(bg(), "c", []string{"http://y.example/"}, t0); err != nil {
		t.Fatal(err)
	}
	expect(wa, lms.WakeLinksAdded, "links added by b", start)
	select {
	case w := <-wb:
		t.Errorf("b woken by its own write: %v", w)
	case <-time.After(100 * time.Millisecond):
	}
	cancel()
	for range wa {
	}
	for range wb {
	}
}

// TestServerRestart: while the server is down the store answers errors
// at once instead of hanging; once it is back the same Store value works
// again (no new Open), nothing acknowledged is lost, and the wake-up
// listener reconnects.
func TestServerRestart(t *testing.T) {
	srv := pgtest.New(t, pgtest.Config{})
	dsn := srv.CreateSchema(t)
	s, err := pgstore.Open(bg(), dsn, pgstore.Options{StatementTimeout: 2 * time.Second, ConnectTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustClient(t, s, "c")
	if _, err := s.Subscribe(bg(), "c", []string{"http://x.example/"}, t0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg())
	defer cancel()
	wake := s.Wakeups(ctx)
	srv.Stop(t)
	start := time.Now()
	if _, err := s.GetClient(bg(), "c"); err == nil {
		t.Error("GetClient succeeded with the server down")
	}
	if err := s.RecordResults(bg(), []lms.Outcome{{URL: "http://x.example/", Result: lms.Result{State: lms.StateOK, Reason: "OK"}}}); err == nil {
		t.Error("RecordResults succeeded with the server down")
	}
	if _, err := s.ClaimDue(bg(), t0, lms.ClaimOptions{Limit: 1, PerHost: 1, Lease: time.Minute}); err == nil {
		t.Error("ClaimDue succeeded with the server down")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("calls during the outage took %v, want errors within seconds", d)
	}
	srv.Start(t)
	if c, err := s.GetClient(bg(), "c"); err != nil || c.Counts.Unknown != 1 {
		t.Errorf("after the restart GetClient = %+v, %v", c, err)
	}
	if err := s.RecordResults(bg(), []lms.Outcome{{URL: "http://x.example/", Result: lms.Result{State: lms.StateOK, Reason: "OK"}, NextDue: t0.Add(time.Hour)}}); err != nil {
		t.Errorf("after the restart RecordResults: %v", err)
	}
	if p, err := s.PendingUpdates(bg(), "c", 0); err != nil || len(p) != 1 {
		t.Errorf("after the restart pending = %v, %v", p, err)
	}
	select {
	case w := <-wake:
		if w != lms.WakeLinksAdded|lms.WakePending|lms.WakeMail {
			t.Errorf("wake-up after reconnecting = %v, want every kind", w)
		}
	case <-time.After(10 * time.Second):
		t.Error("the wake-up listener did not reconnect within 10 s")
	}
}
