// Package storetest is the lms.Store contract as an importable conformance
// suite, in the manner of testing/fstest. Every Store implementation runs it
// in one line:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) lms.Store { return mystore.New() })
//	}
//
// It uses only the standard testing package, so importing it adds nothing to
// a user's dependencies.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
)

// NewStore returns a fresh, empty store for one subtest. Run closes it when
// the subtest ends; closing twice must be harmless.
type NewStore func(t *testing.T) lms.Store

// t0 is the fixed instant the suite works around.
var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// Run runs the whole contract against stores made by newStore.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, lms.Store)
	}{
		{"ClientLifecycle", testClientLifecycle},
		{"ClientInvalid", testClientInvalid},
		{"UpdateClient", testUpdateClient},
		{"SubscribeShared", testSubscribeShared},
		{"ExactURLs", testExactURLs},
		{"SubscribeInvalid", testSubscribeInvalid},
		{"Unsubscribe", testUnsubscribe},
		{"ReplaceSubscriptions", testReplace},
		{"ClientLinksPaging", testPaging},
		{"ClaimDue", testClaimDue},
		{"ClaimLease", testClaimLease},
		{"ClaimSnapshot", testClaimSnapshot},
		{"UnsubscribeWhileClaimed", testUnsubscribeWhileClaimed},
		{"ClaimFairness", testClaimFairness},
		{"ClaimHostGap", testClaimHostGap},
		{"DeferHost", testDeferHost},
		{"HostHolders", testHostHolders},
		{"HoldHost", testHoldHost},
		{"ClientLeasesAndOutbox", testClientLeasesAndOutbox},
		{"ClientBookkeeping", testClientBookkeeping},
		{"OrphanNotClaimed", testOrphan},
		{"RecordResults", testRecordResults},
		{"RecordHold", testRecordHold},
		{"PendingCoalesceAck", testPendingAck},
		{"DeleteClient", testDeleteClient},
		{"Counts", testCounts},
		{"NoAliasing", testNoAliasing},
		{"CancelledContext", testCancelled},
		{"Concurrent", testConcurrent},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() { _ = s.Close() })
			tc.fn(t, s)
		})
	}
	runSources(t, newStore)
}

func ctx() context.Context { return context.Background() }

func mustClient(t *testing.T, s lms.Store, id string) {
	t.Helper()
	if err := s.CreateClient(ctx(), lms.Client{ID: id, PasswordHash: "h", ContactEmail: id + "@example.org", CallbackURL: "http://" + id + ".example/db", Notify: true, Created: t0}); err != nil {
		t.Fatalf("CreateClient(%q): %v", id, err)
	}
}

func mustSubscribe(t *testing.T, s lms.Store, id string, urls ...string) int {
	t.Helper()
	n, err := s.Subscribe(ctx(), id, urls, t0)
	if err != nil {
		t.Fatalf("Subscribe(%q, %d urls): %v", id, len(urls), err)
	}
	return n
}

func urlsOf(links []lms.Link) []string {
	out := make([]string, len(links))
	for i, l := range links {
		out[i] = l.URL
	}
	return out
}

func allLinks(t *testing.T, s lms.Store, id string) []lms.Link {
	t.Helper()
	ls, err := s.ClientLinks(ctx(), id, lms.Page{})
	if err != nil {
		t.Fatalf("ClientLinks(%q): %v", id, err)
	}
	return ls
}

func record(t *testing.T, s lms.Store, recs ...lms.Outcome) {
	t.Helper()
	if err := s.RecordResults(ctx(), recs); err != nil {
		t.Fatalf("RecordResults: %v", err)
	}
}

func result(u string, st lms.State, reason string, next time.Time) lms.Outcome {
	return lms.Outcome{URL: u, Result: lms.Result{State: st, Reason: reason, Code: 200}, NextDue: next, Checked: t0}
}

func claim(t *testing.T, s lms.Store, now time.Time, limit, perHost int) []lms.Link {
	t.Helper()
	ls, err := s.ClaimDue(ctx(), now, lms.ClaimOptions{Limit: limit, PerHost: perHost, Lease: time.Minute})
	if err != nil {
		t.Fatalf("ClaimDue: %v", err)
	}
	return ls
}

func testClientLifecycle(t *testing.T, s lms.Store) {
	mustClient(t, s, "b")
	mustClient(t, s, "a")
	if err := s.CreateClient(ctx(), lms.Client{ID: "a"}); !errors.Is(err, lms.ErrExists) {
		t.Fatalf("second CreateClient(a) = %v, want ErrExists", err)
	}
	c, err := s.GetClient(ctx(), "a")
	if err != nil {
		t.Fatalf("GetClient(a): %v", err)
	}
	if c.ID != "a" || c.ContactEmail != "a@example.org" || !c.Notify || !c.Created.Equal(t0) || c.PasswordHash != "h" {
		t.Errorf("GetClient(a) = %+v, fields not round-tripped", c)
	}
	list, err := s.ListClients(ctx())
	if err != nil {
		t.Fatalf("ListClients: %v", err)
	}
	if got := []string{list[0].ID, list[1].ID}; len(list) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("ListClients ids = %v, want [a b]", got)
	}
	if err := s.DeleteClient(ctx(), "a"); err != nil {
		t.Fatalf("DeleteClient(a): %v", err)
	}
	if _, err := s.GetClient(ctx(), "a"); !errors.Is(err, lms.ErrNotFound) {
		t.Errorf("GetClient after delete = %v, want ErrNotFound", err)
	}
	if err := s.DeleteClient(ctx(), "a"); !errors.Is(err, lms.ErrNotFound) {
		t.Errorf("second DeleteClient = %v, want ErrNotFound", err)
	}
}

func testClientInvalid(t *testing.T, s lms.Store) {
	for _, id := range []string{"", strings.Repeat("x", lms.MaxIDLength+1), "a\nb", "bad\xff"} {
		if err := s.CreateClient(ctx(), lms.Client{ID: id}); !errors.Is(err, lms.ErrInvalid) {
			t.Errorf("CreateClient(%q) = %v, want ErrInvalid", id, err)
		}
	}
	if list, _ := s.ListClients(ctx()); len(list) != 0 {
		t.Errorf("invalid creates left %d clients", len(list))
	}
	for _, op := range []func() error{
		func() error { _, err := s.GetClient(ctx(), "nobody"); return err },
		func() error { _, err := s.Subscribe(ctx(), "nobody", []string{"http://x/"}, t0); return err },
		func() error { _, err := s.Unsubscribe(ctx(), "nobody", []string{"http://x/"}); return err },
		func() error { _, _, err := s.ReplaceSubscriptions(ctx(), "nobody", nil, t0); return err },
		func() error { _, err := s.ClientLinks(ctx(), "nobody", lms.Page{}); return err },
		func() error { _, err := s.PendingUpdates(ctx(), "nobody", 0); return err },
		func() error { return s.AckUpdates(ctx(), "nobody", nil) },
		func() error {
			_, err := s.UpdateClient(ctx(), "nobody", func(*lms.Client) error { return nil })
			return err
		},
	} {
		if err := op(); !errors.Is(err, lms.ErrNotFound) {
			t.Errorf("operation on unknown client = %v, want ErrNotFound", err)
		}
	}
	if ls, _ := s.LookupLinks(ctx(), []string{"http://x/"}); len(ls) != 0 {
		t.Errorf("subscribe for unknown client created a link")
	}
}

func testUpdateClient(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	mustSubscribe(t, s, "a", "http://x.example/")
	got, err := s.UpdateClient(ctx(), "a", func(c *lms.Client) error {
		c.Notify = false
		c.NotifyFailures = 3
		c.NextSync = t0.Add(time.Hour)
		c.ID = "changed"
		c.Counts = lms.StateCounts{OK: 99}
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateClient: %v", err)
	}
	if got.ID != "a" || got.Notify || got.NotifyFailures != 3 || got.Counts.Unknown != 1 || got.Counts.OK != 0 {
		t.Errorf("UpdateClient returned %+v", got)
	}
	c, _ := s.GetClient(ctx(), "a")
	if c.Notify || c.NotifyFailures != 3 || !c.NextSync.Equal(t0.Add(time.Hour)) || c.Counts.Unknown != 1 {
		t.Errorf("after UpdateClient, GetClient = %+v", c)
	}
	boom := errors.New("boom")
	if _, err := s.UpdateClient(ctx(), "a", func(c *lms.Client) error { c.NotifyFailures = 7; return boom }); !errors.Is(err, boom) {
		t.Errorf("UpdateClient with failing fn = %v, want boom", err)
	}
	if c, _ := s.GetClient(ctx(), "a"); c.NotifyFailures != 3 {
		t.Errorf("failed UpdateClient changed the client: failures = %d", c.NotifyFailures)
	}
}

// testClientBookkeeping: every field of the notifier's and the syncer's
// bookkeeping that UpdateClient sets comes back from GetClient.
func testClientBookkeeping(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	set := func(c *lms.Client) {
		c.NotifyFailures, c.NextNotify, c.LastNotified = 4, t0.Add(time.Minute), t0.Add(-time.Hour)
		c.LastNotifyError, c.NotifyDisabledAt = "push failed", t0.Add(-time.Minute)
		c.NextSync, c.LastSync, c.SyncForced = t0.Add(24*time.Hour), t0.Add(-24*time.Hour), true
		c.LastSyncError, c.SyncTooLargeMailed = "list too large", true
	}
	if _, err := s.UpdateClient(ctx(), "a", func(c *lms.Client) error { set(c); return nil }); err != nil {
		t.Fatalf("UpdateClient: %v", err)
	}
	got, err := s.GetClient(ctx(), "a")
	if err != nil {
		t.Fatalf("GetClient: %v", err)
	}
	var want lms.Client
	set(&want)
	times := [][2]time.Time{{got.NextNotify, want.NextNotify}, {got.LastNotified, want.LastNotified},
		{got.NotifyDisabledAt, want.NotifyDisabledAt}, {got.NextSync, want.NextSync}, {got.LastSync, want.LastSync}}
	for i, tt := range times {
		if !tt[0].Equal(tt[1]) {
			t.Errorf("time field %d = %v, want %v", i, tt[0], tt[1])
		}
	}
	if got.NotifyFailures != want.NotifyFailures || got.LastNotifyError != want.LastNotifyError || got.SyncForced != want.SyncForced ||
		got.LastSyncError != want.LastSyncError || got.SyncTooLargeMailed != want.SyncTooLargeMailed {
		t.Errorf("bookkeeping = %+v, want the fields of %+v", got, want)
	}
}

func testSubscribeShared(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	mustClient(t, s, "b")
	if n := mustSubscribe(t, s, "a", "http://x.example/1", "http://x.example/2", "http://x.example/1"); n != 2 {
		t.Errorf("Subscribe added %d, want 2 (duplicates are one)", n)
	}
	if n := mustSubscribe(t, s, "a", "http://x.example/1"); n != 0 {
		t.Errorf("re-Subscribe added %d, want 0", n)
	}
	if n := mustSubscribe(t, s, "b", "http://x.example/2", "http://y.example/"); n != 2 {
		t.Errorf("Subscribe(b) added %d, want 2", n)
	}
	ls, err := s.LookupLinks(ctx(), []string{"http://x.example/1", "http://x.example/2", "http://nope/"})
	if err != nil {
		t.Fatalf("LookupLinks: %v", err)
	}
	if len(ls) != 2 {
		t.Fatalf("LookupLinks found %d links, want 2", len(ls))
	}
	l := ls["http://x.example/2"]
	if l.Subscribers != 2 || l.State != lms.StateUnknown || l.Host != "x.example" || !l.NextDue.Equal(t0) {
		t.Errorf("shared link = %+v, want 2 subscribers, unknown, host x.example, due t0", l)
	}
	if got := urlsOf(allLinks(t, s, "b")); !slices.Equal(got, []string{"http://x.example/2", "http://y.example/"}) {
		t.Errorf("ClientLinks(b) = %v", got)
	}
}

func testExactURLs(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	long := "http://x.example/" + strings.Repeat("p", lms.MaxURLLength-len("http://x.example/"))
	urls := []string{"http://X.example/Path", "http://x.example/path", "http://x.example/path/", "HTTP://x.example/%7e", long, "mailto:Someone@Example.org", "javascript:void(0)"}
	if n := mustSubscribe(t, s, "a", urls...); n != len(urls) {
		t.Fatalf("Subscribe added %d, want %d distinct links", n, len(urls))
	}
	got := urlsOf(allLinks(t, s, "a"))
	want := slices.Clone(urls)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("ClientLinks = %q, want byte-identical %q", got, want)
	}
	ls, _ := s.LookupLinks(ctx(), urls)
	for _, u := range urls {
		if ls[u].URL != u {
			t.Errorf("LookupLinks[%q].URL = %q", u, ls[u].URL)
		}
	}
	if h := ls["http://X.example/Path"].Host; h != "x.example" {
		t.Errorf("host key = %q, want lower-cased x.example", h)
	}
}

func testSubscribeInvalid(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	tooLong := "http://x.example/" + strings.Repeat("p", lms.MaxURLLength)
	for _, bad := range [][]string{{"http://ok.example/", ""}, {"http://ok.example/", tooLong}, {"http://ok.example/", "http://x/a b"}, {"http://ok.example/", "http://x/\x00"}} {
		if _, err := s.Subscribe(ctx(), "a", bad, t0); !errors.Is(err, lms.ErrInvalid) {
			t.Errorf("Subscribe(%.40q) = %v, want ErrInvalid", bad, err)
		}
		if _, _, err := s.ReplaceSubscriptions(ctx(), "a", bad, t0); !errors.Is(err, lms.ErrInvalid) {
			t.Errorf("ReplaceSubscriptions(%.40q) = %v, want ErrInvalid", bad, err)
		}
	}
	if ls := allLinks(t, s, "a"); len(ls) != 0 {
		t.Errorf("invalid subscribe half-applied: %v", urlsOf(ls))
	}
	if ls, _ := s.LookupLinks(ctx(), []string{"http://ok.example/"}); len(ls) != 0 {
		t.Errorf("invalid subscribe created a link")
	}
}

func testUnsubscribe(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	mustClient(t, s, "b")
	mustSubscribe(t, s, "a", "http://x.example/1", "http://x.example/2")
	mustSubscribe(t, s, "b", "http://x.example/2")
	n, err := s.Unsubscribe(ctx(), "a", []string{"http://x.example/2", "http://unknown.example/", "http://x.example/2"})
	if err != nil || n != 1 {
		t.Fatalf("Unsubscribe = %d, %v; want 1, nil", n, err)
	}
	if got := urlsOf(allLinks(t, s, "a")); !slices.Equal(got, []string{"http://x.example/1"}) {
		t.Errorf("a's links after unsubscribe = %v", got)
	}
	if got := urlsOf(allLinks(t, s, "b")); !slices.Equal(got, []string{"http://x.example/2"}) {
		t.Errorf("b's links after a unsubscribed = %v", got)
	}
	mustSubscribe(t, s, "a", "http://x.example/3")
	if n, _ := s.Unsubscribe(ctx(), "a", []string{"http://x.example/3"}); n != 1 {
		t.Errorf("Unsubscribe(3) = %d", n)
	}
	ls, _ := s.LookupLinks(ctx(), []string{"http://x.example/3"})
	if l, ok := ls["http://x.example/3"]; !ok || l.Subscribers != 0 {
		t.Errorf("unsubscribed link should stay known with 0 subscribers, got %+v (found %v)", l, ok)
	}
}

func testReplace(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	mustSubscribe(t, s, "a", "http://x.example/keep", "http://x.example/drop1", "http://x.example/drop2")
	record(t, s, result("http://x.example/drop1", lms.StateOK, "OK", t0.Add(time.Hour)))
	added, removed, err := s.ReplaceSubscriptions(ctx(), "a", []string{"http://x.example/keep", "http://x.example/new", "http://x.example/new"}, t0)
	if err != nil || added != 1 || removed != 2 {
		t.Fatalf("ReplaceSubscriptions = %d, %d, %v; want 1, 2, nil", added, removed, err)
	}
	if got := urlsOf(allLinks(t, s, "a")); !slices.Equal(got, []string{"http://x.example/keep", "http://x.example/new"}) {
		t.Errorf("links after replace = %v", got)
	}
	if p, _ := s.PendingUpdates(ctx(), "a", 0); len(p) != 0 {
		t.Errorf("pending of removed links survived replace: %v", p)
	}
	c, _ := s.GetClient(ctx(), "a")
	if c.Counts.Total() != 2 || c.Counts.Unknown != 2 {
		t.Errorf("counts after replace = %+v, want 2 unknown", c.Counts)
	}
	if _, removed, _ := s.ReplaceSubscriptions(ctx(), "a", nil, t0); removed != 2 || len(allLinks(t, s, "a")) != 0 {
		t.Errorf("replace with nothing removed %d", removed)
	}
}

func testPaging(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	var urls []string
	for i := range 25 {
		urls = append(urls, fmt.Sprintf("http://h%d.example/%02d", i%3, i))
	}
	mustSubscribe(t, s, "a", urls...)
	record(t, s, result(urls[4], lms.StateOK, "OK", t0.Add(time.Hour)), result(urls[7], lms.StateOK, "OK", t0.Add(time.Hour)))
	want := slices.Clone(urls)
	slices.Sort(want)
	var got []string
	after := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		ls, err := s.ClientLinks(ctx(), "a", lms.Page{After: after, Limit: 10})
		if err != nil {
			t.Fatalf("ClientLinks: %v", err)
		}
		if len(ls) > 10 {
			t.Fatalf("page of %d > limit 10", len(ls))
		}
		if len(ls) == 0 {
			break
		}
		got = append(got, urlsOf(ls)...)
		after = ls[len(ls)-1].URL
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged listing = %v, want %v", got, want)
	}
	ok, _ := s.ClientLinks(ctx(), "a", lms.Page{State: lms.StateOK})
	wantOK := []string{urls[4], urls[7]}
	slices.Sort(wantOK)
	if !slices.Equal(urlsOf(ok), wantOK) {
		t.Errorf("state filter = %v, want %v", urlsOf(ok), wantOK)
	}
}

func testClaimDue(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	mustSubscribe(t, s, "a", "http://a.example/1", "http://b.example/1", "http://c.example/1")
	record(t, s, result("http://c.example/1", lms.StateOK, "OK", t0.Add(24*time.Hour)))
	if got := claim(t, s, t0.Add(-time.Second), 10, 5); len(got) != 0 {
		t.Errorf("claim before due = %v", urlsOf(got))
	}
	if n, _ := s.DueCount(ctx(), t0, 100); n != 2 {
		t.Errorf("DueCount = %d, want 2", n)
	}
	got := claim(t, s, t0, 10, 5)
	u := urlsOf(got)
	slices.Sort(u)
	if !slices.Equal(u, []string{"http://a.example/1", "http://b.example/1"}) {
		t.Errorf("claimed %v, want the two due links", u)
	}
	for _, l := range got {
		if !l.NextDue.Equal(t0.Add(time.Minute)) {
			t.Errorf("claimed link NextDue = %v, want now+lease", l.NextDue)
		}
	}
	if n, _ := s.DueCount(ctx(), t0, 100); n != 0 {
		t.Errorf("DueCount after claim = %d, want 0", n)
	}
	later := claim(t, s, t0.Add(24*time.Hour), 10, 5)
	if len(later) != 3 {
		t.Errorf("a day later %d links due, want 3", len(later))
	}
	if _, err := s.ClaimDue(ctx(), t0, lms.ClaimOptions{}); !errors.Is(err, lms.ErrInvalid) {
		t.Errorf("ClaimDue with zero options = %v, want ErrInvalid", err)
	}
}

// testClaimSnapshot: a claimed link carries what the checker's policy needs,
// as of the last recorded result.
func testClaimSnapshot(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	mustSubscribe(t, s, "a", "http://a.example/1", "http://b.example/1")
	got := claim(t, s, t0, 10, 5)
	if len(got) != 2 {
		t.Fatalf("claimed %d links, want 2", len(got))
	}
	for _, l := range got {
		if l.State != lms.StateUnknown || l.Failures != 0 || l.Host != HostOf(l.URL) {
			t.Errorf("new link claimed as %+v, want state unknown, no failures, host %s", l, HostOf(l.URL))
		}
	}
	rec := result("http://a.example/1", lms.StateTemporary, "Internal Server Error", t0.Add(time.Hour))
	rec.Failures = 3
	record(t, s, rec, result("http://b.example/1", lms.StateOK, "OK", t0.Add(time.Hour)))
	again := claim(t, s, t0.Add(time.Hour), 10, 5)
	byURL := map[string]lms.Link{}
	for _, l := range again {
		byURL[l.URL] = l
	}
	if l := byURL["http://a.example/1"]; l.State != lms.StateTemporary || l.Failures != 3 {
		t.Errorf("claimed a.example as %s with %d failures, want temporary with 3", l.State, l.Failures)
	}
	if l := byURL["http://b.example/1"]; l.State != lms.StateOK || l.Failures != 0 {
		t.Errorf("claimed b.example as %s with %d failures, want ok with 0", l.State, l.Failures)
	}
}

// testUnsubscribeWhileClaimed: a link whose last subscriber leaves while it
// is being checked is not handed out again, not even when its result comes
// in; subscribed again, it is.
func testUnsubscribeWhileClaimed(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	mustSubscribe(t, s, "a", "http://a.example/1")
	if got := claim(t, s, t0, 10, 5); len(got) != 1 {
		t.Fatalf("claimed %d links, want 1", len(got))
	}
	if _, err := s.Unsubscribe(ctx(), "a", []string{"http://a.example/1"}); err != nil {
		t.Fatal(err)
	}
	record(t, s, result("http://a.example/1", lms.StateOK, "OK", t0.Add(time.Hour)))
	for _, at := range []time.Time{t0.Add(2 * time.Minute), t0.Add(2 * time.Hour)} {
		if got := claim(t, s, at, 10, 5); len(got) != 0 {
			t.Errorf("unsubscribed link claimed at %v: %v", at, urlsOf(got))
		}
		if n, _ := s.DueCount(ctx(), at, 10); n != 0 {
			t.Errorf("DueCount at %v = %d, want 0", at, n)
		}
	}
	if _, err := s.Subscribe(ctx(), "a", []string{"http://a.example/1"}, t0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, s, t0.Add(3*time.Hour), 10, 5); len(got) != 1 {
		t.Errorf("subscribed again: claimed %d links, want 1", len(got))
	}
}

func testClaimLease(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	mustSubscribe(t, s, "a", "http://a.example/1")
	if got := claim(t, s, t0, 10, 5); len(got) != 1 {
		t.Fatalf("first claim got %d", len(got))
	}
	if got := claim(t, s, t0.Add(30*time.Second), 10, 5); len(got) != 0 {
		t.Errorf("claimed again during the lease: %v", urlsOf(got))
	}
	got := claim(t, s, t0.Add(time.Minute), 10, 5)
	if len(got) != 1 {
		t.Fatalf("after lease expiry got %d, want the link back", len(got))
	}
	record(t, s, result("http://a.example/1", lms.StateOK, "OK", t0.Add(24*time.Hour)))
	if got := claim(t, s, t0.Add(10*time.Minute), 10, 5); len(got) != 0 {
		t.Errorf("recorded link claimed before its next due time: %v", urlsOf(got))
	}
}

func testClaimFairness(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	var big []string
	for i := range 2000 {
		big = append(big, fmt.Sprintf("http://big.example/%d", i))
	}
	mustSubscribe(t, s, "a", big...)
	// The small hosts' links became due later than all of the big host's.
	var small []string
	for i := range 30 {
		small = append(small, fmt.Sprintf("http://small%d.example/", i))
	}
	if _, err := s.Subscribe(ctx(), "a", small, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	got := claim(t, s, t0.Add(time.Minute), 40, 2)
	perHost := map[string]int{}
	for _, l := range got {
		perHost[l.Host]++
	}
	if len(got) != 32 || perHost["big.example"] != 2 {
		t.Fatalf("claimed %d links (%v), want 32: 2 of the big host and every small host", len(got), perHost)
	}
	for _, u := range small {
		if perHost[HostOf(u)] != 1 {
			t.Errorf("small host %s starved", HostOf(u))
		}
	}
}

// HostOf returns the host key of a URL, as lms.HostKey.
func HostOf(u string) string { return lms.HostKey(u) }

func testClaimHostGap(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	var urls []string
	for i := range 10 {
		urls = append(urls, fmt.Sprintf("http://h.example/%d", i))
	}
	urls = append(urls, "mailto:a@example.org", "mailto:b@example.org", "mailto:c@example.org")
	mustSubscribe(t, s, "a", urls...)
	opt := lms.ClaimOptions{Limit: 100, PerHost: 3, HostGap: time.Second, Lease: time.Hour}
	got, _ := s.ClaimDue(ctx(), t0, opt)
	hosts := map[string]int{}
	for _, l := range got {
		hosts[l.Host]++
	}
	if hosts["h.example"] != 3 || hosts[""] != 3 {
		t.Fatalf("first claim per host = %v, want 3 of h.example and 3 mailto", hosts)
	}
	if got, _ := s.ClaimDue(ctx(), t0.Add(time.Second), opt); len(got) != 0 {
		t.Errorf("host offered again before (k-1)*gap: %v", urlsOf(got))
	}
	if got, _ := s.ClaimDue(ctx(), t0.Add(2*time.Second), opt); len(got) != 3 {
		t.Errorf("after (k-1)*gap got %d links, want 3", len(got))
	}
}

func testDeferHost(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	mustSubscribe(t, s, "a", "http://slow.example/1", "http://fast.example/1")
	if err := s.DeferHost(ctx(), "slow.example", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeferHost(ctx(), "slow.example", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, s, t0.Add(30*time.Minute), 10, 5); len(got) != 1 || got[0].Host != "fast.example" {
		t.Errorf("claimed %v during the deferral, want only fast.example", urlsOf(got))
	}
	record(t, s, result("http://fast.example/1", lms.StateOK, "OK", t0.Add(24*time.Hour)))
	if got := claim(t, s, t0.Add(time.Hour), 10, 5); len(got) != 1 || got[0].Host != "slow.example" {
		t.Errorf("claimed %v after the deferral, want slow.example", urlsOf(got))
	}
	// Deferring a host that has no links yet is remembered.
	if err := s.DeferHost(ctx(), "later.example", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	mustSubscribe(t, s, "a", "http://later.example/")
	if got := claim(t, s, t0.Add(time.Minute), 10, 5); len(got) != 0 {
		t.Errorf("claimed %v of a deferred host", urlsOf(got))
	}
}

func claimAs(t *testing.T, s lms.Store, holder string, now time.Time) []lms.Link {
	t.Helper()
	ls, err := s.ClaimDue(ctx(), now, lms.ClaimOptions{Limit: 10, PerHost: 1, Lease: time.Minute, Holder: holder})
	if err != nil {
		t.Fatalf("ClaimDue as %q: %v", holder, err)
	}
	return ls
}

// testHostHolders: a host is held by one claimer at a time, until the
// lease of its last claim ends.
func testHostHolders(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	mustSubscribe(t, s, "a", "http://h.example/1", "http://h.example/2", "http://h.example/3", "http://other.example/")
	got := claimAs(t, s, "p1", t0)
	hosts := map[string]string{}
	for _, l := range got {
		hosts[l.Host] = l.URL
	}
	if len(got) != 2 || hosts["h.example"] == "" || hosts["other.example"] == "" {
		t.Fatalf("first claim = %v, want one link of each host", urlsOf(got))
	}
	if got := claimAs(t, s, "p2", t0.Add(time.Second)); len(got) != 0 {
		t.Errorf("p2 claimed %v of hosts p1 holds", urlsOf(got))
	}
	got = claimAs(t, s, "p1", t0.Add(2*time.Second))
	if len(got) != 1 || got[0].Host != "h.example" {
		t.Fatalf("p1's second claim = %v, want the next link of h.example", urlsOf(got))
	}
	// p1's hold of h.example now lasts until t0+2s+1min.
	if got := claimAs(t, s, "p2", t0.Add(time.Minute+time.Second)); len(got) != 1 || got[0].Host != "other.example" {
		t.Errorf("p2 claimed %v after other.example's hold ended, want its link back", urlsOf(got))
	}
	if got := claimAs(t, s, "p2", t0.Add(time.Minute+3*time.Second)); len(got) != 1 || got[0].Host != "h.example" {
		t.Errorf("p2 claimed %v after h.example's hold ended, want one of its links", urlsOf(got))
	}
}

func testHoldHost(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	mustSubscribe(t, s, "a", "http://h.example/1", "http://x.example/1")
	if got := claimAs(t, s, "p1", t0); len(got) != 2 {
		t.Fatalf("claim = %v", urlsOf(got))
	}
	if _, ok, err := s.HoldHost(ctx(), "p2", "h.example", t0.Add(time.Second), time.Minute); err != nil || ok {
		t.Errorf("p2 HoldHost of p1's host = %v, %v; want refused", ok, err)
	}
	if _, ok, err := s.HoldHost(ctx(), "p1", "h.example", t0.Add(time.Second), time.Minute); err != nil || !ok {
		t.Errorf("p1 HoldHost of its own host = %v, %v; want ok", ok, err)
	}
	// A host nobody holds: p2 holds it, and p1 can claim none of its links.
	if _, ok, err := s.HoldHost(ctx(), "p2", "fresh.example", t0, time.Minute); err != nil || !ok {
		t.Fatalf("HoldHost of a free host = %v, %v", ok, err)
	}
	mustSubscribe(t, s, "a", "http://fresh.example/")
	if got := claimAs(t, s, "p1", t0.Add(time.Second)); len(got) != 0 {
		t.Errorf("p1 claimed %v of a host p2 holds", urlsOf(got))
	}
	if got := claimAs(t, s, "p2", t0.Add(time.Second)); len(got) != 1 || got[0].Host != "fresh.example" {
		t.Errorf("p2 claimed %v, want the link of the host it holds", urlsOf(got))
	}
	// A back-off is reported to the next holder.
	if err := s.DeferHost(ctx(), "rest.example", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	nb, ok, err := s.HoldHost(ctx(), "p1", "rest.example", t0, time.Minute)
	if err != nil || !ok || nb.Before(t0.Add(time.Hour)) {
		t.Errorf("HoldHost of a deferred host = %v, %v, %v; want ok and notBefore ≥ the deferral", nb, ok, err)
	}
	if _, _, err := s.HoldHost(ctx(), "p1", "x.example", t0, 0); !errors.Is(err, lms.ErrInvalid) {
		t.Errorf("HoldHost with no lease = %v, want ErrInvalid", err)
	}
	// "" is a holder like any other.
	mustSubscribe(t, s, "a", "http://empty.example/1", "http://empty.example/2")
	if got := claimAs(t, s, "", t0.Add(time.Second)); len(got) == 0 {
		t.Fatalf("holder \"\" claimed nothing")
	}
	if got := claimAs(t, s, "p1", t0.Add(2*time.Second)); slices.ContainsFunc(got, func(l lms.Link) bool { return l.Host == "empty.example" }) {
		t.Errorf("p1 claimed %v of a host holder \"\" holds", urlsOf(got))
	}
	if _, ok, err := s.HoldHost(ctx(), "p1", "empty.example", t0.Add(2*time.Second), time.Minute); err != nil || ok {
		t.Errorf("p1 HoldHost of the host holder \"\" holds = %v, %v; want refused", ok, err)
	}
}

func testClientLeasesAndOutbox(t *testing.T, s lms.Store) {
	c := lms.Client{ID: "a", PasswordHash: "h", ContactEmail: "a@example.org", CallbackURL: "http://a.example/db", Notify: true, Created: t0,
		Outbox: []lms.OutboxMail{{Kind: lms.MailRegistration, Queued: t0, SealedPassword: "sealed"}}}
	if err := s.CreateClient(ctx(), c); err != nil {
		t.Fatal(err)
	}
	c.Outbox[0].Kind = "mutated"
	got, err := s.GetClient(ctx(), "a")
	if err != nil || len(got.Outbox) != 1 || got.Outbox[0].Kind != lms.MailRegistration || got.Outbox[0].SealedPassword != "sealed" || !got.Outbox[0].Queued.Equal(t0) {
		t.Fatalf("GetClient outbox = %+v, %v", got.Outbox, err)
	}
	got.Outbox[0].Kind = "mutated"
	busy := errors.New("held elsewhere")
	take := func(holder string, now time.Time) error {
		_, err := s.UpdateClient(ctx(), "a", func(c *lms.Client) error {
			if c.NotifyLease.Held(now, holder) {
				return busy
			}
			c.NotifyLease = lms.Lease{Holder: holder, Until: now.Add(time.Minute)}
			c.Outbox = append(c.Outbox, lms.OutboxMail{Kind: lms.MailDisabled, Queued: now})
			return nil
		})
		return err
	}
	if err := take("p1", t0); err != nil {
		t.Fatal(err)
	}
	if err := take("p2", t0.Add(time.Second)); !errors.Is(err, busy) {
		t.Errorf("p2 took p1's lease: %v", err)
	}
	if err := take("p2", t0.Add(time.Minute)); err != nil {
		t.Errorf("p2 could not take the ended lease: %v", err)
	}
	got, _ = s.GetClient(ctx(), "a")
	if got.NotifyLease.Holder != "p2" || !got.NotifyLease.Until.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("lease = %+v, want p2 until t0+2m", got.NotifyLease)
	}
	if len(got.Outbox) != 3 || got.Outbox[0].Kind != lms.MailRegistration || got.Outbox[2].Kind != lms.MailDisabled {
		t.Errorf("outbox = %+v, want the registration and two disabled mails", got.Outbox)
	}
	cs, _ := s.ListClients(ctx())
	cs[0].Outbox[0].Kind = "mutated"
	if got, _ := s.GetClient(ctx(), "a"); got.Outbox[0].Kind != lms.MailRegistration {
		t.Errorf("mutating a listed client's outbox changed the store")
	}
}

func testOrphan(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	mustSubscribe(t, s, "a", "http://o.example/")
	if _, err := s.Unsubscribe(ctx(), "a", []string{"http://o.example/"}); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, s, t0.Add(time.Hour), 10, 5); len(got) != 0 {
		t.Errorf("orphaned link claimed: %v", urlsOf(got))
	}
	mustSubscribe(t, s, "a", "http://o.example/")
	if got := claim(t, s, t0.Add(time.Hour), 10, 5); len(got) != 1 {
		t.Errorf("re-subscribed link not claimed")
	}
}

func testRecordResults(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	mustClient(t, s, "b")
	mustClient(t, s, "c")
	mustSubscribe(t, s, "a", "http://x.example/")
	mustSubscribe(t, s, "b", "http://x.example/")
	mustSubscribe(t, s, "c", "http://other.example/")
	rec := lms.Outcome{URL: "http://x.example/", Checked: t0, NextDue: t0.Add(24 * time.Hour), Failures: 0,
		Result: lms.Result{State: lms.StateOK, Reason: "OK", Code: 200, FinalURL: "https://x.example/", Permanent: true, ResponseTime: 150 * time.Millisecond}}
	record(t, s, rec, lms.Outcome{URL: "http://never-registered.example/", Result: lms.Result{State: lms.StateOK}})
	ls, _ := s.LookupLinks(ctx(), []string{"http://x.example/", "http://never-registered.example/"})
	if len(ls) != 1 {
		t.Errorf("a record for an unknown URL created a link")
	}
	l := ls["http://x.example/"]
	if l.State != lms.StateOK || l.Reason != "OK" || l.Code != 200 || l.FinalURL != "https://x.example/" || !l.Permanent ||
		l.ResponseTime != 150*time.Millisecond || !l.LastChecked.Equal(t0) || !l.LastChanged.Equal(t0) || !l.NextDue.Equal(t0.Add(24*time.Hour)) {
		t.Errorf("recorded link = %+v", l)
	}
	for _, id := range []string{"a", "b"} {
		p, _ := s.PendingUpdates(ctx(), id, 0)
		if len(p) != 1 || p[0].URL != "http://x.example/" || p[0].State != lms.StateOK || p[0].Reason != "OK" {
			t.Errorf("pending of %s = %+v, want one ok update", id, p)
		}
	}
	if p, _ := s.PendingUpdates(ctx(), "c", 0); len(p) != 0 {
		t.Errorf("unrelated client c got pending %v", p)
	}
	if ids, _ := s.PendingClients(ctx()); !slices.Equal(ids, []string{"a", "b"}) {
		t.Errorf("PendingClients = %v, want [a b]", ids)
	}
	// A reason-only change is stored but not notified.
	for _, id := range []string{"a", "b"} {
		p, _ := s.PendingUpdates(ctx(), id, 0)
		if err := s.AckUpdates(ctx(), id, p); err != nil {
			t.Fatal(err)
		}
	}
	rec.Result.Reason = "Fine"
	rec.Checked = t0.Add(25 * time.Hour)
	record(t, s, rec)
	ls, _ = s.LookupLinks(ctx(), []string{"http://x.example/"})
	if l := ls["http://x.example/"]; l.Reason != "Fine" || !l.LastChanged.Equal(t0) || !l.LastChecked.Equal(t0.Add(25*time.Hour)) {
		t.Errorf("after reason-only change link = %+v", l)
	}
	if ids, _ := s.PendingClients(ctx()); len(ids) != 0 {
		t.Errorf("reason-only change made pending notifications for %v", ids)
	}
	if err := s.RecordResults(ctx(), []lms.Outcome{{URL: "http://x.example/", Result: lms.Result{State: "broken"}}}); !errors.Is(err, lms.ErrInvalid) {
		t.Errorf("RecordResults with invalid state = %v, want ErrInvalid", err)
	}
}

func testRecordHold(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	mustSubscribe(t, s, "a", "http://x.example/")
	record(t, s, result("http://x.example/", lms.StateOK, "OK", t0.Add(time.Hour)))
	p, _ := s.PendingUpdates(ctx(), "a", 0)
	_ = s.AckUpdates(ctx(), "a", p)
	record(t, s, lms.Outcome{URL: "http://x.example/", Hold: true, NextDue: t0.Add(5 * time.Minute), Result: lms.Result{State: lms.StateUnavailable, Reason: "refused"}})
	ls, _ := s.LookupLinks(ctx(), []string{"http://x.example/"})
	if l := ls["http://x.example/"]; l.State != lms.StateOK || l.Reason != "OK" || !l.NextDue.Equal(t0.Add(5*time.Minute)) {
		t.Errorf("held record changed the link: %+v", l)
	}
	if n, _ := s.PendingCount(ctx(), "a"); n != 0 {
		t.Errorf("held record made %d pending", n)
	}
}

func testPendingAck(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	mustSubscribe(t, s, "a", "http://x.example/", "http://y.example/")
	record(t, s, result("http://x.example/", lms.StateOK, "OK", t0), result("http://y.example/", lms.StateOK, "OK", t0))
	record(t, s, result("http://x.example/", lms.StateUnavailable, "Not Found", t0))
	p, err := s.PendingUpdates(ctx(), "a", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 2 || p[0].URL != "http://x.example/" || p[0].State != lms.StateUnavailable || p[0].Reason != "Not Found" {
		t.Fatalf("coalesced pending = %+v, want latest state of x then y", p)
	}
	if n, _ := s.PendingCount(ctx(), "a"); n != 2 {
		t.Errorf("PendingCount = %d, want 2", n)
	}
	if lim, _ := s.PendingUpdates(ctx(), "a", 1); len(lim) != 1 || lim[0].URL != "http://x.example/" {
		t.Errorf("PendingUpdates limit 1 = %+v", lim)
	}
	// x changes again while the batch is being delivered.
	record(t, s, result("http://x.example/", lms.StateOK, "OK", t0))
	if err := s.AckUpdates(ctx(), "a", p); err != nil {
		t.Fatal(err)
	}
	left, _ := s.PendingUpdates(ctx(), "a", 0)
	if len(left) != 1 || left[0].URL != "http://x.example/" || left[0].State != lms.StateOK {
		t.Errorf("after ack, pending = %+v, want only the newer change of x", left)
	}
	_ = s.AckUpdates(ctx(), "a", left)
	if ids, _ := s.PendingClients(ctx()); len(ids) != 0 {
		t.Errorf("PendingClients after full ack = %v", ids)
	}
}

func testDeleteClient(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	mustClient(t, s, "b")
	mustSubscribe(t, s, "a", "http://x.example/", "http://only-a.example/")
	mustSubscribe(t, s, "b", "http://x.example/")
	record(t, s, result("http://x.example/", lms.StateOK, "OK", t0.Add(time.Hour)))
	if err := s.DeleteClient(ctx(), "a"); err != nil {
		t.Fatal(err)
	}
	if ids, _ := s.PendingClients(ctx()); !slices.Equal(ids, []string{"b"}) {
		t.Errorf("PendingClients after delete = %v", ids)
	}
	ls, _ := s.LookupLinks(ctx(), []string{"http://x.example/", "http://only-a.example/"})
	if ls["http://x.example/"].Subscribers != 1 || ls["http://only-a.example/"].Subscribers != 0 {
		t.Errorf("subscriber counts after delete: %+v", ls)
	}
	if got := claim(t, s, t0.Add(48*time.Hour), 10, 5); len(got) != 1 || got[0].URL != "http://x.example/" {
		t.Errorf("after delete claimed %v, want only the link b keeps", urlsOf(got))
	}
	mustClient(t, s, "a")
	if ls := allLinks(t, s, "a"); len(ls) != 0 {
		t.Errorf("re-created client inherited links %v", urlsOf(ls))
	}
}

func testCounts(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	mustClient(t, s, "b")
	mustSubscribe(t, s, "a", "http://1.example/", "http://2.example/", "http://3.example/")
	mustSubscribe(t, s, "b", "http://3.example/")
	record(t, s, result("http://1.example/", lms.StateOK, "OK", t0), result("http://3.example/", lms.StateUnavailable, "Not Found", t0))
	c, _ := s.GetClient(ctx(), "a")
	if want := (lms.StateCounts{OK: 1, Unavailable: 1, Unknown: 1}); c.Counts != want {
		t.Errorf("a counts = %+v, want %+v", c.Counts, want)
	}
	total, _ := s.LinkCounts(ctx())
	if want := (lms.StateCounts{OK: 1, Unavailable: 1, Unknown: 1}); total != want {
		t.Errorf("LinkCounts = %+v, want %+v", total, want)
	}
	_, _ = s.Unsubscribe(ctx(), "a", []string{"http://1.example/"})
	total, _ = s.LinkCounts(ctx())
	if want := (lms.StateCounts{Unavailable: 1, Unknown: 1}); total != want {
		t.Errorf("LinkCounts after orphaning = %+v, want %+v", total, want)
	}
}

func testNoAliasing(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	mustSubscribe(t, s, "a", "http://x.example/")
	record(t, s, result("http://x.example/", lms.StateOK, "OK", t0))
	ls, _ := s.ClientLinks(ctx(), "a", lms.Page{})
	ls[0].URL, ls[0].State = "mutated", lms.StateUnavailable
	m, _ := s.LookupLinks(ctx(), []string{"http://x.example/"})
	m["http://x.example/"] = lms.Link{URL: "mutated"}
	p, _ := s.PendingUpdates(ctx(), "a", 0)
	p[0].State = lms.StateUnavailable
	cs, _ := s.ListClients(ctx())
	cs[0].ContactEmail = "mutated"
	urls := []string{"http://y.example/"}
	mustSubscribe(t, s, "a", urls...)
	urls[0] = "http://z.example/"

	if got := urlsOf(allLinks(t, s, "a")); !slices.Equal(got, []string{"http://x.example/", "http://y.example/"}) {
		t.Errorf("links after mutating returned values = %v", got)
	}
	if m2, _ := s.LookupLinks(ctx(), []string{"http://x.example/"}); m2["http://x.example/"].State != lms.StateOK {
		t.Errorf("mutating a returned link changed the store")
	}
	if p2, _ := s.PendingUpdates(ctx(), "a", 0); p2[0].State != lms.StateOK {
		t.Errorf("mutating returned pending changed the store")
	}
	if c, _ := s.GetClient(ctx(), "a"); c.ContactEmail != "a@example.org" {
		t.Errorf("mutating a returned client changed the store")
	}
}

func testCancelled(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	c, cancel := context.WithCancel(ctx())
	cancel()
	ops := map[string]func() error{
		"CreateClient": func() error { return s.CreateClient(c, lms.Client{ID: "z"}) },
		"GetClient":    func() error { _, err := s.GetClient(c, "a"); return err },
		"ListClients":  func() error { _, err := s.ListClients(c); return err },
		"UpdateClient": func() error {
			_, err := s.UpdateClient(c, "a", func(cl *lms.Client) error { cl.Notify = false; return nil })
			return err
		},
		"Subscribe": func() error { _, err := s.Subscribe(c, "a", []string{"http://x/"}, t0); return err },
		"Replace":   func() error { _, _, err := s.ReplaceSubscriptions(c, "a", []string{"http://x/"}, t0); return err },
		"ClaimDue": func() error {
			_, err := s.ClaimDue(c, t0, lms.ClaimOptions{Limit: 1, PerHost: 1, Lease: time.Minute})
			return err
		},
		"RecordResults":  func() error { return s.RecordResults(c, nil) },
		"DeferHost":      func() error { return s.DeferHost(c, "x", t0) },
		"PendingClients": func() error { _, err := s.PendingClients(c); return err },
		"DeleteClient":   func() error { return s.DeleteClient(c, "a") },
	}
	for name, op := range ops {
		if err := op(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with cancelled context = %v, want context.Canceled", name, err)
		}
	}
	cl, err := s.GetClient(ctx(), "a")
	if err != nil || !cl.Notify || len(allLinks(t, s, "a")) != 0 {
		t.Errorf("cancelled calls changed the store: %+v, %v", cl, err)
	}
	if _, err := s.GetClient(ctx(), "z"); !errors.Is(err, lms.ErrNotFound) {
		t.Errorf("cancelled CreateClient created a client")
	}
}

func testConcurrent(t *testing.T, s lms.Store) {
	const workers, perWorker = 8, 50
	for w := range workers {
		mustClient(t, s, fmt.Sprintf("c%d", w))
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers*4)
	claimed := make(chan string, workers*perWorker*2)
	for w := range workers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("c%d", w)
			for i := range perWorker {
				u := fmt.Sprintf("http://h%d.example/%d", i%5, i)
				if _, err := s.Subscribe(ctx(), id, []string{u}, t0); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range 20 {
				ls, err := s.ClaimDue(ctx(), t0, lms.ClaimOptions{Limit: 5, PerHost: 5, Lease: time.Hour})
				if err != nil {
					errs <- err
					return
				}
				var recs []lms.Outcome
				for _, l := range ls {
					claimed <- l.URL
					recs = append(recs, result(l.URL, lms.StateOK, "OK", t0.Add(24*time.Hour)))
				}
				if err := s.RecordResults(ctx(), recs); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	close(claimed)
	for err := range errs {
		t.Fatalf("concurrent use: %v", err)
	}
	seen := map[string]bool{}
	for u := range claimed {
		if seen[u] {
			t.Errorf("link %s claimed twice within its lease", u)
		}
		seen[u] = true
	}
	total, _ := s.LinkCounts(ctx())
	if total.Total() != perWorker {
		t.Errorf("LinkCounts total = %d, want %d distinct links", total.Total(), perWorker)
	}
	for w := range workers {
		c, _ := s.GetClient(ctx(), fmt.Sprintf("c%d", w))
		if c.Counts.Total() != perWorker {
			t.Errorf("client c%d counts %+v, want total %d", w, c.Counts, perWorker)
		}
	}
}

func testClosed(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := s.GetClient(ctx(), "a"); !errors.Is(err, lms.ErrClosed) {
		t.Errorf("GetClient after Close = %v, want ErrClosed", err)
	}
}
