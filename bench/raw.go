package main

// Workload 4: raw throughput, politeness off.

import (
	"fmt"

	"github.com/linkmonitor/lms"
)

// raw runs workload 4: checks per second and CPU per check with
// politeness off.
func raw(o *options) error {
	const hosts, perHost = 100, 200
	f, err := startFarm(farmSpec{hosts: hosts, first: 5000})
	if err != nil {
		return err
	}
	defer f.stop()
	var urls []string
	for i := range perHost {
		for _, b := range f.Bases {
			urls = append(urls, fmt.Sprintf("%s/200/p%d", b, i))
		}
	}
	elapsed, u, _, err := checkRun(o.checkStore, lms.Config{Concurrency: 256, Unpaced: true}, urls, func(string) bool { return true }, len(urls))
	if err != nil {
		return err
	}
	fmt.Printf("## Workload 4: politeness off (unpaced, 256 in flight), %d URLs over %d hosts, no latency\n", len(urls), hosts)
	fmt.Printf("| checks/s | CPU per 1,000 checks | time | peak RSS |\n|---|---|---|---|\n")
	fmt.Printf("| %.0f | %.3f s | %.2f s | %s |\n\n", float64(len(urls))/elapsed.Seconds(), u.cpu.Seconds()/float64(len(urls))*1000, elapsed.Seconds(), mb(peakRSS()))
	return nil
}
