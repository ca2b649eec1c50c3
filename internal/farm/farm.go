// Package farm runs a farm of HTTP hosts on loopback addresses (127.0.x.y,
// each address its own host for politeness) that records every request, so
// that tests and benchmarks measure politeness, fairness and throughput from
// the servers' side, independent of the checker's own accounting.
//
// A request's path chooses the answer: /<code>/anything answers <code>
// (3xx redirect to /200/ on the same host); any other path answers 200.
package farm

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a farm.
type Options struct {
	// Latency is how long each answer takes.
	Latency time.Duration
	// FirstAddr is the index of the first address (0 → 127.0.0.2).
	FirstAddr int
}

// Farm is a set of running hosts.
type Farm struct {
	opt      Options
	Hosts    []*Host
	inflight atomic.Int64
	peak     atomic.Int64
	total    atomic.Int64
}

// Host is one loopback host.
type Host struct {
	IP   string
	Base string // http://ip:port
	srv  *http.Server
	ln   net.Listener

	mu   sync.Mutex
	reqs []Request
}

// Request is one recorded request.
type Request struct {
	At   time.Time
	Path string
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
	return f, nil
}

func (f *Farm) handler(h *Host) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		h.mu.Lock()
		h.reqs = append(h.reqs, Request{At: now, Path: r.URL.Path})
		h.mu.Unlock()
		f.total.Add(1)
		n := f.inflight.Add(1)
		for {
			p := f.peak.Load()
			if n <= p || f.peak.CompareAndSwap(p, n) {
				break
			}
		}
		defer f.inflight.Add(-1)
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
}

// Requests returns a copy of the host's recorded requests, in arrival order.
func (h *Host) Requests() []Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.reqs)
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
	for _, h := range f.Hosts {
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
