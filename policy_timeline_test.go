package lms_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"testing/synctest"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/memstore"
)

// behaviour is what a fake site answers, by the time since the start.
type behaviour func(since time.Duration) lms.Result

func answers(st lms.State, kind lms.FailureKind, reason string) behaviour {
	return func(time.Duration) lms.Result { return lms.Result{State: st, Failure: kind, Reason: reason} }
}

func switchAt(at time.Duration, before, after behaviour) behaviour {
	return func(since time.Duration) lms.Result {
		if since < at {
			return before(since)
		}
		return after(since)
	}
}

// checkpoint says which state a link has at a time after the start; a
// state prefixed "not " says which state it must not have.
type checkpoint struct {
	at    time.Duration
	state string
}

// TestPolicyTimelinesOnVirtualTime runs the engine, its pool and the
// policy on virtual time against fake sites and reads each link's state at
// checkpoints: the timelines in the README, for the default timings and
// for lmsd's fast ones (-check-interval 4s -min-recheck 1s), with pacing.
func TestPolicyTimelinesOnVirtualTime(t *testing.T) {
	t.Parallel()
	siteOK := answers(lms.StateOK, 0, "OK")
	siteNotFound := answers(lms.StateUnavailable, lms.FailureDefinitive, "Not Found")
	siteBadGate := answers(lms.StateTemporary, lms.FailureTransient, "Bad Gateway")
	siteBroken := func(time.Duration) lms.Result {
		return lms.Result{State: lms.StateTemporary, Failure: lms.FailureTransient, Reason: "Internal Server Error", Code: 500}
	}
	siteWalled := answers(lms.StateTemporary, lms.FailureBlocked, "The site blocks automated checks (Cloudflare challenge)")
	profiles := []struct {
		name         string
		policy       lms.Policy
		hostInterval time.Duration
		links        map[string]behaviour
		checks       map[string][]checkpoint
	}{
		{
			name:         "fast timings",
			policy:       lms.Policy{Interval: 4 * time.Second, MinRecheck: time.Second, RetryInterval: 4 * time.Second},
			hostInterval: time.Second,
			links: map[string]behaviour{
				"404":       siteNotFound,
				"502":       siteBadGate,
				"glitch":    switchAt(time.Second, siteBadGate, siteOK),
				"fixed":     switchAt(20*time.Second, siteNotFound, siteOK),
				"breaks":    switchAt(20*time.Second, siteOK, siteNotFound),
				"bot wall":  siteWalled,
				"always ok": siteOK,
			},
			checks: map[string][]checkpoint{
				"404":       {{500 * time.Millisecond, "temporary unavailable"}, {10 * time.Second, "unavailable"}},
				"502":       {{500 * time.Millisecond, "temporary unavailable"}, {10 * time.Second, "unavailable"}},
				"glitch":    {{500 * time.Millisecond, "temporary unavailable"}, {1500 * time.Millisecond, "not unavailable"}, {10 * time.Second, "ok"}, {30 * time.Second, "ok"}},
				"fixed":     {{15 * time.Second, "unavailable"}, {30 * time.Second, "ok"}},
				"breaks":    {{19 * time.Second, "ok"}, {30 * time.Second, "unavailable"}},
				"bot wall":  {{10 * time.Second, "temporary unavailable"}, {30 * time.Second, "temporary unavailable"}},
				"always ok": {{500 * time.Millisecond, "ok"}, {30 * time.Second, "ok"}},
			},
		},
		{
			name:         "default timings",
			policy:       lms.Policy{},
			hostInterval: 20 * time.Second, // the claim loop polls every 5 s: fewer wake-ups over hours
			links: map[string]behaviour{
				"404":      siteNotFound,
				"502":      siteBadGate,
				"500":      siteBroken,
				"glitch":   switchAt(time.Minute, siteBadGate, siteOK),
				"fixed":    switchAt(6*time.Hour, siteNotFound, siteOK),
				"bot wall": siteWalled,
			},
			checks: map[string][]checkpoint{
				"404":      {{time.Minute, "temporary unavailable"}, {6 * time.Minute, "unavailable"}},
				"502":      {{time.Hour, "temporary unavailable"}, {2 * time.Hour, "temporary unavailable"}, {21 * time.Hour, "temporary unavailable"}, {27 * time.Hour, "unavailable"}},
				"500":      {{time.Hour, "temporary unavailable"}, {2 * time.Hour, "unavailable"}},
				"glitch":   {{time.Minute, "temporary unavailable"}, {6 * time.Minute, "ok"}, {12 * time.Hour, "ok"}},
				"fixed":    {{5 * time.Hour, "unavailable"}, {6*time.Hour + 4*time.Hour + 25*time.Minute, "ok"}},
				"bot wall": {{6 * time.Minute, "temporary unavailable"}, {12 * time.Hour, "temporary unavailable"}},
			},
		},
	}
	for _, pr := range profiles {
		t.Run(pr.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				urls := map[string]string{}
				byURL := map[string]behaviour{}
				for name, b := range pr.links {
					u := fmt.Sprintf("http://%s.example/", slug(name))
					urls[name], byURL[u] = u, b
				}
				checker := lms.CheckerFunc(func(_ context.Context, u string) lms.Result { return byURL[u](time.Since(start)) })
				e, err := lms.New(memstore.New(), lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker, Checker: checker,
					HostInterval: pr.hostInterval, ClaimPoll: 5 * time.Second, Policy: pr.policy, OutageMinHosts: -1})
				if err != nil {
					t.Fatal(err)
				}
				var all []string
				for _, u := range urls {
					all = append(all, u)
				}
				register(t, e, "a", all)
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error)
				go func() { done <- e.Run(ctx) }()
				type probe struct {
					name string
					checkpoint
				}
				var probes []probe
				for name, cps := range pr.checks {
					for _, cp := range cps {
						probes = append(probes, probe{name, cp})
					}
				}
				sort.Slice(probes, func(i, j int) bool { return probes[i].at < probes[j].at })
				for _, p := range probes {
					time.Sleep(time.Until(start.Add(p.at)))
					ls, err := e.LinkStates(context.Background(), "a", []string{urls[p.name]})
					if err != nil {
						t.Fatal(err)
					}
					got := string(ls[0].State)
					if not, ok := cutNot(p.state); ok && got == not || !ok && got != p.state {
						t.Errorf("%s at %v: %s (%s, %d failures), want %s", p.name, p.at, got, ls[0].Reason, ls[0].Failures, p.state)
					}
				}
				cancel()
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

func slug(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == ' ' {
			b[i] = '-'
		}
	}
	return string(b)
}

func cutNot(s string) (string, bool) {
	if len(s) > 4 && s[:4] == "not " {
		return s[4:], true
	}
	return s, false
}
