package storetest

// The results and notifications contract: recording outcomes, client
// leases and the outbox, pending updates and their acknowledgement.

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
)

func testClientLeasesAndOutbox(t *testing.T, s lms.Store) {
	c := lms.Client{ID: "a", PasswordHash: "h", ContactEmail: "a@example.org", CallbackURL: "http://a.example/db", Notify: true, Created: t0,
		Outbox: []lms.OutboxMail{{Kind: lms.MailRegistration, Queued: t0, SealedPassword: "sealed"}}}
	if err := s.CreateClient(ctx(), c); err != nil {
		t.Fatal(err)
	}
	c.Outbox[0].Kind = "mutated"
	got, err := s.GetClient(ctx(), "a")
	if err != nil || len(got.Outbox) != 1 || got.Outbox[0].Kind != lms.MailRegistration || got.Outbox[0].SealedPassword != "sealed" || !got.Outbox[0].Queued.Equal(t0) {
		t.Fatalf("GetClient outbox = %+v, %v", got.Outbox, err)
	}
	got.Outbox[0].Kind = "mutated"
	busy := errors.New("held elsewhere")
	take := func(holder string, now time.Time) error {
		_, err := s.UpdateClient(ctx(), "a", func(c *lms.Client) error {
			if c.NotifyLease.Held(now, holder) {
				return busy
			}
			c.NotifyLease = lms.Lease{Holder: holder, Until: now.Add(time.Minute)}
			c.Outbox = append(c.Outbox, lms.OutboxMail{Kind: lms.MailDisabled, Queued: now})
			return nil
		})
		return err
	}
	if err := take("p1", t0); err != nil {
		t.Fatal(err)
	}
	if err := take("p2", t0.Add(time.Second)); !errors.Is(err, busy) {
		t.Errorf("p2 took p1's lease: %v", err)
	}
	if err := take("p2", t0.Add(time.Minute)); err != nil {
		t.Errorf("p2 could not take the ended lease: %v", err)
	}
	got, _ = s.GetClient(ctx(), "a")
	if got.NotifyLease.Holder != "p2" || !got.NotifyLease.Until.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("lease = %+v, want p2 until t0+2m", got.NotifyLease)
	}
	if len(got.Outbox) != 3 || got.Outbox[0].Kind != lms.MailRegistration || got.Outbox[2].Kind != lms.MailDisabled {
		t.Errorf("outbox = %+v, want the registration and two disabled mails", got.Outbox)
	}
	cs, _ := s.ListClients(ctx())
	cs[0].Outbox[0].Kind = "mutated"
	if got, _ := s.GetClient(ctx(), "a"); got.Outbox[0].Kind != lms.MailRegistration {
		t.Errorf("mutating a listed client's outbox changed the store")
	}
}

func testOrphan(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	mustSubscribe(t, s, "a", "http://o.example/")
	if _, err := s.Unsubscribe(ctx(), "a", []string{"http://o.example/"}); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, s, t0.Add(time.Hour), 10, 5); len(got) != 0 {
		t.Errorf("orphaned link claimed: %v", urlsOf(got))
	}
	mustSubscribe(t, s, "a", "http://o.example/")
	if got := claim(t, s, t0.Add(time.Hour), 10, 5); len(got) != 1 {
		t.Errorf("re-subscribed link not claimed")
	}
}

func testRecordResults(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	mustClient(t, s, "b")
	mustClient(t, s, "c")
	mustSubscribe(t, s, "a", "http://x.example/")
	mustSubscribe(t, s, "b", "http://x.example/")
	mustSubscribe(t, s, "c", "http://other.example/")
	rec := lms.Outcome{URL: "http://x.example/", Checked: t0, NextDue: t0.Add(24 * time.Hour), Failures: 0,
		Result: lms.Result{State: lms.StateOK, Reason: "OK", Code: 200, FinalURL: "https://x.example/", Permanent: true, ResponseTime: 150 * time.Millisecond}}
	record(t, s, rec, lms.Outcome{URL: "http://never-registered.example/", Result: lms.Result{State: lms.StateOK}})
	ls, _ := s.LookupLinks(ctx(), []string{"http://x.example/", "http://never-registered.example/"})
	if len(ls) != 1 {
		t.Errorf("a record for an unknown URL created a link")
	}
	l := ls["http://x.example/"]
	if l.State != lms.StateOK || l.Reason != "OK" || l.Code != 200 || l.FinalURL != "https://x.example/" || !l.Permanent ||
		l.ResponseTime != 150*time.Millisecond || !l.LastChecked.Equal(t0) || !l.LastChanged.Equal(t0) || !l.NextDue.Equal(t0.Add(24*time.Hour)) {
		t.Errorf("recorded link = %+v", l)
	}
	for _, id := range []string{"a", "b"} {
		p, _ := s.PendingUpdates(ctx(), id, 0)
		if len(p) != 1 || p[0].URL != "http://x.example/" || p[0].State != lms.StateOK || p[0].Reason != "OK" {
			t.Errorf("pending of %s = %+v, want one ok update", id, p)
		}
	}
	if p, _ := s.PendingUpdates(ctx(), "c", 0); len(p) != 0 {
		t.Errorf("unrelated client c got pending %v", p)
	}
	if ids, _ := s.PendingClients(ctx()); !slices.Equal(ids, []string{"a", "b"}) {
		t.Errorf("PendingClients = %v, want [a b]", ids)
	}
	// A reason-only change is stored but not notified.
	for _, id := range []string{"a", "b"} {
		p, _ := s.PendingUpdates(ctx(), id, 0)
		if err := s.AckUpdates(ctx(), id, p); err != nil {
			t.Fatal(err)
		}
	}
	rec.Result.Reason = "Fine"
	rec.Checked = t0.Add(25 * time.Hour)
	record(t, s, rec)
	ls, _ = s.LookupLinks(ctx(), []string{"http://x.example/"})
	if l := ls["http://x.example/"]; l.Reason != "Fine" || !l.LastChanged.Equal(t0) || !l.LastChecked.Equal(t0.Add(25*time.Hour)) {
		t.Errorf("after reason-only change link = %+v", l)
	}
	if ids, _ := s.PendingClients(ctx()); len(ids) != 0 {
		t.Errorf("reason-only change made pending notifications for %v", ids)
	}
	if err := s.RecordResults(ctx(), []lms.Outcome{{URL: "http://x.example/", Result: lms.Result{State: "broken"}}}); !errors.Is(err, lms.ErrInvalid) {
		t.Errorf("RecordResults with invalid state = %v, want ErrInvalid", err)
	}
}

func testRecordHold(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	mustSubscribe(t, s, "a", "http://x.example/")
	record(t, s, result("http://x.example/", lms.StateOK, "OK", t0.Add(time.Hour)))
	p, _ := s.PendingUpdates(ctx(), "a", 0)
	_ = s.AckUpdates(ctx(), "a", p)
	record(t, s, lms.Outcome{URL: "http://x.example/", Hold: true, NextDue: t0.Add(5 * time.Minute), Result: lms.Result{State: lms.StateUnavailable, Reason: "refused"}})
	ls, _ := s.LookupLinks(ctx(), []string{"http://x.example/"})
	if l := ls["http://x.example/"]; l.State != lms.StateOK || l.Reason != "OK" || !l.NextDue.Equal(t0.Add(5*time.Minute)) {
		t.Errorf("held record changed the link: %+v", l)
	}
	if n, _ := s.PendingCount(ctx(), "a"); n != 0 {
		t.Errorf("held record made %d pending", n)
	}
}

func testPendingAck(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	mustSubscribe(t, s, "a", "http://x.example/", "http://y.example/")
	record(t, s, result("http://x.example/", lms.StateOK, "OK", t0), result("http://y.example/", lms.StateOK, "OK", t0))
	record(t, s, result("http://x.example/", lms.StateUnavailable, "Not Found", t0))
	p, err := s.PendingUpdates(ctx(), "a", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 2 || p[0].URL != "http://x.example/" || p[0].State != lms.StateUnavailable || p[0].Reason != "Not Found" {
		t.Fatalf("coalesced pending = %+v, want latest state of x then y", p)
	}
	if n, _ := s.PendingCount(ctx(), "a"); n != 2 {
		t.Errorf("PendingCount = %d, want 2", n)
	}
	if lim, _ := s.PendingUpdates(ctx(), "a", 1); len(lim) != 1 || lim[0].URL != "http://x.example/" {
		t.Errorf("PendingUpdates limit 1 = %+v", lim)
	}
	// x changes again while the batch is being delivered.
	record(t, s, result("http://x.example/", lms.StateOK, "OK", t0))
	if err := s.AckUpdates(ctx(), "a", p); err != nil {
		t.Fatal(err)
	}
	left, _ := s.PendingUpdates(ctx(), "a", 0)
	if len(left) != 1 || left[0].URL != "http://x.example/" || left[0].State != lms.StateOK {
		t.Errorf("after ack, pending = %+v, want only the newer change of x", left)
	}
	_ = s.AckUpdates(ctx(), "a", left)
	if ids, _ := s.PendingClients(ctx()); len(ids) != 0 {
		t.Errorf("PendingClients after full ack = %v", ids)
	}
}
