package lms_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/boltstore"
	"github.com/linkmonitor/lms/internal/pgtest"
	"github.com/linkmonitor/lms/memstore"
	"github.com/linkmonitor/lms/pgstore"
)

// BenchmarkWebhookDeliveries measures signed webhook deliveries per second
// to a loopback receiver that answers 204 at once: b.N events queued over
// the clients beforehand, then delivered by a running Engine (one in
// flight per client, each claimed and recorded in the store).
func BenchmarkWebhookDeliveries(b *testing.B) {
	stores := []struct {
		name string
		open func(b *testing.B) lms.Store
	}{
		{"memstore", func(*testing.B) lms.Store { return memstore.New() }},
		{"boltstore", func(b *testing.B) lms.Store {
			s, err := boltstore.Open(filepath.Join(b.TempDir(), "lms.db"), boltstore.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			return s
		}},
		{"pgstore", func(b *testing.B) lms.Store {
			s, err := pgstore.Open(context.Background(), pgtest.Start(b), pgstore.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			return s
		}},
	}
	for _, st := range stores {
		for _, clients := range []int{1, 32} {
			b.Run(fmt.Sprintf("%s/clients=%d", st.name, clients), func(b *testing.B) {
				benchDeliveries(b, st.open(b), clients)
			})
		}
	}
}

func benchDeliveries(b *testing.B, st lms.Store, clients int) {
	var got atomic.Int64
	done := make(chan struct{})
	want := int64(b.N)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
		if got.Add(1) == want {
			close(done)
		}
	}))
	defer srv.Close()
	cfg := hookConfig(nil)
	e, err := lms.New(st, cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for c := range clients {
		webhookClient(b, e, fmt.Sprint("c", c), srv.URL)
		if _, err := e.RotateWebhookSecret(ctx, fmt.Sprint("c", c)); err != nil {
			b.Fatal(err)
		}
	}
	body := []byte(`{"type":"links.changed","timestamp":"2026-12-07T12:00:00Z","data":{"changes":[{"url":"http://a.example/","state":"ok","reason":"OK","code":200,"final_url":null,"permanent_redirect":false,"sources":[]}]}}`)
	now := time.Now()
	for i := range b.N {
		ev := lms.WebhookEvent{WebhookDelivery: lms.WebhookDelivery{ID: fmt.Sprint("msg_", i), ClientID: fmt.Sprint("c", i%clients), Type: lms.EventLinksChanged, Created: now, NextAttempt: now}, Body: body}
		if err := st.EnqueueWebhook(ctx, ev, nil, false); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	stop := runEngine(b, e)
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("%d of %d delivered", got.Load(), want)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	stop()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deliveries/s")
}
