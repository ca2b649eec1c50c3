package main

// The engine run that the checking workloads (politeness, skew, raw) share.

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/boltstore"
	"github.com/linkmonitor/lms/memstore"
)

// openCheckStore opens the store of the checking workloads (-check-store):
// memory, or bolt in a temporary directory that its close function removes.
func openCheckStore(store string) (lms.Store, func(), error) {
	if store != "bolt" {
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

// Check implements lms.Checker.
func (c *counting) Check(ctx context.Context, u string) lms.Result {
	r := c.inner.Check(ctx, u)
	if ctx.Err() == nil && c.count(u) && c.n.Add(1) == c.want {
		c.done <- time.Now()
	}
	return r
}

// checkRun registers urls, runs an engine over the store named store until
// the counted URLs are checked, and returns the elapsed time and resources.
func checkRun(store string, cfg lms.Config, urls []string, count func(string) bool, want int) (time.Duration, usage, *lms.Engine, error) {
	st, closeStore, err := openCheckStore(store)
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
