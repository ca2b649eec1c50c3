// Command hostile measures what the hostile sites of issue 20 (holes 1–3)
// cost lms's checker, the way the issue measured them: the sites run in a
// child process on loopback (their CPU and memory are not counted), the
// checker (lms.NewDefaultChecker, loopback allowed, default timeouts and
// caps) runs in this process, and for each attack the command prints the
// checks' verdicts, wall and CPU time, this process's peak resident memory
// (VmHWM, reset per attack), the bytes the sites got out, the requests a
// third party (127.0.0.3) received and the largest Cookie header sent:
//
//   - gzip-page: two links whose page is a gzip stream of empty deflate
//     blocks, sent for ever;
//   - gzip-redirect: a redirect whose body is such a stream;
//   - gzip-aia: an https site whose certificate's issuer address serves
//     such a stream;
//   - aia-one: one check of a site whose certificate names 1,400 "CA
//     Issuers" addresses on the third party;
//   - aia-flood: twenty such sites, each serving a fresh certificate (fresh
//     addresses) at every handshake, checked in a loop for -duration;
//   - cookies: twenty checks at once of redirect loops (on twenty hosts)
//     that set a 250 KB cookie per hop.
//
// Every request of a check, the first included, is paced by a Pacer of
// -interval per host (lms.ContextWithPacer), as the engine paces them.
//
//	go run ./bench/hostile                    # every attack, about a minute
//	go run ./bench/hostile -attack aia-flood -duration 10s
//
// To measure code without the bounds, copy this directory into a checkout
// of that code and run it there. See BENCHMARKS.md, "Hostile sites and a
// frozen database".
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/linkmonitor/lms"
)

func main() {
	child := flag.Bool("serve", false, "run the hostile sites (the child process)")
	attack := flag.String("attack", "all", "gzip-page, gzip-redirect, gzip-aia, aia-one, aia-flood, cookies or all")
	duration := flag.Duration("duration", 10*time.Second, "how long aia-flood checks its sites")
	interval := flag.Duration("interval", time.Second, "the least time between two requests to one host")
	flag.Parse()
	if *child {
		if err := serve(); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := run(*attack, *duration, *interval); err != nil {
		log.Fatal(err)
	}
}

// farm is the child process and its line protocol.
type farm struct {
	cmd   *exec.Cmd
	in    *bufio.Writer
	out   *json.Decoder
	sites sites
}

func startFarm() (*farm, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-serve")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	f := &farm{cmd: cmd, in: bufio.NewWriter(stdin), out: json.NewDecoder(stdout)}
	if err := f.out.Decode(&f.sites); err != nil {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("hostile sites: %w", err)
	}
	return f, nil
}

func (f *farm) send(line string) error {
	if _, err := f.in.WriteString(line + "\n"); err != nil {
		return err
	}
	return f.in.Flush()
}

func (f *farm) stats() (stats, error) {
	var s stats
	if err := f.send("stats"); err != nil {
		return s, err
	}
	return s, f.out.Decode(&s)
}

// attackFunc runs one attack with checker and pacer and returns the
// verdicts it saw (verdict → count).
type attackFunc func(ctx context.Context, check func(ctx context.Context, u string) lms.Result, s sites, duration time.Duration) map[string]int

func attacks() []struct {
	name string
	run  attackFunc
} {
	once := func(pick func(sites) []string) attackFunc {
		return func(ctx context.Context, check func(context.Context, string) lms.Result, s sites, _ time.Duration) map[string]int {
			return concurrently(ctx, check, pick(s), 1, 0)
		}
	}
	return []struct {
		name string
		run  attackFunc
	}{
		{"gzip-page", once(func(s sites) []string { return []string{s.GzipPage, s.GzipPage} })},
		{"gzip-redirect", once(func(s sites) []string { return []string{s.GzipRedirect} })},
		{"gzip-aia", once(func(s sites) []string { return []string{s.GzipAIA} })},
		{"aia-one", once(func(s sites) []string { return s.AIAFlood[:1] })},
		{"aia-flood", func(ctx context.Context, check func(context.Context, string) lms.Result, s sites, d time.Duration) map[string]int {
			return concurrently(ctx, check, s.AIAFlood, 1<<30, d)
		}},
		{"cookies", once(func(s sites) []string { return s.CookieLoops })},
	}
}

// concurrently checks each of urls in a goroutine of its own, up to times
// times each and, with d > 0, until d has passed.
func concurrently(ctx context.Context, check func(context.Context, string) lms.Result, urls []string, times int, d time.Duration) map[string]int {
	var (
		mu       sync.Mutex
		verdicts = map[string]int{}
		wg       sync.WaitGroup
	)
	end := time.Now().Add(d)
	for _, u := range urls {
		wg.Go(func() {
			for range times {
				r := check(ctx, u)
				mu.Lock()
				verdicts[r.Reason]++
				mu.Unlock()
				if d <= 0 || time.Now().After(end) {
					return
				}
			}
		})
	}
	wg.Wait()
	return verdicts
}

func run(which string, duration, interval time.Duration) error {
	f, err := startFarm()
	if err != nil {
		return err
	}
	defer func() {
		_ = f.cmd.Process.Kill()
		_ = f.cmd.Wait()
	}()
	root, err := x509.ParseCertificate(f.sites.Root)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	known := false
	for _, a := range attacks() {
		if which != "all" && which != a.name {
			continue
		}
		known = true
		// A checker of its own per attack: nothing cached from the last.
		checker := lms.NewDefaultChecker(lms.CheckerConfig{AllowPrivate: true, TLSConfig: &tls.Config{RootCAs: pool}})
		pacer := newPacer(interval)
		check := func(ctx context.Context, u string) lms.Result {
			host := lms.HostKey(u)
			if err := pacer.Wait(ctx, host); err != nil {
				return lms.Result{Reason: err.Error()}
			}
			defer pacer.Done(host)
			return checker.Check(lms.ContextWithPacer(ctx, pacer), u)
		}
		if err := f.send("reset"); err != nil {
			return err
		}
		resetPeak()
		cpu0, start := cpuTime(), time.Now()
		verdicts := a.run(context.Background(), check, f.sites, duration)
		wall, cpu := time.Since(start), cpuTime()-cpu0
		s, err := f.stats()
		if err != nil {
			return err
		}
		fmt.Printf("%-13s wall %6.2f s  CPU %6.2f s  peak RSS %6.1f MiB  sites sent %9.1f MiB  third-party requests %6d (least gap %v)  largest Cookie header %d B\n",
			a.name, wall.Seconds(), cpu.Seconds(), float64(peakRSS())/(1<<20), float64(s.Sent)/(1<<20), s.ThirdParty, s.MinGap.Round(time.Millisecond), s.LargestCookie)
		for v, n := range verdicts {
			fmt.Printf("%16d × %s\n", n, v)
		}
	}
	if !known {
		return fmt.Errorf("unknown attack %q", which)
	}
	return nil
}

// pacer spaces requests to one host by an interval from the previous
// answer, as the engine's does.
type pacer struct {
	interval time.Duration
	mu       sync.Mutex
	next     map[string]time.Time
}

func newPacer(interval time.Duration) *pacer {
	return &pacer{interval: interval, next: map[string]time.Time{}}
}

// Wait implements lms.Pacer.
func (p *pacer) Wait(ctx context.Context, host string) error {
	for {
		p.mu.Lock()
		at := p.next[host]
		if now := time.Now(); !now.Before(at) {
			p.next[host] = now.Add(p.interval)
			p.mu.Unlock()
			return nil
		}
		p.mu.Unlock()
		t := time.NewTimer(time.Until(at))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Done implements lms.Pacer.
func (p *pacer) Done(host string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := time.Now().Add(p.interval); n.After(p.next[host]) {
		p.next[host] = n
	}
}

// cpuTime returns the CPU time (user and system) this process used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeak resets the peak resident set (VmHWM) to the current one.
func resetPeak() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS returns the peak resident set since resetPeak, in bytes.
func peakRSS() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n << 10
		}
	}
	return 0
}
