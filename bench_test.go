package lms_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/farm"
	"github.com/linkmonitor/lms/memstore"
	"github.com/linkmonitor/lms/xmlrpcapi"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkNotifier delivers 100 changed links to each of 1,000 clients
// through the real XML-RPC callback client to a loopback receiver, and
// reports the time until everything is acknowledged, the CPU used (notifier
// and receiver, in one process) and the heap growth.
func BenchmarkNotifier(b *testing.B) {
	const clients, perClient = 1000, 100
	var got atomic.Int64
	all := make(chan struct{}, 1) // every update of the round was received
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, params, err := xmlrpcapi.DecodeCall(r.Body, xmlrpcapi.Limits{})
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		n := int64(len(params[2].([]any)))
		if total := got.Add(n); total >= clients*perClient && total-n < clients*perClient {
			all <- struct{}{}
		}
		out, _ := xmlrpcapi.EncodeResponse(nil)
		_, _ = w.Write(out)
	}))
	defer rcv.Close()
	for b.Loop() {
		b.StopTimer()
		got.Store(0)
		ctx := context.Background()
		st := memstore.New()
		cb := xmlrpcapi.NewCallbackClient(xmlrpcapi.CallbackConfig{AllowPrivate: true})
		e, err := lms.New(st, lms.Config{AdminSecret: adminSecret, Components: lms.RunNotifier, Notifier: cb, NotifyPoll: 50 * time.Millisecond})
		if err != nil {
			b.Fatal(err)
		}
		for c := range clients {
			id := fmt.Sprintf("c%04d", c)
			if _, err := e.RegisterClient(ctx, adminSecret, lms.Registration{ID: id, ContactEmail: "a@example.org", CallbackURL: rcv.URL}); err != nil {
				b.Fatal(err)
			}
			urls := make([]string, perClient)
			recs := make([]lms.Outcome, perClient)
			for i := range urls {
				urls[i] = fmt.Sprintf("http://h%d.example.org/c%d/%d", i%50, c, i)
				recs[i] = lms.Outcome{URL: urls[i], Checked: time.Now(), NextDue: time.Now().Add(time.Hour), Result: lms.Result{State: lms.StateOK, Reason: "OK"}}
			}
			if _, err := e.RegisterURLs(ctx, id, urls); err != nil {
				b.Fatal(err)
			}
			if err := st.RecordResults(ctx, recs); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		cpu0 := cpuTime()
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		start := time.Now()
		b.StartTimer()
		go func() { done <- e.Run(runCtx) }()
		<-all
		b.StopTimer()
		elapsed := time.Since(start)
		runtime.ReadMemStats(&m1)
		cpu := cpuTime() - cpu0
		cancel()
		<-done
		cb.Close()
		b.ReportMetric(elapsed.Seconds(), "s-to-deliver")
		b.ReportMetric(cpu.Seconds(), "cpu-s")
		b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/(1<<20), "MB-allocated")
		b.ReportMetric(float64(m1.HeapInuse)/(1<<20), "MB-heap")
		b.StartTimer()
	}
}

// BenchmarkPool checks 1,000 URLs on 200 loopback hosts (20 ms latency) with
// the default politeness, and reports checks per second and the ratio to the
// physical bound min(N / latency, hosts × rate).
func BenchmarkPool(b *testing.B) {
	const hosts, perHost, latency, n = 200, 5, 20 * time.Millisecond, 20
	f, err := farm.Start(hosts, farm.Options{Latency: latency, FirstAddr: 1500})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	round := 0
	for b.Loop() {
		b.StopTimer()
		round++
		var urls []string
		for i := range perHost {
			for _, h := range f.Hosts {
				urls = append(urls, fmt.Sprintf("%s/200/r%d/%d", h.Base, round, i))
			}
		}
		var checked atomic.Int64
		doneAt := make(chan time.Time, 1)
		inner := lms.NewDefaultChecker(lms.CheckerConfig{AllowPrivate: true})
		checker := lms.CheckerFunc(func(ctx context.Context, u string) lms.Result {
			r := inner.Check(ctx, u)
			if checked.Add(1) == int64(len(urls)) {
				doneAt <- time.Now()
			}
			return r
		})
		e, err := lms.New(memstore.New(), lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker, Checker: checker, Concurrency: n, OutageMinHosts: -1})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		if _, err := e.RegisterClient(ctx, adminSecret, lms.Registration{ID: "a", ContactEmail: "a@example.org", CallbackURL: "http://example.org/"}); err != nil {
			b.Fatal(err)
		}
		if _, err := e.RegisterURLs(ctx, "a", urls); err != nil {
			b.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		b.StartTimer()
		start := time.Now()
		go func() { done <- e.Run(runCtx) }()
		end := <-doneAt
		b.StopTimer()
		cancel()
		<-done
		rate := float64(len(urls)) / end.Sub(start).Seconds()
		// The physical bound as a rate; the first request of every host is
		// free, so over perHost requests a host needs perHost-1 intervals.
		bound := min(float64(n)/latency.Seconds(), float64(hosts*perHost)/(float64(perHost-1)+latency.Seconds()))
		b.ReportMetric(rate, "checks/s")
		b.ReportMetric(rate/bound, "of-bound")
		b.StartTimer()
	}
}
