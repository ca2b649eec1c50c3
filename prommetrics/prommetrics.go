// Package prommetrics exports an lms Engine's Stats snapshot as Prometheus
// metrics (github.com/prometheus/client_golang), so that the root package
// stays free of Prometheus. Each scrape takes one snapshot.
package prommetrics

import (
	"context"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/linkmonitor/lms"
)

// Collector is a prometheus.Collector over an Engine.
type Collector struct {
	e *lms.Engine

	links, due, inflight, backedOff, outage     *prometheus.Desc
	checks, duration, heldBack                  *prometheus.Desc
	pushes, delivered, failures, disabled, sync *prometheus.Desc
	backlog, clientFailures, clientNotify       *prometheus.Desc
	scrapeErrors                                *prometheus.Desc
}

// New returns a collector for e.
func New(e *lms.Engine) *Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("lms_"+name, help, labels, nil)
	}
	return &Collector{
		e:              e,
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
		backlog:        d("client_pending_updates", "Pending state updates per client.", "client"),
		clientFailures: d("client_notify_failures", "Consecutive failed pushes per client.", "client"),
		clientNotify:   d("client_notifications_on", "1 if the client's notifications are on.", "client"),
		scrapeErrors:   d("scrape_error", "1 if the last snapshot failed."),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.links, c.due, c.inflight, c.backedOff, c.outage, c.checks, c.duration, c.heldBack,
		c.pushes, c.delivered, c.failures, c.disabled, c.sync, c.backlog, c.clientFailures, c.clientNotify, c.scrapeErrors} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := c.e.Stats(ctx)
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
