package lms

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/linkmonitor/lms/internal/loop"
)

// scheduler is the claim loop of the checker component. It claims due
// links from the store (fairly across hosts, under a lease, holding their
// hosts for this process) and hands them to the dispatcher, which queues
// them per host. It claims when the dispatcher asks (want: the queues run
// low or a free slot finds no host ready), when links were added, and
// every poll.
type scheduler struct {
	store ScheduleStore
	now   func() time.Time
	log   *slog.Logger
	holds *hostHolds
	d     *dispatcher
	opt   ClaimOptions // Limit is set per call
	poll  time.Duration
	// batch is the most links one claim fetches; the dispatcher's load
	// bounds what the queues hold (see queueLimits).
	batch int

	added chan struct{}   // links were subscribed: claim without waiting for the poll
	want  <-chan struct{} // the dispatcher asks for a claim now

	// For Stats: when the last claim succeeded (time.Now, Unix
	// nanoseconds), and whether the last one failed.
	claimedAt   atomic.Int64
	claimFailed atomic.Bool
}

func newScheduler(store ScheduleStore, cfg Config, holds *hostHolds, d *dispatcher, want <-chan struct{}) *scheduler {
	opt := ClaimOptions{PerHost: 3, HostGap: cfg.HostInterval, Lease: cfg.Lease, Holder: cfg.ProcessID}
	if cfg.Unpaced {
		opt.PerHost, opt.HostGap = 0, 0 // as many per host as the claim's limit
	}
	poll := cfg.ClaimPoll
	if iv := hostInterval(cfg); iv > 0 {
		// Hosts become claimable again one interval ahead of need; polling
		// faster than that keeps every host busy.
		poll = min(poll, max(iv/4, 10*time.Millisecond))
	}
	batch, _ := queueLimits(cfg)
	return &scheduler{
		store: store, now: cfg.Now, log: cfg.Logger, holds: holds, d: d, opt: opt, poll: poll,
		batch: batch,
		added: make(chan struct{}, 1),
		want:  want,
	}
}

// linksAdded tells the scheduler that new links may be due now (the API,
// the syncer and other processes' wake-ups call it).
func (s *scheduler) linksAdded() { loop.Poke(s.added) }

// run is the claim loop: it claims when the dispatcher wants links, when
// links were added, and every poll. After a claim that drained the store
// it waits for the next poll (or new links) rather than asking the store
// again at once. Claiming is a store transaction (an fsync with bbolt): it
// runs here so that dispatching never waits for it.
func (s *scheduler) run(ctx context.Context) error {
	t := time.NewTicker(s.poll)
	defer t.Stop()
	prune := time.NewTicker(pruneEvery)
	defer prune.Stop()
	var lastDrained time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-prune.C:
			s.pruneHosts(ctx)
			continue
		case <-s.want:
			if time.Since(lastDrained) < s.poll {
				continue
			}
		case <-s.added:
		case <-t.C:
		}
		for {
			queued, most, _ := s.d.load(time.Now())
			if queued >= most {
				break
			}
			limit := min(s.batch, most-queued)
			n, err := s.claim(ctx, limit)
			if err != nil && ctx.Err() == nil {
				s.log.Error("claiming due links", "err", err)
			}
			if err == nil {
				s.claimedAt.Store(time.Now().UnixNano())
			}
			s.claimFailed.Store(err != nil && ctx.Err() == nil)
			if err != nil || n < limit {
				lastDrained = time.Now()
				break
			}
			if queued, most, starving := s.d.load(time.Now()); !starving && queued >= most/2 {
				break
			}
		}
	}
}

// snapshot adds the claims' health to st.
func (s *scheduler) snapshot(st *Stats) {
	if n := s.claimedAt.Load(); n != 0 {
		st.LastClaim = time.Unix(0, n)
	}
	st.ClaimFailing = s.claimFailed.Load()
}

// claim fetches due links, records the holds of their hosts and queues
// them in the dispatcher; it returns how many.
func (s *scheduler) claim(ctx context.Context, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	opt := s.opt
	opt.Limit = limit
	if opt.PerHost == 0 {
		opt.PerHost = limit
	}
	links, err := s.store.ClaimDue(ctx, s.now(), opt)
	if err != nil {
		return 0, fmt.Errorf("lms: claim: %w", err)
	}
	for _, l := range links {
		s.holds.claimed(l.Host, l.NextDue)
	}
	s.d.add(links)
	return len(links), nil
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
