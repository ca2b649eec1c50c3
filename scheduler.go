package lms

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/linkmonitor/lms/internal/dispatch"
	"github.com/linkmonitor/lms/internal/loop"
	"github.com/linkmonitor/lms/internal/pace"
)

// scheduler is the claim side of the checker component: it claims due
// links from the store (fairly across hosts, under a lease, holding their
// hosts for this process) when the dispatcher's claim loop asks
// (dispatch.Dispatcher.RunClaims), and asks the store to forget hosts no
// link uses.
type scheduler struct {
	store ScheduleStore
	now   func() time.Time
	log   *slog.Logger
	opt   ClaimOptions  // Limit is set per call
	poll  time.Duration // the claim loop's poll
	added chan struct{} // links were subscribed: claim without waiting for the poll

	// For Stats: when the last claim succeeded (time.Now, Unix
	// nanoseconds), and whether the last one failed.
	claimedAt   atomic.Int64
	claimFailed atomic.Bool
}

func newScheduler(store ScheduleStore, cfg Config) *scheduler {
	opt := ClaimOptions{PerHost: 3, HostGap: cfg.HostInterval, Lease: cfg.Lease, Holder: cfg.ProcessID}
	poll := cfg.ClaimPoll
	if cfg.Unpaced {
		opt.PerHost, opt.HostGap = 0, 0 // as many per host as the claim's limit
	} else if cfg.HostInterval > 0 {
		// Hosts become claimable again one interval ahead of need; polling
		// faster than that keeps every host busy.
		poll = min(poll, max(cfg.HostInterval/4, 10*time.Millisecond))
	}
	return &scheduler{store: store, now: cfg.Now, log: cfg.Logger, opt: opt, poll: poll, added: make(chan struct{}, 1)}
}

// newDispatcher returns the dispatcher of the checker component: it
// queues the links s claims per host and starts their checks in p.
func newDispatcher(cfg Config, pacer *pace.Pacer, holds *pace.Holds, p *pool, s *scheduler) *dispatch.Dispatcher[Link] {
	return dispatch.New(dispatch.Config[Link]{
		Concurrency: cfg.Concurrency, Pacer: pacer, Holds: holds, Worker: p,
		Host:  func(l Link) string { return l.Host },
		Lease: func(l Link) time.Time { return l.NextDue },
		Claim: s.claim, Poll: s.poll, Added: s.added, Prune: s.pruneHosts, PruneEvery: pruneEvery,
	})
}

// newHostHolds returns the holds of the hosts this process sends requests
// to: no request starts so close to the end of a hold or a lease that it
// could not be answered (check timeout) and spaced (host interval) before
// another process may take the host or the link.
func newHostHolds(store ScheduleStore, cfg Config, pacer *pace.Pacer) *pace.Holds {
	return pace.NewHolds(pace.HoldsConfig{
		Store: holdStore{store}, Pacer: pacer, Holder: cfg.ProcessID, Lease: cfg.Lease, Now: cfg.Now,
		Margin: min(cfg.CheckerConfig.Timeout+cfg.HostInterval, cfg.Lease/2),
	})
}

// holdStore is the store as the host holds see it (pace.Store).
type holdStore struct{ ScheduleStore }

// Release implements pace.Store.
func (s holdStore) Release(ctx context.Context, holder string, hosts []pace.Release) error {
	rs := make([]HostRelease, len(hosts))
	for i, h := range hosts {
		rs[i] = HostRelease(h)
	}
	return s.ReleaseHosts(ctx, holder, rs)
}

// linksAdded tells the scheduler that new links may be due now (the API,
// the syncer and other processes' wake-ups call it).
func (s *scheduler) linksAdded() { loop.Poke(s.added) }

// snapshot adds the claims' health to st.
func (s *scheduler) snapshot(st *Stats) {
	if n := s.claimedAt.Load(); n != 0 {
		st.LastClaim = time.Unix(0, n)
	}
	st.ClaimFailing = s.claimFailed.Load()
}

// claim fetches at most limit due links.
func (s *scheduler) claim(ctx context.Context, limit int) ([]Link, error) {
	opt := s.opt
	opt.Limit = limit
	if opt.PerHost == 0 {
		opt.PerHost = limit
	}
	links, err := s.store.ClaimDue(ctx, s.now(), opt)
	s.claimFailed.Store(err != nil && ctx.Err() == nil)
	if err != nil {
		err = fmt.Errorf("lms: claim: %w", err)
		if ctx.Err() == nil {
			s.log.Error("claiming due links", "err", err)
		}
		return nil, err
	}
	s.claimedAt.Store(time.Now().UnixNano())
	return links, nil
}

// pruneEvery is how often the store is asked to forget hosts no link uses,
// and pruneBatch how many it forgets per call.
const (
	pruneEvery = 15 * time.Second
	pruneBatch = 1000
)

// pruneHosts asks the store to forget the hosts that only redirect hops,
// probes and back-offs named, once nothing about them is in force, so that
// the hosts kept follow the links.
func (s *scheduler) pruneHosts(ctx context.Context) {
	for ctx.Err() == nil {
		n, err := s.store.PruneHosts(ctx, s.now(), pruneBatch)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("pruning hosts", "err", err)
			}
			return
		}
		if n < pruneBatch {
			return
		}
	}
}
