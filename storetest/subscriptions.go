package storetest

// The subscription contract: shared links, exact URLs, unsubscribe,
// replace and paging.

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
)

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
