// Command frozendb measures lmsd over a PostgreSQL that stops answering:
// it starts a throwaway PostgreSQL (internal/pgtest) and lmsd -store
// postgres on loopback addresses, registers a client and 1,000 URLs (and
// times one registerURLs of -big URLs on as many new hosts), then
// has -clients clients call registerURLs (100 new URLs each) in a loop and
// a prober GET /healthz every 250 ms while the server is frozen (SIGSTOP
// to the postmaster and its backends) for -freeze, and for a while after
// the thaw. It reports the longest registerURLs and /healthz answers while
// frozen, the answers they got, how soon after the thaw calls succeed
// again, and whether every URL whose registerURLs was acknowledged is in
// the database.
//
//	go run ./bench/frozendb                                 # about a minute
//	go run ./bench/frozendb -lmsd /tmp/lmsd-old -call-timeout 0   # a build without -pg-call-timeout
//
// See BENCHMARKS.md, "Hostile sites and a frozen database".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkmonitor/lms/internal/lmsdproc"
	"github.com/linkmonitor/lms/internal/pgtest"
	"github.com/linkmonitor/lms/xmlrpcapi"
)

const adminSecret = "frozendb-bench-admin-secret"

func main() {
	bin := flag.String("lmsd", "", "lmsd binary (default: go build ./examples/lmsd)")
	freeze := flag.Duration("freeze", 45*time.Second, "how long PostgreSQL stays frozen")
	callTimeout := flag.Duration("call-timeout", 0, "lmsd -pg-call-timeout (0: do not pass the flag: lmsd's default, or a build without it)")
	clients := flag.Int("clients", 8, "concurrent registerURLs callers")
	big := flag.Int("big", 10_000, "URLs (each on a host of its own) of one registerURLs timed before the freeze, the longest legitimate call")
	flag.Parse()
	log.SetFlags(0)
	if err := run(*bin, *freeze, *callTimeout, *clients, *big); err != nil {
		log.Fatal(err)
	}
}

// call is one timed request.
type call struct {
	start, end time.Time
	outcome    string // "ok", "fault N", "HTTP N", "transport error"
}

// log collects the calls of one kind.
type callLog struct {
	mu    sync.Mutex
	calls []call
}

func (l *callLog) add(c call) {
	l.mu.Lock()
	l.calls = append(l.calls, c)
	l.mu.Unlock()
}

// during returns the calls in flight at some time of [from, to): their
// longest duration and how many got each outcome.
func (l *callLog) during(from, to time.Time) (longest time.Duration, outcomes map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	outcomes = map[string]int{}
	for _, c := range l.calls {
		if c.end.Before(from) || !c.start.Before(to) {
			continue
		}
		longest = max(longest, c.end.Sub(c.start))
		outcomes[c.outcome]++
	}
	return longest, outcomes
}

// firstOK returns the end of the first successful call that started at or
// after t.
func (l *callLog) firstOK(t time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first time.Time
	for _, c := range l.calls {
		if c.outcome == "ok" && !c.start.Before(t) && (first.IsZero() || c.end.Before(first)) {
			first = c.end
		}
	}
	return first, !first.IsZero()
}

func outcome(err error) string {
	var f *xmlrpcapi.Fault
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &f):
		return fmt.Sprintf("fault %d", f.Code)
	}
	return "error: " + err.Error()
}

func run(bin string, freeze, callTimeout time.Duration, clients, big int) error {
	dir, err := os.MkdirTemp("", "frozendb-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	if bin == "" {
		if bin, err = lmsdproc.Build(ctx, dir); err != nil {
			return err
		}
	}
	srv, err := pgtest.Launch(pgtest.Config{})
	if err != nil {
		return err
	}
	defer srv.Close()
	dsn, err := srv.NewDatabase("lms")
	if err != nil {
		return err
	}
	ready, mail := filepath.Join(dir, "ready"), filepath.Join(dir, "mail")
	args := []string{"-store", "postgres", "-dsn", dsn, "-addr", "127.0.0.1:0", "-ready-file", ready,
		"-admin-secret", adminSecret, "-mail-dir", mail, "-log-level", "error", "-components", "none"}
	if callTimeout > 0 {
		args = append(args, "-pg-call-timeout", callTimeout.String())
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	addr, err := lmsdproc.WaitReady(ready, 30*time.Second)
	if err != nil {
		return err
	}
	url := "http://" + addr + "/RPC2"
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 5 * time.Minute}
	if _, err := lmsdproc.Call(ctx, hc, url, "registerClient", adminSecret, "site", "http://site.example/portal_linkchecker/database", "Site", "site@example.org"); err != nil {
		return err
	}
	pw, err := lmsdproc.MailedPassword(mail)
	if err != nil {
		return err
	}
	var ackMu sync.Mutex
	var acked []string
	register := func(ctx context.Context, urls []string) error {
		_, err := lmsdproc.Call(ctx, hc, url, "registerURLs", "site", pw, urls)
		if err == nil {
			ackMu.Lock()
			acked = append(acked, urls...)
			ackMu.Unlock()
		}
		return err
	}
	batch := func(prefix string, n int) []string {
		out := make([]string, 100)
		for i := range out {
			out[i] = fmt.Sprintf("http://h%d.%s.example/%d", i%10, prefix, n*100+i)
		}
		return out
	}
	for i := range 10 {
		if err := register(ctx, batch("before", i)); err != nil {
			return err
		}
	}
	if big > 0 {
		urls := make([]string, big)
		for i := range urls {
			urls[i] = fmt.Sprintf("http://big%d.example/", i)
		}
		start := time.Now()
		if err := register(ctx, urls); err != nil {
			return fmt.Errorf("registerURLs of %d URLs: %w", big, err)
		}
		fmt.Printf("one registerURLs of %d URLs on as many new hosts, database answering: %v\n", big, time.Since(start).Round(time.Millisecond))
	}

	var regs, probes callLog
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				err := register(ctx, batch(fmt.Sprintf("c%d", c), n))
				regs.add(call{start: start, end: time.Now(), outcome: outcome(err)})
			}
		})
	}
	wg.Go(func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			start := time.Now()
			o := "transport error"
			if resp, err := hc.Get("http://" + addr + "/healthz"); err == nil {
				o = fmt.Sprintf("HTTP %d", resp.StatusCode)
				resp.Body.Close()
			}
			probes.add(call{start: start, end: time.Now(), outcome: o})
		}
	})
	// Before, frozen, after: 3 s, freeze, 15 s.
	time.Sleep(3 * time.Second)
	frozen := time.Now()
	if err := srv.Freeze(); err != nil {
		return err
	}
	time.Sleep(freeze)
	thawed := time.Now()
	if err := srv.Thaw(); err != nil {
		return err
	}
	time.Sleep(15 * time.Second)
	close(stop)
	wg.Wait()

	longest, outs := regs.during(frozen, thawed)
	fmt.Printf("PostgreSQL frozen for %v, %d registerURLs callers (100 URLs each), -pg-call-timeout %v\n", freeze, clients, callTimeoutText(callTimeout))
	fmt.Printf("registerURLs in flight while frozen: longest %v, answers %v\n", longest.Round(time.Millisecond), outs)
	plong, pouts := probes.during(frozen, thawed)
	fmt.Printf("/healthz in flight while frozen: longest %v, answers %v\n", plong.Round(time.Millisecond), pouts)
	if first, ok := regs.firstOK(thawed); ok {
		fmt.Printf("first registerURLs started after the thaw answered OK %v after it\n", first.Sub(thawed).Round(time.Millisecond))
	} else {
		fmt.Println("no registerURLs started after the thaw answered OK")
	}
	_, after := regs.during(thawed.Add(5*time.Second), time.Now())
	fmt.Printf("registerURLs from 5 s after the thaw: %v\n", after)
	return checkAcked(ctx, dsn, acked)
}

func callTimeoutText(d time.Duration) string {
	if d <= 0 {
		return "not passed"
	}
	return d.String()
}

// checkAcked reports whether every URL of an acknowledged registerURLs is
// a subscription of the client in the database.
func checkAcked(ctx context.Context, dsn string, acked []string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT url FROM subscriptions WHERE client_id = 'site'`)
	if err != nil {
		return err
	}
	have, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	slices.Sort(have)
	lost := 0
	for _, u := range acked {
		if _, ok := slices.BinarySearch(have, u); !ok {
			lost++
		}
	}
	fmt.Printf("acknowledged URLs: %d, in the database: %d of them (%d lost); subscriptions stored: %d\n", len(acked), len(acked)-lost, lost, len(have))
	if lost > 0 {
		return fmt.Errorf("%d acknowledged URLs lost", lost)
	}
	return nil
}
