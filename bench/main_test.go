package main

import (
	"testing"
	"time"
)

// The parent starts the farm child with farmSpec.args; the child must parse
// them back into the same spec.
func TestFarmSpecRoundTrip(t *testing.T) {
	want := farmSpec{hosts: 1000, ftp: 10, latency: 50 * time.Millisecond, first: 1000}
	o := parseFlags(want.args(), func(string) string { return "" })
	if !o.farmChild {
		t.Fatalf("args %v: not a farm child", want.args())
	}
	if o.farm != want {
		t.Fatalf("args %v parse to %+v, want %+v", want.args(), o.farm, want)
	}
}

func TestParseFlagsDefaultsAndEnvironment(t *testing.T) {
	o := parseFlags(nil, func(string) string { return "" })
	if o.workload != "all" || o.urls != 1_000_000 || o.stores != "memory,bolt" || o.checkStore != "memory" || o.farmChild || o.noRedirects || o.timeline {
		t.Fatalf("defaults: %+v", o)
	}
	env := map[string]string{"LMS_BENCH_NO_REDIRECTS": "1", "LMS_BENCH_TIMELINE": "1"}
	o = parseFlags([]string{"-workload", "skew", "-check-store", "bolt"}, func(k string) string { return env[k] })
	if o.workload != "skew" || o.checkStore != "bolt" || !o.noRedirects || !o.timeline {
		t.Fatalf("flags and environment: %+v", o)
	}
}

func TestWorkloadTable(t *testing.T) {
	if got, want := workloadNames(workloads()), "politeness, skew, scale, raw, service, lmsd, scaleout, tenmillion or all"; got != want {
		t.Fatalf("workload names %q, want %q", got, want)
	}
}

// Workload 1's answers: 70 % 200, 10 % 301, 10 % 404, 5 % 500, 5 % 503; a
// 301 costs two requests; without redirects the 301s answer 200.
func TestPageMix(t *testing.T) {
	for _, noRedirects := range []bool{false, true} {
		got := map[int]int{}
		for i := range 2000 {
			got[statusFor(i, noRedirects)]++
		}
		want := map[int]int{200: 1400, 301: 200, 404: 200, 500: 100, 503: 100}
		if noRedirects {
			want = map[int]int{200: 1600, 404: 200, 500: 100, 503: 100}
		}
		if len(got) != len(want) {
			t.Fatalf("noRedirects=%v: %v, want %v", noRedirects, got, want)
		}
		for code, n := range want {
			if got[code] != n {
				t.Fatalf("noRedirects=%v: %v, want %v", noRedirects, got, want)
			}
		}
	}
	bases := []string{"http://127.0.0.2:1", "http://127.0.0.3:1", "http://127.0.0.4:1", "http://127.0.0.5:1"}
	urls, requests := pageURLs(bases, 1, 0, false) // pages 0…3: 200, 200, 200, 301
	if len(urls) != 4 || requests != 5 || urls[3] != "http://127.0.0.5:1/301/p0" {
		t.Fatalf("pageURLs: %v, %d requests", urls, requests)
	}
}
