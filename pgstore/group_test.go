package pgstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/pgtest"
)

// TestGroupCommit: 20 writers, one result per call, share transactions,
// and each call returns only once its result is committed: another Store
// (another process) reads it at once.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Start(t)
	a, b := openT(t, dsn), openT(t, dsn)
	const writers, each = 20, 25
	all := make([]string, writers*each)
	for i := range all {
		all[i] = testURL(i, 50)
	}
	if err := a.CreateClient(ctx, lms.Client{ID: "c"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Subscribe(ctx, "c", all, t0); err != nil {
		t.Fatal(err)
	}
	before := a.records.commits.Load()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				u := all[w*each+i]
				rec := lms.Outcome{URL: u, Checked: t0, NextDue: t0.Add(time.Hour), Result: lms.Result{State: lms.StateOK, Reason: "OK", Code: 200}}
				if err := a.RecordResults(ctx, []lms.Outcome{rec}); err != nil {
					t.Error(err)
					return
				}
				got, err := b.LookupLinks(ctx, []string{u})
				if err != nil || got[u].State != lms.StateOK || !got[u].NextDue.Equal(t0.Add(time.Hour)) {
					t.Errorf("after RecordResults(%s) returned, another store reads %+v, %v", u, got[u], err)
					return
				}
			}
		}()
	}
	wg.Wait()
	commits := a.records.commits.Load() - before
	t.Logf("%d calls written in %d transactions", writers*each, commits)
	if commits >= writers*each*3/4 {
		t.Errorf("%d calls took %d transactions: not grouped", writers*each, commits)
	}
	c, err := b.LinkCounts(ctx)
	if err != nil || c.OK != len(all) {
		t.Errorf("LinkCounts = %+v, %v; want %d ok", c, err, len(all))
	}
}

// TestGroupCommitCancelled: a call whose context is cancelled before it is
// written fails with the cancellation and writes nothing.
func TestGroupCommitCancelled(t *testing.T) {
	ctx := context.Background()
	s := openT(t, pgtest.Start(t))
	if err := s.CreateClient(ctx, lms.Client{ID: "c"}); err != nil {
		t.Fatal(err)
	}
	u := testURL(1, 1)
	if _, err := s.Subscribe(ctx, "c", []string{u}, t0); err != nil {
		t.Fatal(err)
	}
	// A waiting call: queued behind a leader that is writing.
	s.records.mu.Lock()
	s.records.busy = true
	cctx, cancel := context.WithCancel(ctx)
	c := &recordCall{ctx: cctx, recs: []lms.Outcome{{URL: u, Checked: t0, NextDue: t0, Result: lms.Result{State: lms.StateOK, Reason: "OK"}}}, done: make(chan error, 1)}
	s.records.queue = append(s.records.queue, c)
	s.records.mu.Unlock()
	cancel()
	// The leader hands over; the cancelled call leads, finds itself
	// cancelled and writes nothing.
	s.records.mu.Lock()
	s.records.queue[0].done <- errLead
	s.records.mu.Unlock()
	<-c.done
	if err := s.leadGroup(c); err == nil {
		t.Fatal("a cancelled call was written")
	}
	got, err := s.LookupLinks(ctx, []string{u})
	if err != nil || got[u].State != lms.StateUnknown {
		t.Errorf("link = %+v, %v; want it unchanged", got[u], err)
	}
	if s.records.busy {
		t.Error("the group stays busy after its last call")
	}
}
