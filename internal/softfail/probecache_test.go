package softfail

import (
	"sync"
	"testing"
	"time"
)

// TestProbeCache checks one probe per host per interval.
func TestProbeCache(t *testing.T) {
	c := NewProbeCache(time.Hour, 100)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if a, may := c.Lookup("example.org", t0); a != nil || !may {
		t.Fatalf("first lookup = %v, %v; want nil, true", a, may)
	}
	if _, may := c.Lookup("example.org", t0.Add(time.Minute)); may {
		t.Fatal("a second probe was allowed while the first is under way")
	}
	probe := Analyze(&Page{URL: "https://example.org/x", Status: 404})
	c.Store("example.org", probe, t0.Add(2*time.Minute))
	if a, may := c.Lookup("example.org", t0.Add(30*time.Minute)); a != probe || may {
		t.Fatalf("lookup = %v, %v; want the stored probe, false", a, may)
	}
	if _, may := c.Lookup("other.example", t0.Add(30*time.Minute)); !may {
		t.Fatal("another host was refused its probe")
	}
	if a, may := c.Lookup("example.org", t0.Add(2*time.Minute+time.Hour)); a != nil || !may {
		t.Fatalf("after the interval: %v, %v; want nil, true", a, may)
	}
}

// TestProbeCacheBounded checks that the cache holds at most max hosts,
// dropping the oldest.
func TestProbeCacheBounded(t *testing.T) {
	c := NewProbeCache(time.Hour, 3)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, h := range []string{"a", "b", "c", "d"} {
		c.Lookup(h, t0.Add(time.Duration(i)*time.Minute))
	}
	if c.Len() != 3 {
		t.Fatalf("Len = %d, want 3", c.Len())
	}
	if _, may := c.Lookup("a", t0.Add(5*time.Minute)); !may {
		t.Error("the oldest host was kept")
	}
	if _, may := c.Lookup("d", t0.Add(5*time.Minute)); may {
		t.Error("the newest host was dropped")
	}
}

// TestProbeCacheConcurrent checks that of many concurrent lookups of one
// host exactly one may probe.
func TestProbeCacheConcurrent(t *testing.T) {
	c := NewProbeCache(time.Hour, 10)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 50 {
		wg.Go(func() {
			if _, may := c.Lookup("example.org", now); may {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if allowed != 1 {
		t.Errorf("%d probes allowed, want 1", allowed)
	}
}

// TestAnalysisShared checks that one probe analysis can serve many
// verdicts at once (run with -race).
func TestAnalysisShared(t *testing.T) {
	page := loadPage(t, "probe/oops.html", "https://acmewidgets.example/support/manuals/wx-200-quickstart", 200, "-")
	pu, _ := probeURL(page.URL, probeName)
	probe := Analyze(loadPage(t, "probe/oops-probe.html", pu, 200, "-"))
	a := Analyze(page)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if v := a.Verdict(probe); v.Kind != Soft404 || v.Strength != Confirmed {
				t.Errorf("Verdict = %s/%s", v.Kind, v.Strength)
			}
			if v := Analyze(page).Verdict(probe); v.Kind != Soft404 {
				t.Errorf("Verdict = %s", v.Kind)
			}
		})
	}
	wg.Wait()
}

// A caller that finds the probe under way can wait for it: Pending's
// channel closes when the prober stores the answer.
func TestProbeCachePending(t *testing.T) {
	c := NewProbeCache(time.Hour, 10)
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	if c.Pending("h") != nil {
		t.Fatal("pending before any claim")
	}
	if _, may := c.Lookup("h", now); !may {
		t.Fatal("first lookup may not probe")
	}
	ch := c.Pending("h")
	if ch == nil {
		t.Fatal("no pending channel while the probe is under way")
	}
	want := Analyze(&Page{URL: "http://h.example/x", Status: 404})
	got := make(chan *Analysis)
	go func() {
		<-ch
		a, may := c.Lookup("h", now.Add(time.Second))
		if may {
			t.Error("a waiter may probe again")
		}
		got <- a
	}()
	c.Store("h", want, now.Add(time.Second))
	if a := <-got; a != want {
		t.Errorf("waiter got %v, want the stored analysis", a)
	}
	if c.Pending("h") != nil {
		t.Error("pending after the answer was stored")
	}
	// A failed probe (nil) releases waiters too and is not pending.
	_, _ = c.Lookup("g", now)
	ch = c.Pending("g")
	c.Store("g", nil, now)
	select {
	case <-ch:
	default:
		t.Error("storing a failed probe did not release the waiters")
	}
	if c.Pending("g") != nil {
		t.Error("a failed probe is pending")
	}
}
