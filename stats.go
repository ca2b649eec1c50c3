package lms

import (
	"context"
	"fmt"
	"sync"
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

	// Webhook deliveries (webhook_deliver.go): acknowledged, failed
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
	st.InFlight = e.disp.inFlight()
	e.pool.stats.fill(&st)
	st.HostsBackedOff = e.pacer.prune(time.Now())
	g := e.guard.Snapshot()
	st.Outage, st.OutageSince, st.HeldBack = g.Active, g.Since, g.Held
	e.sched.snapshot(&st)
	e.notifier.snapshot(&st)
	e.syncer.snapshot(&st)
	e.mailer.snapshot(&st)
	e.hooks.snapshot(&st)
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

// checkStats counts checks for Stats.
type checkStats struct {
	mu       sync.Mutex
	byKey    map[[2]string]uint64 // scheme, reported state
	total    uint64
	minute   [60]uint64 // checks per second, ring
	minuteAt [60]int64  // the second each slot counts
	hist     Histogram
}

// durationBuckets are the upper bounds, in seconds, of the check duration
// histogram in Stats.
func durationBuckets() []float64 {
	return []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}
}

func newCheckStats() *checkStats {
	b := durationBuckets()
	return &checkStats{byKey: make(map[[2]string]uint64), hist: Histogram{Bounds: b, Counts: make([]uint64, len(b)+1)}}
}

func (s *checkStats) observe(scheme string, rec Outcome, res Result, took time.Duration) {
	st := res.State
	if !rec.Hold {
		st = rec.Result.State
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byKey[[2]string{scheme, string(st)}]++
	s.total++
	sec := time.Now().Unix()
	i := sec % 60
	if s.minuteAt[i] != sec {
		s.minuteAt[i], s.minute[i] = sec, 0
	}
	s.minute[i]++
	secs := took.Seconds()
	j := 0
	for j < len(s.hist.Bounds) && secs > s.hist.Bounds[j] {
		j++
	}
	s.hist.Counts[j]++
	s.hist.Count++
	s.hist.Sum += secs
}

func (s *checkStats) fill(st *Stats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st.ChecksTotal = s.total
	now := time.Now().Unix()
	for i, at := range s.minuteAt {
		if now-at < 60 {
			st.ChecksLastMinute += int(s.minute[i])
		}
	}
	for k, n := range s.byKey {
		st.Checks = append(st.Checks, CheckCount{Scheme: k[0], State: State(k[1]), Count: n})
	}
	st.CheckDuration = Histogram{Bounds: append([]float64(nil), s.hist.Bounds...), Counts: append([]uint64(nil), s.hist.Counts...), Count: s.hist.Count, Sum: s.hist.Sum}
}
