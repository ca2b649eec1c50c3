package main

// Workload 1b through the reference server, examples/lmsd.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/linkmonitor/lms/internal/lmsdproc"
	"github.com/linkmonitor/lms/xmlrpcapi"
)

// viaLmsd runs workload 1b the way an outside user would: it builds and
// starts examples/lmsd (bolt store, default politeness), registers a client
// and the URLs over XML-RPC, and measures from the farm's side; a loopback
// XML-RPC receiver counts the state changes lmsd pushes back.
func viaLmsd(o *options) error {
	const hosts, perHost, latency, n = 1000, 2, 50 * time.Millisecond, 20
	dir, err := os.MkdirTemp("", "lms-bench-lmsd-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := lmsdproc.Build(context.Background(), dir)
	if err != nil {
		return err
	}
	f, err := startFarm(farmSpec{hosts: hosts, latency: latency, first: 1000})
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
	addr, err := lmsdproc.WaitReady(ready, 30*time.Second)
	if err != nil {
		return err
	}
	call := func(method string, params ...any) error {
		_, err := lmsdproc.Call(context.Background(), nil, "http://"+addr+"/", method, params...)
		return err
	}
	if err := call("registerClient", "bench", "site", cb.URL+"/", "Bench", "bench@example.org"); err != nil {
		return err
	}
	// The password is only in the registration mail.
	pw, err := lmsdproc.MailedPassword(filepath.Join(dir, "mail"))
	if err != nil {
		return err
	}
	var urls []any
	requests := 0
	for i := range perHost {
		u, r := pageURLs(f.Bases, perHost, i, o.noRedirects)
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
