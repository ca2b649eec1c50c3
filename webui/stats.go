package webui

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/linkmonitor/lms"
)

// DefaultStatsTTL is how long a StatsCache reuses one snapshot by default.
const DefaultStatsTTL = 5 * time.Second

// statsTimeout bounds one computation of the snapshot.
const statsTimeout = 10 * time.Second

// StatsSource serves a Stats snapshot: an *lms.Engine (computed on every
// call) or a *StatsCache.
type StatsSource interface {
	Stats(ctx context.Context) (lms.Stats, error)
}

// CacheConfig configures a StatsCache. The zero value is the defaults.
type CacheConfig struct {
	// TTL is how long one snapshot (or one failure) is served before the
	// next call computes a new one. Default (0 or less): DefaultStatsTTL.
	TTL time.Duration
	// Logger receives failed computations, once each. Default: discarded.
	Logger *slog.Logger
}

// StatsCache serves a snapshot of a StatsSource that is computed at most
// once per TTL, so that pages anyone can load (/, /alerts) and probes
// (/healthz, /metrics) cost the same however often they are requested. It
// computes lazily, in the goroutine of the caller that finds the snapshot
// expired, one computation at a time; it starts no goroutine, so it needs
// no stopping. A failure is served for one TTL too (the store is not asked
// again on every request), except the caller's own cancellation, which is
// not kept. Safe for concurrent use.
type StatsCache struct {
	src StatsSource
	cfg CacheConfig

	// lock is a mutex that a waiting caller can give up on (its context):
	// whoever holds its one slot may read and write the fields below.
	lock chan struct{}
	st   lms.Stats
	err  error
	at   time.Time // when st and err were computed; zero: never
}

// NewStatsCache returns a cache over src.
func NewStatsCache(src StatsSource, cfg CacheConfig) *StatsCache {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultStatsTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &StatsCache{src: src, cfg: cfg, lock: make(chan struct{}, 1)}
}

// Stats returns the current snapshot, computing it if it is older than the
// TTL. Callers share the returned value and must not modify it (its slices
// included). The error is ctx's if ctx ends while waiting for another
// caller's computation, else the snapshot's.
func (c *StatsCache) Stats(ctx context.Context) (lms.Stats, error) {
	select {
	case c.lock <- struct{}{}:
	case <-ctx.Done():
		return lms.Stats{}, ctx.Err()
	}
	defer func() { <-c.lock }()
	if !c.at.IsZero() && time.Since(c.at) < c.cfg.TTL {
		return c.st, c.err
	}
	cctx, cancel := context.WithTimeout(ctx, statsTimeout)
	defer cancel()
	st, err := c.src.Stats(cctx)
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return lms.Stats{}, err // the caller went away: keep the old snapshot
	}
	if err != nil {
		c.cfg.Logger.Error("computing the stats snapshot", "err", err)
		st = lms.Stats{}
	}
	c.st, c.err, c.at = st, err, time.Now()
	return st, err
}
