package prommetrics

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/linkmonitor/lms"
)

type sourceFunc func(context.Context) (lms.Stats, error)

func (f sourceFunc) Stats(ctx context.Context) (lms.Stats, error) { return f(ctx) }

func snapshot() lms.Stats {
	return lms.Stats{
		CheckDuration: lms.Histogram{Bounds: []float64{0.1, 1}, Counts: []uint64{3, 1, 0}, Count: 4, Sum: 1.2},
		Checks:        []lms.CheckCount{{Scheme: "https", State: lms.StateOK, Count: 4}},
		Clients: []lms.ClientStats{
			{ID: "acme-intranet", Notify: true, Pending: 3, LastNotified: time.Unix(1, 0)},
			{ID: "secret-project", Notify: false, Pending: 4, NotifyFailures: 20},
		},
	}
}

// gather collects through a pedantic registry, which also checks that
// every collected metric was described.
func gather(t *testing.T, c *Collector) map[string][]string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			out[mf.GetName()] = append(out[mf.GetName()], strings.Join(labels, ","))
		}
	}
	return out
}

func TestClientIDsOnlyPerClient(t *testing.T) {
	src := sourceFunc(func(context.Context) (lms.Stats, error) { return snapshot(), nil })

	got := gather(t, New(src, Config{}))
	for name, labels := range got {
		if strings.HasPrefix(name, "lms_client_") {
			t.Errorf("per-client series %s without PerClient", name)
		}
		for _, l := range labels {
			if strings.Contains(l, "acme") || strings.Contains(l, "secret") {
				t.Errorf("%s{%s} names a client", name, l)
			}
		}
	}
	if want := []string{"notifications=off", "notifications=on"}; strings.Join(got["lms_clients"], " ") != strings.Join(want, " ") {
		t.Errorf("lms_clients: %v, want %v", got["lms_clients"], want)
	}
	if len(got["lms_pending_updates"]) != 1 {
		t.Errorf("lms_pending_updates: %v", got["lms_pending_updates"])
	}

	got = gather(t, New(src, Config{PerClient: true}))
	for _, name := range []string{"lms_client_pending_updates", "lms_client_notify_failures", "lms_client_notifications_on"} {
		if want := "client=acme-intranet client=secret-project"; strings.Join(got[name], " ") != want {
			t.Errorf("%s: %v, want %s", name, got[name], want)
		}
	}
}

func TestScrapeError(t *testing.T) {
	src := sourceFunc(func(context.Context) (lms.Stats, error) { return lms.Stats{}, errors.New("store down") })
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(New(src, Config{}))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 1 || mfs[0].GetName() != "lms_scrape_error" || mfs[0].GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Fatalf("a failed snapshot gathers %v, want only lms_scrape_error 1", mfs)
	}
}
