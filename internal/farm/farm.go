// Package farm runs a farm of HTTP hosts on loopback addresses (127.0.x.y,
// each address its own host for politeness) that records every request, so
// that tests and benchmarks measure politeness, fairness and throughput from
// the servers' side, independent of the checker's own accounting.
//
// A request's path chooses the answer: /<code>/anything answers <code>
// (3xx redirect to /200/ on the same host); any other path answers 200.
//
// A farm can also run FTP hosts (anonymous login, MLST). Each session is one
// recorded request; /200/p0 … /200/p999 exist, anything else answers 550.
package farm

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
	"github.com/spf13/afero"
)

// Options configure a farm.
type Options struct {
	// Latency is how long each answer takes.
	Latency time.Duration
	// FirstAddr is the index of the first address (0 → 127.0.0.2).
	FirstAddr int
	// FTP is the number of FTP hosts, on the addresses after the HTTP hosts.
	FTP int
}

// Farm is a set of running hosts.
type Farm struct {
	opt      Options
	Hosts    []*Host // HTTP hosts
	FTPHosts []*Host // FTP hosts (Options.FTP)
	inflight atomic.Int64
	peak     atomic.Int64
	total    atomic.Int64
	sessions sync.Map // session → end of its request

	nextMu sync.Mutex
	next   chan struct{} // closed at the next request; nil when nobody waits
}

// session identifies an FTP session (ids count per server).
type session struct {
	h  *Host
	id uint32
}

// Host is one loopback host.
type Host struct {
	IP   string
	Base string // http://ip:port or ftp://ip:port
	srv  *http.Server
	ftp  *ftpserver.FtpServer
	ln   net.Listener

	mu   sync.Mutex
	reqs []Request
}

// Request is one recorded request.
type Request struct {
	At   time.Time
	Path string
	// Agent is the request's User-Agent (empty for FTP), which tells
	// apart the processes that share a farm when each has its own.
	Agent string
}

// Addr returns the i-th farm address: 127.0.x.y with y in 2..251.
func Addr(i int) string { return fmt.Sprintf("127.0.%d.%d", i/250, 2+i%250) }

// Start starts n hosts.
func Start(n int, opt Options) (*Farm, error) {
	f := &Farm{opt: opt}
	for i := range n {
		ip := Addr(opt.FirstAddr + i)
		ln, err := net.Listen("tcp", ip+":0")
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("farm: listen on %s: %w", ip, err)
		}
		h := &Host{IP: ip, Base: "http://" + ln.Addr().String(), ln: ln}
		h.srv = &http.Server{Handler: f.handler(h), ReadHeaderTimeout: 10 * time.Second}
		f.Hosts = append(f.Hosts, h)
		go func() { _ = h.srv.Serve(ln) }()
	}
	if opt.FTP > 0 {
		fs := afero.NewMemMapFs()
		for i := range 1000 {
			if err := afero.WriteFile(fs, fmt.Sprintf("/200/p%d", i), []byte("farm\n"), 0o644); err != nil {
				f.Close()
				return nil, fmt.Errorf("farm: %w", err)
			}
		}
		for i := range opt.FTP {
			ip := Addr(opt.FirstAddr + n + i)
			ln, err := net.Listen("tcp", ip+":0")
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("farm: listen on %s: %w", ip, err)
			}
			h := &Host{IP: ip, Base: "ftp://" + ln.Addr().String(), ln: ln}
			h.ftp = ftpserver.NewFtpServer(&ftpDriver{f: f, h: h, fs: afero.NewReadOnlyFs(fs)})
			if err := h.ftp.Listen(); err != nil {
				_ = ln.Close()
				f.Close()
				return nil, fmt.Errorf("farm: FTP on %s: %w", ip, err)
			}
			f.FTPHosts = append(f.FTPHosts, h)
			go func() { _ = h.ftp.Serve() }()
		}
	}
	return f, nil
}

// record notes a request and returns the function that ends it.
func (f *Farm) record(h *Host, path string) (done func()) {
	return f.recordRequest(h, Request{At: time.Now(), Path: path})
}

// recordRequest notes r and returns the function that ends it.
func (f *Farm) recordRequest(h *Host, r Request) (done func()) {
	h.mu.Lock()
	h.reqs = append(h.reqs, r)
	h.mu.Unlock()
	f.total.Add(1)
	f.nextMu.Lock()
	if f.next != nil {
		close(f.next)
		f.next = nil
	}
	f.nextMu.Unlock()
	n := f.inflight.Add(1)
	for {
		p := f.peak.Load()
		if n <= p || f.peak.CompareAndSwap(p, n) {
			break
		}
	}
	return func() { f.inflight.Add(-1) }
}

// ftpDriver serves the farm's read-only tree to anonymous users; every
// session is one request, answered after the farm's latency.
type ftpDriver struct {
	f  *Farm
	h  *Host
	fs afero.Fs
}

func (d *ftpDriver) GetSettings() (*ftpserver.Settings, error) {
	return &ftpserver.Settings{Listener: d.h.ln, ConnectionTimeout: 5, IdleTimeout: 10}, nil
}

func (d *ftpDriver) ClientConnected(cc ftpserver.ClientContext) (string, error) {
	d.f.sessions.Store(session{d.h, cc.ID()}, sync.OnceFunc(d.f.record(d.h, "")))
	if d.f.opt.Latency > 0 {
		time.Sleep(d.f.opt.Latency)
	}
	return "lms farm", nil
}

// end ends the session's request (once): when the session looks up a file
// (its answer) or disconnects. The server notices a disconnect only after
// the client has moved on, so counting until then would overstate how many
// requests were in flight.
func (d *ftpDriver) end(cc ftpserver.ClientContext) {
	if done, ok := d.f.sessions.Load(session{d.h, cc.ID()}); ok {
		done.(func())()
	}
}

func (d *ftpDriver) ClientDisconnected(cc ftpserver.ClientContext) {
	d.end(cc)
	d.f.sessions.Delete(session{d.h, cc.ID()})
}

func (d *ftpDriver) AuthUser(cc ftpserver.ClientContext, user, _ string) (ftpserver.ClientDriver, error) {
	if user != "anonymous" && user != "ftp" {
		return nil, errors.New("anonymous only")
	}
	return answeringFs{Fs: d.fs, answer: func() { d.end(cc) }}, nil
}

// answeringFs ends the session's request at its first lookup.
type answeringFs struct {
	afero.Fs
	answer func()
}

func (a answeringFs) Stat(name string) (os.FileInfo, error) {
	a.answer()
	return a.Fs.Stat(name)
}

func (a answeringFs) Open(name string) (afero.File, error) {
	a.answer()
	return a.Fs.Open(name)
}

func (d *ftpDriver) GetTLSConfig() (*tls.Config, error) { return nil, errors.New("no TLS") }

func (f *Farm) handler(h *Host) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer f.recordRequest(h, Request{At: time.Now(), Path: r.URL.Path, Agent: r.UserAgent()})()
		if f.opt.Latency > 0 {
			time.Sleep(f.opt.Latency)
		}
		code := 200
		if seg, _, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/"); ok {
			if c, err := strconv.Atoi(seg); err == nil && c >= 200 && c <= 599 {
				code = c
			}
		}
		if code >= 300 && code < 400 {
			http.Redirect(w, r, "/200"+strings.TrimPrefix(r.URL.Path, "/"+strconv.Itoa(code)), code)
			return
		}
		w.WriteHeader(code)
	})
}

// Close stops every host.
func (f *Farm) Close() {
	for _, h := range f.Hosts {
		_ = h.srv.Close()
	}
	for _, h := range f.FTPHosts {
		_ = h.ftp.Stop()
	}
}

// Requests returns a copy of the host's recorded requests, in arrival order.
func (h *Host) Requests() []Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.reqs)
}

// Await waits until cond, a condition on the farm's requests, holds: it
// looks again at each request the farm receives. It returns ctx's error if
// ctx ends first.
func (f *Farm) Await(ctx context.Context, cond func() bool) error {
	for {
		f.nextMu.Lock()
		if f.next == nil {
			f.next = make(chan struct{})
		}
		next := f.next
		f.nextMu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-next:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Total returns the number of requests the farm received.
func (f *Farm) Total() int { return int(f.total.Load()) }

// PeakInFlight returns the most requests the farm was serving at once.
func (f *Farm) PeakInFlight() int { return int(f.peak.Load()) }

// Politeness summarises the gaps between consecutive requests to one host.
type Politeness struct {
	MinGap     time.Duration // smallest gap seen at any host
	MinGapHost string
	Violations int // gaps shorter than the interval
}

// Politeness measures the gaps against interval.
func (f *Farm) Politeness(interval time.Duration) Politeness {
	p := Politeness{MinGap: time.Duration(1<<63 - 1)}
	for _, h := range slices.Concat(f.Hosts, f.FTPHosts) {
		rs := h.Requests()
		for i := 1; i < len(rs); i++ {
			g := rs[i].At.Sub(rs[i-1].At)
			if g < p.MinGap {
				p.MinGap, p.MinGapHost = g, h.IP
			}
			if g < interval {
				p.Violations++
			}
		}
	}
	if p.MinGapHost == "" {
		p.MinGap = 0
	}
	return p
}

// LastRequest returns the time of the last request to any of hosts.
func LastRequest(hosts []*Host) (time.Time, error) {
	var last time.Time
	for _, h := range hosts {
		rs := h.Requests()
		if len(rs) == 0 {
			return time.Time{}, errors.New("farm: a host got no request")
		}
		if t := rs[len(rs)-1].At; t.After(last) {
			last = t
		}
	}
	return last, nil
}
