package pgstore_test

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/pgtest"
)

// migrateTo applies the schema's migrations up to version v (from the
// package's migrations directory) to the empty schema of dsn, as Open
// would have at the time v was the newest.
func migrateTo(t *testing.T, dsn string, v int) {
	t.Helper()
	conn, err := pgx.Connect(bg(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(bg())
	if _, err := conn.Exec(bg(), `CREATE TABLE schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	names, err := filepath.Glob("migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	for _, p := range names {
		base := filepath.Base(p)
		n, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			t.Fatalf("migration %s: %v", p, err)
		}
		if n > v {
			continue
		}
		sql, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(bg(), string(sql)); err != nil {
			t.Fatalf("migration %s: %v", base, err)
		}
		if _, err := conn.Exec(bg(), `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, n, base); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMigrateSources: sources written under schema 13 (source_links by URL
// and by source, source_only for the subscriptions that are not plain)
// read the same after migrations 0014 (source_plain) and 0017 (the plain
// flag and source_id of a subscription), and the rule holds on them: a plain
// registration that a source also uses outlives the source, a URL only
// sources used does not.
func TestMigrateSources(t *testing.T) {
	dsn := pgtest.Start(t)
	migrateTo(t, dsn, 13)
	const plain, both, only, shared = "http://plain.example/", "http://both.example/", "http://only.example/", "http://shared.example/"
	conn, err := pgx.Connect(bg(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(bg())
	// Client c is subscribed to four unknown links: plain.example plainly,
	// both.example plainly and by source p, only.example by p alone,
	// shared.example by p and q.
	if _, err := conn.Exec(bg(), `
		INSERT INTO clients (id, created, notify, password_hash, sealed_password, contact_name, contact_email, callback_url, book)
			VALUES ('c', 0, false, '', '', '', 'c@example.org', '', '{}');
		INSERT INTO client_counts (client_id, shard) SELECT 'c', generate_series(0, 15);
		UPDATE client_counts SET unknown = 4 WHERE client_id = 'c' AND shard = 0;
		UPDATE link_counts SET unknown = 4 WHERE shard = 0;
		INSERT INTO hosts (name, linked) VALUES ('both.example', true), ('only.example', true), ('plain.example', true), ('shared.example', true);
		INSERT INTO links (url, host_id, due, subs) SELECT 'http://' || name || '/', id, 0, 1 FROM hosts;
		INSERT INTO subscriptions (client_id, url) SELECT 'c', url FROM links;
		INSERT INTO sources (client_id, id, updated, title, edit_url, owner) VALUES
			('c', 'p', 0, 'Page p', 'https://cms.example/p', ''), ('c', 'q', 0, 'Page q', 'https://cms.example/q', 'ann');
		INSERT INTO source_links (client_id, url, source_id) VALUES
			('c', 'http://both.example/', 'p'), ('c', 'http://only.example/', 'p'), ('c', 'http://shared.example/', 'p'), ('c', 'http://shared.example/', 'q');
		INSERT INTO source_only (client_id, url) VALUES ('c', 'http://only.example/'), ('c', 'http://shared.example/');`); err != nil {
		t.Fatal(err)
	}
	s := open(t, dsn)

	p, err := s.GetSource(bg(), "c", "p")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{both, only, shared}; !reflect.DeepEqual(p.Links, want) || p.Title != "Page p" {
		t.Fatalf("source p after the migration: %+v, want links %v", p, want)
	}
	refs, err := s.LinkSources(bg(), "c", []string{plain, both, shared})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string][]string{}
	for u, rs := range refs {
		for _, r := range rs {
			ids[u] = append(ids[u], r.ID)
		}
	}
	if want := map[string][]string{both: {"p"}, shared: {"p", "q"}}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("LinkSources after the migration: %v, want %v", ids, want)
	}
	list, err := s.ListSources(bg(), "c", lms.SourcePage{})
	if err != nil || len(list) != 2 || list[0].Counts.Unknown != 3 || list[1].Counts.Unknown != 1 {
		t.Fatalf("ListSources after the migration: %+v, %v", list, err)
	}

	// p goes: only.example ends; both.example stays (plain), shared.example
	// stays (q).
	if n, err := s.DeleteSource(bg(), "c", "p"); err != nil || n != 1 {
		t.Fatalf("DeleteSource(p) = %d, %v, want 1 (only.example)", n, err)
	}
	wantSubscribed(t, s, "after DeleteSource(p)", both, plain, shared)
	// shared.example was not plain: Unsubscribe leaves it to q, which ends it.
	if n, err := s.Unsubscribe(bg(), "c", []string{shared, plain}); err != nil || n != 1 {
		t.Fatalf("Unsubscribe = %d, %v, want 1 (plain.example)", n, err)
	}
	if n, err := s.DeleteSource(bg(), "c", "q"); err != nil || n != 1 {
		t.Fatalf("DeleteSource(q) = %d, %v, want 1 (shared.example)", n, err)
	}
	wantSubscribed(t, s, "after DeleteSource(q)", both)
	if n, err := s.Unsubscribe(bg(), "c", []string{both}); err != nil || n != 1 {
		t.Fatalf("Unsubscribe(both) = %d, %v, want 1", n, err)
	}
	if c, err := s.GetClient(bg(), "c"); err != nil || c.Counts.Total() != 0 {
		t.Fatalf("client counts at the end: %+v, %v", c.Counts, err)
	}
}

func wantSubscribed(t *testing.T, s lms.Store, what string, want ...string) {
	t.Helper()
	ls, err := s.ClientLinks(bg(), "c", lms.Page{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range ls {
		got = append(got, l.URL)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: subscribed to %v, want %v", what, got, want)
	}
}
