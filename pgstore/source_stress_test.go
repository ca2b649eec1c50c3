package pgstore_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/pgtest"
	"github.com/linkmonitor/lms/pgstore"
)

// TestSourceStress runs many goroutines at once over a few clients that
// share a small URL universe (so that links rows and the source rule's
// rows of several clients meet), each doing random PutSource, DeleteSource,
// Subscribe, Unsubscribe and ReplaceSubscriptions calls, several on the
// same client. No call may fail, and the server may detect no deadlock
// (Store.tx would retry it; the lock order says there are none). Once all
// are done, the rows must keep the source rule: a URL's uses are either
// its subscription's source_id or its source_links rows,
// never both; every use names a source whose list holds the URL, and every
// URL of a list is used exactly once by its source; a subscription is plain
// or used; links.subs counts the subscriptions, the client counts the
// client's; LinkSources answers what the sources' lists say.
func TestSourceStress(t *testing.T) {
	// A server of its own, whose log tells of deadlocks Store.tx retried.
	srv := pgtest.New(t, pgtest.Config{})
	dsn := srv.CreateSchema(t)
	deadlock := srv.WatchLog("deadlock detected")
	s := open(t, dsn)
	clients := []string{"c0", "c1", "c2"}
	for _, c := range clients {
		mustClient(t, s, c)
	}
	universe := urls(12, 3)
	sources := []string{"s0", "s1", "s2"}

	const workers, calls = 12, 60
	var wg sync.WaitGroup
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(20261207, uint64(g)))
			for i := range calls {
				// Mostly the worker's own client (four workers each),
				// sometimes any.
				c := clients[g%len(clients)]
				if r.IntN(4) == 0 {
					c = clients[r.IntN(len(clients))]
				}
				if err := stressCall(s, r, c, sources, universe); err != nil {
					t.Errorf("worker %d call %d: %v", g, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	checkSourceRule(t, s, dsn, clients, universe)
	// The log is read as it comes: a deadlock at the very end may be
	// missed, but one that is seen is real.
	select {
	case <-deadlock:
		t.Errorf("the server detected a deadlock (Store.tx retried it): the calls did not keep the lock order")
	default:
	}
}

// stressCall makes one random call on client c.
func stressCall(s *pgstore.Store, r *rand.Rand, c string, sources, universe []string) error {
	subset := func(max int) []string {
		n := r.IntN(max + 1)
		out := make([]string, 0, n)
		for range n {
			out = append(out, universe[r.IntN(len(universe))])
		}
		return out
	}
	src := sources[r.IntN(len(sources))]
	switch k := r.IntN(10); {
	case k < 4:
		_, _, err := s.PutSource(bg(), c, lms.Source{SourceRef: lms.SourceRef{ID: src, Title: "t " + src}, Links: subset(6)}, t0)
		if err != nil {
			return fmt.Errorf("PutSource(%s, %s): %w", c, src, err)
		}
	case k < 5:
		if _, err := s.DeleteSource(bg(), c, src); err != nil && !errors.Is(err, lms.ErrNotFound) {
			return fmt.Errorf("DeleteSource(%s, %s): %w", c, src, err)
		}
	case k < 7:
		if _, err := s.Subscribe(bg(), c, subset(4), t0); err != nil {
			return fmt.Errorf("Subscribe(%s): %w", c, err)
		}
	case k < 9:
		if _, err := s.Unsubscribe(bg(), c, subset(4)); err != nil {
			return fmt.Errorf("Unsubscribe(%s): %w", c, err)
		}
	default:
		if _, _, err := s.ReplaceSubscriptions(bg(), c, subset(5), t0); err != nil {
			return fmt.Errorf("ReplaceSubscriptions(%s): %w", c, err)
		}
	}
	return nil
}

// checkSourceRule checks the quiescent store's rows (through a connection
// of its own to dsn) and answers against the source rule.
func checkSourceRule(t *testing.T, s *pgstore.Store, dsn string, clients, universe []string) {
	t.Helper()
	conn, err := pgx.Connect(bg(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(bg())
	violations := []struct{ what, sql string }{
		{"subscription with source_id and source_links rows", `SELECT s.client_id || ' ' || s.url FROM subscriptions s
			WHERE s.source_id IS NOT NULL AND EXISTS (SELECT 1 FROM source_links sl WHERE sl.client_id = s.client_id AND sl.url = s.url)`},
		{"source_id naming no source that lists the URL", `SELECT s.client_id || ' ' || s.url || ' ' || s.source_id FROM subscriptions s
			WHERE s.source_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM sources x WHERE x.client_id = s.client_id AND x.id = s.source_id AND s.url = ANY(x.links))`},
		{"source_links row naming no source that lists the URL", `SELECT sl.client_id || ' ' || sl.url || ' ' || sl.source_id FROM source_links sl
			WHERE NOT EXISTS (SELECT 1 FROM sources x WHERE x.client_id = sl.client_id AND x.id = sl.source_id AND sl.url = ANY(x.links))`},
		{"source_links row without a subscription", `SELECT sl.client_id || ' ' || sl.url || ' ' || sl.source_id FROM source_links sl
			WHERE NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.client_id = sl.client_id AND s.url = sl.url)`},
		{"URL of a source's list not used exactly once by it", `SELECT x.client_id || ' ' || x.id || ' ' || u.url || ' uses ' ||
				((SELECT count(*) FROM subscriptions s WHERE s.client_id = x.client_id AND s.url = u.url AND s.source_id = x.id) +
				(SELECT count(*) FROM source_links sl WHERE sl.client_id = x.client_id AND sl.url = u.url AND sl.source_id = x.id))
			FROM sources x CROSS JOIN LATERAL unnest(x.links) AS u(url)
			WHERE (SELECT count(*) FROM subscriptions s WHERE s.client_id = x.client_id AND s.url = u.url AND s.source_id = x.id) +
				(SELECT count(*) FROM source_links sl WHERE sl.client_id = x.client_id AND sl.url = u.url AND sl.source_id = x.id) <> 1`},
		{"subscription neither plain nor used", `SELECT s.client_id || ' ' || s.url FROM subscriptions s
			WHERE NOT s.plain AND s.source_id IS NULL AND NOT EXISTS (SELECT 1 FROM source_links sl WHERE sl.client_id = s.client_id AND sl.url = s.url)`},
		{"links.subs not the count of subscriptions", `SELECT l.url || ' subs ' || l.subs || ' rows ' || (SELECT count(*) FROM subscriptions s WHERE s.url = l.url)
			FROM links l WHERE l.subs <> (SELECT count(*) FROM subscriptions s WHERE s.url = l.url)`},
		{"subscription without a link", `SELECT s.client_id || ' ' || s.url FROM subscriptions s WHERE NOT EXISTS (SELECT 1 FROM links l WHERE l.url = s.url)`},
	}
	for _, v := range violations {
		rows, err := conn.Query(bg(), v.sql)
		if err != nil {
			t.Fatalf("%s: %v", v.what, err)
		}
		bad, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("%s: %v", v.what, err)
		}
		if len(bad) > 0 {
			t.Errorf("%s: %q", v.what, bad)
		}
	}
	total := 0
	for _, c := range clients {
		var n int
		if err := conn.QueryRow(bg(), `SELECT count(*) FROM subscriptions WHERE client_id = $1`, c).Scan(&n); err != nil {
			t.Fatal(err)
		}
		total += n
		cl, err := s.GetClient(bg(), c)
		if err != nil {
			t.Fatal(err)
		}
		if got := cl.Counts.Total(); got != n {
			t.Errorf("client %s: counts total %d, %d subscriptions", c, got, n)
		}
		checkLinkSources(t, s, c, universe)
	}
	t.Logf("%d subscriptions of %d clients at the end", total, len(clients))
}

// checkLinkSources compares LinkSources of every URL of universe with the
// lists of client c's sources.
func checkLinkSources(t *testing.T, s *pgstore.Store, c string, universe []string) {
	t.Helper()
	sums, err := s.ListSources(bg(), c, lms.SourcePage{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	for _, sum := range sums {
		src, err := s.GetSource(bg(), c, sum.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range src.Links {
			want[u] = append(want[u], src.ID)
		}
	}
	got, err := s.LinkSources(bg(), c, universe)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range universe {
		var ids []string
		for _, ref := range got[u] {
			ids = append(ids, ref.ID)
		}
		w := want[u]
		slices.Sort(w)
		if !slices.Equal(ids, w) {
			t.Errorf("client %s, %s: LinkSources %q, the sources' lists %q", c, u, ids, w)
		}
	}
}
