package lms

import (
	"context"
	"fmt"
	"time"
)

// Stats is a snapshot of the engine for monitoring. The reference server
// exports it as Prometheus metrics; the root package stays free of them.
type Stats struct {
	Links            StateCounts // subscribed links by state
	DueBacklog       int         // links due now, counted up to MaxDueBacklog
	InFlight         int         // checks running
	ChecksTotal      uint64      // checks since start
	ChecksLastMinute int         // checks within the last 60 s
	Checks           []CheckCount
	CheckDuration    Histogram // seconds
	HostsBackedOff   int       // hosts resting after 429/503
	Outage           bool      // the "is it us?" guard is holding failures back
	OutageSince      time.Time
	HeldBack         uint64 // failures held back by the guard since start

	NotifyPushes    uint64 // updateManyStates calls
	NotifyDelivered uint64 // updates acknowledged by clients
	NotifyFailures  uint64 // failed pushes
	NotifyDisabled  uint64 // clients switched off after repeated failures
	SyncsOK         uint64
	SyncsFailed     uint64

	Clients []ClientStats
}

// MaxDueBacklog caps the due count in Stats, to keep Stats cheap.
const MaxDueBacklog = 1_000_000

// CheckCount counts checks by scheme and reported state.
type CheckCount struct {
	Scheme string
	State  State
	Count  uint64
}

// Histogram is a cumulative-friendly histogram: Counts[i] counts
// observations ≤ Bounds[i] (and > Bounds[i-1]); the last count is above
// every bound.
type Histogram struct {
	Bounds []float64
	Counts []uint64
	Count  uint64
	Sum    float64
}

// ClientStats is one client's health.
type ClientStats struct {
	ID             string
	Notify         bool
	Counts         StateCounts
	Pending        int
	NotifyFailures int
	LastNotified   time.Time
	LastNotifyErr  string
	LastSync       time.Time
	LastSyncErr    string
}

// Stats returns a snapshot. Its cost grows with the number of clients, not
// of links.
func (e *Engine) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	var err error
	if st.Links, err = e.store.LinkCounts(ctx); err != nil {
		return st, fmt.Errorf("lms: stats: %w", err)
	}
	if st.DueBacklog, err = e.store.DueCount(ctx, e.now(), MaxDueBacklog); err != nil {
		return st, fmt.Errorf("lms: stats: %w", err)
	}
	e.pool.stats.fill(&st)
	st.HostsBackedOff = e.pool.pacer.prune(time.Now())
	st.Outage, st.OutageSince, st.HeldBack = e.pool.guard.state()
	st.NotifyPushes = e.notify.pushes.Load()
	st.NotifyDelivered = e.notify.delivered.Load()
	st.NotifyFailures = e.notify.failures.Load()
	st.NotifyDisabled = e.notify.disabled.Load()
	st.SyncsOK, st.SyncsFailed = e.syncs.ok.Load(), e.syncs.failed.Load()
	cs, err := e.store.ListClients(ctx)
	if err != nil {
		return st, fmt.Errorf("lms: stats: %w", err)
	}
	for _, c := range cs {
		n, err := e.store.PendingCount(ctx, c.ID)
		if err != nil {
			return st, fmt.Errorf("lms: stats: %w", err)
		}
		st.Clients = append(st.Clients, ClientStats{
			ID: c.ID, Notify: c.Notify, Counts: c.Counts, Pending: n, NotifyFailures: c.NotifyFailures,
			LastNotified: c.LastNotified, LastNotifyErr: c.LastNotifyError, LastSync: c.LastSync, LastSyncErr: c.LastSyncError,
		})
	}
	return st, nil
}
