package pgstore_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/farm"
	"github.com/linkmonitor/lms/internal/pgtest"
	"github.com/linkmonitor/lms/pgstore"
)

// TestSkewedClocks runs four engines over one database, each with a Store
// of its own (as four processes would), whose clocks are off by −5 min,
// +5 min, −2 s and +2 s, against a loopback farm that records every request
// with the engine's User-Agent. Links are due again every second, holds
// last 2 s, and the engines start and stop in turn, so that every host
// changes hands twice, each time while another engine waits for it. With leases and a host's next allowed time in the
// processes' clocks the +5 min engine would take every host another holds
// at once; in the database's clock: 0 requests closer than the host
// interval, and no host asked by an engine while another one holds it.
func TestSkewedClocks(t *testing.T) {
	const (
		interval = 200 * time.Millisecond
		lease    = 2 * time.Second
		hosts    = 12
		perHost  = 5
	)
	dsn := pgtest.Start(t)
	f, err := farm.Start(hosts, farm.Options{Latency: 10 * time.Millisecond, FirstAddr: 900})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var links []string
	for _, h := range f.Hosts {
		for i := range perHost {
			links = append(links, fmt.Sprintf("%s/200/p%d", h.Base, i))
		}
	}
	skews := []time.Duration{-5 * time.Minute, 5 * time.Minute, -2 * time.Second, 2 * time.Second}
	type proc struct {
		name string
		e    *lms.Engine
		stop context.CancelFunc
		done chan error
	}
	procs := make([]*proc, len(skews))
	for i, skew := range skews {
		now := func() time.Time { return time.Now().Add(skew) }
		st, err := pgstore.Open(bg(), dsn, pgstore.Options{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		name := fmt.Sprintf("p%d", i)
		e, err := lms.New(st, lms.Config{
			AdminSecret: "secret", ProcessID: name, Now: now, Components: lms.RunChecker,
			Concurrency: 4, HostInterval: interval, Lease: lease, ClaimPoll: 20 * time.Millisecond,
			Policy:        lms.Policy{Interval: time.Second, MinRecheck: time.Second, Jitter: -1},
			CheckerConfig: lms.CheckerConfig{AllowPrivate: true, UserAgent: "lms-clock/" + name, Timeout: 5 * time.Second, ConnectTimeout: 2 * time.Second},
		})
		if err != nil {
			t.Fatal(err)
		}
		procs[i] = &proc{name: name, e: e, done: make(chan error, 1)}
	}
	// The −5 min engine registers the links (its Subscribe's now is 5
	// minutes behind: the links are due at once all the same).
	if _, err := procs[0].e.RegisterClient(bg(), "secret", lms.Registration{ID: "c", Password: "password-c", ContactEmail: "c@example.org", CallbackURL: "http://c.example/db"}); err != nil {
		t.Fatal(err)
	}
	if _, err := procs[0].e.RegisterURLs(bg(), "c", links); err != nil {
		t.Fatal(err)
	}
	start := func(p *proc) {
		ctx, cancel := context.WithCancel(context.Background())
		p.stop = cancel
		go func() { p.done <- p.e.Run(ctx) }()
	}
	stopped := map[string]time.Time{}
	stop := func(p *proc) {
		if _, ok := stopped[p.name]; ok || p.stop == nil {
			return
		}
		p.stop()
		select {
		case err := <-p.done:
			if err != nil {
				t.Errorf("%s: Run: %v", p.name, err)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("%s: Run did not return", p.name)
		}
		stopped[p.name] = time.Now()
	}
	defer func() {
		for _, p := range procs {
			stop(p)
		}
	}()
	// p0 (−5 min) takes every host; p1 (+5 min) comes while p0 holds them
	// (in the processes' clocks p0's holds ended 5 minutes ago); p0 stops
	// and p1 takes over; p2 and p3 come while p1 holds them; p1 stops and
	// they take over.
	start(procs[0])
	waitHosts(t, f, time.Now(), "p0")
	start(procs[1])
	waitHosts(t, f, time.Now(), "p0")
	stop(procs[0])
	waitHosts(t, f, time.Now(), "p1")
	start(procs[2])
	start(procs[3])
	waitHosts(t, f, time.Now(), "p1")
	stop(procs[1])
	waitHosts(t, f, time.Now(), "p2", "p3")
	stop(procs[2])
	stop(procs[3])

	agent := func(r farm.Request) string { return strings.TrimPrefix(r.Agent, "lms-clock/") }
	by := map[string]int{}
	stolen, handovers := 0, 0
	for _, h := range f.Hosts {
		rs := h.Requests()
		sort.Slice(rs, func(i, j int) bool { return rs[i].At.Before(rs[j].At) })
		for i, r := range rs {
			by[agent(r)]++
			if i == 0 || agent(rs[i-1]) == agent(r) {
				continue
			}
			handovers++
			// r's engine took the host from the previous one: that one
			// must not ask it again while r's hold lasts.
			for _, later := range rs[i+1:] {
				if later.At.Sub(r.At) >= lease {
					break
				}
				if agent(later) == agent(rs[i-1]) {
					stolen++
					t.Errorf("host %s: %s asked at %v, %v after %s took it over", h.IP, agent(later), later.At.Format("15:04:05.000"), later.At.Sub(r.At), agent(r))
					break
				}
			}
		}
		for _, r := range rs {
			if at, ok := stopped[agent(r)]; ok && r.At.After(at) {
				t.Errorf("host %s: %s asked at %v, after it stopped", h.IP, agent(r), r.At.Format("15:04:05.000"))
			}
		}
	}
	pol := f.Politeness(interval)
	t.Logf("requests by engine %v; hand-overs %d; stolen holds %d; smallest gap %v", by, handovers, stolen, pol.MinGap)
	if pol.Violations != 0 {
		t.Errorf("%d requests closer than %v at a host (smallest gap %v at %s)", pol.Violations, interval, pol.MinGap, pol.MinGapHost)
	}
	if by["p0"] == 0 || by["p1"] == 0 || by["p2"]+by["p3"] == 0 {
		t.Errorf("requests by engine %v: want some from p0, p1 and p2 or p3", by)
	}
	if handovers < 2*hosts {
		t.Errorf("%d hand-overs, want at least %d (two per host)", handovers, 2*hosts)
	}
}

// waitHosts waits until every host of the farm got a request after since
// from one of the engines named.
func waitHosts(t *testing.T, f *farm.Farm, since time.Time, engines ...string) {
	t.Helper()
	missing := 0
	all := func() bool {
		missing = 0
		for _, h := range f.Hosts {
			if !slices.ContainsFunc(h.Requests(), func(r farm.Request) bool {
				return r.At.After(since) && slices.Contains(engines, strings.TrimPrefix(r.Agent, "lms-clock/"))
			}) {
				missing++
			}
		}
		return missing == 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if f.Await(ctx, all) != nil {
		t.Fatalf("%d hosts got no request from %v within 60 s", missing, engines)
	}
}
