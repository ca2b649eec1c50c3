package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
)

// runSources runs the contract of lms.SourceStore: round trips, the
// subscription rule (a URL stays subscribed while a source or a plain
// registration of the client uses it), errors, aliasing and paging.
func runSources(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, lms.Store)
	}{
		{"SourceRoundTrip", testSourceRoundTrip},
		{"SourceInvalid", testSourceInvalid},
		{"SourceSubscriptionRule", testSourceRule},
		{"SourceReplaceSubscriptions", testSourceReplace},
		{"SourceDeleteClient", testSourceDeleteClient},
		{"SourceNoAliasing", testSourceNoAliasing},
		{"SourceListing", testSourceListing},
		{"SourceOtherClient", testSourceOtherClient},
		{"SourceModel", testSourceModel},
		{"ClientTokens", testClientTokens},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			t.Cleanup(func() { _ = s.Close() })
			tc.fn(t, s)
		})
	}
}

func src(id string, links ...string) lms.Source {
	return lms.Source{SourceRef: lms.SourceRef{ID: id, Title: "Page " + id, EditURL: "https://cms.example/edit/" + id, Owner: "ed@example.org"}, Links: links}
}

func mustPut(t *testing.T, s lms.Store, client string, so lms.Source) (int, int) {
	t.Helper()
	a, r, err := s.PutSource(ctx(), client, so, t0)
	if err != nil {
		t.Fatalf("PutSource(%q, %q): %v", client, so.ID, err)
	}
	return a, r
}

func subscribed(t *testing.T, s lms.Store, id string) []string {
	t.Helper()
	return urlsOf(allLinks(t, s, id))
}

func wantURLs(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if got == nil {
		got = []string{}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got %q, want %q", what, got, want)
	}
}

func testSourceRoundTrip(t *testing.T, s lms.Store) {
	mustClient(t, s, "c")
	a, r := mustPut(t, s, "c", src("p1", "http://b.example/", "http://a.example/", "http://b.example/"))
	if a != 2 || r != 0 {
		t.Fatalf("PutSource added, removed = %d, %d, want 2, 0", a, r)
	}
	got, err := s.GetSource(ctx(), "c", "p1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "p1" || got.Title != "Page p1" || got.EditURL != "https://cms.example/edit/p1" || got.Owner != "ed@example.org" || !got.Updated.Equal(t0) {
		t.Fatalf("GetSource = %+v", got)
	}
	wantURLs(t, "links of p1", got.Links, "http://a.example/", "http://b.example/")
	wantURLs(t, "subscriptions", subscribed(t, s, "c"), "http://a.example/", "http://b.example/")

	// Replacing: a new title, one link kept, one dropped, one new.
	so := src("p1", "http://a.example/", "http://c.example/")
	so.Title, so.Owner = "Renamed", ""
	a, r = mustPut(t, s, "c", so)
	if a != 1 || r != 1 {
		t.Fatalf("second PutSource added, removed = %d, %d, want 1, 1", a, r)
	}
	got, _ = s.GetSource(ctx(), "c", "p1")
	if got.Title != "Renamed" || got.Owner != "" {
		t.Fatalf("after replace: %+v", got)
	}
	wantURLs(t, "subscriptions after replace", subscribed(t, s, "c"), "http://a.example/", "http://c.example/")
	// Idempotent.
	if a, r = mustPut(t, s, "c", so); a != 0 || r != 0 {
		t.Fatalf("repeated PutSource added, removed = %d, %d, want 0, 0", a, r)
	}
	refs, err := s.LinkSources(ctx(), "c", []string{"http://a.example/", "http://b.example/", "http://zz.example/"})
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 1 || len(refs["http://a.example/"]) != 1 || refs["http://a.example/"][0].ID != "p1" || refs["http://a.example/"][0].Title != "Renamed" {
		t.Fatalf("LinkSources = %+v", refs)
	}
	n, err := s.DeleteSource(ctx(), "c", "p1")
	if err != nil || n != 2 {
		t.Fatalf("DeleteSource = %d, %v, want 2, nil", n, err)
	}
	wantURLs(t, "subscriptions after delete", subscribed(t, s, "c"))
	if _, err := s.GetSource(ctx(), "c", "p1"); !errors.Is(err, lms.ErrNotFound) {
		t.Fatalf("GetSource of a deleted source: %v, want ErrNotFound", err)
	}
	if _, err := s.DeleteSource(ctx(), "c", "p1"); !errors.Is(err, lms.ErrNotFound) {
		t.Fatalf("DeleteSource twice: %v, want ErrNotFound", err)
	}
	// The links stay known to the server.
	if m, _ := s.LookupLinks(ctx(), []string{"http://a.example/"}); len(m) != 1 {
		t.Fatalf("LookupLinks after delete: %v", m)
	}
}

func testSourceInvalid(t *testing.T, s lms.Store) {
	mustClient(t, s, "c")
	mustPut(t, s, "c", src("keep", "http://k.example/"))
	many := make([]string, lms.MaxSourceLinks+1)
	for i := range many {
		many[i] = fmt.Sprintf("http://h.example/%d", i)
	}
	bad := map[string]lms.Source{
		"empty id":          src("", "http://x.example/"),
		"control in id":     src("a\nb", "http://x.example/"),
		"long id":           src(strings.Repeat("i", lms.MaxIDLength+1)),
		"invalid link":      src("p", "http://x.example/", "not a url"),
		"control in title":  {SourceRef: lms.SourceRef{ID: "p", Title: "a\x00b"}},
		"long title":        {SourceRef: lms.SourceRef{ID: "p", Title: strings.Repeat("t", 1001)}},
		"invalid edit URL":  {SourceRef: lms.SourceRef{ID: "p", EditURL: "no scheme"}},
		"control in owner":  {SourceRef: lms.SourceRef{ID: "p", Owner: "x\ry"}},
		"too many links":    src("p", many...),
		"replacing invalid": src("keep", "bad url"),
	}
	for name, so := range bad {
		if _, _, err := s.PutSource(ctx(), "c", so, t0); !errors.Is(err, lms.ErrInvalid) {
			t.Errorf("%s: PutSource: %v, want ErrInvalid", name, err)
		}
	}
	wantURLs(t, "subscriptions after refused puts", subscribed(t, s, "c"), "http://k.example/")
	if _, _, err := s.PutSource(ctx(), "nobody", src("p"), t0); !errors.Is(err, lms.ErrNotFound) {
		t.Errorf("PutSource for an unknown client: %v, want ErrNotFound", err)
	}
	if _, err := s.GetSource(ctx(), "nobody", "p"); !errors.Is(err, lms.ErrNotFound) {
		t.Errorf("GetSource for an unknown client: %v, want ErrNotFound", err)
	}
	if _, err := s.ListSources(ctx(), "nobody", lms.SourcePage{}); !errors.Is(err, lms.ErrNotFound) {
		t.Errorf("ListSources for an unknown client: %v, want ErrNotFound", err)
	}
	if _, err := s.LinkSources(ctx(), "nobody", []string{"http://k.example/"}); !errors.Is(err, lms.ErrNotFound) {
		t.Errorf("LinkSources for an unknown client: %v, want ErrNotFound", err)
	}
	if _, err := s.GetSource(ctx(), "c", "missing"); !errors.Is(err, lms.ErrNotFound) {
		t.Errorf("GetSource of a missing source: %v, want ErrNotFound", err)
	}
}

// testSourceRule: a URL stays subscribed while a source or a plain
// registration uses it.
func testSourceRule(t *testing.T, s lms.Store) {
	mustClient(t, s, "c")
	const both, plainOnly, srcA, shared = "http://both.example/", "http://plain.example/", "http://a.example/", "http://shared.example/"
	mustSubscribe(t, s, "c", both, plainOnly)
	if a, _ := mustPut(t, s, "c", src("p1", both, srcA, shared)); a != 2 {
		t.Fatalf("PutSource added %d, want 2 (one URL was subscribed plainly)", a)
	}
	mustPut(t, s, "c", src("p2", shared))
	wantURLs(t, "start", subscribed(t, s, "c"), srcA, both, plainOnly, shared)

	// Unsubscribing the plain registration keeps a URL a source uses.
	n, err := s.Unsubscribe(ctx(), "c", []string{both, plainOnly, srcA})
	if err != nil || n != 1 {
		t.Fatalf("Unsubscribe = %d, %v, want 1 (only the plain-only URL ends)", n, err)
	}
	wantURLs(t, "after Unsubscribe", subscribed(t, s, "c"), srcA, both, shared)

	// Dropping a URL from one source keeps it while another source lists it.
	if _, r := mustPut(t, s, "c", src("p1", both, srcA)); r != 0 {
		t.Fatalf("dropping a shared URL from one source removed %d subscriptions", r)
	}
	if _, r := mustPut(t, s, "c", src("p2")); r != 1 {
		t.Fatalf("dropping the shared URL from its last source removed %d, want 1", r)
	}
	wantURLs(t, "after sources let go", subscribed(t, s, "c"), srcA, both)

	// A plain registration of a source's URL outlives the source.
	if n := mustSubscribe(t, s, "c", srcA); n != 0 {
		t.Fatalf("Subscribe of a URL a source uses added %d", n)
	}
	if n, err := s.DeleteSource(ctx(), "c", "p1"); err != nil || n != 1 {
		t.Fatalf("DeleteSource = %d, %v, want 1 (both.example; a.example is now plain)", n, err)
	}
	wantURLs(t, "after DeleteSource", subscribed(t, s, "c"), srcA)
	// And a source's URL outlives the plain registration's end.
	mustPut(t, s, "c", src("p3", srcA))
	if n, _ := s.Unsubscribe(ctx(), "c", []string{srcA}); n != 0 {
		t.Fatalf("Unsubscribe of a source's URL removed %d", n)
	}
	wantURLs(t, "source keeps it", subscribed(t, s, "c"), srcA)
	if n, _ := s.DeleteSource(ctx(), "c", "p3"); n != 1 {
		t.Fatalf("DeleteSource of its last user removed %d, want 1", n)
	}
	wantURLs(t, "all gone", subscribed(t, s, "c"))
	if cl, _ := s.GetClient(ctx(), "c"); cl.Counts.Total() != 0 {
		t.Fatalf("counts after all gone: %+v", cl.Counts)
	}
}

// testSourceReplace: the daily sync replaces the plain registrations only.
func testSourceReplace(t *testing.T, s lms.Store) {
	mustClient(t, s, "c")
	const p1, p2, s1, s2 = "http://p1.example/", "http://p2.example/", "http://s1.example/", "http://s2.example/"
	mustSubscribe(t, s, "c", p1, p2, s1)
	mustPut(t, s, "c", src("page", s1, s2))
	a, r, err := s.ReplaceSubscriptions(ctx(), "c", []string{p2}, t0)
	if err != nil || a != 0 || r != 1 {
		t.Fatalf("ReplaceSubscriptions = %d, %d, %v, want 0, 1 (p1 ends; s1 and s2 stay for the source)", a, r, err)
	}
	wantURLs(t, "after sync", subscribed(t, s, "c"), p2, s1, s2)
	// s1 was plain and is not any more: dropping it from the source ends it.
	if _, r := mustPut(t, s, "c", src("page", s2)); r != 1 {
		t.Fatalf("PutSource after sync removed %d, want 1", r)
	}
	wantURLs(t, "after put", subscribed(t, s, "c"), p2, s2)
	// A sync that lists a source's URL makes it plain: it outlives the source.
	if _, _, err := s.ReplaceSubscriptions(ctx(), "c", []string{p2, s2}, t0); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.DeleteSource(ctx(), "c", "page"); n != 0 {
		t.Fatalf("DeleteSource of a source whose URL is plain removed %d", n)
	}
	wantURLs(t, "after delete", subscribed(t, s, "c"), p2, s2)
}

func testSourceDeleteClient(t *testing.T, s lms.Store) {
	mustClient(t, s, "c")
	mustPut(t, s, "c", src("p", "http://x.example/"))
	if err := s.DeleteClient(ctx(), "c"); err != nil {
		t.Fatal(err)
	}
	mustClient(t, s, "c")
	if _, err := s.GetSource(ctx(), "c", "p"); !errors.Is(err, lms.ErrNotFound) {
		t.Fatalf("a re-created client has the source of its predecessor: %v", err)
	}
	if l, _ := s.ListSources(ctx(), "c", lms.SourcePage{}); len(l) != 0 {
		t.Fatalf("ListSources of a re-created client: %+v", l)
	}
	if m, _ := s.LinkSources(ctx(), "c", []string{"http://x.example/"}); len(m) != 0 {
		t.Fatalf("LinkSources of a re-created client: %+v", m)
	}
	wantURLs(t, "subscriptions of a re-created client", subscribed(t, s, "c"))
	// A claim must not hand out the link nobody subscribes to any more.
	if got := claim(t, s, t0.Add(time.Hour), 10, 10); len(got) != 0 {
		t.Fatalf("claimed %d links after the only client went", len(got))
	}
}

func testSourceNoAliasing(t *testing.T, s lms.Store) {
	mustClient(t, s, "c")
	so := src("p", "http://a.example/", "http://b.example/")
	mustPut(t, s, "c", so)
	so.Links[0] = "http://mutated.example/"
	got, _ := s.GetSource(ctx(), "c", "p")
	wantURLs(t, "links after the caller changed its slice", got.Links, "http://a.example/", "http://b.example/")
	got.Links[0] = "http://mutated.example/"
	again, _ := s.GetSource(ctx(), "c", "p")
	wantURLs(t, "links after a returned slice changed", again.Links, "http://a.example/", "http://b.example/")
	m, _ := s.LinkSources(ctx(), "c", []string{"http://a.example/"})
	m["http://a.example/"][0].Title = "mutated"
	m2, _ := s.LinkSources(ctx(), "c", []string{"http://a.example/"})
	if m2["http://a.example/"][0].Title != "Page p" {
		t.Fatalf("LinkSources aliases: %+v", m2)
	}
}

func testSourceListing(t *testing.T, s lms.Store) {
	mustClient(t, s, "c")
	const bad, good = "http://bad.example/", "http://good.example/"
	for i := range 7 {
		links := []string{good}
		if i%2 == 0 {
			links = append(links, bad)
		}
		mustPut(t, s, "c", src(fmt.Sprintf("p%d", i), links...))
	}
	record(t, s, result(bad, lms.StateUnavailable, "not found", t0.Add(time.Hour)), result(good, lms.StateOK, "ok", t0.Add(time.Hour)))
	all, err := s.ListSources(ctx(), "c", lms.SourcePage{})
	if err != nil || len(all) != 7 {
		t.Fatalf("ListSources = %d, %v, want 7", len(all), err)
	}
	if all[0].ID != "p0" || all[0].Counts.Unavailable != 1 || all[0].Counts.OK != 1 || all[1].Counts.Unavailable != 0 || all[0].Title != "Page p0" || !all[0].Updated.Equal(t0) {
		t.Fatalf("ListSources[0:2] = %+v", all[:2])
	}
	// Pages by state, stable while sources come and go between pages.
	var ids []string
	p := lms.SourcePage{Limit: 2, State: lms.StateUnavailable}
	for round := 0; ; round++ {
		page, err := s.ListSources(ctx(), "c", p)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, x := range page {
			ids = append(ids, x.ID)
		}
		p.After = page[len(page)-1].ID
		if round == 0 {
			mustPut(t, s, "c", src("a-before", bad)) // before the cursor: not seen
			mustPut(t, s, "c", src("p9", bad))       // after: seen
			if _, err := s.DeleteSource(ctx(), "c", "p4"); err != nil {
				t.Fatal(err)
			}
		}
	}
	wantURLs(t, "unavailable sources paged", ids, "p0", "p2", "p6", "p9")
}

func testSourceOtherClient(t *testing.T, s lms.Store) {
	mustClient(t, s, "c")
	mustClient(t, s, "d")
	mustPut(t, s, "c", src("p", "http://x.example/"))
	mustSubscribe(t, s, "d", "http://x.example/")
	if _, err := s.GetSource(ctx(), "d", "p"); !errors.Is(err, lms.ErrNotFound) {
		t.Fatalf("client d sees c's source: %v", err)
	}
	if m, _ := s.LinkSources(ctx(), "d", []string{"http://x.example/"}); len(m) != 0 {
		t.Fatalf("LinkSources of d shows c's source: %+v", m)
	}
	if _, err := s.DeleteSource(ctx(), "d", "p"); !errors.Is(err, lms.ErrNotFound) {
		t.Fatalf("d deletes c's source: %v", err)
	}
	mustPut(t, s, "d", src("p", "http://y.example/")) // the same id, another client
	if _, err := s.DeleteSource(ctx(), "c", "p"); err != nil {
		t.Fatal(err)
	}
	wantURLs(t, "d keeps its registration", subscribed(t, s, "d"), "http://x.example/", "http://y.example/")
	wantURLs(t, "c has none", subscribed(t, s, "c"))
	if l, _ := s.LookupLinks(ctx(), []string{"http://x.example/"}); l["http://x.example/"].Subscribers != 1 {
		t.Fatalf("subscribers of x: %+v", l)
	}
}

// testClientTokens: the API token records of a client round-trip through
// UpdateClient and never alias.
func testClientTokens(t *testing.T, s lms.Store) {
	mustClient(t, s, "c")
	toks := []lms.APIToken{{Name: "ci", Hash: "sha256:00ff", Created: t0}, {Name: "wp-site", Hash: "sha256:ab12", Created: t0.Add(time.Second)}}
	if _, err := s.UpdateClient(ctx(), "c", func(c *lms.Client) error { c.Tokens = append(c.Tokens, toks...); return nil }); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetClient(ctx(), "c")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Tokens) != 2 || got.Tokens[0].Name != "ci" || got.Tokens[1].Hash != "sha256:ab12" || !got.Tokens[1].Created.Equal(t0.Add(time.Second)) {
		t.Fatalf("tokens = %+v, want %+v", got.Tokens, toks)
	}
	got.Tokens[0].Name = "mutated"
	if again, _ := s.GetClient(ctx(), "c"); again.Tokens[0].Name != "ci" {
		t.Fatalf("GetClient aliases the tokens: %+v", again.Tokens)
	}
	if _, err := s.UpdateClient(ctx(), "c", func(c *lms.Client) error { c.Tokens = c.Tokens[1:]; return nil }); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.GetClient(ctx(), "c"); len(again.Tokens) != 1 || again.Tokens[0].Name != "wp-site" {
		t.Fatalf("after revoking one: %+v", again.Tokens)
	}
}
