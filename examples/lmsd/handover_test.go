package main

import (
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms/internal/farm"
	"github.com/linkmonitor/lms/internal/pgtest"
)

// testHandover: three checkers over a farm of 100 hosts × 10 links (one
// request per host per second, 20 ms answers, a 10-minute lease); once 300
// links are checked and their states pushed (about 2 s after the first
// registerURLs) the checker that sent the most requests gets SIGTERM. It hands its queued links and its hosts back, with their
// next allowed times, before it exits: the others take every such host
// within the interval plus 2 s of the SIGTERM (not after the lease), no
// host sees two requests closer than the interval, and every link is
// requested once.
func testHandover(t *testing.T, bin string) {
	const (
		hosts, perHost = 100, 10
		interval       = time.Second
		lease          = 10 * time.Minute
	)
	f, err := farm.Start(hosts, farm.Options{Latency: 20 * time.Millisecond, FirstAddr: 600})
	require.NoError(t, err)
	defer f.Close()
	rcv := newReceiver(t)
	d := newDeployment(t, bin, pgtest.Start(t))
	// The API process pushes the states: the test learns from the pushes
	// when checks are recorded.
	api := d.start("api", "-components", "notifier", "-notify-interval", "20ms")
	var checkers []*lmsdProc
	for i := range 3 {
		checkers = append(checkers, d.start(fmt.Sprintf("checker%d", i), "-components", "checker", "-concurrency", "20",
			"-host-interval", interval.String(), "-lease", lease.String(), "-check-interval", "1h", "-min-recheck", "1h",
			"-user-agent", fmt.Sprintf("lms-test checker%d", i)))
	}
	for _, p := range d.procs {
		p.wait(t)
	}
	register(t, api, rcv)
	var urls []any
	for j := range perHost {
		for _, h := range f.Hosts {
			urls = append(urls, fmt.Sprintf("%s/200/p%d", h.Base, j))
		}
	}
	start := time.Now()
	_, err = call(api.base, "registerURLs", "plone", "site-password-1", urls)
	require.NoError(t, err)

	// Once three links a host are checked and recorded (about 2 s in), the
	// busiest checker stops: between two rounds of requests, a host
	// interval apart, so that no check is in flight (Run abandons those,
	// and their links would be requested twice).
	rcv.pushedUntil(t, 30*time.Second, "three links a host pushed", func() bool { return rcv.count() >= 3*hosts })
	byAgent := map[string]int{}
	for _, h := range f.Hosts {
		for _, r := range h.Requests() {
			byAgent[r.Agent]++
		}
	}
	victim := checkers[0]
	for _, c := range checkers {
		if byAgent["lms-test "+c.name] > byAgent["lms-test "+victim.name] {
			victim = c
		}
	}
	victimAgent := "lms-test " + victim.name
	atTerm := f.Total()
	termAt := time.Now()
	require.NoError(t, victim.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-victim.done:
		require.NoError(t, victim.err, "%s exits 0 on SIGTERM", victim.name)
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not stop within 20 s of SIGTERM", victim.name)
	}
	exited := time.Since(termAt)

	farmUntil(t, f, 60*time.Second, "every URL requested", func() bool { return f.Total() >= len(urls) })
	done := time.Since(start)
	for _, p := range d.procs {
		if p != victim {
			p.stop(t)
		}
	}

	pol := f.Politeness(interval)
	require.Zero(t, pol.Violations, "requests closer than %v to one host (smallest gap %v at %s)", interval, pol.MinGap, pol.MinGapHost)
	var waits []time.Duration
	for _, h := range f.Hosts {
		rs := h.Requests()
		seen := map[string]int{}
		victimHeld := false
		for _, r := range rs {
			seen[r.Path]++
			if r.Agent == victimAgent {
				require.True(t, r.At.Before(termAt.Add(exited)), "%s requested %s%s after it exited", victim.name, h.Base, r.Path)
				victimHeld = true
			}
		}
		require.Len(t, seen, perHost, "links of %s requested", h.Base)
		for p, n := range seen {
			require.Equal(t, 1, n, "%s%s requested %d times", h.Base, p, n)
		}
		if !victimHeld || len(rs) == 0 || rs[len(rs)-1].Agent == victimAgent {
			continue // not the victim's, or it had finished the host
		}
		// The first request of another checker after the SIGTERM.
		for _, r := range rs {
			if r.Agent != victimAgent && r.At.After(termAt) {
				waits = append(waits, r.At.Sub(termAt))
				break
			}
		}
	}
	require.NotEmpty(t, waits, "%s held no host with links left", victim.name)
	slices.Sort(waits)
	t.Logf("%s (%d of %d requests at the SIGTERM) stopped in %v; its %d unfinished hosts asked again by the others %v–%v (median %v) after the SIGTERM (interval %v, lease %v); all %d URLs requested %v after registration; smallest gap %v",
		victim.name, byAgent[victimAgent], atTerm, exited.Round(time.Millisecond), len(waits), waits[0].Round(time.Millisecond), waits[len(waits)-1].Round(time.Millisecond),
		waits[len(waits)/2].Round(time.Millisecond), interval, lease, len(urls), done.Round(time.Millisecond), pol.MinGap.Round(time.Millisecond))
	require.LessOrEqual(t, waits[len(waits)-1], interval+2*time.Second, "a released host waited longer than the interval + 2 s")
}
