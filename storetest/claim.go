package storetest

// The scheduling contract: claiming due links, leases, per-host fairness
// and gaps, deferred and held hosts.

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
)

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
