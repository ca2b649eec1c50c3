package storetest

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/linkmonitor/lms"
)

// testSourceModel walks a store through a long random sequence of the
// calls that change which sources and plain registrations use which URLs
// (PutSource, DeleteSource, Subscribe, Unsubscribe, ReplaceSubscriptions)
// over a few URLs, so that each URL passes through every mix of uses (none,
// plain, one source, several, both) in many orders, and after every call
// compares the store with a model of the rule: the client is subscribed to
// the plain URLs and those its sources list, LinkSources names exactly the
// sources that list a URL, the counts the calls return are the
// subscriptions that began and ended, and the client's counts follow.
func testSourceModel(t *testing.T, s lms.Store) {
	mustClient(t, s, "c")
	urls := []string{"http://a.example/", "http://b.example/", "http://c.example/", "http://d.example/", "http://e.example/"}
	ids := []string{"p1", "p2", "p3", "p4"}
	m := sourceModel{plain: map[string]bool{}, sources: map[string]map[string]bool{}}
	r := rand.New(rand.NewPCG(1, 2))
	some := func() []string {
		var out []string
		for _, u := range urls {
			if r.IntN(10) < 3 { // few at a time: a URL often has no use or one
				out = append(out, u)
			}
		}
		return out
	}
	for step := range 600 {
		before := m.subscribed()
		var what string
		var added, removed int
		var err error
		switch id, us := ids[r.IntN(len(ids))], some(); r.IntN(6) {
		case 0, 1:
			what = fmt.Sprintf("PutSource(%s, %v)", id, us)
			added, removed, err = s.PutSource(ctx(), "c", src(id, us...), t0)
			m.sources[id] = set(us)
		case 2:
			what = fmt.Sprintf("DeleteSource(%s)", id)
			removed, err = s.DeleteSource(ctx(), "c", id)
			if _, ok := m.sources[id]; !ok {
				if !errors.Is(err, lms.ErrNotFound) {
					t.Fatalf("step %d: %s of no source: %v, want ErrNotFound", step, what, err)
				}
				err = nil
			}
			delete(m.sources, id)
		case 3:
			what = fmt.Sprintf("Subscribe(%v)", us)
			added, err = s.Subscribe(ctx(), "c", us, t0)
			maps.Copy(m.plain, set(us))
		case 4:
			what = fmt.Sprintf("Unsubscribe(%v)", us)
			removed, err = s.Unsubscribe(ctx(), "c", us)
			for _, u := range us {
				delete(m.plain, u)
			}
		default:
			what = fmt.Sprintf("ReplaceSubscriptions(%v)", us)
			added, removed, err = s.ReplaceSubscriptions(ctx(), "c", us, t0)
			m.plain = set(us)
		}
		if err != nil {
			t.Fatalf("step %d: %s: %v", step, what, err)
		}
		after := m.subscribed()
		if a, rm := len(diff(after, before)), len(diff(before, after)); added != a || removed != rm {
			t.Fatalf("step %d: %s added %d and removed %d subscriptions, want %d and %d", step, what, added, removed, a, rm)
		}
		m.check(t, s, fmt.Sprintf("step %d, after %s", step, what), urls)
	}
}

// sourceModel is what a client's sources and plain registrations are.
type sourceModel struct {
	plain   map[string]bool
	sources map[string]map[string]bool // by source id
}

func set(us []string) map[string]bool {
	out := map[string]bool{}
	for _, u := range us {
		out[u] = true
	}
	return out
}

// diff returns the keys of a not in b.
func diff(a, b map[string]bool) []string {
	var out []string
	for u := range a {
		if !b[u] {
			out = append(out, u)
		}
	}
	return out
}

func (m sourceModel) subscribed() map[string]bool {
	out := maps.Clone(m.plain)
	for _, us := range m.sources {
		maps.Copy(out, us)
	}
	return out
}

// check compares the store's subscriptions, link sources and client counts
// with the model.
func (m sourceModel) check(t *testing.T, s lms.Store, when string, urls []string) {
	t.Helper()
	want := slices.Sorted(maps.Keys(m.subscribed()))
	wantURLs(t, when+": subscriptions", subscribed(t, s, "c"), want...)
	refs, err := s.LinkSources(ctx(), "c", urls)
	if err != nil {
		t.Fatalf("%s: LinkSources: %v", when, err)
	}
	for _, u := range urls {
		var got, want []string
		for _, r := range refs[u] {
			got = append(got, r.ID)
		}
		for id, us := range m.sources {
			if us[u] {
				want = append(want, id)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		wantURLs(t, when+": sources of "+u, got, want...)
	}
	if c, err := s.GetClient(ctx(), "c"); err != nil || c.Counts.Total() != len(want) {
		t.Fatalf("%s: client counts %+v (%v), want %d links", when, c.Counts, err, len(want))
	}
}
