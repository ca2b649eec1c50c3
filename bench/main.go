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
//
// See BENCHMARKS.md for the figures and what limits each of them.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/boltstore"
	"github.com/linkmonitor/lms/internal/farm"
	"github.com/linkmonitor/lms/memstore"
	"github.com/linkmonitor/lms/xmlrpcapi"
)

func main() {
	workload := flag.String("workload", "all", "politeness, skew, scale, raw, service, lmsd or all")
	urls := flag.Int("urls", 1_000_000, "URLs for the scale workload")
	stores := flag.String("stores", "memory,bolt", "stores for the scale workload")
	flag.StringVar(&checkStore, "check-store", "memory", "store for the politeness, skew and raw workloads: memory or bolt")
	child := flag.Bool("farm-child", false, "internal: run the host farm")
	hosts := flag.Int("hosts", 0, "internal: farm size")
	ftpHosts := flag.Int("ftp", 0, "internal: FTP hosts in the farm")
	latency := flag.Duration("latency", 0, "internal: farm latency")
	first := flag.Int("first", 0, "internal: first farm address")
	flag.Parse()
	log.SetFlags(0)
	if *child {
		runFarm(*hosts, *ftpHosts, *latency, *first)
		return
	}
	run := func(name string, fn func() error) {
		if *workload != "all" && *workload != name {
			return
		}
		if err := fn(); err != nil {
			log.Fatalf("%s: %v", name, err)
		}
	}
	fmt.Printf("# lms system benchmark, %s, %d CPUs, %s\n\n", runtime.Version(), runtime.NumCPU(), time.Now().UTC().Format(time.RFC3339))
	run("politeness", func() error {
		if err := politeness("1a", 100, 5, 10, 20*time.Millisecond); err != nil {
			return err
		}
		return politeness("1b", 1000, 10, 2, 50*time.Millisecond)
	})
	run("skew", skew)
	run("scale", func() error {
		for _, st := range strings.Split(*stores, ",") {
			if err := scale(st, *urls); err != nil {
				return err
			}
		}
		return nil
	})
	run("raw", raw)
	run("service", service)
	run("lmsd", viaLmsd)
}

// ---- the farm child ----

func runFarm(n, ftpHosts int, latency time.Duration, first int) {
	f, err := farm.Start(n, farm.Options{Latency: latency, FirstAddr: first, FTP: ftpHosts})
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	var bases struct{ HTTP, FTP []string }
	for _, h := range f.Hosts {
		bases.HTTP = append(bases.HTTP, h.Base)
	}
	for _, h := range f.FTPHosts {
		bases.FTP = append(bases.FTP, h.Base)
	}
	b, _ := json.Marshal(bases)
	fmt.Printf("READY %s\n", b)
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if sc.Text() == "DUMP" {
			out := make(map[string][]int64, len(f.Hosts))
			for _, h := range slices.Concat(f.Hosts, f.FTPHosts) {
				for _, r := range h.Requests() {
					out[h.Base] = append(out[h.Base], r.At.UnixNano())
				}
			}
			b, _ := json.Marshal(out)
			fmt.Printf("DUMP %s\n", b)
		}
	}
}

// farmProc is the parent's handle on the farm child.
type farmProc struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Reader
	Bases []string // HTTP hosts
	// FTPBases are the FTP hosts: /200/p0 … /200/p999 exist.
	FTPBases []string
}

func startFarm(hosts, ftpHosts int, latency time.Duration, first int) (*farmProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-farm-child", "-hosts", strconv.Itoa(hosts), "-ftp", strconv.Itoa(ftpHosts), "-latency", latency.String(), "-first", strconv.Itoa(first))
	in, _ := cmd.StdinPipe()
	outp, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &farmProc{cmd: cmd, in: in, out: bufio.NewReaderSize(outp, 1<<20)}
	line, err := p.out.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "READY ") {
		return nil, fmt.Errorf("farm did not start: %q %v", line, err)
	}
	var bases struct{ HTTP, FTP []string }
	err = json.Unmarshal([]byte(line[len("READY "):]), &bases)
	p.Bases, p.FTPBases = bases.HTTP, bases.FTP
	return p, err
}

// dump returns every host's request times.
func (p *farmProc) dump() (map[string][]time.Time, error) {
	if _, err := io.WriteString(p.in, "DUMP\n"); err != nil {
		return nil, err
	}
	line, err := p.out.ReadString('\n')
	if err != nil {
		return nil, err
	}
	var raw map[string][]int64
	if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "DUMP ")), &raw); err != nil {
		return nil, err
	}
	out := make(map[string][]time.Time, len(raw))
	for h, ns := range raw {
		for _, n := range ns {
			out[h] = append(out[h], time.Unix(0, n))
		}
	}
	return out, nil
}

func (p *farmProc) stop() {
	_ = p.in.Close()
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}

// violations counts gaps shorter than interval, and returns the smallest gap.
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

// ---- measurement helpers ----

type usage struct {
	cpu time.Duration
	at  time.Time
}

func now() usage {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return usage{cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), at: time.Now()}
}

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

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

// checkStore is the store of the checking workloads (a flag).
var checkStore = "memory"

func openCheckStore() (lms.Store, func(), error) {
	if checkStore != "bolt" {
		return memstore.New(), func() {}, nil
	}
	dir, err := os.MkdirTemp("", "lms-bench-")
	if err != nil {
		return nil, nil, err
	}
	s, err := boltstore.Open(filepath.Join(dir, "lms.db"), boltstore.Options{})
	if err != nil {
		return nil, nil, err
	}
	return s, func() { _ = s.Close(); _ = os.RemoveAll(dir) }, nil
}

// counting wraps a checker and signals when want URLs (those matching
// count) have been checked.
type counting struct {
	inner lms.Checker
	count func(string) bool
	want  int64
	n     atomic.Int64
	done  chan time.Time
}

func (c *counting) Check(ctx context.Context, u string) lms.Result {
	r := c.inner.Check(ctx, u)
	if ctx.Err() == nil && c.count(u) && c.n.Add(1) == c.want {
		c.done <- time.Now()
	}
	return r
}

// statusFor spreads the answers: 70 % 200, 10 % 301, 10 % 404, 5 % 500, 5 % 503.
func statusFor(i int) int {
	if os.Getenv("LMS_BENCH_NO_REDIRECTS") != "" && (i%20 == 3 || i%20 == 13) {
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
func pageURLs(bases []string, perHost, i int) (urls []string, requests int) {
	for h, base := range bases {
		code := statusFor(h*perHost + i)
		urls = append(urls, fmt.Sprintf("%s/%d/p%d", base, code, i))
		requests++
		if code == 301 {
			requests++
		}
	}
	return urls, requests
}

// checkRun registers urls, runs an engine until the counted URLs are checked,
// and returns the elapsed time and resources.
func checkRun(cfg lms.Config, urls []string, count func(string) bool, want int) (time.Duration, usage, *lms.Engine, error) {
	st, closeStore, err := openCheckStore()
	if err != nil {
		return 0, usage{}, nil, err
	}
	defer closeStore()
	cfg.AdminSecret = "bench"
	cfg.Components = lms.RunChecker
	cfg.CheckerConfig.AllowPrivate = true
	cfg.OutageMinHosts = -1
	c := &counting{inner: lms.NewDefaultChecker(cfg.CheckerConfig), count: count, want: int64(want), done: make(chan time.Time, 1)}
	cfg.Checker = c
	e, err := lms.New(st, cfg)
	if err != nil {
		return 0, usage{}, nil, err
	}
	ctx := context.Background()
	if _, err := e.RegisterClient(ctx, "bench", lms.Registration{ID: "site", ContactEmail: "a@example.org", CallbackURL: "http://example.org/"}); err != nil {
		return 0, usage{}, nil, err
	}
	for i := 0; i < len(urls); i += 1000 {
		if _, err := e.RegisterURLs(ctx, "site", urls[i:min(i+1000, len(urls))]); err != nil {
			return 0, usage{}, nil, err
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	start := now()
	done := make(chan error, 1)
	go func() { done <- e.Run(runCtx) }()
	var end time.Time
	select {
	case end = <-c.done:
	case <-time.After(10 * time.Minute):
		cancel()
		return 0, usage{}, nil, errors.New("timed out")
	}
	used := now()
	cancel()
	<-done
	return end.Sub(start.at), usage{cpu: used.cpu - start.cpu, at: start.at}, e, nil
}

// ---- workload 1: politeness and efficiency ----

func politeness(name string, hosts, ftpHosts, perHost int, latency time.Duration) error {
	f, err := startFarm(hosts, ftpHosts, latency, 1000)
	if err != nil {
		return err
	}
	defer f.stop()
	var urls []string
	requests := 0
	for i := range perHost {
		u, r := pageURLs(f.Bases, perHost, i)
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
	elapsed, u, _, err := checkRun(lms.Config{Concurrency: n, HostInterval: interval}, urls, func(string) bool { return true }, len(urls))
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
	if os.Getenv("LMS_BENCH_TIMELINE") != "" {
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

// ---- workload 2: skew ----

func skew() error {
	const latency = 20 * time.Millisecond
	f, err := startFarm(501, 0, latency, 3000)
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
	elapsed, u, _, err := checkRun(lms.Config{Concurrency: n, HostInterval: interval}, urls, small, 1000)
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
	if os.Getenv("LMS_BENCH_TIMELINE") != "" {
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

// ---- workload 3: scale ----

func scale(store string, total int) error {
	const clients, hosts = 1000, 10_000
	perClient := total / clients
	runtime.GC()
	debug.FreeOSMemory()
	rss0, _, _ := rss()
	var st lms.Store
	dbPath := ""
	switch store {
	case "memory":
		st = memstore.New()
	case "bolt":
		dir, err := os.MkdirTemp("", "lms-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dbPath = filepath.Join(dir, "lms.db")
		bs, err := boltstore.Open(dbPath, boltstore.Options{})
		if err != nil {
			return err
		}
		st = bs
	}
	defer st.Close()
	e, err := lms.New(st, lms.Config{AdminSecret: "bench", Components: lms.RunChecker})
	if err != nil {
		return err
	}
	srv := httptest.NewServer(xmlrpcapi.NewServer(e, xmlrpcapi.ServerConfig{}))
	defer srv.Close()
	ctx := context.Background()
	pws := make([]string, clients)
	for c := range clients {
		pw, err := e.RegisterClient(ctx, "bench", lms.Registration{ID: fmt.Sprintf("client%04d", c), ContactEmail: "a@example.org", CallbackURL: "http://example.org/"})
		if err != nil {
			return err
		}
		pws[c] = pw
	}
	// Each client registers its links in batches of 1,000 through XML-RPC,
	// 8 clients at a time.
	const batch, workers = 1000, 8
	type job struct{ c, from int }
	jobs := make(chan job)
	var wg sync.WaitGroup
	var failed atomic.Value
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	var peak, peakAnon, peakFile atomic.Int64
	sampling := make(chan struct{})
	go func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-sampling:
				return
			case <-t.C:
				r, a, f := rss()
				for _, m := range []struct {
					v   int64
					max *atomic.Int64
				}{{r, &peak}, {a, &peakAnon}, {f, &peakFile}} {
					if m.v > m.max.Load() {
						m.max.Store(m.v)
					}
				}
			}
		}
	}()
	start := now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				urls := make([]any, 0, batch)
				for i := j.from; i < min(j.from+batch, perClient); i++ {
					n := j.c*perClient + i
					urls = append(urls, fmt.Sprintf("http://h%05d.example.org/c%04d/page-%07d.html", n%hosts, j.c, n))
				}
				body, _ := xmlrpcapi.EncodeCall("registerURLs", fmt.Sprintf("client%04d", j.c), pws[j.c], urls)
				resp, err := hc.Post(srv.URL+"/RPC2", "text/xml", bytes.NewReader(body))
				if err != nil {
					failed.Store(err)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Store(fmt.Errorf("status %d", resp.StatusCode))
				}
			}
		}()
	}
	for c := range clients {
		for from := 0; from < perClient; from += batch {
			jobs <- job{c, from}
		}
	}
	close(jobs)
	wg.Wait()
	end := now()
	close(sampling)
	if err, _ := failed.Load().(error); err != nil {
		return err
	}
	counts, err := st.LinkCounts(ctx)
	if err != nil {
		return err
	}
	n := counts.Total()
	elapsed := end.at.Sub(start.at)
	srv.Close()
	hc.CloseIdleConnections()
	runtime.GC()
	debug.FreeOSMemory()
	rss1, anon1, file1 := rss()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	// The scheduler's cost: claim 1,000 due links (every link is due).
	var claimCost time.Duration
	const claims = 20
	for i := range claims {
		t := time.Now()
		ls, err := st.ClaimDue(ctx, time.Now().Add(time.Duration(i)*time.Hour), lms.ClaimOptions{Limit: 1000, PerHost: 3, Lease: time.Nanosecond})
		if err != nil {
			return err
		}
		if len(ls) != 1000 {
			return fmt.Errorf("claimed %d", len(ls))
		}
		claimCost += time.Since(t)
	}
	size := int64(0)
	if dbPath != "" {
		if fi, err := os.Stat(dbPath); err == nil {
			size = fi.Size()
		}
	}
	fmt.Printf("## Workload 3: scale — %d URLs over %d clients and %d hosts, store %s\n", n, clients, hosts, store)
	fmt.Printf("| registration through XML-RPC | CPU | peak RSS while registering (anon, file) | RSS after (anon + file) | RSS per URL | Go heap per URL | bolt file | ClaimDue(1000) |\n|---|---|---|---|---|---|---|---|\n")
	fileCol := "—"
	if size > 0 {
		fileCol = mb(size)
	}
	fmt.Printf("| %.0f URLs/s (%.1f s) | %.1f s | %s (%s, %s) | %s (%s + %s) | %.0f B | %.0f B | %s | %v |\n\n",
		float64(n)/elapsed.Seconds(), elapsed.Seconds(), (end.cpu - start.cpu).Seconds(), mb(peak.Load()), mb(peakAnon.Load()), mb(peakFile.Load()), mb(rss1), mb(anon1), mb(file1),
		float64(rss1-rss0)/float64(n), float64(ms.HeapInuse)/float64(n), fileCol, (claimCost / claims).Round(time.Microsecond))
	return nil
}

// ---- workload 4: raw throughput ----

func raw() error {
	const hosts, perHost = 100, 200
	f, err := startFarm(hosts, 0, 0, 5000)
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
	elapsed, u, _, err := checkRun(lms.Config{Concurrency: 256, Unpaced: true}, urls, func(string) bool { return true }, len(urls))
	if err != nil {
		return err
	}
	fmt.Printf("## Workload 4: politeness off (unpaced, 256 in flight), %d URLs over %d hosts, no latency\n", len(urls), hosts)
	fmt.Printf("| checks/s | CPU per 1,000 checks | time | peak RSS |\n|---|---|---|---|\n")
	fmt.Printf("| %.0f | %.3f s | %.2f s | %s |\n\n", float64(len(urls))/elapsed.Seconds(), u.cpu.Seconds()/float64(len(urls))*1000, elapsed.Seconds(), mb(peakRSS()))
	return nil
}

// ---- the farm's service time: what the targets' bounds leave out ----

// service measures how long one request to a fresh farm host takes from a
// bare net/http client (no lms code), 20 in flight, and derives the best
// times workloads 1b and 2 could reach on this machine: the bounds assume
// a request costs exactly the farm's latency.
func service() error {
	const n = 20
	fmt.Printf("## Service time of the farm (bare net/http client, %d in flight, one request per host)\n", n)
	fmt.Printf("| latency | requests | mean time per request | best possible |\n|---|---|---|---|\n")
	for _, c := range []struct {
		hosts   int
		latency time.Duration
	}{{500, 20 * time.Millisecond}, {1000, 50 * time.Millisecond}} {
		f, err := startFarm(c.hosts, 0, c.latency, 7000)
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

// ---- workload 1b through the reference server ----

// viaLmsd runs workload 1b the way an outside user would: it builds and
// starts examples/lmsd (bolt store, default politeness), registers a client
// and the URLs over XML-RPC, and measures from the farm's side; a loopback
// XML-RPC receiver counts the state changes lmsd pushes back.
func viaLmsd() error {
	const hosts, perHost, latency, n = 1000, 2, 50 * time.Millisecond, 20
	dir, err := os.MkdirTemp("", "lms-bench-lmsd-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "lmsd")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/linkmonitor/lms/examples/lmsd").CombinedOutput(); err != nil {
		return fmt.Errorf("building lmsd: %v\n%s", err, out)
	}
	f, err := startFarm(hosts, 0, latency, 1000)
	if err != nil {
		return err
	}
	defer f.stop()
	var notified atomic.Int64
	var lastNotified atomic.Int64
	ok, _ := xmlrpcapi.EncodeResponse(true)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if method, params, err := xmlrpcapi.DecodeCall(r.Body, xmlrpcapi.Limits{}); err == nil && method == "updateManyStates" && len(params) == 3 {
			if states, isArray := params[2].([]any); isArray {
				notified.Add(int64(len(states)))
				lastNotified.Store(time.Now().UnixNano())
			}
		}
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write(ok)
	}))
	defer cb.Close()
	ready := filepath.Join(dir, "ready")
	srv := exec.Command(bin, "-addr", "127.0.0.1:0", "-ready-file", ready, "-db", filepath.Join(dir, "lms.db"),
		"-admin-secret", "bench", "-allow-private", "-mail-dir", filepath.Join(dir, "mail"), "-log-level", "error",
		"-notify-interval", "2s")
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() {
		_ = srv.Process.Signal(syscall.SIGTERM)
		_ = srv.Wait()
	}()
	var addr string
	for deadline := time.Now().Add(30 * time.Second); addr == ""; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			return errors.New("lmsd did not start")
		}
		b, _ := os.ReadFile(ready)
		addr = strings.TrimSpace(string(b))
	}
	call := func(method string, params ...any) error {
		body, err := xmlrpcapi.EncodeCall(method, params...)
		if err != nil {
			return err
		}
		resp, err := http.Post("http://"+addr+"/", "text/xml", bytes.NewReader(body))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := xmlrpcapi.DecodeResponse(resp.Body, xmlrpcapi.Limits{}); err != nil || resp.StatusCode != 200 {
			return fmt.Errorf("%s: HTTP %d: %v", method, resp.StatusCode, err)
		}
		return nil
	}
	if err := call("registerClient", "bench", "site", cb.URL+"/", "Bench", "bench@example.org"); err != nil {
		return err
	}
	// The password is only in the registration mail.
	mails, _ := filepath.Glob(filepath.Join(dir, "mail", "*.eml"))
	if len(mails) != 1 {
		return fmt.Errorf("%d registration mails", len(mails))
	}
	mail, err := os.ReadFile(mails[0])
	if err != nil {
		return err
	}
	_, rest, found := strings.Cut(string(mail), "Password:")
	fields := strings.Fields(rest)
	if !found || len(fields) == 0 {
		return errors.New("no password in the registration mail")
	}
	pw := fields[0]
	var urls []any
	requests := 0
	for i := range perHost {
		u, r := pageURLs(f.Bases, perHost, i)
		for _, x := range u {
			urls = append(urls, x)
		}
		requests += r
	}
	start := time.Now()
	for i := 0; i < len(urls); i += 1000 {
		if err := call("registerURLs", "site", pw, urls[i:min(i+1000, len(urls))]); err != nil {
			return err
		}
	}
	var reqs map[string][]time.Time
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(250 * time.Millisecond) {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		if reqs, err = f.dump(); err != nil {
			return err
		}
		got := 0
		for _, ts := range reqs {
			got += len(ts)
		}
		if got >= requests {
			break
		}
	}
	var first, last time.Time
	for _, ts := range reqs {
		if first.IsZero() || ts[0].Before(first) {
			first = ts[0]
		}
		if l := ts[len(ts)-1]; l.After(last) {
			last = l
		}
	}
	for deadline := time.Now().Add(30 * time.Second); notified.Load() < int64(len(urls)) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	span := last.Sub(first) + latency // the last request's answer
	bound := time.Duration(requests) * latency / n
	viol, minGap := violations(reqs, time.Second)
	fmt.Printf("## Workload 1b through lmsd (bolt store, XML-RPC registration, callbacks to a loopback receiver)\n")
	fmt.Printf("| first request after registerURLs | first to last request + answer | bound | efficiency | violations | min gap | states pushed back | last push after registerURLs |\n|---|---|---|---|---|---|---|---|\n")
	fmt.Printf("| %v | %.2f s | %.2f s | %.3f | %d | %v | %d of %d | %.1f s |\n\n", first.Sub(start).Round(time.Millisecond), span.Seconds(), bound.Seconds(),
		bound.Seconds()/span.Seconds(), viol, minGap.Round(time.Millisecond), notified.Load(), len(urls), time.Duration(lastNotified.Load()-start.UnixNano()).Seconds())
	return nil
}
