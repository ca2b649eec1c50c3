package lms_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/pgtest"
	"github.com/linkmonitor/lms/pgstore"
)

// TestRecheckCapShared: two engines over one PostgreSQL (two API processes
// of a deployment) share each client's re-check cap: 3 an hour in all, not
// 3 through each.
func TestRecheckCapShared(t *testing.T) {
	dsn := pgtest.Start(t)
	ctx := context.Background()
	var es []*lms.Engine
	for range 2 {
		st, err := pgstore.Open(ctx, dsn, pgstore.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		e, err := lms.New(st, lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker, RecheckPerHour: 3})
		require.NoError(t, err)
		es = append(es, e)
	}
	us := []string{"http://c1.example/", "http://c2.example/", "http://c3.example/", "http://c4.example/"}
	enrol(t, es[0], "a", "http://a.example/db", us...)
	enrol(t, es[0], "b", "http://b.example/db", us[:1]...)

	_, err := es[0].Recheck(ctx, "a", us[:2])
	require.NoError(t, err)
	_, err = es[1].Recheck(ctx, "a", us[2:4])
	var rl *lms.RateLimitError
	require.ErrorAs(t, err, &rl, "2 more through the other engine: 4 of 3")
	require.ErrorIs(t, err, lms.ErrRateLimited)
	require.Greater(t, rl.RetryAfter, time.Duration(0))
	require.LessOrEqual(t, rl.RetryAfter, 40*time.Minute, "two URLs are earned in 40 min at 3 an hour")
	_, err = es[1].Recheck(ctx, "a", us[2:3])
	require.NoError(t, err, "the third of the hour, through the other engine")
	_, err = es[0].Recheck(ctx, "a", us[3:4])
	require.ErrorAs(t, err, &rl, "a fourth, through the first engine")
	// Another client has its own cap; more than the cap in one call is
	// invalid, as with one process.
	_, err = es[1].Recheck(ctx, "b", us[:1])
	require.NoError(t, err)
	_, err = es[1].Recheck(ctx, "b", us)
	require.ErrorIs(t, err, lms.ErrInvalid)
}
