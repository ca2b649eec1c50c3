package main

// The farm's service time: what the targets' bounds leave out.

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// service measures how long one request to a fresh farm host takes from a
// bare net/http client (no lms code), 20 in flight, and derives the best
// times workloads 1b and 2 could reach on this machine: the bounds assume
// a request costs exactly the farm's latency.
func service(*options) error {
	const n = 20
	fmt.Printf("## Service time of the farm (bare net/http client, %d in flight, one request per host)\n", n)
	fmt.Printf("| latency | requests | mean time per request | best possible |\n|---|---|---|---|\n")
	for _, c := range []struct {
		hosts   int
		latency time.Duration
	}{{500, 20 * time.Millisecond}, {1000, 50 * time.Millisecond}} {
		f, err := startFarm(farmSpec{hosts: c.hosts, latency: c.latency, first: 7000})
		if err != nil {
			return err
		}
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
		work := make(chan string)
		var wg sync.WaitGroup
		var total atomic.Int64
		start := time.Now()
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for u := range work {
					t := time.Now()
					if resp, err := hc.Get(u); err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
					total.Add(int64(time.Since(t)))
				}
			}()
		}
		for _, b := range f.Bases {
			work <- b + "/200/x"
		}
		close(work)
		wg.Wait()
		elapsed := time.Since(start)
		f.stop()
		per := time.Duration(total.Load() / int64(c.hosts))
		// One interval (plus the pacer's 2 ms) after each first answer.
		const gap = time.Second + 2*time.Millisecond
		var best string
		if c.hosts == 500 {
			// Workload 2: 500 first requests, then each host's second one
			// interval after its first answer.
			t := time.Duration(c.hosts)*per/n + gap + per
			best = fmt.Sprintf("workload 2: %.2f s = %.2f × its bound 1.02 s", t.Seconds(), t.Seconds()/1.02)
		} else {
			// Workload 1b without knowing which pages redirect: 2,020 first
			// requests (2,000 HTTP, 20 FTP), and one of the last answered is
			// a 301 that needs a second request one interval later. Its bound
			// counts 2,220 requests of 50 ms on 20 workers: 5.55 s.
			t := 2020*per/n + gap + per
			best = fmt.Sprintf("workload 1b: %.2f s = efficiency %.3f of its bound 5.55 s", t.Seconds(), 5.55/t.Seconds())
		}
		fmt.Printf("| %v | %d in %.3f s | %.2f ms | %s |\n", c.latency, c.hosts, elapsed.Seconds(), float64(per)/1e6, best)
	}
	fmt.Println()
	return nil
}
