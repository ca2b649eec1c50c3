package boltstore_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
)

// History, failing_since and ignores are on disk: they survive a reopen,
// and the check before Open accepts their records.
func TestEditorsReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lms.db")
	now := testNow()
	const u = "http://x.example/"
	s := open(t, path)
	require.NoError(t, s.CreateClient(ctx, lms.Client{ID: "a", PasswordHash: "h", Notify: true, Created: now}))
	_, err := s.Subscribe(ctx, "a", []string{u}, now)
	require.NoError(t, err)
	for i, st := range []lms.State{lms.StateOK, lms.StateUnavailable} {
		require.NoError(t, s.RecordResults(ctx, []lms.Outcome{{URL: u, Checked: now.Add(time.Duration(i) * time.Hour), NextDue: now.Add(24 * time.Hour),
			Result: lms.Result{State: st, Reason: string(st), Code: 200 + 204*i}}}))
	}
	_, err = s.SetIgnore(ctx, "a", []string{u}, lms.IgnoredUntilChanged)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s = open(t, path)
	defer s.Close()
	h, err := s.LinkHistory(ctx, u, time.Time{}, 0)
	require.NoError(t, err)
	require.Len(t, h, 2)
	require.Equal(t, lms.StateUnavailable, h[0].State)
	require.Equal(t, 404, h[0].Code)
	require.True(t, h[1].Time.Equal(now))
	l, err := s.ClientLink(ctx, "a", u)
	require.NoError(t, err)
	require.Equal(t, lms.IgnoredUntilChanged, l.Mode)
	require.True(t, l.FailingSince.Equal(now.Add(time.Hour)), "failing since %v", l.FailingSince)
}
