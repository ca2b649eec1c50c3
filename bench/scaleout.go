package main

// Workload 6: scale-out, 1, 2 and 3 checker processes of lmsd over one
// PostgreSQL database.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/linkmonitor/lms/internal/lmsdproc"
	"github.com/linkmonitor/lms/internal/pgtest"
)

// scaleOutSpec is the workload: hosts farm hosts with one URL each,
// answering after latency, checked by processes of concurrency requests
// in flight each.
type scaleOutSpec struct {
	hosts       int
	latency     time.Duration
	concurrency int
}

// scaleOutResult is one run.
type scaleOutResult struct {
	checkers   int
	span       time.Duration // first request to last answer
	steady     float64       // requests per second between the 10th and the 90th percentile request
	tail       time.Duration // the 90th percentile request to the last answer
	first      time.Duration // registerURLs → first request
	violations int
	minGap     time.Duration
	lmsdCPU    time.Duration // the API process and the checkers
	apiCPU     time.Duration // the API process (it registers the URLs)
	pgCPU      time.Duration
	farmCPU    time.Duration
	busy       float64 // the machine's CPUs busy, 0..1 (all processes, ours or not)
}

// scaleOut runs the workload with 1, 2 and 3 checker processes (and one
// API-only process registering the URLs), each run on a fresh database of
// one durable PostgreSQL server and the same farm child, and prints the
// rates and what the processes cost (in all and per URL checked). With
// $LMS_BENCH_PG_STATEMENTS (options.pgStatements) it also prints
// PostgreSQL's statements of the three-checker run by time, per URL.
func scaleOut(o *options) error {
	spec := scaleOutSpec{hosts: 3000, latency: 200 * time.Millisecond, concurrency: 20}
	dir, err := os.MkdirTemp("", "lms-bench-scaleout-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := lmsdproc.Build(context.Background(), dir)
	if err != nil {
		return err
	}
	var settings []string
	if o.pgStatements {
		settings = append(settings, "shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=all")
	}
	srv, err := pgtest.Launch(pgtest.Config{Durable: true, Settings: settings})
	if err != nil {
		return err
	}
	defer srv.Close()
	f, err := startFarm(farmSpec{hosts: spec.hosts, latency: spec.latency, first: 2000})
	if err != nil {
		return err
	}
	defer f.stop()
	fmt.Printf("## Workload 6: scale-out over PostgreSQL (%d hosts × 1 URL, %v latency, concurrency %d per checker process, durable PostgreSQL on the same machine)\n",
		spec.hosts, spec.latency, spec.concurrency)
	fmt.Printf("load average at the start: %s\n\n", loadAvg())
	fmt.Printf("| checker processes | first request after registerURLs | first request to last answer | rate | speed-up | bound | steady rate (10th–90th percentile) | last 10 %% | violations | min gap | CPU: lmsd (API + checkers) / PostgreSQL / farm | CPU per URL: checkers / PostgreSQL / farm | machine busy |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	var base float64
	var stmts func() error
	for n := 1; n <= 3; n++ {
		r, err := scaleOutRun(bin, dir, srv, f, spec, n, o.pgStatements && n == 3, &stmts)
		if err != nil {
			return fmt.Errorf("%d checkers: %w", n, err)
		}
		rate := float64(spec.hosts) / r.span.Seconds()
		if n == 1 {
			base = rate
		}
		bound := float64(n*spec.concurrency) / spec.latency.Seconds()
		gap := "—"
		if r.minGap > 0 {
			gap = r.minGap.Round(time.Millisecond).String()
		}
		per := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(spec.hosts) }
		fmt.Printf("| %d | %v | %.2f s | %.0f URLs/s | %.2f× | %.0f URLs/s | %.0f URLs/s | %.2f s | %d | %s | %.1f (%.1f + %.1f) / %.1f / %.1f s | %.2f / %.2f / %.2f ms | %.0f %% |\n",
			n, r.first.Round(time.Millisecond), r.span.Seconds(), rate, rate/base, bound, r.steady, r.tail.Seconds(), r.violations, gap,
			r.lmsdCPU.Seconds(), r.apiCPU.Seconds(), (r.lmsdCPU - r.apiCPU).Seconds(), r.pgCPU.Seconds(), r.farmCPU.Seconds(),
			per(r.lmsdCPU-r.apiCPU), per(r.pgCPU), per(r.farmCPU), 100*r.busy)
	}
	fmt.Printf("\nload average at the end: %s\n", loadAvg())
	if stmts != nil {
		// PostgreSQL's statements of the run with three checkers, per URL.
		if err := stmts(); err != nil {
			return err
		}
	}
	fmt.Println()
	return nil
}

// scaleOutRun is one run with n checker processes. With statements, it
// resets pg_stat_statements before registering the URLs and sets *print to
// print the run's statements, per URL.
func scaleOutRun(bin, dir string, srv *pgtest.Server, f *farmProc, spec scaleOutSpec, n int, statements bool, print *func() error) (scaleOutResult, error) {
	r := scaleOutResult{checkers: n}
	dsn, err := srv.NewDatabase(fmt.Sprintf("scaleout%d", n))
	if err != nil {
		return r, err
	}
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			if p.ProcessState == nil {
				_ = p.Process.Kill()
				_ = p.Wait()
			}
		}
	}()
	start := func(name string, args ...string) (string, error) {
		ready := filepath.Join(dir, fmt.Sprintf("ready-%d-%s", n, name))
		cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0", "-ready-file", ready, "-store", "postgres", "-dsn", dsn,
			"-admin-secret", "bench", "-allow-private", "-mail-dir", filepath.Join(dir, "mail"), "-log-level", "warn",
			"-process-id", name}, args...)...)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return "", err
		}
		procs = append(procs, cmd)
		return ready, nil
	}
	readies := []string{}
	ready, err := start("api", "-components", "none")
	if err != nil {
		return r, err
	}
	readies = append(readies, ready)
	for i := range n {
		ready, err := start(fmt.Sprintf("checker%d", i), "-components", "checker", "-concurrency", strconv.Itoa(spec.concurrency))
		if err != nil {
			return r, err
		}
		readies = append(readies, ready)
	}
	var api string
	for _, ready := range readies {
		addr, err := lmsdproc.WaitReady(ready, 30*time.Second)
		if err != nil {
			return r, err
		}
		if api == "" {
			api = "http://" + addr + "/"
		}
	}
	call := func(method string, params ...any) error {
		_, err := lmsdproc.Call(context.Background(), nil, api, method, params...)
		return err
	}
	if err := call("registerClient", "bench", "site", "http://127.0.0.1:9/", "Bench", "bench@example.org", "bench-password"); err != nil {
		return r, err
	}
	var urls []any
	for _, b := range f.Bases[:spec.hosts] {
		urls = append(urls, fmt.Sprintf("%s/200/run%d", b, n))
	}
	if statements {
		if err := pgStatements(context.Background(), dsn, 0, ""); err != nil {
			return r, err
		}
		*print = func() error { return pgStatements(context.Background(), dsn, spec.hosts, "URL") }
	}
	pgCPU0, err := srv.CPUTime()
	if err != nil {
		return r, err
	}
	farmCPU0, _ := procCPU(f.cmd.Process.Pid)
	busy0, total0 := machineCPU()
	t0 := time.Now()
	for i := 0; i < len(urls); i += 1000 {
		if err := call("registerURLs", "site", "bench-password", urls[i:min(i+1000, len(urls))]); err != nil {
			return r, err
		}
	}
	// The run's requests: those since t0 (the farm is shared by the runs,
	// each on paths of its own).
	var reqs map[string][]time.Time
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(250 * time.Millisecond) {
		if time.Now().After(deadline) {
			return r, errors.New("timed out")
		}
		all, err := f.dump()
		if err != nil {
			return r, err
		}
		reqs = map[string][]time.Time{}
		got := 0
		for h, ts := range all {
			for _, t := range ts {
				if !t.Before(t0) {
					reqs[h] = append(reqs[h], t)
					got++
				}
			}
		}
		if got >= len(urls) {
			break
		}
	}
	busy1, total1 := machineCPU()
	pgCPU1, _ := srv.CPUTime()
	farmCPU1, _ := procCPU(f.cmd.Process.Pid)
	for i, p := range procs {
		c, _ := procCPU(p.Process.Pid)
		r.lmsdCPU += c
		if i == 0 {
			r.apiCPU = c
		}
	}
	var all []time.Time
	for _, ts := range reqs {
		all = append(all, ts...)
	}
	slices.SortFunc(all, func(a, b time.Time) int { return a.Compare(b) })
	first, last := all[0], all[len(all)-1]
	r.first, r.span = first.Sub(t0), last.Sub(first)+spec.latency
	p10, p90 := len(all)/10, len(all)*9/10
	r.steady = float64(p90-p10) / all[p90].Sub(all[p10]).Seconds()
	r.tail = last.Sub(all[p90]) + spec.latency
	r.violations, r.minGap = violations(reqs, time.Second)
	if r.minGap == time.Duration(1<<62) {
		r.minGap = 0 // one request per host
	}
	r.pgCPU, r.farmCPU = pgCPU1-pgCPU0, farmCPU1-farmCPU0
	if total1 > total0 {
		r.busy = float64(busy1-busy0) / float64(total1-total0)
	}
	for _, p := range procs {
		_ = p.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range procs {
		if err := p.Wait(); err != nil {
			return r, fmt.Errorf("lmsd on SIGTERM: %w", err)
		}
	}
	return r, nil
}

// loadAvg returns the machine's load averages over 1, 5 and 15 minutes.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// procCPU returns the process's user and system time so far (Linux
// /proc; the kernel counts in ticks of 1/100 s).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	u, _ := strconv.ParseInt(f[11], 10, 64) // utime, field 14
	s, _ := strconv.ParseInt(f[12], 10, 64) // stime, field 15
	return time.Duration(u+s) * 10 * time.Millisecond, nil
}

// machineCPU returns the machine's busy and total CPU ticks so far (the
// first line of /proc/stat; busy is all but idle and iowait).
func machineCPU() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	for i, v := range strings.Fields(line)[1:] {
		if i == 8 {
			break // guest time is counted in user time already
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}
