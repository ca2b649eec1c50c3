package lms

import (
	"context"
	"fmt"
	"time"

	"github.com/linkmonitor/lms/internal/checkstats"
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
	// LastClaim is when this process's checker last claimed from the store
	// (which renews the holds of its hosts); zero before the first claim
	// or without a checker.
	LastClaim time.Time
	// ClaimFailing: the checker's last claim failed, so its leases and
	// holds are not being renewed (the store is unreachable or failing).
	ClaimFailing bool

	NotifyPushes    uint64 // updateManyStates calls
	NotifyDelivered uint64 // updates acknowledged by clients
	NotifyFailures  uint64 // failed pushes
	NotifyDisabled  uint64 // clients switched off after repeated failures
	SyncsOK         uint64
	SyncsFailed     uint64
	MailsSent       uint64 // mails of the outbox delivered
	MailFailures    uint64 // failed deliveries (the mail stays in the outbox)

	// Webhook deliveries (internal/notify): acknowledged, failed
	// attempts, webhooks turned off after repeated failures.
	WebhooksDelivered, WebhookFailures, WebhooksDisabled uint64

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

// Stats returns a snapshot, assembled from the store's counts and each
// component's own snapshot. Its cost grows with the number of clients, not
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
	st.InFlight = e.disp.InFlight()
	fillChecks(&st, e.pool.stats.Snapshot())
	st.HostsBackedOff = e.pacer.Prune(time.Now())
	g := e.guard.Snapshot()
	st.Outage, st.OutageSince, st.HeldBack = g.Active, g.Since, g.Held
	e.sched.snapshot(&st)
	st.NotifyPushes, st.NotifyDelivered, st.NotifyFailures, st.NotifyDisabled = e.notifier.Counters()
	st.SyncsOK, st.SyncsFailed = e.syncer.Counters()
	st.MailsSent, st.MailFailures = e.mailer.Counters()
	st.WebhooksDelivered, st.WebhookFailures, st.WebhooksDisabled = e.hooks.Counters()
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

// checkState is the state a check counts as in Stats: the one reported,
// or the one its outcome wrote when it was held back.
func checkState(rec Outcome, res Result) string {
	if !rec.Hold {
		return string(rec.Result.State)
	}
	return string(res.State)
}

// fillChecks adds the check counts to st.
func fillChecks(st *Stats, cs checkstats.Snapshot) {
	st.ChecksTotal, st.ChecksLastMinute, st.CheckDuration = cs.Total, cs.LastMinute, Histogram(cs.Duration)
	for _, c := range cs.Counts {
		st.Checks = append(st.Checks, CheckCount{Scheme: c.Scheme, State: State(c.State), Count: c.Count})
	}
}
