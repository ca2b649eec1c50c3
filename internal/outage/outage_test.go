package outage

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

func newTestGuard() *Guard {
	return New(Config{Window: time.Minute, MinHosts: 10, Ratio: 0.8, Now: time.Now, Logger: slog.New(slog.DiscardHandler),
		Probe: func(context.Context, string) bool { return false }})
}

// check is a check of host's link, ok before or not, that got an answer
// (ok or not) or failed at the network level.
func check(host string, wasOK bool, r result) Check {
	return Check{URL: "http://" + host + "/", Host: host, WasOK: wasOK, NetworkError: r == down, OK: r == ok, Answered: r != down}
}

type result uint8

const (
	ok       result = iota // the host answered, the link works
	notFound               // the host answered 404
	down                   // a network failure
)

// The red team's attack on the probe: one client's hosts answer ok, its
// 404 hosts answer last (failing links are re-checked often), then all of
// them die. The probe must ask other hosts that answered ok, not the
// attacker's 404 hosts nor those that failed.
func TestOutageProbeCandidates(t *testing.T) {
	t.Parallel()
	g := newTestGuard()
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for i := range 5 {
		g.Observe(t0, check(fmt.Sprintf("victim%d.example", i), true, ok))
	}
	for i := range 12 {
		g.Observe(t0.Add(time.Hour), check(fmt.Sprintf("dying%d.example", i), false, ok))
	}
	for i := range 8 {
		g.Observe(t0.Add(2*time.Hour), check(fmt.Sprintf("gone%d.example", i), false, notFound))
	}
	for i := range 12 {
		g.Observe(t0.Add(3*time.Hour), check(fmt.Sprintf("dying%d.example", i), true, down))
	}
	if g.state != probing {
		t.Fatalf("state = %v, want probing after 12 hosts that were ok failed", g.state)
	}
	var cands []string
	select {
	case cands = <-g.ask:
	default:
		t.Fatal("no probe was asked for")
	}
	victims := 0
	for _, u := range cands {
		if strings.Contains(u, "gone") || slices.Contains([]string{"http://dying0.example/", "http://dying9.example/"}, u) {
			t.Errorf("the probe asks %s: a 404 host or one of the failing hosts", u)
		}
		if strings.Contains(u, "victim") {
			victims++
		}
	}
	if victims == 0 {
		t.Errorf("the probe asks %q: none of the hosts that answered ok and still work", cands)
	}
	// While probing, any answer from a host shows the network works.
	if held := g.Observe(t0.Add(3*time.Hour), check("other.example", true, notFound)); held {
		t.Error("a 404 is not held back")
	}
	if g.state != idle {
		t.Errorf("state = %v after an answer, want idle", g.state)
	}
	if g.Observe(t0.Add(3*time.Hour), check("dying0.example", true, down)) {
		t.Error("after an answer, a network failure is reported, not held back")
	}
}

// candidates spread over the remembered hosts: the newest, and older ones
// evenly, so that the last hosts to answer cannot be all the probe asks.
func TestOutageProbeCandidatesSpread(t *testing.T) {
	t.Parallel()
	g := newTestGuard()
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for i := range maxAnswered + 10 {
		g.Observe(t0.Add(time.Duration(i)*time.Second), check(fmt.Sprintf("h%02d.example", i), true, ok))
	}
	got := g.candidates(nil)
	if len(got) != probeNewest+probeSpread {
		t.Fatalf("candidates = %q", got)
	}
	want := []string{"http://h73.example/", "http://h72.example/", "http://h71.example/"}
	if !slices.Equal(got[:probeNewest], want) {
		t.Errorf("newest = %q, want %q", got[:probeNewest], want)
	}
	if last := got[len(got)-1]; last != "http://h10.example/" {
		t.Errorf("the spread ends at %s, want the oldest remembered host h10", last)
	}
}
