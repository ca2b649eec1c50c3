package digest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeStore is a Reader over in-memory links, histories and sources; it
// counts the history reads.
type fakeStore struct {
	links    []Current // in URL order
	ignored  []string
	history  map[string][]Change // newest first
	sources  map[string][]Source
	historyN int
}

func (f *fakeStore) reader() Reader {
	return Reader{
		Ignored: func(_ context.Context, after string, limit int) ([]string, error) {
			return pageOf(f.ignored, after, limit, func(s string) string { return s }), nil
		},
		Links: func(_ context.Context, after string, limit int) ([]Current, error) {
			return pageOf(f.links, after, limit, func(c Current) string { return c.URL }), nil
		},
		History: func(_ context.Context, url string, upTo time.Time) ([]Change, error) {
			f.historyN++
			var out []Change
			for _, c := range f.history[url] {
				if !c.Time.After(upTo) {
					out = append(out, c)
				}
			}
			return out, nil
		},
		Sources: func(_ context.Context, urls []string) (map[string][]Source, error) {
			out := map[string][]Source{}
			for _, u := range urls {
				if s, ok := f.sources[u]; ok {
					out[u] = s
				}
			}
			return out, nil
		},
	}
}

func pageOf[T any](all []T, after string, limit int, key func(T) string) []T {
	i, _ := slices.BinarySearchFunc(all, after, func(x T, a string) int { return strings.Compare(key(x), a) })
	if i < len(all) && key(all[i]) == after {
		i++
	}
	return all[i:min(i+limit, len(all))]
}

// TestCollect: over 2,500 links (three pages), only the links broken at
// either end of the window come out, each with its status at both ends
// from its history; ignored links are left out; a change after the
// window's end waits for the next window; a change at its start belongs to
// the window before; a store without history falls back on the link as
// it is; the history is read only for links that changed in the window.
func TestCollect(t *testing.T) {
	from, to := t0, t0.Add(24*time.Hour)
	f := &fakeStore{history: map[string][]Change{}, sources: map[string][]Source{}}
	for i := range 2500 {
		f.links = append(f.links, Current{URL: fmt.Sprintf("https://ok.example/%04d", i), Status: OK, Reason: "ok", LastChanged: from.Add(-time.Hour)})
	}
	add := func(url string, now Status, reason string, h ...Change) {
		last := from.Add(-48 * time.Hour)
		if len(h) > 0 {
			last = h[0].Time
		}
		f.links = append(f.links, Current{URL: url, Status: now, Reason: reason, LastChanged: last})
		f.history[url] = h
	}
	ch := func(d time.Duration, s Status, reason string) Change {
		return Change{Time: from.Add(d), Status: s, Reason: reason}
	}
	add("https://a.example/broke", Broken, "404", ch(time.Hour, Broken, "404"), ch(-time.Hour, OK, "ok"))
	add("https://b.example/still", Broken, "gone") // unchanged for two days
	add("https://c.example/recovered", OK, "ok", ch(2*time.Hour, OK, "ok"), ch(-time.Hour, Broken, "404"))
	add("https://d.example/ignored", Broken, "404", ch(time.Hour, Broken, "404"))
	add("https://e.example/late", Broken, "410", ch(25*time.Hour, Broken, "410"), ch(-time.Hour, OK, "ok"))
	add("https://f.example/at-start", Broken, "404", ch(0, Broken, "404"))
	f.links = append(f.links, Current{URL: "https://g.example/no-history", Status: Broken, Reason: "refused", LastChanged: from.Add(time.Hour)})
	add("https://h.example/flapped", OK, "ok", ch(3*time.Hour, OK, "ok"), ch(2*time.Hour, Broken, "404"), ch(-time.Hour, OK, "ok"))
	slices.SortFunc(f.links, func(a, b Current) int { return strings.Compare(a.URL, b.URL) })
	f.ignored = []string{"https://d.example/ignored"}
	f.sources["https://a.example/broke"] = []Source{about}

	in, err := Collect(context.Background(), f.reader(), Input{From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Link{}
	for _, l := range in.Links {
		got[l.URL] = l
	}
	want := map[string]Link{
		"https://a.example/broke":      {URL: "https://a.example/broke", Then: OK, Now: Broken, Reason: "404", Sources: []Source{about}},
		"https://b.example/still":      {URL: "https://b.example/still", Then: Broken, Now: Broken, Reason: "gone"},
		"https://c.example/recovered":  {URL: "https://c.example/recovered", Then: Broken, Now: OK, Reason: "ok"},
		"https://f.example/at-start":   {URL: "https://f.example/at-start", Then: Broken, Now: Broken, Reason: "404"},
		"https://g.example/no-history": {URL: "https://g.example/no-history", Then: Other, Now: Broken, Reason: "refused"},
	}
	if len(got) != len(want) {
		t.Errorf("collected %d links, want %d: %+v", len(got), len(want), in.Links)
	}
	for u, w := range want {
		g, ok := got[u]
		if !ok || g.Then != w.Then || g.Now != w.Now || g.Reason != w.Reason || !slices.Equal(g.Sources, w.Sources) {
			t.Errorf("%s: got %+v (%v), want %+v", u, g, ok, w)
		}
	}
	// a, c, e, g, h changed after the window's start (d is ignored, f
	// changed at it): five history reads, not 2,508.
	if f.historyN != 5 {
		t.Errorf("%d history reads, want 5", f.historyN)
	}
	// The late change (e) comes in the next window.
	in, err = Collect(context.Background(), f.reader(), Input{From: to, To: to.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var broke []string
	for _, l := range in.Links {
		if l.Then != Broken && l.Now == Broken {
			broke = append(broke, l.URL)
		}
	}
	if !slices.Equal(broke, []string{"https://e.example/late"}) {
		t.Errorf("the next window: broke %q, want the late change only", broke)
	}
}
