package lms_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/memstore"
)

// TestMixedFarmExtraRequests runs 1,000 links of a mixed loopback farm
// through the engine until every verdict is settled and counts, from the
// servers' side, what the bot-wall retries and the confirmation checks
// cost: ordinary links get exactly one request. The figure per 1,000 links
// is in BENCHMARKS.md.
func TestMixedFarmExtraRequests(t *testing.T) {
	kinds := []struct {
		name  string
		n     int
		want  lms.State
		cost  int // requests per link until settled
		serve func(w http.ResponseWriter, r *http.Request, nth int)
	}{
		{"ok", 900, lms.StateOK, 1, func(http.ResponseWriter, *http.Request, int) {}},
		{"bot-pass", 20, lms.StateOK, 2, func(w http.ResponseWriter, r *http.Request, _ int) {
			if !isBrowser(r) {
				w.WriteHeader(http.StatusForbidden)
			}
		}},
		{"challenge", 10, lms.StateTemporary, 2, func(w http.ResponseWriter, _ *http.Request, _ int) {
			w.Header().Set("Cf-Mitigated", "challenge")
			w.WriteHeader(http.StatusForbidden)
		}},
		{"999", 10, lms.StateTemporary, 2, func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(999) }},
		// A check and its retry, then the confirmation check and its retry.
		{"forbidden", 10, lms.StateUnavailable, 4, func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(http.StatusForbidden) }},
		{"flaky", 20, lms.StateOK, 2, func(w http.ResponseWriter, _ *http.Request, nth int) {
			if nth == 1 {
				w.WriteHeader(http.StatusBadGateway)
			}
		}},
		{"404", 30, lms.StateUnavailable, 2, func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(http.StatusNotFound) }},
	}
	var mu sync.Mutex
	hits := map[string]int{}
	serve := map[string]func(http.ResponseWriter, *http.Request, int){}
	for _, k := range kinds {
		serve[k.name] = k.serve
	}
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		nth := hits[r.URL.Path]
		mu.Unlock()
		kind, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		serve[kind](w, r, nth)
	})
	var urls []string
	want := map[string]lms.State{}
	links := 0
	for _, k := range kinds {
		for i := range k.n {
			u := fmt.Sprintf("%s/%s/%d", srv.URL, k.name, i)
			urls, want[u] = append(urls, u), k.want
		}
		links += k.n
	}
	st := memstore.New()
	// Unpaced: every link is on 127.0.0.1. Failures are confirmed after
	// 20 ms; nothing else is due again during the test.
	e, err := lms.New(st, lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker, Unpaced: true, Concurrency: 20,
		ClaimPoll: 10 * time.Millisecond, CheckerConfig: private(), OutageMinHosts: -1,
		Policy: lms.Policy{Interval: time.Hour, MinRecheck: 240 * time.Millisecond, RetryInterval: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	register(t, e, "farm", urls)
	stop := runEngine(t, e)
	settled := func() bool {
		ls, err := e.LinkStates(context.Background(), "farm", urls)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range ls {
			if l.State != want[l.URL] {
				return false
			}
		}
		return true
	}
	waitFor(t, 60*time.Second, "every verdict settled", settled)
	// Nothing more can come once no check runs and no link is due again
	// within the test, which lasts seconds: the count below is final.
	waitFor(t, 10*time.Second, "no check in flight", func() bool {
		st, err := e.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return st.InFlight == 0
	})
	ls, err := e.LinkStates(context.Background(), "farm", urls)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		if time.Until(l.NextDue) < time.Minute {
			t.Errorf("%s is due again at %v, within the test", l.URL, l.NextDue)
		}
	}
	stop()
	total := len(srv.requests())
	browser := 0
	for _, r := range srv.requests() {
		if isBrowser(r) {
			browser++
		}
	}
	expected := 0
	for _, k := range kinds {
		expected += k.n * k.cost
		mu.Lock()
		for i := range k.n {
			if got := hits[fmt.Sprintf("/%s/%d", k.name, i)]; got != k.cost {
				t.Errorf("%s link %d: %d requests, want %d", k.name, i, got, k.cost)
			}
		}
		mu.Unlock()
	}
	if total != expected {
		t.Errorf("%d requests, want %d", total, expected)
	}
	extra := total - links
	t.Logf("mixed farm: %d links, %d requests: %d extra per 1,000 links (%d browser-like retries, %d confirmation checks)",
		links, total, extra*1000/links, browser, extra-browser)
}
