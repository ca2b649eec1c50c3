// Package storetest is the lms.Store contract as an importable conformance
// suite, in the manner of testing/fstest. Every Store implementation runs it
// in one line:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) lms.Store { return mystore.New() })
//	}
//
// The editors' role (lms.EditorStore: history, re-check, ignores) has a
// suite of its own, RunEditors, whose factory takes the history retention
// to keep.
//
// It uses only the standard testing package, so importing it adds nothing to
// a user's dependencies.
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
)

// NewStore returns a fresh, empty store for one subtest. Run closes it when
// the subtest ends; closing twice must be harmless. The subtests run in
// parallel (t.Parallel), so NewStore is called concurrently and the stores
// it returns must not share state (a directory, a database schema each).
type NewStore func(t *testing.T) lms.Store

// t0 is the fixed instant the suite works around.
var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// Run runs the whole contract against stores made by newStore. Every
// subtest runs in parallel with the others: each has a store of its own and
// the suite's fixed clock (t0), so no subtest can see another's effects.
// None needs to be serial; one that did (a test of something shared by all
// stores of a process) would say so and skip t.Parallel.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, lms.Store)
	}{
		{"ClientLifecycle", testClientLifecycle},
		{"ClientInvalid", testClientInvalid},
		{"UpdateClient", testUpdateClient},
		{"SubscribeShared", testSubscribeShared},
		{"ExactURLs", testExactURLs},
		{"SubscribeInvalid", testSubscribeInvalid},
		{"Unsubscribe", testUnsubscribe},
		{"ReplaceSubscriptions", testReplace},
		{"ClientLinksPaging", testPaging},
		{"ClaimDue", testClaimDue},
		{"ClaimLease", testClaimLease},
		{"ClaimSnapshot", testClaimSnapshot},
		{"UnsubscribeWhileClaimed", testUnsubscribeWhileClaimed},
		{"ClaimFairness", testClaimFairness},
		{"ClaimHostGap", testClaimHostGap},
		{"DeferHost", testDeferHost},
		{"HostHolders", testHostHolders},
		{"HoldHost", testHoldHost},
		{"ReleaseHosts", testReleaseHosts},
		{"PruneHosts", testPruneHosts},
		{"ClientLeasesAndOutbox", testClientLeasesAndOutbox},
		{"ClientBookkeeping", testClientBookkeeping},
		{"ClientDigest", testClientDigest},
		{"OrphanNotClaimed", testOrphan},
		{"RecordResults", testRecordResults},
		{"RecordHold", testRecordHold},
		{"RecordKind", testRecordKind},
		{"PendingCoalesceAck", testPendingAck},
		{"DeleteClient", testDeleteClient},
		{"Counts", testCounts},
		{"NoAliasing", testNoAliasing},
		{"CancelledContext", testCancelled},
		{"Concurrent", testConcurrent},
		{"Closed", testClosed},
		{"Webhooks", testWebhooks},
		{"DailyCounts", testDailyCounts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			t.Cleanup(func() { _ = s.Close() })
			tc.fn(t, s)
		})
	}
	runSources(t, newStore)
	runArchive(t, newStore)
}

func ctx() context.Context { return context.Background() }

func mustClient(t *testing.T, s lms.Store, id string) {
	t.Helper()
	if err := s.CreateClient(ctx(), lms.Client{ID: id, PasswordHash: "h", ContactEmail: id + "@example.org", CallbackURL: "http://" + id + ".example/db", Notify: true, Created: t0}); err != nil {
		t.Fatalf("CreateClient(%q): %v", id, err)
	}
}

func mustSubscribe(t *testing.T, s lms.Store, id string, urls ...string) int {
	t.Helper()
	n, err := s.Subscribe(ctx(), id, urls, t0)
	if err != nil {
		t.Fatalf("Subscribe(%q, %d urls): %v", id, len(urls), err)
	}
	return n
}

func urlsOf(links []lms.Link) []string {
	out := make([]string, len(links))
	for i, l := range links {
		out[i] = l.URL
	}
	return out
}

func allLinks(t *testing.T, s lms.Store, id string) []lms.Link {
	t.Helper()
	ls, err := s.ClientLinks(ctx(), id, lms.Page{})
	if err != nil {
		t.Fatalf("ClientLinks(%q): %v", id, err)
	}
	return ls
}

func record(t *testing.T, s lms.Store, recs ...lms.Outcome) {
	t.Helper()
	if err := s.RecordResults(ctx(), recs); err != nil {
		t.Fatalf("RecordResults: %v", err)
	}
}

func result(u string, st lms.State, reason string, next time.Time) lms.Outcome {
	return lms.Outcome{URL: u, Result: lms.Result{State: st, Reason: reason, Code: 200}, NextDue: next, Checked: t0}
}

func claim(t *testing.T, s lms.Store, now time.Time, limit, perHost int) []lms.Link {
	t.Helper()
	ls, err := s.ClaimDue(ctx(), now, lms.ClaimOptions{Limit: limit, PerHost: perHost, Lease: time.Minute})
	if err != nil {
		t.Fatalf("ClaimDue: %v", err)
	}
	return ls
}
