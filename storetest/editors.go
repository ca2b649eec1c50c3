package storetest

// The editors' contract (lms.EditorStore): history of state changes,
// failing_since, re-check now and ignores per client.

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
)

// NewStoreWithHistory returns a fresh, empty store that keeps the history
// r bounds, like NewStore.
type NewStoreWithHistory func(t *testing.T, r lms.HistoryRetention) lms.Store

// RunEditors runs the editors' contract (lms.EditorStore) against stores
// made by newStore; a store that does not implement it fails. The
// retention cases ask for small retentions.
func RunEditors(t *testing.T, newStore NewStoreWithHistory) {
	tests := []struct {
		name string
		r    lms.HistoryRetention
		fn   func(*testing.T, lms.Store, lms.EditorStore)
	}{
		{"History", lms.HistoryRetention{}, testHistory},
		{"FailingSince", lms.HistoryRetention{}, testFailingSince},
		{"HistoryMaxChanges", lms.HistoryRetention{MaxChanges: 3}, testHistoryMaxChanges},
		{"HistoryMaxAge", lms.HistoryRetention{MaxChanges: 50, MaxAge: 2 * time.Hour}, testHistoryMaxAge},
		{"HistoryOff", lms.HistoryRetention{MaxChanges: -1}, testHistoryOff},
		{"Recheck", lms.HistoryRetention{}, testRecheck},
		{"Ignore", lms.HistoryRetention{}, testIgnore},
		{"IgnoreListing", lms.HistoryRetention{}, testIgnoreListing},
		{"EditorsCancelledAndClosed", lms.HistoryRetention{}, testEditorsCancelled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t, tc.r)
			t.Cleanup(func() { _ = s.Close() })
			es, ok := s.(lms.EditorStore)
			if !ok {
				t.Fatalf("%T does not implement lms.EditorStore", s)
			}
			tc.fn(t, s, es)
		})
	}
}

const hx = "http://h.example/page"

// change records one result of hx at t0+at.
func change(t *testing.T, s lms.Store, at time.Duration, st lms.State, reason string, code int, final string) {
	t.Helper()
	record(t, s, lms.Outcome{URL: hx, Checked: t0.Add(at), NextDue: t0.Add(at + 24*time.Hour),
		Result: lms.Result{State: st, Reason: reason, Code: code, FinalURL: final, Permanent: final != ""}})
}

func history(t *testing.T, es lms.EditorStore, before time.Time, limit int) []lms.HistoryEntry {
	t.Helper()
	h, err := es.LinkHistory(ctx(), hx, before, limit)
	if err != nil {
		t.Fatalf("LinkHistory: %v", err)
	}
	return h
}

func times(h []lms.HistoryEntry) []time.Duration {
	out := make([]time.Duration, len(h))
	for i, e := range h {
		out[i] = e.Time.Sub(t0)
	}
	return out
}

func testHistory(t *testing.T, s lms.Store, es lms.EditorStore) {
	mustClient(t, s, "a")
	mustSubscribe(t, s, "a", hx)
	if h := history(t, es, time.Time{}, 0); len(h) != 0 {
		t.Errorf("history of an unchecked link = %+v, want none", h)
	}
	if _, err := es.LinkHistory(ctx(), "http://unknown.example/", time.Time{}, 0); !errors.Is(err, lms.ErrNotFound) {
		t.Errorf("LinkHistory of an unknown URL: %v, want ErrNotFound", err)
	}
	for _, bad := range []string{"", "\xff\x00", "http://h.example/page\x00"} {
		if _, err := es.LinkHistory(ctx(), bad, time.Time{}, 0); !errors.Is(err, lms.ErrNotFound) {
			t.Errorf("LinkHistory(%q): %v, want ErrNotFound", bad, err)
		}
		if _, err := es.ClientLink(ctx(), "a", bad); !errors.Is(err, lms.ErrNotFound) {
			t.Errorf("ClientLink(%q): %v, want ErrNotFound", bad, err)
		}
		if n, err := es.RecheckLinks(ctx(), "a", []string{bad}, t0); err != nil || n != 0 {
			t.Errorf("RecheckLinks(%q) = %d, %v; want 0, nil", bad, n, err)
		}
		if n, err := es.SetIgnore(ctx(), "a", []string{bad}, lms.IgnoredForever); err != nil || n != 0 {
			t.Errorf("SetIgnore(%q) = %d, %v; want 0, nil", bad, n, err)
		}
	}
	if _, err := es.LinkHistory(ctx(), hx, time.Time{}, -1); !errors.Is(err, lms.ErrInvalid) {
		t.Errorf("LinkHistory with limit -1: %v, want ErrInvalid", err)
	}
	change(t, s, 0, lms.StateOK, "OK", 200, "")
	change(t, s, time.Hour, lms.StateUnavailable, "Not Found", 404, "")
	change(t, s, 2*time.Hour, lms.StateUnavailable, "Gone", 410, "")               // not a change of state
	record(t, s, lms.Outcome{URL: hx, Hold: true, NextDue: t0.Add(3 * time.Hour)}) // nor is a hold
	change(t, s, 4*time.Hour, lms.StateOK, "OK", 200, "https://h.example/new")
	h := history(t, es, time.Time{}, 0)
	want := []lms.HistoryEntry{
		{Time: t0.Add(4 * time.Hour), State: lms.StateOK, Reason: "OK", Code: 200, FinalURL: "https://h.example/new"},
		{Time: t0.Add(time.Hour), State: lms.StateUnavailable, Reason: "Not Found", Code: 404},
		{Time: t0, State: lms.StateOK, Reason: "OK", Code: 200},
	}
	if len(h) != len(want) {
		t.Fatalf("history = %+v, want %+v", h, want)
	}
	for i := range want {
		if !h[i].Time.Equal(want[i].Time) || h[i].State != want[i].State || h[i].Reason != want[i].Reason || h[i].Code != want[i].Code || h[i].FinalURL != want[i].FinalURL {
			t.Errorf("history[%d] = %+v, want %+v", i, h[i], want[i])
		}
	}
	// Paging: newest first, before is exclusive.
	if p := history(t, es, t0.Add(4*time.Hour), 1); len(p) != 1 || p[0].State != lms.StateUnavailable {
		t.Errorf("page before t0+4h, limit 1 = %+v, want the 404", p)
	}
	if p := history(t, es, t0.Add(time.Hour), 0); !slices.Equal(times(p), []time.Duration{0}) {
		t.Errorf("page before t0+1h = %v, want [0]", times(p))
	}
	if p := history(t, es, time.Time{}, 2); !slices.Equal(times(p), []time.Duration{4 * time.Hour, time.Hour}) {
		t.Errorf("page limit 2 = %v", times(p))
	}
	// Returned values do not alias the store's.
	h[0].Reason = "mutated"
	if again := history(t, es, time.Time{}, 1); again[0].Reason != "OK" {
		t.Errorf("mutating a returned entry changed the store: %+v", again[0])
	}
	// The history is the link's, whoever subscribes: it survives the
	// last subscription.
	if _, err := s.Unsubscribe(ctx(), "a", []string{hx}); err != nil {
		t.Fatal(err)
	}
	if h := history(t, es, time.Time{}, 0); len(h) != 3 {
		t.Errorf("history after unsubscribing = %d entries, want 3", len(h))
	}
}

func linkOf(t *testing.T, s lms.Store) lms.Link {
	t.Helper()
	ls, err := s.LookupLinks(ctx(), []string{hx})
	if err != nil || len(ls) != 1 {
		t.Fatalf("LookupLinks = %v, %v", ls, err)
	}
	return ls[hx]
}

func testFailingSince(t *testing.T, s lms.Store, es lms.EditorStore) {
	mustClient(t, s, "a")
	mustSubscribe(t, s, "a", hx)
	change(t, s, 0, lms.StateOK, "OK", 200, "")
	if l := linkOf(t, s); !l.FailingSince.IsZero() {
		t.Errorf("ok link failing since %v", l.FailingSince)
	}
	record(t, s, lms.Outcome{URL: hx, Checked: t0.Add(time.Hour), Failures: 1, NextDue: t0.Add(2 * time.Hour), Result: lms.Result{State: lms.StateTemporary, Reason: "Bad Gateway", Code: 502}})
	record(t, s, lms.Outcome{URL: hx, Checked: t0.Add(2 * time.Hour), Failures: 2, NextDue: t0.Add(3 * time.Hour), Result: lms.Result{State: lms.StateUnavailable, Reason: "Bad Gateway", Code: 502}})
	record(t, s, lms.Outcome{URL: hx, Checked: t0.Add(3 * time.Hour), Failures: 3, NextDue: t0.Add(4 * time.Hour), Result: lms.Result{State: lms.StateUnavailable, Reason: "Bad Gateway", Code: 502}})
	l := linkOf(t, s)
	if !l.FailingSince.Equal(t0.Add(time.Hour)) || l.Failures != 3 {
		t.Errorf("failing link: since %v, failures %d; want t0+1h, 3", l.FailingSince, l.Failures)
	}
	if ls := allLinks(t, s, "a"); len(ls) != 1 || !ls[0].FailingSince.Equal(t0.Add(time.Hour)) {
		t.Errorf("ClientLinks does not carry FailingSince: %+v", ls)
	}
	if cl, err := es.ClientLink(ctx(), "a", hx); err != nil || !cl.FailingSince.Equal(t0.Add(time.Hour)) {
		t.Errorf("ClientLink = %+v, %v", cl, err)
	}
	change(t, s, 5*time.Hour, lms.StateOK, "OK", 200, "")
	if l := linkOf(t, s); !l.FailingSince.IsZero() || l.Failures != 0 {
		t.Errorf("recovered link: since %v, failures %d; want zero", l.FailingSince, l.Failures)
	}
	// A new link failing at its first check fails since that check.
	change(t, s, 6*time.Hour, lms.StateUnsupported, "unsupported", 0, "")
	change(t, s, 7*time.Hour, lms.StateUnavailable, "Not Found", 404, "")
	if l := linkOf(t, s); !l.FailingSince.Equal(t0.Add(7 * time.Hour)) {
		t.Errorf("failing since %v, want t0+7h", l.FailingSince)
	}
}

func testHistoryMaxChanges(t *testing.T, s lms.Store, es lms.EditorStore) {
	mustClient(t, s, "a")
	mustSubscribe(t, s, "a", hx)
	for i := range 6 {
		st := lms.StateOK
		if i%2 == 1 {
			st = lms.StateUnavailable
		}
		change(t, s, time.Duration(i)*time.Minute, st, "r", 0, "")
	}
	if h := history(t, es, time.Time{}, 0); !slices.Equal(times(h), []time.Duration{5 * time.Minute, 4 * time.Minute, 3 * time.Minute}) {
		t.Errorf("history with MaxChanges 3 = %v, want the newest three", times(h))
	}
}

func testHistoryMaxAge(t *testing.T, s lms.Store, es lms.EditorStore) {
	mustClient(t, s, "a")
	mustSubscribe(t, s, "a", hx)
	change(t, s, 0, lms.StateOK, "OK", 200, "")
	change(t, s, time.Hour, lms.StateUnavailable, "Not Found", 404, "")
	change(t, s, 3*time.Hour, lms.StateOK, "OK", 200, "")
	if h := history(t, es, time.Time{}, 0); !slices.Equal(times(h), []time.Duration{3 * time.Hour, time.Hour}) {
		t.Errorf("history with MaxAge 2h = %v, want [3h 1h]", times(h))
	}
}

func testHistoryOff(t *testing.T, s lms.Store, es lms.EditorStore) {
	mustClient(t, s, "a")
	mustSubscribe(t, s, "a", hx)
	change(t, s, 0, lms.StateOK, "OK", 200, "")
	change(t, s, time.Hour, lms.StateUnavailable, "Not Found", 404, "")
	if h := history(t, es, time.Time{}, 0); len(h) != 0 {
		t.Errorf("history with MaxChanges -1 = %+v, want none", h)
	}
	if l := linkOf(t, s); !l.FailingSince.Equal(t0.Add(time.Hour)) {
		t.Errorf("failing since %v without history, want t0+1h", l.FailingSince)
	}
}

func testRecheck(t *testing.T, s lms.Store, es lms.EditorStore) {
	mustClient(t, s, "a")
	mustClient(t, s, "b")
	const u, v, w = "http://r1.example/", "http://r2.example/", "http://r3.example/"
	mustSubscribe(t, s, "a", u, v)
	mustSubscribe(t, s, "b", w)
	if got := claim(t, s, t0, 10, 10); len(got) != 3 {
		t.Fatalf("claimed %v, want 3", urlsOf(got))
	}
	for _, x := range []string{u, v, w} {
		record(t, s, result(x, lms.StateOK, "OK", t0.Add(24*time.Hour)))
	}
	now := t0.Add(time.Hour)
	if got := claim(t, s, now, 10, 10); len(got) != 0 {
		t.Fatalf("claimed %v before any re-check", urlsOf(got))
	}
	// w is b's, not a's; the unknown URL is nobody's.
	n, err := es.RecheckLinks(ctx(), "a", []string{u, w, "http://unknown.example/"}, now)
	if err != nil || n != 1 {
		t.Fatalf("RecheckLinks = %d, %v; want 1", n, err)
	}
	if got := claim(t, s, now, 10, 10); !slices.Equal(urlsOf(got), []string{u}) {
		t.Errorf("claimed %v after re-check, want [%s]", urlsOf(got), u)
	}
	record(t, s, result(u, lms.StateOK, "OK", t0.Add(24*time.Hour)))
	// Due already: nothing to do.
	if n, _ := es.RecheckLinks(ctx(), "a", []string{v}, now); n != 1 {
		t.Fatalf("RecheckLinks(v) = %d", n)
	}
	if n, _ := es.RecheckLinks(ctx(), "a", []string{v}, now); n != 0 {
		t.Errorf("RecheckLinks of a link due already = %d, want 0", n)
	}
	// Politeness rules: a deferred host's link waits for the host.
	if err := s.DeferHost(ctx(), "r2.example", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, s, now.Add(time.Minute), 10, 10); len(got) != 0 {
		t.Errorf("claimed %v of a deferred host", urlsOf(got))
	}
	if got := claim(t, s, now.Add(time.Hour), 10, 10); !slices.Equal(urlsOf(got), []string{v}) {
		t.Errorf("claimed %v once the host's back-off ended, want [%s]", urlsOf(got), v)
	}
	if _, err := es.RecheckLinks(ctx(), "nobody", []string{u}, now); !errors.Is(err, lms.ErrNotFound) {
		t.Errorf("RecheckLinks of an unknown client: %v, want ErrNotFound", err)
	}
}

func pendingURLs(t *testing.T, s lms.Store, id string) []string {
	t.Helper()
	p, err := s.PendingUpdates(ctx(), id, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(p))
	for i, x := range p {
		out[i] = x.URL + " " + string(x.State)
	}
	return out
}

func ackAll(t *testing.T, s lms.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		p, _ := s.PendingUpdates(ctx(), id, 0)
		if err := s.AckUpdates(ctx(), id, p); err != nil {
			t.Fatal(err)
		}
	}
}

func testIgnore(t *testing.T, s lms.Store, es lms.EditorStore) {
	mustClient(t, s, "a")
	mustClient(t, s, "b")
	mustClient(t, s, "c")
	mustSubscribe(t, s, "a", hx)
	mustSubscribe(t, s, "b", hx)
	mustSubscribe(t, s, "c", "http://c.example/")
	change(t, s, 0, lms.StateOK, "OK", 200, "")
	ackAll(t, s, "a", "b")
	change(t, s, time.Hour, lms.StateUnavailable, "Not Found", 404, "")
	// Ignoring drops a's pending change, not b's; URLs a does not have
	// are skipped.
	n, err := es.SetIgnore(ctx(), "a", []string{hx, "http://c.example/", "http://unknown.example/"}, lms.IgnoredForever)
	if err != nil || n != 1 {
		t.Fatalf("SetIgnore forever = %d, %v; want 1", n, err)
	}
	if p := pendingURLs(t, s, "a"); len(p) != 0 {
		t.Errorf("a's pending after ignoring = %v, want none", p)
	}
	if ids, _ := s.PendingClients(ctx()); !slices.Equal(ids, []string{"b"}) {
		t.Errorf("PendingClients = %v, want [b]", ids)
	}
	if p := pendingURLs(t, s, "b"); !slices.Equal(p, []string{hx + " unavailable"}) {
		t.Errorf("b's pending = %v", p)
	}
	if cl, err := es.ClientLink(ctx(), "a", hx); err != nil || cl.Mode != lms.IgnoredForever || cl.State != lms.StateUnavailable {
		t.Errorf("ClientLink(a) = %+v, %v", cl, err)
	}
	if cl, err := es.ClientLink(ctx(), "b", hx); err != nil || cl.Mode != lms.NotIgnored {
		t.Errorf("ClientLink(b) = %+v, %v", cl, err)
	}
	if _, err := es.ClientLink(ctx(), "c", hx); !errors.Is(err, lms.ErrNotFound) {
		t.Errorf("ClientLink of a link c does not have: %v, want ErrNotFound", err)
	}
	ackAll(t, s, "b")
	// Ignored for good: changes are not notified, but counted.
	change(t, s, 2*time.Hour, lms.StateOK, "OK", 200, "")
	if p := pendingURLs(t, s, "a"); len(p) != 0 {
		t.Errorf("a's pending while ignoring = %v", p)
	}
	if p := pendingURLs(t, s, "b"); !slices.Equal(p, []string{hx + " ok"}) {
		t.Errorf("b's pending = %v", p)
	}
	if c, _ := s.GetClient(ctx(), "a"); c.Counts.OK != 1 || c.Counts.Unavailable != 0 {
		t.Errorf("a's counts while ignoring = %+v", c.Counts)
	}
	// Until changed: the next change ends the ignore and is notified.
	if n, err := es.SetIgnore(ctx(), "a", []string{hx}, lms.IgnoredUntilChanged); err != nil || n != 1 {
		t.Fatalf("SetIgnore until changed = %d, %v", n, err)
	}
	if n, _ := es.SetIgnore(ctx(), "a", []string{hx}, lms.IgnoredUntilChanged); n != 0 {
		t.Errorf("SetIgnore to the same mode changed %d", n)
	}
	change(t, s, 3*time.Hour, lms.StateOK, "Fine", 200, "") // not a change of state
	if cl, _ := es.ClientLink(ctx(), "a", hx); cl.Mode != lms.IgnoredUntilChanged {
		t.Errorf("a result in the same state ended the ignore: %v", cl.Mode)
	}
	change(t, s, 4*time.Hour, lms.StateUnavailable, "Not Found", 404, "")
	if p := pendingURLs(t, s, "a"); !slices.Equal(p, []string{hx + " unavailable"}) {
		t.Errorf("a's pending after the change = %v, want the change", p)
	}
	if cl, _ := es.ClientLink(ctx(), "a", hx); cl.Mode != lms.NotIgnored {
		t.Errorf("mode after the change = %v, want not ignored", cl.Mode)
	}
	// Unignore undoes; unsubscribing forgets the ignore.
	if _, err := es.SetIgnore(ctx(), "a", []string{hx}, lms.IgnoredForever); err != nil {
		t.Fatal(err)
	}
	if n, err := es.SetIgnore(ctx(), "a", []string{hx}, lms.NotIgnored); err != nil || n != 1 {
		t.Errorf("unignore = %d, %v", n, err)
	}
	if _, err := es.SetIgnore(ctx(), "a", []string{hx}, lms.IgnoredForever); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Unsubscribe(ctx(), "a", []string{hx}); err != nil {
		t.Fatal(err)
	}
	mustSubscribe(t, s, "a", hx)
	if cl, _ := es.ClientLink(ctx(), "a", hx); cl.Mode != lms.NotIgnored {
		t.Errorf("mode after re-subscribing = %v, want not ignored", cl.Mode)
	}
	if _, err := es.SetIgnore(ctx(), "a", []string{hx}, lms.IgnoreMode(7)); !errors.Is(err, lms.ErrInvalid) {
		t.Errorf("SetIgnore mode 7: %v, want ErrInvalid", err)
	}
	if _, err := es.SetIgnore(ctx(), "nobody", []string{hx}, lms.IgnoredForever); !errors.Is(err, lms.ErrNotFound) {
		t.Errorf("SetIgnore of an unknown client: %v, want ErrNotFound", err)
	}
}

func testIgnoreListing(t *testing.T, s lms.Store, es lms.EditorStore) {
	mustClient(t, s, "a")
	mustClient(t, s, "b")
	urls := []string{"http://l.example/1", "http://l.example/2", "http://l.example/3", "http://l.example/4"}
	mustSubscribe(t, s, "a", urls...)
	mustSubscribe(t, s, "b", urls...)
	record(t, s, result(urls[1], lms.StateUnavailable, "Not Found", t0.Add(time.Hour)))
	if _, err := es.SetIgnore(ctx(), "a", []string{urls[3], urls[1]}, lms.IgnoredForever); err != nil {
		t.Fatal(err)
	}
	if _, err := es.SetIgnore(ctx(), "a", []string{urls[2]}, lms.IgnoredUntilChanged); err != nil {
		t.Fatal(err)
	}
	list := func(id string, p lms.Page) []string {
		t.Helper()
		ls, err := es.IgnoredLinks(ctx(), id, p)
		if err != nil {
			t.Fatalf("IgnoredLinks(%s, %+v): %v", id, p, err)
		}
		out := make([]string, len(ls))
		for i, l := range ls {
			out[i] = l.URL + " " + l.Mode.String()
		}
		return out
	}
	if got := list("a", lms.Page{}); !slices.Equal(got, []string{urls[1] + " forever", urls[2] + " until changed", urls[3] + " forever"}) {
		t.Errorf("IgnoredLinks(a) = %v", got)
	}
	if got := list("a", lms.Page{After: urls[1], Limit: 1}); !slices.Equal(got, []string{urls[2] + " until changed"}) {
		t.Errorf("IgnoredLinks(a) after %s limit 1 = %v", urls[1], got)
	}
	if got := list("a", lms.Page{State: lms.StateUnavailable}); !slices.Equal(got, []string{urls[1] + " forever"}) {
		t.Errorf("IgnoredLinks(a) unavailable = %v", got)
	}
	if got := list("b", lms.Page{}); len(got) != 0 {
		t.Errorf("IgnoredLinks(b) = %v, want none", got)
	}
	if ls, err := es.IgnoredLinks(ctx(), "a", lms.Page{Limit: 1}); err != nil || len(ls) != 1 || ls[0].Subscribers != 2 || ls[0].Host != "l.example" {
		t.Errorf("IgnoredLinks carries the link: %+v, %v", ls, err)
	}
	if _, err := es.IgnoredLinks(ctx(), "nobody", lms.Page{}); !errors.Is(err, lms.ErrNotFound) {
		t.Errorf("IgnoredLinks of an unknown client: %v, want ErrNotFound", err)
	}
}

func testEditorsCancelled(t *testing.T, s lms.Store, es lms.EditorStore) {
	mustClient(t, s, "a")
	mustSubscribe(t, s, "a", hx)
	change(t, s, 0, lms.StateOK, "OK", 200, "")
	change(t, s, time.Hour, lms.StateUnavailable, "Not Found", 404, "")
	c, cancel := context.WithCancel(ctx())
	cancel()
	ops := map[string]func(context.Context) error{
		"LinkHistory":  func(c context.Context) error { _, err := es.LinkHistory(c, hx, time.Time{}, 0); return err },
		"RecheckLinks": func(c context.Context) error { _, err := es.RecheckLinks(c, "a", []string{hx}, t0); return err },
		"SetIgnore": func(c context.Context) error {
			_, err := es.SetIgnore(c, "a", []string{hx}, lms.IgnoredForever)
			return err
		},
		"ClientLink":   func(c context.Context) error { _, err := es.ClientLink(c, "a", hx); return err },
		"IgnoredLinks": func(c context.Context) error { _, err := es.IgnoredLinks(c, "a", lms.Page{}); return err },
	}
	for name, op := range ops {
		if err := op(c); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with cancelled context = %v, want context.Canceled", name, err)
		}
	}
	if l, err := es.ClientLink(ctx(), "a", hx); err != nil || l.Mode != lms.NotIgnored || !l.NextDue.Equal(t0.Add(25*time.Hour)) {
		t.Errorf("cancelled calls changed the link: %+v, %v", l, err)
	}
	if p := pendingURLs(t, s, "a"); len(p) != 1 {
		t.Errorf("cancelled SetIgnore dropped the pending change: %v", p)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for name, op := range ops {
		if err := op(ctx()); !errors.Is(err, lms.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
}
