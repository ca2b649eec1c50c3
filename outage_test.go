package lms_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/memstore"
)

// guardFixture runs an engine over fake checks on a fake clock: links of
// hosts named "deadN…" fail at the network level once dead is set (or from
// the start with deadFromStart), "goneN…" answer 404, all others answer 200.
type guardFixture struct {
	e     *lms.Engine
	st    *memstore.Store
	clock atomic.Int64
	dead  atomic.Bool
}

func newGuardFixture(t *testing.T, deadFromStart bool) *guardFixture {
	f := &guardFixture{st: memstore.New()}
	f.dead.Store(deadFromStart)
	f.clock.Store(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC).UnixNano())
	checker := lms.CheckerFunc(func(ctx context.Context, u string) lms.Result {
		switch {
		case strings.Contains(u, "://dead") && f.dead.Load():
			return lms.Result{State: lms.StateUnavailable, Reason: "Connection refused", NetworkError: true}
		case strings.Contains(u, "://gone"):
			return lms.Result{State: lms.StateUnavailable, Reason: "Not Found", Code: 404}
		}
		return lms.Result{State: lms.StateOK, Reason: "OK", Code: 200}
	})
	var err error
	f.e, err = lms.New(f.st, lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker, Checker: checker,
		HostInterval: time.Millisecond, ClaimPoll: 10 * time.Millisecond, OutageRecheck: time.Minute,
		Now: func() time.Time { return time.Unix(0, f.clock.Load()).UTC() }})
	require.NoError(t, err)
	return f
}

func (f *guardFixture) advance(d time.Duration) { f.clock.Add(int64(d)) }

func (f *guardFixture) states(t *testing.T, id string) lms.StateCounts {
	c, err := f.e.Client(context.Background(), id)
	require.NoError(t, err)
	return c.Counts
}

func hosts(prefix string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("http://%s%d.example/", prefix, i))
	}
	return out
}

// One client registering 40 hosts that never answered cannot hide another
// client's broken links, nor its own failures.
func TestOutageGuardIgnoresHostsThatNeverAnswered(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := newGuardFixture(t, true)
		register(t, f.e, "attacker", hosts("dead", 40))
		register(t, f.e, "victim", append(hosts("gone", 3), hosts("fine", 3)...))
		runEngine(t, f.e)
		waitFor(t, 10*time.Second, "every link checked", func() bool { return unchecked(t, f.st) == 0 })
		s, err := f.e.Stats(context.Background())
		require.NoError(t, err)
		require.False(t, s.Outage)
		require.Zero(t, s.HeldBack, "failures of hosts that never answered are not held back")
		victim := f.states(t, "victim")
		require.Equal(t, 3, victim.Temporary+victim.Unavailable, "the victim's 404s are reported (and confirmed later): %+v", victim)
		require.Equal(t, 40, f.states(t, "attacker").Temporary+f.states(t, "attacker").Unavailable)
	})
}

// Hosts that were ok and all die at once look like an outage, but while
// other hosts still answer, the probe finds the network up: the failures
// are reported, not held back for good.
func TestOutageGuardProbeFindsTheNetworkUp(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := newGuardFixture(t, false)
		register(t, f.e, "attacker", hosts("dead", 40))
		register(t, f.e, "victim", hosts("fine", 5))
		runEngine(t, f.e)
		waitFor(t, 10*time.Second, "first round", func() bool { return unchecked(t, f.st) == 0 })
		require.Equal(t, 40, f.states(t, "attacker").OK)

		f.dead.Store(true)
		f.advance(30 * time.Hour) // everything is due again
		waitFor(t, 20*time.Second, "the dead hosts' failures reported", func() bool {
			if f.states(t, "attacker").OK == 0 {
				return true
			}
			f.advance(2 * time.Minute) // held-back links come due again at the next claim (waitFor's next poll)
			return false
		})
		s, err := f.e.Stats(context.Background())
		require.NoError(t, err)
		require.False(t, s.Outage, "the network was up all along")
		require.Equal(t, 5, f.states(t, "victim").OK)
	})
}
