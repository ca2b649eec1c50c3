package storetest

// The suggestions' contract (lms.ArchiveStore): each link's last archive
// look-up, found or not.

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
)

// runArchive runs the archive cases of Run; a store without the role
// skips them (the Engine then suggests redirects only).
func runArchive(t *testing.T, newStore NewStore) {
	for name, fn := range map[string]func(*testing.T, lms.Store, lms.ArchiveStore){
		"ArchivedCopies":          testArchivedCopies,
		"ArchivedCopiesCancelled": testArchivedCopiesCancelled,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			t.Cleanup(func() { _ = s.Close() })
			as, ok := s.(lms.ArchiveStore)
			if !ok {
				t.Skipf("%T does not implement lms.ArchiveStore", s)
			}
			fn(t, s, as)
		})
	}
}

func copies(t *testing.T, as lms.ArchiveStore, urls ...string) map[string]lms.ArchivedCopy {
	t.Helper()
	m, err := as.ArchivedCopies(ctx(), urls)
	if err != nil {
		t.Fatalf("ArchivedCopies: %v", err)
	}
	for u, c := range m {
		if !c.ArchivedAt.IsZero() {
			c.ArchivedAt = c.ArchivedAt.UTC()
		}
		c.Looked = c.Looked.UTC()
		m[u] = c
	}
	return m
}

func putCopy(t *testing.T, as lms.ArchiveStore, c lms.ArchivedCopy) {
	t.Helper()
	if err := as.PutArchivedCopy(ctx(), c); err != nil {
		t.Fatalf("PutArchivedCopy(%q): %v", c.URL, err)
	}
}

func testArchivedCopies(t *testing.T, s lms.Store, as lms.ArchiveStore) {
	const a, b, c = "http://a.example/gone", "http://b.example/gone", "http://c.example/never"
	mustClient(t, s, "x")
	mustSubscribe(t, s, "x", a, b, c)
	if m := copies(t, as, a, b, c); len(m) != 0 {
		t.Fatalf("ArchivedCopies before any look-up = %v, want none", m)
	}
	if m := copies(t, as); len(m) != 0 {
		t.Fatalf("ArchivedCopies() = %v, want none", m)
	}
	found := lms.ArchivedCopy{URL: a, Snapshot: "http://web.archive.org/web/20130919044612/" + a,
		ArchivedAt: time.Date(2013, 9, 19, 4, 46, 12, 0, time.UTC), Looked: t0.Add(123 * time.Nanosecond)}
	none := lms.ArchivedCopy{URL: b, Looked: t0.Add(time.Minute)}
	putCopy(t, as, found)
	putCopy(t, as, none)
	putCopy(t, as, lms.ArchivedCopy{URL: "http://unknown.example/", Snapshot: "http://web.archive.org/x", Looked: t0})
	want := map[string]lms.ArchivedCopy{a: found, b: none}
	if got := copies(t, as, a, b, c, "http://unknown.example/", a); !equalCopies(got, want) {
		t.Fatalf("ArchivedCopies = %v, want %v (an unknown link's copy is not kept)", got, want)
	}

	// A later look-up replaces the earlier one; the map is the caller's.
	again := lms.ArchivedCopy{URL: a, Looked: t0.Add(time.Hour)}
	putCopy(t, as, again)
	got := copies(t, as, a)
	if !equalCopies(got, map[string]lms.ArchivedCopy{a: again}) {
		t.Fatalf("after a second look-up ArchivedCopies = %v, want %v", got, again)
	}
	got[a] = found
	if got := copies(t, as, a); !equalCopies(got, map[string]lms.ArchivedCopy{a: again}) {
		t.Fatalf("changing a returned map changed the store: %v", got)
	}

	if err := as.PutArchivedCopy(ctx(), lms.ArchivedCopy{Looked: t0}); !errors.Is(err, lms.ErrInvalid) {
		t.Fatalf("PutArchivedCopy without a URL = %v, want ErrInvalid", err)
	}
}

func equalCopies(a, b map[string]lms.ArchivedCopy) bool {
	if len(a) != len(b) {
		return false
	}
	for u, x := range a {
		y, ok := b[u]
		if !ok || x.URL != y.URL || x.Snapshot != y.Snapshot || !x.ArchivedAt.Equal(y.ArchivedAt) || !x.Looked.Equal(y.Looked) {
			return false
		}
	}
	return true
}

func testArchivedCopiesCancelled(t *testing.T, s lms.Store, as lms.ArchiveStore) {
	const a = "http://a.example/gone"
	mustClient(t, s, "x")
	mustSubscribe(t, s, "x", a)
	c, cancel := context.WithCancel(ctx())
	cancel()
	if _, err := as.ArchivedCopies(c, []string{a}); err == nil {
		t.Fatal("ArchivedCopies with a cancelled context: no error")
	}
	if err := as.PutArchivedCopy(c, lms.ArchivedCopy{URL: a, Looked: t0}); err == nil {
		t.Fatal("PutArchivedCopy with a cancelled context: no error")
	}
	if m := copies(t, as, a); len(m) != 0 {
		t.Fatalf("a cancelled PutArchivedCopy kept %v", m)
	}
}
