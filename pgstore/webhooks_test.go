package pgstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/pgtest"
)

// TestWebhookQueueSurvivesRestart: events queued (their changes
// acknowledged in the same step) by a process that dies while delivering
// the oldest are all there after the server restarts, with their ids; the
// oldest comes back to another process once the dead one's hold ends.
func TestWebhookQueueSurvivesRestart(t *testing.T) {
	srv := pgtest.New(t, pgtest.Config{Durable: true})
	dsn := srv.CreateDB(t)
	s := open(t, dsn)
	mustClient(t, s, "a")
	var ids []string
	for i := range 20 {
		u := fmt.Sprintf("http://h.example/%d", i)
		if _, err := s.Subscribe(bg(), "a", []string{u}, t0); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordResults(bg(), []lms.Outcome{{URL: u, Checked: t0, NextDue: t0.Add(time.Hour), Result: lms.Result{State: lms.StateOK, Reason: "OK"}}}); err != nil {
			t.Fatal(err)
		}
		ps, err := s.PendingUpdates(bg(), "a", 0)
		if err != nil {
			t.Fatal(err)
		}
		ev := lms.WebhookEvent{WebhookDelivery: lms.WebhookDelivery{ID: fmt.Sprintf("msg_%d", i), ClientID: "a", Type: "links.changed", Created: t0, NextAttempt: t0},
			Body: fmt.Appendf(nil, `{"n":%d}`, i)}
		if err := s.EnqueueWebhook(bg(), ev, ps, true); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.ID)
	}
	if _, ok, err := s.ClaimWebhook(bg(), "a", "dead", t0, time.Hour); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	_ = s.Close() // the process is gone, its hold stays
	srv.Restart(t)

	s = open(t, dsn)
	ds, err := s.WebhookDeliveries(bg(), "a", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != len(ids) {
		t.Fatalf("%d events after the restart, want %d", len(ds), len(ids))
	}
	for i, d := range ds {
		if want := ids[len(ids)-1-i]; d.ID != want || !d.Pending() {
			t.Errorf("event %d = %s (pending %v), want %s still to deliver", i, d.ID, d.Pending(), want)
		}
	}
	if ps, _ := s.PendingUpdates(bg(), "a", 0); len(ps) != 0 {
		t.Errorf("changes handed to the webhook are pending again: %+v", ps)
	}
	if _, ok, _ := s.ClaimWebhook(bg(), "a", "new", t0.Add(time.Minute), time.Minute); ok {
		t.Error("claimed while the dead process's hold lasts")
	}
	ev, ok, err := s.ClaimWebhook(bg(), "a", "new", t0.Add(2*time.Hour), time.Minute)
	if err != nil || !ok || ev.ID != ids[0] || string(ev.Body) != `{"n":0}` {
		t.Errorf("claim after the hold = %+v, %v, %v; want %s", ev, ok, err, ids[0])
	}
}
