package main

// Workload 1: politeness and efficiency.

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/linkmonitor/lms"
)

// politenessWorkload runs workloads 1a (100 hosts) and 1b (1,000 hosts).
func politenessWorkload(o *options) error {
	if err := politeness(o, "1a", 100, 5, 10, 20*time.Millisecond); err != nil {
		return err
	}
	return politeness(o, "1b", 1000, 10, 2, 50*time.Millisecond)
}

// statusFor spreads the answers: 70 % 200, 10 % 301, 10 % 404, 5 % 500, 5 % 503
// (with noRedirects, the 301 pages answer 200).
func statusFor(i int, noRedirects bool) int {
	if noRedirects && (i%20 == 3 || i%20 == 13) {
		return 200
	}
	switch i % 20 {
	case 3, 13:
		return 301
	case 5, 15:
		return 404
	case 7:
		return 500
	case 17:
		return 503
	}
	return 200
}

// pageURLs returns page i of every HTTP host (answers by statusFor) and the
// requests they cost: a 301 costs a second one.
func pageURLs(bases []string, perHost, i int, noRedirects bool) (urls []string, requests int) {
	for h, base := range bases {
		code := statusFor(h*perHost+i, noRedirects)
		urls = append(urls, fmt.Sprintf("%s/%d/p%d", base, code, i))
		requests++
		if code == 301 {
			requests++
		}
	}
	return urls, requests
}

// politeness runs workload name: perHost pages on each of hosts HTTP and
// ftpHosts FTP hosts answering after latency, 20 in flight and one request
// per host per second, and prints the efficiency and the violations the
// farm saw.
func politeness(o *options, name string, hosts, ftpHosts, perHost int, latency time.Duration) error {
	f, err := startFarm(farmSpec{hosts: hosts, ftp: ftpHosts, latency: latency, first: 1000})
	if err != nil {
		return err
	}
	defer f.stop()
	var urls []string
	requests := 0
	for i := range perHost {
		u, r := pageURLs(f.Bases, perHost, i, o.noRedirects)
		urls, requests = append(urls, u...), requests+r
		// FTP: one session per URL; every tenth file is missing (550).
		for h, base := range f.FTPBases {
			code := 200
			if (h*perHost+i)%10 == 9 {
				code = 404
			}
			urls = append(urls, fmt.Sprintf("%s/%d/p%d", base, code, i))
			requests++
		}
	}
	const n, interval = 20, time.Second
	elapsed, u, _, err := checkRun(o.checkStore, lms.Config{Concurrency: n, HostInterval: interval}, urls, func(string) bool { return true }, len(urls))
	if err != nil {
		return err
	}
	reqs, err := f.dump()
	if err != nil {
		return err
	}
	// The busiest host needs (requests-1) intervals plus one answer; all
	// requests need requests×latency/N of the workers.
	maxPerHost := 0
	for _, ts := range reqs {
		maxPerHost = max(maxPerHost, len(ts))
	}
	hostFloor := time.Duration(maxPerHost-1)*interval + latency
	concFloor := time.Duration(requests) * latency / n
	bound := max(hostFloor, concFloor)
	viol, minGap := violations(reqs, interval)
	if o.timeline {
		timeline(reqs)
	}
	fmt.Printf("## Workload %s: %d URLs over %d HTTP and %d FTP hosts, %v latency, %d in flight, %v per host\n", name, len(urls), hosts, ftpHosts, latency, n, interval)
	fmt.Printf("| requests | time | bound (host %v, concurrency %v) | efficiency | violations | min gap | CPU | peak RSS |\n|---|---|---|---|---|---|---|---|\n",
		hostFloor.Round(time.Millisecond), concFloor.Round(time.Millisecond))
	fmt.Printf("| %d | %.2f s | %.2f s | %.3f | %d | %v | %.2f s | %s |\n\n", requests, elapsed.Seconds(), bound.Seconds(),
		bound.Seconds()/elapsed.Seconds(), viol, minGap.Round(time.Millisecond), u.cpu.Seconds(), mb(peakRSS()))
	return nil
}

// timeline prints how many requests started in each 250 ms.
func timeline(reqs map[string][]time.Time) {
	var all []time.Time
	for _, ts := range reqs {
		all = append(all, ts...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Before(all[j]) })
	if len(all) == 0 {
		return
	}
	buckets := map[int]int{}
	last := 0
	for _, t := range all {
		b := int(t.Sub(all[0]) / (250 * time.Millisecond))
		buckets[b]++
		last = max(last, b)
	}
	for b := 0; b <= last; b++ {
		fmt.Printf("%5.2fs %4d %s\n", float64(b)/4, buckets[b], strings.Repeat("#", buckets[b]/2))
	}
}
