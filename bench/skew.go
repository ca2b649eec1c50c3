package main

// Workload 2: skew, one host with many URLs among many hosts with few.

import (
	"fmt"
	"strings"
	"time"

	"github.com/linkmonitor/lms"
)

// skew runs workload 2: do the small hosts get their turn while one big
// host has 5,000 URLs due?
func skew(o *options) error {
	const latency = 20 * time.Millisecond
	f, err := startFarm(farmSpec{hosts: 501, latency: latency, first: 3000})
	if err != nil {
		return err
	}
	defer f.stop()
	big := f.Bases[0]
	var urls []string
	for i := range 5000 {
		urls = append(urls, fmt.Sprintf("%s/200/big%d", big, i))
	}
	for _, b := range f.Bases[1:] {
		urls = append(urls, b+"/200/a", b+"/200/b")
	}
	const n, interval = 20, time.Second
	small := func(u string) bool { return !strings.HasPrefix(u, big+"/") }
	elapsed, u, _, err := checkRun(o.checkStore, lms.Config{Concurrency: n, HostInterval: interval}, urls, small, 1000)
	if err != nil {
		return err
	}
	reqs, err := f.dump()
	if err != nil {
		return err
	}
	// As the farm sees it: from the first request to a small host to the
	// last one.
	var t0, lastFirst, lastSecond time.Time
	for h, ts := range reqs {
		if h == big || len(ts) < 2 {
			continue
		}
		if t0.IsZero() || ts[0].Before(t0) {
			t0 = ts[0]
		}
		if ts[0].After(lastFirst) {
			lastFirst = ts[0]
		}
		if ts[1].After(lastSecond) {
			lastSecond = ts[1]
		}
	}
	if o.timeline {
		fmt.Printf("small hosts: first request %v after the engine started, last first request at %v, last second at %v\n",
			t0.Sub(u.at), lastFirst.Sub(t0), lastSecond.Sub(t0))
	}
	hostFloor := interval + latency
	concFloor := 1000 * latency / n
	bound := max(hostFloor, concFloor)
	viol, _ := violations(reqs, interval)
	fmt.Printf("## Workload 2: skew — one host with 5,000 URLs and 500 hosts with 2 URLs each, %v latency\n", latency)
	fmt.Printf("| small hosts done | bound | ratio (target ≤ 1.5) | as the farm sees it (first to last request) | big host requests meanwhile | violations | CPU |\n|---|---|---|---|---|---|---|\n")
	farmSpan := lastSecond.Sub(t0)
	fmt.Printf("| %.2f s | %.2f s | %.2f | %.3f s = %.2f × bound | %d | %d | %.2f s |\n\n", elapsed.Seconds(), bound.Seconds(), elapsed.Seconds()/bound.Seconds(),
		farmSpan.Seconds(), farmSpan.Seconds()/bound.Seconds(), len(reqs[big]), viol, u.cpu.Seconds())
	return nil
}
