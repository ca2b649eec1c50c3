// Command attack measures lmsd under hostile clients, the way an operator
// would see it: it builds examples/lmsd (or runs -lmsd), starts it with a
// memory store on a loopback address, registers one legitimate client, and
// then, phase by phase, measures that client's latency (p50/p99 of
// checkConnection and of registerURLs with 100 URLs) and lmsd's resident
// memory (VmRSS sampled every 20 ms, VmHWM from /proc/PID/status, reset per
// phase) while
//
//   - quiet: nobody else calls;
//   - bodies: 32 concurrent clients POST 15 MiB unauthenticated calls in a
//     loop (half registerURLs with a wrong password, half system.multicall
//     of such calls, which cannot be refused before decoding);
//   - idle: 130 connections declare a 64 KiB body and send only the XML
//     declaration, 2 more declare a chunked body and send nothing; each
//     waits for the server to give up and connects again;
//   - json: the same 32 clients PUT 15 MiB bodies to the JSON API
//     (/api/v1/links) without credentials or with a wrong password;
//   - jsonauth: the same with the legitimate client's credentials, so
//     that every body is read and decoded within the guard's budget;
//   - guessing: 64 concurrent clients guess passwords in a loop (wrong
//     passwords of the legitimate id, unknown ids, the admin secret, and
//     system.multicall batches of 50 guesses).
//
// Every request goes to lmsd on 127.0.0.1, every loop ends with its phase.
// The attackers connect from 127.0.0.1 (one host), or with -sources N from
// N addresses (127.0.1.1, 127.0.1.2, …: as many hosts, which no share per
// address can hold back); the legitimate client connects from 127.0.0.2.
//
//	go run ./bench/attack                     # about a minute
//	go run ./bench/attack -phase 20s -lmsd /tmp/lmsd-old
//	go run ./bench/attack -shape structs       # the most memory per body byte
//	go run ./bench/attack -sources 64          # attackers on 64 addresses
//	go run ./bench/attack -phases bodies,json  # only these phases (and quiet)
//
// See BENCHMARKS.md, "Under attack".
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/linkmonitor/lms/internal/lmsdproc"
	"github.com/linkmonitor/lms/xmlrpcapi"
)

const adminSecret = "attack-bench-admin-secret"

func main() {
	lmsd := flag.String("lmsd", "", "lmsd binary to attack (default: go build ./examples/lmsd)")
	phase := flag.Duration("phase", 15*time.Second, "length of each phase")
	bodies := flag.Int("bodies", 32, "concurrent large-body attackers")
	size := flag.Int("size", 15<<20, "bytes of each large body")
	guessers := flag.Int("guessers", 64, "concurrent password guessers")
	shape := flag.String("shape", "urls", "elements of the large bodies: urls, or structs (empty structs: the most memory per body byte)")
	sources := flag.Int("sources", 1, "source addresses of the attackers (1: 127.0.0.1; more: 127.0.1.1 onwards)")
	phases := flag.String("phases", "bodies,json,jsonauth,idle,guessing", "the attack phases to run after quiet, comma-separated")
	flag.Parse()
	log.SetFlags(0)
	if *sources < 1 || *sources > 250 {
		log.Fatal("-sources: 1 to 250")
	}
	want := map[string]bool{}
	for _, p := range strings.Split(*phases, ",") {
		if !slices.Contains([]string{"bodies", "json", "jsonauth", "idle", "guessing"}, p) {
			log.Fatalf("-phases: no phase %q", p)
		}
		want[p] = true
	}
	if err := run(*lmsd, *phase, *bodies, *size, *guessers, *shape, *sources, want); err != nil {
		log.Fatal(err)
	}
}

// target is a running lmsd.
type target struct {
	cmd   *exec.Cmd
	url   string
	id    string
	pw    string
	pid   int
	addr  string         // lmsd's host:port
	http  *http.Client   // for registering the legitimate client
	from  []*http.Client // the attackers', one per source address
	dial  []*net.Dialer  // the same addresses, for raw connections
	legit *http.Client   // the legitimate client's, from 127.0.0.2
}

func run(bin string, phase time.Duration, bodies, size, guessers int, shape string, sources int, want map[string]bool) error {
	dir, err := os.MkdirTemp("", "lms-attack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if bin == "" {
		if bin, err = lmsdproc.Build(context.Background(), dir); err != nil {
			return err
		}
	}
	t, err := start(bin, dir, sources)
	if err != nil {
		return err
	}
	defer t.stop()

	fmt.Printf("## lmsd under attack (%s per phase; lmsd -store memory; attackers from %d address(es) and the measuring client in this process)\n\n", phase, sources)
	fmt.Println("| phase | checkConnection p50 / p99 | registerURLs(100) p50 / p99 | legit failures | attack requests: answers | lmsd peak VmRSS (sampled) / VmHWM |")
	fmt.Println("|---|---|---|---|---|---|")
	report := func(name string, r *phaseResult) {
		fmt.Printf("| %s | %s / %s | %s / %s | %d | %s | %d MiB / %d MiB |\n", name,
			ms(r.check, 50), ms(r.check, 99), ms(r.register, 50), ms(r.register, 99), r.legitFailed,
			r.answers(), r.peakRSS>>20, r.hwm>>20)
	}
	report("quiet", t.phase(phase, nil))

	if want["bodies"] {
		big, err := bigBodies(size, shape)
		if err != nil {
			return err
		}
		report(fmt.Sprintf("%d × %d MiB unauthenticated bodies (%s)", bodies, size>>20, shape), t.phase(phase, t.flood(bodies, big)))
	}
	if want["json"] {
		report(fmt.Sprintf("%d × %d MiB unauthenticated JSON bodies (PUT /api/v1/links)", bodies, size>>20), t.phase(phase, t.jsonFlood(bodies, jsonBody(size), t.unauthenticated)))
	}
	if want["jsonauth"] {
		report(fmt.Sprintf("%d × %d MiB authenticated JSON bodies (PUT /api/v1/links, decoded, 422)", bodies, size>>20), t.phase(phase, t.jsonFlood(bodies, jsonBody(size), t.authenticated)))
	}
	if want["idle"] {
		report("130 idle 64 KiB bodies + 2 idle chunked bodies", t.phase(phase, t.idle(130, 2)))
	}
	if want["guessing"] {
		guesses, err := guessBodies(t.id)
		if err != nil {
			return err
		}
		report(fmt.Sprintf("%d password guessers", guessers), t.phase(phase, t.flood(guessers, guesses)))
	}
	return nil
}

// flood is an attack of n concurrent clients that post bodies in turn,
// back to back, until the phase ends.
func (t *target) flood(n int, bodies [][]byte) func(ctx context.Context, r *phaseResult) {
	return func(ctx context.Context, r *phaseResult) {
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				c := t.from[i%len(t.from)]
				for k := 0; ctx.Err() == nil; k++ {
					r.count(t.postWith(ctx, c, bodies[(i+k)%len(bodies)]))
				}
			})
		}
		wg.Wait()
	}
}

// idle is an attack of sized connections that declare a 64 KiB body and
// send only the XML declaration, and chunked ones that declare a chunked
// body and send nothing, each until the server answers or closes the
// connection, then again, until the phase ends. The server's answers are
// counted (status, or "closed" without one).
func (t *target) idle(sized, chunked int) func(ctx context.Context, r *phaseResult) {
	head := func(framing string) string {
		return "POST /RPC2 HTTP/1.1\r\nHost: " + t.addr + "\r\nContent-Type: text/xml\r\n" + framing + "\r\n"
	}
	sizedHead := head("Content-Length: 65536\r\n") + `<?xml version="1.0"?>`
	chunkedHead := head("Transfer-Encoding: chunked\r\n")
	return func(ctx context.Context, r *phaseResult) {
		var wg sync.WaitGroup
		for i := range sized + chunked {
			send := sizedHead
			if i >= sized {
				send = chunkedHead
			}
			wg.Go(func() {
				d := t.dial[i%len(t.dial)]
				for ctx.Err() == nil {
					r.count(holdOpen(ctx, d, t.addr, send))
				}
			})
		}
		wg.Wait()
	}
}

// holdOpen sends head on a new connection and sends nothing more: it
// returns the server's answer once it comes, or when the connection closes.
func holdOpen(ctx context.Context, d *net.Dialer, addr, head string) result {
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return result{err: err}
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if _, err := io.WriteString(c, head); err != nil {
		return result{err: err}
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if ctx.Err() != nil {
		return result{err: ctx.Err()}
	}
	if err != nil {
		return result{closed: true}
	}
	resp.Body.Close()
	return result{status: resp.StatusCode}
}

// start runs lmsd and registers the legitimate client.
func start(bin, dir string, sources int) (*target, error) {
	ready := filepath.Join(dir, "ready")
	// The checker runs but checks nothing on the network: the registered
	// URLs are loopback addresses, which lmsd refuses by policy.
	cmd := exec.Command(bin, "-store", "memory", "-addr", "127.0.0.1:0", "-ready-file", ready,
		"-admin-secret", adminSecret, "-mail-dir", filepath.Join(dir, "mail"), "-log-level", "error", "-components", "checker")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	// The legitimate client is another host than the attackers: it
	// connects from 127.0.0.2.
	from := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 10 * time.Second}
	t := &target{cmd: cmd, pid: cmd.Process.Pid,
		http:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}, Timeout: time.Minute},
		legit: &http.Client{Transport: &http.Transport{DialContext: from.DialContext, DisableCompression: true}, Timeout: time.Minute},
	}
	for i := range sources {
		ip := net.IPv4(127, 0, 0, 1)
		if sources > 1 {
			ip = net.IPv4(127, 0, 1, byte(1+i))
		}
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 10 * time.Second}
		t.dial = append(t.dial, d)
		t.from = append(t.from, &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 256, DisableCompression: true}, Timeout: time.Minute})
	}
	if err := t.register(ready, filepath.Join(dir, "mail")); err != nil {
		t.stop()
		return nil, err
	}
	return t, nil
}

// register waits until lmsd serves and registers the legitimate client,
// whose password lmsd mails into mailDir.
func (t *target) register(ready, mailDir string) error {
	addr, err := lmsdproc.WaitReady(ready, 30*time.Second)
	if err != nil {
		return err
	}
	t.addr, t.url = addr, "http://"+addr+"/RPC2"
	if _, err := lmsdproc.Call(context.Background(), t.http, t.url, "registerClient", adminSecret, "site", "http://site.example/portal_linkchecker/database", "Site", "site@example.org"); err != nil {
		return err
	}
	pw, err := lmsdproc.MailedPassword(mailDir)
	if err != nil {
		return err
	}
	t.id, t.pw = "site", pw
	return nil
}

func (t *target) stop() {
	if err := t.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		log.Printf("stopping lmsd: %v", err)
	}
	if err := t.cmd.Wait(); err != nil {
		log.Printf("lmsd: %v", err)
	}
}

// result is the outcome of one request.
type result struct {
	status int // 0: transport error
	fault  bool
	inner  bool // faults inside a system.multicall answer
	closed bool // the server closed the connection without an answer
	err    error
}

func (t *target) postWith(ctx context.Context, c *http.Client, body []byte) result {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return result{err: err}
	}
	req.Header.Set("Content-Type", "text/xml")
	resp, err := c.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return result{status: resp.StatusCode, err: err}
	}
	return result{status: resp.StatusCode, fault: bytes.Contains(b, []byte("<fault>")), inner: bytes.Contains(b, []byte("faultCode"))}
}

// phaseResult collects one phase's figures.
type phaseResult struct {
	check, register []time.Duration
	legitFailed     int
	peakRSS, hwm    int64

	mu    sync.Mutex
	tally map[string]int
}

func (r *phaseResult) count(res result) {
	key := "transport error"
	switch {
	case res.err != nil && res.status == 0 && (errors.Is(res.err, context.Canceled) || errors.Is(res.err, context.DeadlineExceeded)):
		return // the phase ended
	case res.err != nil && res.status == 0:
	case res.closed:
		key = "closed"
	case res.fault:
		key = "fault"
	case res.inner:
		key = strconv.Itoa(res.status) + " (faults inside)"
	default:
		key = strconv.Itoa(res.status)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tally == nil {
		r.tally = map[string]int{}
	}
	r.tally[key]++
}

func (r *phaseResult) answers() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.tally) == 0 {
		return "—"
	}
	keys := make([]string, 0, len(r.tally))
	for k := range r.tally {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s × %d", k, r.tally[k]))
	}
	return strings.Join(parts, ", ")
}

// phase runs attack (if any) for d while the legitimate client measures
// and lmsd's memory is sampled.
func (t *target) phase(d time.Duration, attack func(ctx context.Context, r *phaseResult)) *phaseResult {
	r := &phaseResult{}
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", t.pid), []byte("5"), 0); err != nil {
		log.Printf("resetting VmHWM: %v (the peak covers the whole run)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	if attack != nil {
		wg.Go(func() { attack(ctx, r) })
	}
	var peak atomic.Int64
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if rss, _ := memory(t.pid); rss > peak.Load() {
				peak.Store(rss)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	wg.Go(func() { t.measure(ctx, r) })
	wg.Wait()
	r.peakRSS = peak.Load()
	_, r.hwm = memory(t.pid)
	return r
}

// measure is the legitimate client: checkConnection, then registerURLs with
// 100 URLs, as a Plone site saving a page does, back to back.
func (t *target) measure(ctx context.Context, r *phaseResult) {
	check, err := xmlrpcapi.EncodeCall("checkConnection", t.id, t.pw)
	if err != nil {
		panic(err)
	}
	for n := 0; ctx.Err() == nil; n++ {
		urls := make([]string, 100)
		for i := range urls {
			urls[i] = fmt.Sprintf("http://127.0.0.2/page-%d-%d.html", n%50, i)
		}
		reg, err := xmlrpcapi.EncodeCall("registerURLs", t.id, t.pw, urls)
		if err != nil {
			panic(err)
		}
		for _, c := range []struct {
			body []byte
			lat  *[]time.Duration
		}{{check, &r.check}, {reg, &r.register}} {
			start := time.Now()
			res := t.postWith(ctx, t.legit, c.body)
			if ctx.Err() != nil {
				return
			}
			if res.status != http.StatusOK || res.fault || res.err != nil {
				r.legitFailed++
				continue
			}
			*c.lat = append(*c.lat, time.Since(start))
		}
	}
}

// bigBodies returns two calls of about size bytes with wrong credentials:
// registerURLs with one big array, and system.multicall of registerURLs
// calls. The array holds URLs, or empty structs (shape "structs").
func bigBodies(size int, shape string) ([][]byte, error) {
	perElem, elem := len("<value><string>http://127.0.0.3/0000000</string></value>"), func(i int) any { return fmt.Sprintf("http://127.0.0.3/%07d", i) }
	if shape == "structs" {
		perElem, elem = len("<value><struct></struct></value>"), func(int) any { return map[string]any{} }
	}
	elems := make([]any, size/perElem)
	for i := range elems {
		elems[i] = elem(i)
	}
	reg, err := xmlrpcapi.EncodeCall("registerURLs", "site", "guessed-password", elems)
	if err != nil {
		return nil, err
	}
	calls := make([]any, 50)
	for i := range calls {
		calls[i] = map[string]any{"methodName": "registerURLs", "params": []any{"nobody", "guess", elems[i*len(elems)/50 : (i+1)*len(elems)/50]}}
	}
	mc, err := xmlrpcapi.EncodeCall("system.multicall", calls)
	if err != nil {
		return nil, err
	}
	return [][]byte{reg, mc}, nil
}

// guessBodies returns small calls that guess credentials.
func guessBodies(id string) ([][]byte, error) {
	var out [][]byte
	add := func(method string, params ...any) error {
		b, err := xmlrpcapi.EncodeCall(method, params...)
		out = append(out, b)
		return err
	}
	for i := range 20 {
		guess := fmt.Sprintf("guess-%04d-%s", i, strings.Repeat("x", 20))
		if err := errors.Join(
			add("checkConnection", id, guess),
			add("checkConnection", fmt.Sprintf("unknown-%d", i), guess),
			add("registerURLs", id, guess, []string{"http://127.0.0.3/"}),
			add("listClients", guess),
		); err != nil {
			return nil, err
		}
	}
	calls := make([]any, 50)
	for i := range calls {
		calls[i] = map[string]any{"methodName": "checkConnection", "params": []any{id, fmt.Sprintf("multi-%d", i)}}
	}
	return out, add("system.multicall", calls)
}

// memory returns VmRSS and VmHWM of pid in bytes.
func memory(pid int) (rss, hwm int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			rss = n << 10
		case "VmHWM":
			hwm = n << 10
		}
	}
	return rss, hwm
}

// ms formats the p-th percentile of ds in milliseconds.
func ms(ds []time.Duration, p int) string {
	if len(ds) == 0 {
		return "—"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("%.1f ms", float64(s[(len(s)-1)*p/100].Microseconds())/1000)
}
