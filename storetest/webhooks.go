package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
)

// testWebhooks checks the lms.WebhookStore contract, one client per case.
func testWebhooks(t *testing.T, s lms.Store) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, lms.Store, string)
	}{
		{"QueueInOrder", testHookQueue},
		{"Hold", testHookHold},
		{"ClaimRace", testHookClaimRace},
		{"HandOffAck", testHookAck},
		{"HandOffMark", testHookMark},
		{"Errors", testHookErrors},
		{"Log", testHookLog},
		{"DeleteClient", testHookDelete},
		{"ClientFields", testHookClientFields},
		{"NoAliasing", testHookAliasing},
		{"CancelledContext", testHookCancelled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "hook-" + tc.name
			mustClient(t, s, id)
			tc.fn(t, s, id)
		})
	}
}

func hookEvent(id, n string, at time.Time) lms.WebhookEvent {
	return lms.WebhookEvent{
		WebhookDelivery: lms.WebhookDelivery{ID: "msg_" + n, ClientID: id, Type: "links.changed", Created: at, NextAttempt: at},
		Body:            []byte(`{"type":"links.changed","n":"` + n + `"}`),
	}
}

func mustEnqueue(t *testing.T, s lms.Store, ev lms.WebhookEvent, handed []lms.PendingUpdate, ack bool) {
	t.Helper()
	if err := s.EnqueueWebhook(ctx(), ev, handed, ack); err != nil {
		t.Fatalf("EnqueueWebhook(%s): %v", ev.ID, err)
	}
}

func mustClaim(t *testing.T, s lms.Store, id, holder string, now time.Time) (lms.WebhookEvent, bool) {
	t.Helper()
	ev, ok, err := s.ClaimWebhook(ctx(), id, holder, now, time.Minute)
	if err != nil {
		t.Fatalf("ClaimWebhook(%s, %s): %v", id, holder, err)
	}
	return ev, ok
}

func mustRecord(t *testing.T, s lms.Store, id string, d lms.WebhookDelivery) {
	t.Helper()
	if err := s.RecordWebhookAttempt(ctx(), id, d); err != nil {
		t.Fatalf("RecordWebhookAttempt(%s): %v", d.ID, err)
	}
}

func deliveries(t *testing.T, s lms.Store, id string, limit int) []lms.WebhookDelivery {
	t.Helper()
	ds, err := s.WebhookDeliveries(ctx(), id, limit)
	if err != nil {
		t.Fatalf("WebhookDeliveries(%s): %v", id, err)
	}
	return ds
}

func hookClients(t *testing.T, s lms.Store) []string {
	t.Helper()
	ids, err := s.WebhookClients(ctx())
	if err != nil {
		t.Fatalf("WebhookClients: %v", err)
	}
	return ids
}

// testHookQueue: events go out oldest first, a failed one is retried under
// its id at its next attempt, a delivered one leaves the queue.
func testHookQueue(t *testing.T, s lms.Store, id string) {
	e1, e2 := hookEvent(id, "1", t0), hookEvent(id, "2", t0)
	mustEnqueue(t, s, e1, nil, false)
	mustEnqueue(t, s, e2, nil, false)
	if ids := hookClients(t, s); !slices.Contains(ids, id) {
		t.Fatalf("WebhookClients = %v, want it to hold %q", ids, id)
	}
	got, ok := mustClaim(t, s, id, "p1", t0)
	if !ok || got.ID != e1.ID || string(got.Body) != string(e1.Body) || got.Type != e1.Type || !got.Created.Equal(t0) || got.ClientID != id {
		t.Fatalf("first claim = %+v, %v; want event 1 as enqueued", got, ok)
	}
	// The attempt fails: retried in a minute, under the same id.
	fail := got.WebhookDelivery
	fail.Attempts, fail.Status, fail.Error, fail.NextAttempt = 1, 500, "the receiver answered HTTP 500", t0.Add(time.Minute)
	mustRecord(t, s, id, fail)
	if ev, ok := mustClaim(t, s, id, "p1", t0.Add(30*time.Second)); ok {
		t.Fatalf("claim before the next attempt = %+v, want none (event 2 must wait behind event 1)", ev)
	}
	got, ok = mustClaim(t, s, id, "p1", t0.Add(time.Minute))
	if !ok || got.ID != e1.ID || got.Attempts != 1 || got.Status != 500 || got.Error != fail.Error {
		t.Fatalf("retry claim = %+v, %v; want event 1 with its attempt", got, ok)
	}
	done := got.WebhookDelivery
	done.Attempts, done.Status, done.Error, done.NextAttempt, done.Delivered = 2, 204, "", time.Time{}, t0.Add(time.Minute)
	mustRecord(t, s, id, done)
	got, ok = mustClaim(t, s, id, "p1", t0.Add(time.Minute))
	if !ok || got.ID != e2.ID {
		t.Fatalf("claim after delivery = %+v, %v; want event 2", got, ok)
	}
	d2 := got.WebhookDelivery
	d2.Attempts, d2.Status, d2.NextAttempt, d2.Delivered = 1, 200, time.Time{}, t0.Add(time.Minute)
	mustRecord(t, s, id, d2)
	if ev, ok := mustClaim(t, s, id, "p1", t0.Add(time.Hour)); ok {
		t.Fatalf("claim of an empty queue = %+v", ev)
	}
	if ids := hookClients(t, s); slices.Contains(ids, id) {
		t.Errorf("WebhookClients = %v after every event was delivered", ids)
	}
	ds := deliveries(t, s, id, 0)
	if len(ds) != 2 || ds[0].ID != e2.ID || ds[1].ID != e1.ID || ds[1].Attempts != 2 || ds[1].Status != 204 || !ds[1].Delivered.Equal(t0.Add(time.Minute)) || !ds[1].NextAttempt.IsZero() {
		t.Errorf("deliveries = %+v, want event 2 then event 1 (2 attempts, delivered)", ds)
	}
}

// testHookHold: one holder at a time until the hold ends.
func testHookHold(t *testing.T, s lms.Store, id string) {
	mustEnqueue(t, s, hookEvent(id, "1", t0), nil, false)
	if _, ok := mustClaim(t, s, id, "p1", t0); !ok {
		t.Fatal("first claim failed")
	}
	if ev, ok := mustClaim(t, s, id, "p2", t0.Add(30*time.Second)); ok {
		t.Fatalf("p2 claimed %+v while p1 holds it", ev)
	}
	if _, ok := mustClaim(t, s, id, "p2", t0.Add(61*time.Second)); !ok {
		t.Fatal("p2 could not claim after p1's hold ended")
	}
	if _, ok := mustClaim(t, s, id, "p1", t0.Add(62*time.Second)); ok {
		t.Fatal("p1 claimed while p2 holds it")
	}
	if _, _, err := s.ClaimWebhook(ctx(), id, "p1", t0, 0); !errors.Is(err, lms.ErrInvalid) {
		t.Errorf("ClaimWebhook with lease 0: %v, want ErrInvalid", err)
	}
}

func pendingOf(t *testing.T, s lms.Store, id string) []lms.PendingUpdate {
	t.Helper()
	ps, err := s.PendingUpdates(ctx(), id, 0)
	if err != nil {
		t.Fatalf("PendingUpdates: %v", err)
	}
	return ps
}

// testHookAck: without a callback the event and the acknowledgement of
// the changes it carries are one step; a change that happened meanwhile
// stays pending.
func testHookAck(t *testing.T, s lms.Store, id string) {
	x, y := "http://x.example/"+id, "http://y.example/"+id
	mustSubscribe(t, s, id, x, y)
	record(t, s, result(x, lms.StateOK, "OK", t0), result(y, lms.StateOK, "OK", t0))
	ps := pendingOf(t, s, id)
	if len(ps) != 2 {
		t.Fatalf("pending = %+v, want 2", ps)
	}
	record(t, s, result(y, lms.StateUnavailable, "Not Found", t0)) // y changes again meanwhile
	mustEnqueue(t, s, hookEvent(id, "1", t0), ps, true)
	left := pendingOf(t, s, id)
	if len(left) != 1 || left[0].URL != y || left[0].State != lms.StateUnavailable {
		t.Errorf("pending after the hand-off = %+v, want only y's newer change", left)
	}
	if len(deliveries(t, s, id, 0)) != 1 {
		t.Error("the event was not stored")
	}
}

// testHookMark: with a callback the changes stay pending, marked handed,
// until the callback acknowledges them; a newer change is not marked.
func testHookMark(t *testing.T, s lms.Store, id string) {
	x, y := "http://x.example/"+id, "http://y.example/"+id
	mustSubscribe(t, s, id, x, y)
	record(t, s, result(x, lms.StateOK, "OK", t0), result(y, lms.StateOK, "OK", t0))
	ps := pendingOf(t, s, id)
	mustEnqueue(t, s, hookEvent(id, "1", t0), ps[:1], false) // only x
	if got := pendingOf(t, s, id); len(got) != 2 {
		t.Fatalf("pending after a marking hand-off = %+v, want both still", got)
	}
	un, err := s.UnhandedUpdates(ctx(), id, ps)
	if err != nil {
		t.Fatal(err)
	}
	if len(un) != 1 || un[0].URL != y {
		t.Fatalf("UnhandedUpdates = %+v, want only y", un)
	}
	// x changes again: the new change is not handed yet.
	record(t, s, result(x, lms.StateUnavailable, "Not Found", t0))
	now := pendingOf(t, s, id)
	if un, _ = s.UnhandedUpdates(ctx(), id, now); len(un) != 2 {
		t.Errorf("UnhandedUpdates after x changed = %+v, want x and y", un)
	}
	mustEnqueue(t, s, hookEvent(id, "2", t0), now, false)
	if un, _ = s.UnhandedUpdates(ctx(), id, now); len(un) != 0 {
		t.Errorf("UnhandedUpdates after handing both = %+v, want none", un)
	}
	// The callback acknowledges; the marks of acknowledged changes must not
	// hide a later change with another seq.
	if err := s.AckUpdates(ctx(), id, now); err != nil {
		t.Fatal(err)
	}
	record(t, s, result(y, lms.StateTemporary, "Timeout", t0))
	later := pendingOf(t, s, id)
	if un, _ = s.UnhandedUpdates(ctx(), id, later); len(un) != 1 || un[0].URL != y {
		t.Errorf("UnhandedUpdates of a new change = %+v, want y", un)
	}
	if un, _ = s.UnhandedUpdates(ctx(), id, nil); len(un) != 0 {
		t.Errorf("UnhandedUpdates(nil) = %+v", un)
	}
}

// testHookErrors: the sentinels, and a refused call changes nothing.
func testHookErrors(t *testing.T, s lms.Store, id string) {
	e := hookEvent(id, "1", t0)
	mustEnqueue(t, s, e, nil, false)
	if err := s.EnqueueWebhook(ctx(), e, nil, false); !errors.Is(err, lms.ErrExists) {
		t.Errorf("enqueue of an existing id: %v, want ErrExists", err)
	}
	if n := len(deliveries(t, s, id, 0)); n != 1 {
		t.Errorf("after a refused enqueue, %d events, want 1", n)
	}
	other := hookEvent("no-such-client", "1", t0)
	if err := s.EnqueueWebhook(ctx(), other, nil, false); !errors.Is(err, lms.ErrNotFound) {
		t.Errorf("enqueue for an unknown client: %v, want ErrNotFound", err)
	}
	if _, _, err := s.ClaimWebhook(ctx(), "no-such-client", "p", t0, time.Minute); !errors.Is(err, lms.ErrNotFound) {
		t.Errorf("claim of an unknown client: %v, want ErrNotFound", err)
	}
	if err := s.RecordWebhookAttempt(ctx(), id, lms.WebhookDelivery{ID: "msg_none", Attempts: 1}); !errors.Is(err, lms.ErrNotFound) {
		t.Errorf("record of an unknown event: %v, want ErrNotFound", err)
	}
	if _, err := s.WebhookDeliveries(ctx(), "no-such-client", 0); !errors.Is(err, lms.ErrNotFound) {
		t.Errorf("deliveries of an unknown client: %v, want ErrNotFound", err)
	}
	if _, err := s.WebhookDeliveries(ctx(), id, -1); !errors.Is(err, lms.ErrInvalid) {
		t.Errorf("deliveries with limit -1: %v, want ErrInvalid", err)
	}
	if _, err := s.UnhandedUpdates(ctx(), "no-such-client", nil); !errors.Is(err, lms.ErrNotFound) {
		t.Errorf("UnhandedUpdates of an unknown client: %v, want ErrNotFound", err)
	}
}

// testHookLog: finished events beyond WebhookLogSize are dropped, oldest
// first; events still to deliver never are, and log-only events are never
// claimed.
func testHookLog(t *testing.T, s lms.Store, id string) {
	open := hookEvent(id, "open", t0)
	mustEnqueue(t, s, open, nil, false)
	n := lms.WebhookLogSize + 5
	for i := range n {
		e := hookEvent(id, fmt.Sprint(i), t0.Add(time.Duration(i)*time.Second))
		e.NextAttempt = time.Time{} // finished at once (a test event)
		e.Attempts, e.Status, e.Delivered = 1, 200, e.Created
		mustEnqueue(t, s, e, nil, false)
	}
	ds := deliveries(t, s, id, 0)
	if len(ds) != lms.WebhookLogSize+1 {
		t.Fatalf("%d deliveries kept, want %d finished and the open one", len(ds), lms.WebhookLogSize+1)
	}
	if ds[0].ID != fmt.Sprintf("msg_%d", n-1) || ds[len(ds)-1].ID != open.ID || ds[len(ds)-2].ID != "msg_5" {
		t.Errorf("log = %s … %s, %s; want newest first, the 5 oldest finished dropped, the open one kept", ds[0].ID, ds[len(ds)-2].ID, ds[len(ds)-1].ID)
	}
	if lim := deliveries(t, s, id, 3); len(lim) != 3 || lim[0].ID != ds[0].ID || lim[2].ID != ds[2].ID {
		t.Errorf("deliveries limit 3 = %+v", lim)
	}
	got, ok := mustClaim(t, s, id, "p", t0.Add(time.Hour))
	if !ok || got.ID != open.ID {
		t.Errorf("claim = %+v, %v; want the open event, never a finished one", got, ok)
	}
}

// testHookDelete: a deleted client's events go with it.
func testHookDelete(t *testing.T, s lms.Store, id string) {
	x := "http://x.example/" + id
	mustSubscribe(t, s, id, x)
	record(t, s, result(x, lms.StateOK, "OK", t0))
	mustEnqueue(t, s, hookEvent(id, "1", t0), pendingOf(t, s, id), false)
	if err := s.DeleteClient(ctx(), id); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(hookClients(t, s), id) {
		t.Error("a deleted client still has webhook events")
	}
	mustClient(t, s, id)
	if ds := deliveries(t, s, id, 0); len(ds) != 0 {
		t.Errorf("a new client of the same id sees %d old events", len(ds))
	}
	mustEnqueue(t, s, hookEvent(id, "1", t0), nil, false) // the old id is free again
}

// testHookClientFields: the webhook settings round-trip.
func testHookClientFields(t *testing.T, s lms.Store, id string) {
	set := func(c *lms.Client) {
		c.WebhookURL, c.WebhookSecret, c.WebhookOldSecret = "https://hooks.example/in?x=1", "sealed-new", "sealed-old"
		c.WebhookOldUntil, c.WebhookFailures, c.WebhookLastError = t0.Add(24*time.Hour), 3, "the receiver answered HTTP 500"
		c.WebhookDisabledAt = t0.Add(time.Minute)
	}
	if _, err := s.UpdateClient(ctx(), id, func(c *lms.Client) error { set(c); return nil }); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetClient(ctx(), id)
	if err != nil {
		t.Fatal(err)
	}
	var want lms.Client
	set(&want)
	if got.WebhookURL != want.WebhookURL || got.WebhookSecret != want.WebhookSecret || got.WebhookOldSecret != want.WebhookOldSecret ||
		!got.WebhookOldUntil.Equal(want.WebhookOldUntil) || got.WebhookFailures != 3 || got.WebhookLastError != want.WebhookLastError ||
		!got.WebhookDisabledAt.Equal(want.WebhookDisabledAt) {
		t.Errorf("webhook fields = %q %q %q %v %d %q %v, want those of %+v", got.WebhookURL, got.WebhookSecret, got.WebhookOldSecret,
			got.WebhookOldUntil, got.WebhookFailures, got.WebhookLastError, got.WebhookDisabledAt, want)
	}
}

// testHookAliasing: bodies handed in and out are copies.
func testHookAliasing(t *testing.T, s lms.Store, id string) {
	e := hookEvent(id, "1", t0)
	want := string(e.Body)
	mustEnqueue(t, s, e, nil, false)
	e.Body[0] = 'X'
	got, ok := mustClaim(t, s, id, "p", t0)
	if !ok || string(got.Body) != want {
		t.Fatalf("claimed body %q, want %q", got.Body, want)
	}
	got.Body[0] = 'Y'
	again, _ := mustClaim(t, s, id, "p", t0)
	if string(again.Body) != want {
		t.Errorf("body after changing a claimed copy = %q, want %q", again.Body, want)
	}
}

// testHookCancelled: a cancelled context changes nothing.
func testHookCancelled(t *testing.T, s lms.Store, id string) {
	c, cancel := context.WithCancel(ctx())
	cancel()
	if err := s.EnqueueWebhook(c, hookEvent(id, "1", t0), nil, false); err == nil {
		t.Error("EnqueueWebhook with a cancelled context succeeded")
	}
	if _, _, err := s.ClaimWebhook(c, id, "p", t0, time.Minute); err == nil {
		t.Error("ClaimWebhook with a cancelled context succeeded")
	}
	if ds := deliveries(t, s, id, 0); len(ds) != 0 {
		t.Errorf("a cancelled enqueue stored %+v", ds)
	}
}

// testHookClaimRace: holders claiming at once, one event: exactly one gets
// it.
func testHookClaimRace(t *testing.T, s lms.Store, id string) {
	mustEnqueue(t, s, hookEvent(id, "1", t0), nil, false)
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, ok, err := s.ClaimWebhook(ctx(), id, fmt.Sprint("p", i), t0, time.Minute)
			if err != nil {
				t.Errorf("ClaimWebhook: %v", err)
			}
			if ok {
				mu.Lock()
				won++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if won != 1 {
		t.Errorf("%d holders got the event, want exactly 1", won)
	}
}
