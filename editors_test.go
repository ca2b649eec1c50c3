package lms_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/memstore"
	"github.com/linkmonitor/lms/xmlrpcapi"
)

// signalStore is a memstore that tells when results were recorded.
type signalStore struct {
	*memstore.Store
	recorded chan string // each recorded URL, without blocking the writer (buffered)
}

func (s *signalStore) RecordResults(ctx context.Context, recs []lms.Outcome) error {
	err := s.Store.RecordResults(ctx, recs)
	for _, r := range recs {
		select {
		case s.recorded <- r.URL:
		default:
		}
	}
	return err
}

// awaitResult waits for the result of u and returns how long it took.
func (s *signalStore) awaitResult(t *testing.T, u string, since time.Time) time.Duration {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case got := <-s.recorded:
			if got == u {
				return time.Since(since)
			}
		case <-timeout:
			t.Fatalf("no result for %s within 10 s", u)
		}
	}
}

// switchSite answers every request with the status it is set to.
func switchSite(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var status atomic.Int32
	status.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
	}))
	t.Cleanup(srv.Close)
	return srv, &status
}

// enrol registers a client with a generated password (hashed quickly,
// unlike a chosen one) and subscribes it to urls.
func enrol(t *testing.T, e *lms.Engine, id, callback string, urls ...string) {
	t.Helper()
	ctx := context.Background()
	_, err := e.RegisterClient(ctx, adminSecret, lms.Registration{ID: id, ContactName: id, ContactEmail: id + "@example.org", CallbackURL: callback})
	require.NoError(t, err)
	if len(urls) > 0 {
		_, err = e.RegisterURLs(ctx, id, urls)
		require.NoError(t, err)
	}
}

func statesFor(r *receiver, u string) []string {
	var out []string
	for _, tr := range r.states() {
		if tr[0] == u {
			out = append(out, tr[1])
		}
	}
	return out
}

// TestEditorsFlipHistoryIgnoreRecheck runs a real Engine (checker and
// notifier) over memstore against a loopback site that flips ok → 404 →
// ok, driven only by re-checks (the claim poll is an hour: only the
// wake-up of Recheck gets a link checked). Two clients share the link; a
// ignores it, b does not.
func TestEditorsFlipHistoryIgnoreRecheck(t *testing.T) {
	site, status := switchSite(t)
	u := site.URL + "/page"
	st := &signalStore{Store: memstore.New(), recorded: make(chan string, 64)}
	cb := xmlrpcapi.NewCallbackClient(xmlrpcapi.CallbackConfig{AllowPrivate: true, Timeout: 2 * time.Second, Chunk: 1000})
	e, err := lms.New(st, lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker | lms.RunNotifier, Notifier: cb,
		NotifyPoll: 10 * time.Millisecond, NotifyInterval: 50 * time.Millisecond,
		ClaimPoll: time.Hour, HostInterval: 50 * time.Millisecond, CheckerConfig: private(), Policy: lms.Policy{FailuresToUnavailable: 1}})
	require.NoError(t, err)
	ra, rb := newReceiver(t), newReceiver(t)
	enrol(t, e, "a", ra.srv.URL)
	enrol(t, e, "b", rb.srv.URL)
	runEngine(t, e)
	ctx := context.Background()
	start := time.Now()
	for _, id := range []string{"a", "b"} {
		_, err := e.RegisterURLs(ctx, id, []string{u})
		require.NoError(t, err)
	}
	st.awaitResult(t, u, start)
	waitFor(t, 10*time.Second, "both told ok", func() bool {
		return slices.Equal(statesFor(ra, u), []string{"ok"}) && slices.Equal(statesFor(rb, u), []string{"ok"})
	})

	// a ignores the link for good: the 404 reaches b only.
	n, err := e.Ignore(ctx, "a", []string{u}, false)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	status.Store(http.StatusNotFound)
	asked := time.Now()
	n, err = e.Recheck(ctx, "b", []string{u})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	lat404 := st.awaitResult(t, u, asked)
	waitFor(t, 10*time.Second, "b told unavailable", func() bool { return slices.Equal(statesFor(rb, u), []string{"ok", "unavailable"}) })
	pa, err := st.PendingCount(ctx, "a")
	require.NoError(t, err)
	require.Zero(t, pa, "a ignores the link: nothing pending for it")
	require.Equal(t, []string{"ok"}, statesFor(ra, u), "a ignores the link: no callback")
	l, err := e.ClientLink(ctx, "a", u)
	require.NoError(t, err)
	require.Equal(t, lms.StateUnavailable, l.State)
	require.Equal(t, lms.IgnoredForever, l.Mode)
	require.False(t, l.FailingSince.IsZero(), "failing since is set")
	require.Equal(t, 1, l.Failures)
	ig, err := e.IgnoredLinks(ctx, "a", lms.Page{})
	require.NoError(t, err)
	require.Len(t, ig, 1)
	ig, err = e.IgnoredLinks(ctx, "b", lms.Page{})
	require.NoError(t, err)
	require.Empty(t, ig)

	// Until changed: the recovery ends a's ignore and reaches both.
	_, err = e.Ignore(ctx, "a", []string{u}, true)
	require.NoError(t, err)
	status.Store(http.StatusOK)
	asked = time.Now()
	n, err = e.Recheck(ctx, "a", []string{u})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	latOK := st.awaitResult(t, u, asked)
	waitFor(t, 10*time.Second, "both told ok again", func() bool {
		return slices.Equal(statesFor(ra, u), []string{"ok", "ok"}) && slices.Equal(statesFor(rb, u), []string{"ok", "unavailable", "ok"})
	})
	l, err = e.ClientLink(ctx, "a", u)
	require.NoError(t, err)
	require.Equal(t, lms.NotIgnored, l.Mode, "the change ended the ignore")
	require.True(t, l.FailingSince.IsZero())

	// The history: ok → 404 → ok, newest first, with codes.
	h, err := e.LinkHistory(ctx, "a", u, time.Time{}, 0)
	require.NoError(t, err)
	require.Len(t, h, 3)
	for i, want := range []struct {
		state lms.State
		code  int
	}{{lms.StateOK, 200}, {lms.StateUnavailable, 404}, {lms.StateOK, 200}} {
		require.Equal(t, want.state, h[i].State, "entry %d", i)
		require.Equal(t, want.code, h[i].Code, "entry %d", i)
	}
	require.True(t, h[0].Time.After(h[1].Time) && h[1].Time.After(h[2].Time))
	page, err := e.LinkHistory(ctx, "b", u, h[0].Time, 1)
	require.NoError(t, err)
	require.Equal(t, h[1:2], page)
	_, err = e.LinkHistory(ctx, "a", site.URL+"/not-registered", time.Time{}, 0)
	require.ErrorIs(t, err, lms.ErrNotFound)
	t.Logf("re-check latency on an idle engine (request to recorded result, loopback): %v (→404), %v (→ok)", lat404, latOK)
	require.Less(t, max(lat404, latOK), 2*time.Second, "a re-check must not wait for the claim poll")
}

// TestRecheckCap: each client has its own hourly cap; a call over it
// changes nothing and says when to retry.
func TestRecheckCap(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	st := memstore.New()
	e, err := lms.New(st, lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker, RecheckPerHour: 3, Now: clock})
	require.NoError(t, err)
	us := []string{"http://c1.example/", "http://c2.example/", "http://c3.example/", "http://c4.example/"}
	enrol(t, e, "a", "http://a.example/db", us...)
	enrol(t, e, "b", "http://b.example/db", us[:1]...)
	ctx := context.Background()
	// Make them due later than now, as after a check.
	var outs []lms.Outcome
	for _, u := range us {
		outs = append(outs, lms.Outcome{URL: u, Checked: now, NextDue: now.Add(24 * time.Hour), Result: lms.Result{State: lms.StateOK, Reason: "OK"}})
	}
	require.NoError(t, st.RecordResults(ctx, outs))

	n, err := e.Recheck(ctx, "a", []string{us[0], us[1], us[1]}) // a duplicate counts once
	require.NoError(t, err)
	require.Equal(t, 2, n)
	_, err = e.Recheck(ctx, "a", us[2:4])
	var rl *lms.RateLimitError
	require.ErrorAs(t, err, &rl)
	require.ErrorIs(t, err, lms.ErrRateLimited)
	require.Greater(t, rl.RetryAfter, time.Duration(0))
	require.LessOrEqual(t, rl.RetryAfter, 20*time.Minute, "one URL more is earned in 20 min at 3 an hour")
	require.Equal(t, 1200, rl.RetrySeconds())
	links, err := e.ClientLinks(ctx, "a", lms.Page{})
	require.NoError(t, err)
	for _, l := range links[2:] {
		require.True(t, l.NextDue.After(now), "a refused call changed nothing: %s", l.URL)
	}
	// Another client has its own cap.
	n, err = e.Recheck(ctx, "b", us[:1])
	require.NoError(t, err)
	require.Equal(t, 0, n, "due already (a's re-check): nothing to do")
	// More than the cap in one call can never pass.
	_, err = e.Recheck(ctx, "b", us)
	require.ErrorIs(t, err, lms.ErrInvalid)
	// The cap refills over the hour.
	mu.Lock()
	now = now.Add(20 * time.Minute)
	mu.Unlock()
	n, err = e.Recheck(ctx, "a", us[2:4])
	require.NoError(t, err)
	require.Equal(t, 2, n)
	// Others' URLs and unknown ones are skipped, unknown clients refused.
	require.NoError(t, st.RecordResults(ctx, outs))
	n, err = e.Recheck(ctx, "b", []string{us[3], "http://unknown.example/"})
	require.NoError(t, err)
	require.Zero(t, n)
	_, err = e.Recheck(ctx, "nobody", us[:1])
	require.ErrorIs(t, err, lms.ErrNotFound)
	require.False(t, errors.Is(err, lms.ErrRateLimited))
}
