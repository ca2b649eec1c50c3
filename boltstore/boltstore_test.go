package boltstore_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/boltstore"
	"github.com/linkmonitor/lms/storetest"
)

func open(t *testing.T, path string) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(path, boltstore.Options{})
	require.NoError(t, err)
	return s
}

// testNow is the clock of the tests below.
func testNow() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) }

// subscribed opens a new store at path in which client "a" subscribes to
// urls at testNow.
func subscribed(t *testing.T, path string, urls ...string) *boltstore.Store {
	t.Helper()
	s := open(t, path)
	require.NoError(t, s.CreateClient(context.Background(), lms.Client{ID: "a"}))
	_, err := s.Subscribe(context.Background(), "a", urls, testNow())
	require.NoError(t, err)
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) lms.Store {
		return open(t, filepath.Join(t.TempDir(), "lms.db"))
	})
}

func TestEditors(t *testing.T) {
	storetest.RunEditors(t, func(t *testing.T, r lms.HistoryRetention) lms.Store {
		s, err := boltstore.Open(filepath.Join(t.TempDir(), "lms.db"), boltstore.Options{NoSync: true, History: r})
		require.NoError(t, err)
		return s
	})
}

func TestReopenKeepsEverything(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lms.db")
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	s := open(t, path)
	require.NoError(t, s.CreateClient(ctx, lms.Client{ID: "a", PasswordHash: "h", Notify: true, Created: now}))
	_, err := s.Subscribe(ctx, "a", []string{"http://x.example/", "http://y.example/"}, now)
	require.NoError(t, err)
	require.NoError(t, s.RecordResults(ctx, []lms.Outcome{{URL: "http://x.example/", Checked: now, NextDue: now.Add(time.Hour),
		Result: lms.Result{State: lms.StateUnavailable, Reason: "Not Found", Code: 404}}}))
	require.NoError(t, s.DeferHost(ctx, "y.example", now.Add(time.Hour)))
	require.NoError(t, s.Close())

	s = open(t, path)
	defer s.Close()
	c, err := s.GetClient(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, lms.StateCounts{Unavailable: 1, Unknown: 1}, c.Counts)
	ls, err := s.ClientLinks(ctx, "a", lms.Page{})
	require.NoError(t, err)
	require.Len(t, ls, 2)
	require.Equal(t, "Not Found", ls[0].Reason)
	require.Equal(t, 404, ls[0].Code)
	require.True(t, ls[0].NextDue.Equal(now.Add(time.Hour)))
	p, err := s.PendingUpdates(ctx, "a", 0)
	require.NoError(t, err)
	require.Equal(t, []lms.PendingUpdate{{Update: lms.Update{URL: "http://x.example/", State: lms.StateUnavailable, Reason: "Not Found"}, Seq: p[0].Seq}}, p)
	claimed, err := s.ClaimDue(ctx, now.Add(30*time.Minute), lms.ClaimOptions{Limit: 10, PerHost: 2, Lease: time.Minute})
	require.NoError(t, err)
	require.Empty(t, claimed, "the deferral of y.example and the due time of x must survive the restart")
}

// TestClaimWithoutSnapshot opens a file whose due index predates the
// schedule snapshot in its values: claims read the link records instead.
func TestClaimWithoutSnapshot(t *testing.T) {
	ctx := context.Background()
	path, now := filepath.Join(t.TempDir(), "lms.db"), testNow()
	s := subscribed(t, path, "http://x.example/")
	require.NoError(t, s.RecordResults(ctx, []lms.Outcome{{URL: "http://x.example/", Checked: now, NextDue: now.Add(time.Hour), Failures: 2,
		Result: lms.Result{State: lms.StateTemporary, Reason: "Service Unavailable", Code: 503}}}))
	require.NoError(t, s.Close())

	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("hostdue"))
		var keys [][]byte
		require.NoError(t, b.ForEach(func(k, _ []byte) error { keys = append(keys, bytes.Clone(k)); return nil }))
		require.Len(t, keys, 1)
		return b.Put(keys[0], []byte{1}) // the old index value
	}))
	require.NoError(t, db.Close())

	s = open(t, path)
	defer s.Close()
	for i := range 2 { // the lease of the first ran out: claimed again
		ls, err := s.ClaimDue(ctx, now.Add(time.Duration(i+1)*time.Hour), lms.ClaimOptions{Limit: 10, PerHost: 2, Lease: time.Minute})
		require.NoError(t, err)
		require.Len(t, ls, 1)
		require.Equal(t, lms.StateTemporary, ls[0].State)
		require.Equal(t, 2, ls[0].Failures)
	}
}

// TestOpenConvertsVersion1 opens a file of schema version 1, which moved a
// claimed link's due-index entry to the lease time: the entry goes back to
// the link's due time and the lease ends, as any lease does at Open.
func TestOpenConvertsVersion1(t *testing.T) {
	ctx := context.Background()
	path, now := filepath.Join(t.TempDir(), "lms.db"), testNow()
	s := subscribed(t, path, "http://x.example/", "http://y.example/")
	claimed, err := s.ClaimDue(ctx, now, lms.ClaimOptions{Limit: 1, PerHost: 1, Lease: time.Hour})
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	require.NoError(t, s.Close())

	// Rewrite the claim the way version 1 stored it: the entry in the due
	// index moved to the lease time (with the old, empty value).
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		hd := tx.Bucket([]byte("hostdue"))
		pre := append([]byte(claimed[0].Host), 0)
		var key []byte
		require.NoError(t, hd.ForEach(func(k, _ []byte) error {
			if bytes.HasPrefix(k, pre) {
				key = bytes.Clone(k)
			}
			return nil
		}))
		require.NotNil(t, key)
		lease := tx.Bucket([]byte("leases")).Get([]byte(claimed[0].URL))
		require.Len(t, lease, 8)
		require.NoError(t, hd.Delete(key))
		require.NoError(t, hd.Put(append(append(pre, lease...), claimed[0].URL...), []byte{1}))
		require.NoError(t, tx.DeleteBucket([]byte("leaseexp")))
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte("1"))
	}))
	require.NoError(t, db.Close())

	s = open(t, path)
	n, err := s.DueCount(ctx, now, 10)
	require.NoError(t, err)
	require.Equal(t, 2, n, "the claimed link is due at its own time again")
	ls, err := s.ClaimDue(ctx, now, lms.ClaimOptions{Limit: 10, PerHost: 1, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, ls, 2)
	require.NoError(t, s.Close())

	db, err = bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		// Both links are claimed, and nothing is left behind at the old
		// lease time.
		require.Equal(t, 2, tx.Bucket([]byte("hostdue")).Stats().KeyN)
		require.Equal(t, 2, tx.Bucket([]byte("leases")).Stats().KeyN)
		require.Equal(t, "3", string(tx.Bucket([]byte("meta")).Get([]byte("schema"))))
		return nil
	}))
}

// TestLeasesEndAtOpen: links claimed by the process that held the file
// before are due again at once.
func TestLeasesEndAtOpen(t *testing.T) {
	ctx := context.Background()
	path, now := filepath.Join(t.TempDir(), "lms.db"), testNow()
	s := subscribed(t, path, "http://x.example/")
	ls, err := s.ClaimDue(ctx, now, lms.ClaimOptions{Limit: 1, PerHost: 1, Lease: time.Hour})
	require.NoError(t, err)
	require.Len(t, ls, 1)
	ls, err = s.ClaimDue(ctx, now, lms.ClaimOptions{Limit: 1, PerHost: 1, Lease: time.Hour})
	require.NoError(t, err)
	require.Empty(t, ls, "claimed")
	require.NoError(t, s.Close())

	s = open(t, path)
	defer s.Close()
	ls, err = s.ClaimDue(ctx, now, lms.ClaimOptions{Limit: 1, PerHost: 1, Lease: time.Hour})
	require.NoError(t, err)
	require.Len(t, ls, 1)
}

func TestSecondOpenFailsClearly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lms.db")
	s := open(t, path)
	defer s.Close()
	// bbolt's lock is per open file description (flock), so a second Open
	// in the same process conflicts like another process would.
	start := time.Now()
	_, err := boltstore.Open(path, boltstore.Options{Timeout: 200 * time.Millisecond})
	require.Error(t, err)
	require.Contains(t, err.Error(), "in use by another process")
	require.Less(t, time.Since(start), 5*time.Second)
}

// TestCrashLosesNothingAcknowledged runs a child process that subscribes
// URLs one call at a time and prints each URL once Subscribe returned; the
// parent kills it with SIGKILL in the middle and checks that every printed
// URL is in the reopened file.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	if path := os.Getenv("LMS_CRASH_CHILD"); path != "" {
		crashChild(path)
		return
	}
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	path := filepath.Join(t.TempDir(), "lms.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashLosesNothingAcknowledged$")
	cmd.Env = append(os.Environ(), "LMS_CRASH_CHILD="+path)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var acked []string
	sc := bufio.NewScanner(out)
	for sc.Scan() && len(acked) < 300 {
		if u, ok := strings.CutPrefix(sc.Text(), "ACK "); ok {
			acked = append(acked, u)
		}
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	require.Len(t, acked, 300, "child did not acknowledge enough writes")

	s := open(t, path)
	defer s.Close()
	ctx := context.Background()
	have, err := s.LookupLinks(ctx, acked)
	require.NoError(t, err)
	for _, u := range acked {
		require.Contains(t, have, u, "acknowledged URL lost in the crash")
	}
	c, err := s.GetClient(ctx, "crash")
	require.NoError(t, err)
	require.GreaterOrEqual(t, c.Counts.Total(), len(acked))
	ls, err := s.ClientLinks(ctx, "crash", lms.Page{})
	require.NoError(t, err)
	require.Equal(t, c.Counts.Total(), len(ls), "client counts and subscriptions disagree after the crash")
}

func crashChild(path string) {
	ctx := context.Background()
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	if err := s.CreateClient(ctx, lms.Client{ID: "crash"}); err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	now := time.Now()
	// Results are written concurrently so that batched commits are under way when the kill lands.
	go func() {
		for i := 0; ; i++ {
			ls, err := s.ClaimDue(ctx, time.Now().Add(time.Hour), lms.ClaimOptions{Limit: 20, PerHost: 5, Lease: time.Minute})
			if err != nil {
				continue
			}
			var recs []lms.Outcome
			for _, l := range ls {
				recs = append(recs, lms.Outcome{URL: l.URL, Checked: now, NextDue: now.Add(24 * time.Hour), Result: lms.Result{State: lms.StateOK, Reason: "OK"}})
			}
			_ = s.RecordResults(ctx, recs)
		}
	}()
	for i := 0; ; i++ {
		u := fmt.Sprintf("http://h%d.example/page/%d", i%17, i)
		if _, err := s.Subscribe(ctx, "crash", []string{u}, now); err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		fmt.Println("ACK", u)
	}
}

// TestEmptyHolderHolds: "" is a holder like any other (lms.ClaimOptions):
// a host it claimed is not handed to another holder during the lease.
func TestEmptyHolderHolds(t *testing.T) {
	ctx, now := context.Background(), testNow()
	s := subscribed(t, filepath.Join(t.TempDir(), "lms.db"), "http://h.example/1", "http://h.example/2")
	defer s.Close()
	ls, err := s.ClaimDue(ctx, now, lms.ClaimOptions{Limit: 10, PerHost: 1, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, ls, 1)
	ls, err = s.ClaimDue(ctx, now.Add(time.Second), lms.ClaimOptions{Limit: 10, PerHost: 1, Lease: time.Minute, Holder: "p1"})
	require.NoError(t, err)
	require.Empty(t, ls, `p1 claimed a link of the host "" holds`)
	_, ok, err := s.HoldHost(ctx, "p1", "h.example", now.Add(time.Second), time.Minute)
	require.NoError(t, err)
	require.False(t, ok, `p1 held the host "" holds`)
}
