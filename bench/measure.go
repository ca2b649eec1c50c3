package main

// Measurements: the process's CPU time and memory, and politeness as the
// farm saw it.

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// usage is a point in time and the CPU time used until then (or, as
// checkRun returns it, over a span that started at at).
type usage struct {
	cpu time.Duration
	at  time.Time
}

// now returns the current time and the CPU time (user + system) used so far.
func now() usage {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return usage{cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), at: time.Now()}
}

// peakRSS returns the most memory resident at once so far.
func peakRSS() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss << 10
}

// rss returns the current resident set (anonymous and file-backed).
func rss() (total, anon, file int64) {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			total = v << 10
		case "RssAnon:":
			anon = v << 10
		case "RssFile:":
			file = v << 10
		}
	}
	return
}

// mb formats a byte count.
func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

func violations(reqs map[string][]time.Time, interval time.Duration) (int, time.Duration) {
	n, minGap := 0, time.Duration(1<<62)
	for _, ts := range reqs {
		sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
		for i := 1; i < len(ts); i++ {
			g := ts[i].Sub(ts[i-1])
			minGap = min(minGap, g)
			if g < interval {
				n++
			}
		}
	}
	return n, minGap
}
