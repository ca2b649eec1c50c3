// Command bench measures the whole system against a local host farm, the way
// a user comparing link monitors would. The farm runs in a child process
// (so its CPU and memory are not counted as ours) with one HTTP server per
// loopback address 127.0.x.y, and records every request, so politeness is
// measured from the servers' side.
//
//	go run ./bench                       # every workload (several minutes)
//	go run ./bench -workload politeness  # or skew, scale, raw
//	go run ./bench -workload scale -urls 100000
//	go run ./bench -workload service     # the farm's own service time
//	go run ./bench -workload lmsd        # workload 1b through the lmsd binary
//	go run ./bench -workload scaleout    # 1, 2, 3 lmsd checker processes over PostgreSQL
//	go run ./bench -workload tenmillion -urls 10000000  # 10^7 links in PostgreSQL through lmsd
//	go run ./bench -workload tenmillion -urls 10000000 -load-for 30m  # measured where it got
//
// The workloads are listed in one table (workloads, in this file), one file
// each; the farm child and its line protocol are in farmchild.go, the engine
// run that the checking workloads share in checkrun.go, and the resource and
// politeness measurements in measure.go. The flags are parsed once into
// options, which are passed down; there is no package-level state.
//
// See BENCHMARKS.md for the figures and what limits each of them.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"strings"
	"time"
)

// workload is one entry of the -workload table.
type workload struct {
	name string
	run  func(o *options) error
}

// workloads returns the table, in the order -workload all runs it.
func workloads() []workload {
	return []workload{
		{"politeness", politenessWorkload}, // politeness.go
		{"skew", skew},                     // skew.go
		{"scale", scaleWorkload},           // scale.go
		{"raw", raw},                       // raw.go
		{"service", service},               // service.go
		{"lmsd", viaLmsd},                  // lmsd.go
		{"scaleout", scaleOut},             // scaleout.go
		{"tenmillion", tenMillion},         // tenmillion.go
	}
}

// workloadNames lists the table's names for -workload.
func workloadNames(table []workload) string {
	var names []string
	for _, w := range table {
		names = append(names, w.name)
	}
	return strings.Join(names, ", ") + " or all"
}

// options are the command's flags and environment, read once in main.
type options struct {
	// workload is a name from the table, or "all".
	workload string
	// urls is the number of URLs of the scale workload.
	urls int
	// loadFor stops the tenmillion workload's registration after this long
	// (0: when all urls are in); what it reached is measured.
	loadFor time.Duration
	// stores are the scale workload's stores, comma-separated.
	stores string
	// checkStore is the store of the politeness, skew and raw workloads:
	// memory or bolt.
	checkStore string
	// farmChild makes this process the farm child (farmchild.go) with farm.
	farmChild bool
	farm      farmSpec
	// noRedirects ($LMS_BENCH_NO_REDIRECTS) turns workload 1's 301 pages
	// into 200 pages.
	noRedirects bool
	// timeline ($LMS_BENCH_TIMELINE) prints when the requests started.
	timeline bool
	// pgStatements ($LMS_BENCH_PG_STATEMENTS) makes the tenmillion
	// workload print PostgreSQL's statements by time (pg_stat_statements).
	pgStatements bool
}

// parseFlags reads the flags (args without the program name) and the
// environment. On a bad flag it prints the usage and exits, as the flag
// package does.
func parseFlags(args []string, getenv func(string) string) *options {
	o := &options{}
	fs := flag.NewFlagSet(os.Args[0], flag.ExitOnError)
	fs.StringVar(&o.workload, "workload", "all", workloadNames(workloads()))
	fs.IntVar(&o.urls, "urls", 1_000_000, "URLs for the scale workload")
	fs.DurationVar(&o.loadFor, "load-for", 0, "tenmillion: stop registering after this long and measure at the size reached (0: no limit; so does an interrupt)")
	fs.StringVar(&o.stores, "stores", "memory,bolt", "stores for the scale workload")
	fs.StringVar(&o.checkStore, "check-store", "memory", "store for the politeness, skew and raw workloads: memory or bolt")
	fs.BoolVar(&o.farmChild, "farm-child", false, "internal: run the host farm")
	fs.IntVar(&o.farm.hosts, "hosts", 0, "internal: farm size")
	fs.IntVar(&o.farm.ftp, "ftp", 0, "internal: FTP hosts in the farm")
	fs.DurationVar(&o.farm.latency, "latency", 0, "internal: farm latency")
	fs.IntVar(&o.farm.first, "first", 0, "internal: first farm address")
	_ = fs.Parse(args) // ExitOnError
	o.noRedirects = getenv("LMS_BENCH_NO_REDIRECTS") != ""
	o.timeline = getenv("LMS_BENCH_TIMELINE") != ""
	o.pgStatements = getenv("LMS_BENCH_PG_STATEMENTS") != ""
	return o
}

func main() {
	o := parseFlags(os.Args[1:], os.Getenv)
	log.SetFlags(0)
	if o.farmChild {
		runFarm(o.farm)
		return
	}
	table := workloads()
	known := o.workload == "all"
	for _, w := range table {
		known = known || w.name == o.workload
	}
	if !known {
		log.Fatalf("-workload %q: want %s", o.workload, workloadNames(table))
	}
	fmt.Printf("# lms system benchmark, %s, %d CPUs, %s\n\n", runtime.Version(), runtime.NumCPU(), time.Now().UTC().Format(time.RFC3339))
	for _, w := range table {
		if o.workload != w.name && (o.workload != "all" || w.name == "tenmillion") {
			continue // tenmillion (tens of minutes, gigabytes) only by name
		}
		if err := w.run(o); err != nil {
			log.Fatalf("%s: %v", w.name, err)
		}
	}
}
