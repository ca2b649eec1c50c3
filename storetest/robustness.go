package storetest

// The contract every method shares: counts, no aliasing of returned values,
// cancelled contexts, concurrent use and use after Close.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
)

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
		"ReleaseHosts":   func() error { return s.ReleaseHosts(c, "p", []lms.HostRelease{{Host: "x"}}) },
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
