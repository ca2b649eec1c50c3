package storetest

// The client contract: create, read, update, bookkeeping and delete.

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
)

func testClientLifecycle(t *testing.T, s lms.Store) {
	mustClient(t, s, "b")
	mustClient(t, s, "a")
	if err := s.CreateClient(ctx(), lms.Client{ID: "a"}); !errors.Is(err, lms.ErrExists) {
		t.Fatalf("second CreateClient(a) = %v, want ErrExists", err)
	}
	c, err := s.GetClient(ctx(), "a")
	if err != nil {
		t.Fatalf("GetClient(a): %v", err)
	}
	if c.ID != "a" || c.ContactEmail != "a@example.org" || !c.Notify || !c.Created.Equal(t0) || c.PasswordHash != "h" {
		t.Errorf("GetClient(a) = %+v, fields not round-tripped", c)
	}
	list, err := s.ListClients(ctx())
	if err != nil {
		t.Fatalf("ListClients: %v", err)
	}
	if got := []string{list[0].ID, list[1].ID}; len(list) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("ListClients ids = %v, want [a b]", got)
	}
	if err := s.DeleteClient(ctx(), "a"); err != nil {
		t.Fatalf("DeleteClient(a): %v", err)
	}
	if _, err := s.GetClient(ctx(), "a"); !errors.Is(err, lms.ErrNotFound) {
		t.Errorf("GetClient after delete = %v, want ErrNotFound", err)
	}
	if err := s.DeleteClient(ctx(), "a"); !errors.Is(err, lms.ErrNotFound) {
		t.Errorf("second DeleteClient = %v, want ErrNotFound", err)
	}
}

func testClientInvalid(t *testing.T, s lms.Store) {
	for _, id := range []string{"", strings.Repeat("x", lms.MaxIDLength+1), "a\nb", "bad\xff"} {
		if err := s.CreateClient(ctx(), lms.Client{ID: id}); !errors.Is(err, lms.ErrInvalid) {
			t.Errorf("CreateClient(%q) = %v, want ErrInvalid", id, err)
		}
	}
	if list, _ := s.ListClients(ctx()); len(list) != 0 {
		t.Errorf("invalid creates left %d clients", len(list))
	}
	for _, op := range []func() error{
		func() error { _, err := s.GetClient(ctx(), "nobody"); return err },
		func() error { _, err := s.Subscribe(ctx(), "nobody", []string{"http://x/"}, t0); return err },
		func() error { _, err := s.Unsubscribe(ctx(), "nobody", []string{"http://x/"}); return err },
		func() error { _, _, err := s.ReplaceSubscriptions(ctx(), "nobody", nil, t0); return err },
		func() error { _, err := s.ClientLinks(ctx(), "nobody", lms.Page{}); return err },
		func() error { _, err := s.PendingUpdates(ctx(), "nobody", 0); return err },
		func() error { return s.AckUpdates(ctx(), "nobody", nil) },
		func() error {
			_, err := s.UpdateClient(ctx(), "nobody", func(*lms.Client) error { return nil })
			return err
		},
	} {
		if err := op(); !errors.Is(err, lms.ErrNotFound) {
			t.Errorf("operation on unknown client = %v, want ErrNotFound", err)
		}
	}
	if ls, _ := s.LookupLinks(ctx(), []string{"http://x/"}); len(ls) != 0 {
		t.Errorf("subscribe for unknown client created a link")
	}
}

func testUpdateClient(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	mustSubscribe(t, s, "a", "http://x.example/")
	got, err := s.UpdateClient(ctx(), "a", func(c *lms.Client) error {
		c.Notify = false
		c.NotifyFailures = 3
		c.NextSync = t0.Add(time.Hour)
		c.ID = "changed"
		c.Counts = lms.StateCounts{OK: 99}
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateClient: %v", err)
	}
	if got.ID != "a" || got.Notify || got.NotifyFailures != 3 || got.Counts.Unknown != 1 || got.Counts.OK != 0 {
		t.Errorf("UpdateClient returned %+v", got)
	}
	c, _ := s.GetClient(ctx(), "a")
	if c.Notify || c.NotifyFailures != 3 || !c.NextSync.Equal(t0.Add(time.Hour)) || c.Counts.Unknown != 1 {
		t.Errorf("after UpdateClient, GetClient = %+v", c)
	}
	boom := errors.New("boom")
	if _, err := s.UpdateClient(ctx(), "a", func(c *lms.Client) error { c.NotifyFailures = 7; return boom }); !errors.Is(err, boom) {
		t.Errorf("UpdateClient with failing fn = %v, want boom", err)
	}
	if c, _ := s.GetClient(ctx(), "a"); c.NotifyFailures != 3 {
		t.Errorf("failed UpdateClient changed the client: failures = %d", c.NotifyFailures)
	}
}

// testClientBookkeeping: every field of the notifier's and the syncer's
// bookkeeping that UpdateClient sets comes back from GetClient.
func testClientBookkeeping(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	set := func(c *lms.Client) {
		c.NotifyFailures, c.NextNotify, c.LastNotified = 4, t0.Add(time.Minute), t0.Add(-time.Hour)
		c.LastNotifyError, c.NotifyDisabledAt = "push failed", t0.Add(-time.Minute)
		c.NextSync, c.LastSync, c.SyncForced = t0.Add(24*time.Hour), t0.Add(-24*time.Hour), true
		c.LastSyncError, c.SyncTooLargeMailed = "list too large", true
	}
	if _, err := s.UpdateClient(ctx(), "a", func(c *lms.Client) error { set(c); return nil }); err != nil {
		t.Fatalf("UpdateClient: %v", err)
	}
	got, err := s.GetClient(ctx(), "a")
	if err != nil {
		t.Fatalf("GetClient: %v", err)
	}
	var want lms.Client
	set(&want)
	times := [][2]time.Time{{got.NextNotify, want.NextNotify}, {got.LastNotified, want.LastNotified},
		{got.NotifyDisabledAt, want.NotifyDisabledAt}, {got.NextSync, want.NextSync}, {got.LastSync, want.LastSync}}
	for i, tt := range times {
		if !tt[0].Equal(tt[1]) {
			t.Errorf("time field %d = %v, want %v", i, tt[0], tt[1])
		}
	}
	if got.NotifyFailures != want.NotifyFailures || got.LastNotifyError != want.LastNotifyError || got.SyncForced != want.SyncForced ||
		got.LastSyncError != want.LastSyncError || got.SyncTooLargeMailed != want.SyncTooLargeMailed {
		t.Errorf("bookkeeping = %+v, want the fields of %+v", got, want)
	}
}

func testDeleteClient(t *testing.T, s lms.Store) {
	mustClient(t, s, "a")
	mustClient(t, s, "b")
	mustSubscribe(t, s, "a", "http://x.example/", "http://only-a.example/")
	mustSubscribe(t, s, "b", "http://x.example/")
	record(t, s, result("http://x.example/", lms.StateOK, "OK", t0.Add(time.Hour)))
	if err := s.DeleteClient(ctx(), "a"); err != nil {
		t.Fatal(err)
	}
	if ids, _ := s.PendingClients(ctx()); !slices.Equal(ids, []string{"b"}) {
		t.Errorf("PendingClients after delete = %v", ids)
	}
	ls, _ := s.LookupLinks(ctx(), []string{"http://x.example/", "http://only-a.example/"})
	if ls["http://x.example/"].Subscribers != 1 || ls["http://only-a.example/"].Subscribers != 0 {
		t.Errorf("subscriber counts after delete: %+v", ls)
	}
	if got := claim(t, s, t0.Add(48*time.Hour), 10, 5); len(got) != 1 || got[0].URL != "http://x.example/" {
		t.Errorf("after delete claimed %v, want only the link b keeps", urlsOf(got))
	}
	mustClient(t, s, "a")
	if ls := allLinks(t, s, "a"); len(ls) != 0 {
		t.Errorf("re-created client inherited links %v", urlsOf(ls))
	}
}
