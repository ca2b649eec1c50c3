// Package prommetrics exports an lms Engine's Stats snapshot as Prometheus
// metrics (github.com/prometheus/client_golang), so that the root package
// stays free of Prometheus. Each scrape asks its Source for one snapshot:
// the Engine itself, or a cache of it (webui.StatsCache) when /metrics is
// reachable by anyone.
//
// Client ids appear only in the per-client series (lms_client_*), which
// are off unless Config.PerClient is set; the totals over all clients are
// always there.
package prommetrics

import (
	"context"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/linkmonitor/lms"
)

// Source serves the Stats snapshot: an *lms.Engine, or a cache of it.
type Source interface {
	Stats(ctx context.Context) (lms.Stats, error)
}

// Config configures a Collector. The zero value is the defaults.
type Config struct {
	// PerClient adds the series labelled with each client's id
	// (lms_client_pending_updates, lms_client_notify_failures,
	// lms_client_notifications_on). Default: off, so that the metrics do
	// not tell who the clients are.
	PerClient bool
}

// Collector is a prometheus.Collector over a Source.
type Collector struct {
	src Source
	cfg Config

	links, due, inflight, backedOff, outage     *prometheus.Desc
	checks, duration, heldBack                  *prometheus.Desc
	pushes, delivered, failures, disabled, sync *prometheus.Desc
	clients, pending                            *prometheus.Desc
	backlog, clientFailures, clientNotify       *prometheus.Desc
	scrapeErrors, claimFailing                  *prometheus.Desc
}

// New returns a collector over src (an *lms.Engine, or a cache of it).
func New(src Source, cfg Config) *Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("lms_"+name, help, labels, nil)
	}
	return &Collector{
		src:            src,
		cfg:            cfg,
		links:          d("links", "Subscribed links by state.", "state"),
		due:            d("due_backlog", "Links due for a check now (capped at 1e6)."),
		inflight:       d("checks_in_flight", "Checks running now."),
		backedOff:      d("hosts_backed_off", "Hosts resting after 429/503."),
		outage:         d("outage", "1 while the 'is it us?' guard holds network failures back."),
		checks:         d("checks_total", "Checks by scheme and reported state.", "scheme", "state"),
		duration:       d("check_duration_seconds", "Duration of checks."),
		heldBack:       d("checks_held_back_total", "Network failures held back by the outage guard."),
		pushes:         d("notify_pushes_total", "updateManyStates calls made."),
		delivered:      d("notify_delivered_total", "State updates acknowledged by clients."),
		failures:       d("notify_failures_total", "Failed pushes."),
		disabled:       d("notify_disabled_total", "Clients switched off after repeated failures."),
		sync:           d("syncs_total", "Full syncs by result.", "result"),
		clients:        d("clients", "Registered clients by whether their notifications are on.", "notifications"),
		pending:        d("pending_updates", "Pending state updates over all clients."),
		backlog:        d("client_pending_updates", "Pending state updates per client.", "client"),
		clientFailures: d("client_notify_failures", "Consecutive failed pushes per client.", "client"),
		clientNotify:   d("client_notifications_on", "1 if the client's notifications are on.", "client"),
		scrapeErrors:   d("scrape_error", "1 if the last snapshot failed."),
		claimFailing:   d("claim_failing", "1 if the checker's last claim failed: its leases and host holds are not being renewed."),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ds := []*prometheus.Desc{c.links, c.due, c.inflight, c.backedOff, c.outage, c.checks, c.duration, c.heldBack,
		c.pushes, c.delivered, c.failures, c.disabled, c.sync, c.clients, c.pending, c.scrapeErrors, c.claimFailing}
	if c.cfg.PerClient {
		ds = append(ds, c.backlog, c.clientFailures, c.clientNotify)
	}
	for _, d := range ds {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := c.src.Stats(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.scrapeErrors, prometheus.GaugeValue, 1)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.scrapeErrors, prometheus.GaugeValue, 0)
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, s := range lms.States() {
		gauge(c.links, float64(st.Links.Get(s)), label(s))
	}
	gauge(c.due, float64(st.DueBacklog))
	gauge(c.inflight, float64(st.InFlight))
	gauge(c.backedOff, float64(st.HostsBackedOff))
	gauge(c.outage, b2f(st.Outage))
	gauge(c.claimFailing, b2f(st.ClaimFailing))
	for _, k := range st.Checks {
		counter(c.checks, k.Count, k.Scheme, label(k.State))
	}
	buckets := map[float64]uint64{}
	var cum uint64
	for i, bound := range st.CheckDuration.Bounds {
		cum += st.CheckDuration.Counts[i]
		buckets[bound] = cum
	}
	ch <- prometheus.MustNewConstHistogram(c.duration, st.CheckDuration.Count, st.CheckDuration.Sum, buckets)
	counter(c.heldBack, st.HeldBack)
	counter(c.pushes, st.NotifyPushes)
	counter(c.delivered, st.NotifyDelivered)
	counter(c.failures, st.NotifyFailures)
	counter(c.disabled, st.NotifyDisabled)
	counter(c.sync, st.SyncsOK, "ok")
	counter(c.sync, st.SyncsFailed, "failed")
	on, pending := 0, 0
	for _, cl := range st.Clients {
		if cl.Notify {
			on++
		}
		pending += cl.Pending
	}
	gauge(c.clients, float64(on), "on")
	gauge(c.clients, float64(len(st.Clients)-on), "off")
	gauge(c.pending, float64(pending))
	if !c.cfg.PerClient {
		return
	}
	for _, cl := range st.Clients {
		gauge(c.backlog, float64(cl.Pending), cl.ID)
		gauge(c.clientFailures, float64(cl.NotifyFailures), cl.ID)
		gauge(c.clientNotify, b2f(cl.Notify), cl.ID)
	}
}

func label(s lms.State) string { return strings.ReplaceAll(string(s), " ", "_") }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
