package lms_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/boltstore"
	"github.com/linkmonitor/lms/internal/farm"
	"github.com/linkmonitor/lms/internal/secret"
	"github.com/linkmonitor/lms/memstore"
)

const adminSecret = "test-admin-secret"

// waitFor polls cond every 10 ms until it holds or timeout has passed: for
// state that the code under test changes without telling anyone (a
// store's contents, what a test server received). A test that has a
// signal waits on it instead (countingStore.awaitCalls, a channel).
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// laggingClock is an engine's clock that runs behind the real time until
// catchUp: links registered before are due before those registered after,
// as far apart as the lag, without waiting between the registrations.
type laggingClock struct{ lag atomic.Int64 }

func newLaggingClock(lag time.Duration) *laggingClock {
	c := &laggingClock{}
	c.lag.Store(int64(lag))
	return c
}

func (c *laggingClock) now() time.Time { return time.Now().Add(-time.Duration(c.lag.Load())) }

func (c *laggingClock) catchUp() { c.lag.Store(0) }

// runEngine starts e.Run and returns a stop function that cancels it and
// checks that Run returned nil promptly.
func runEngine(t testing.TB, e *lms.Engine) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return within 10 s of cancellation")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func register(t *testing.T, e *lms.Engine, id string, urls []string) {
	t.Helper()
	ctx := context.Background()
	_, err := e.RegisterClient(ctx, adminSecret, lms.Registration{ID: id, Password: "password-" + id, ContactName: id, ContactEmail: id + "@example.org", CallbackURL: "http://" + id + ".example/db"})
	require.NoError(t, err)
	_, err = e.RegisterURLs(ctx, id, urls)
	require.NoError(t, err)
}

func unchecked(t *testing.T, s lms.Store) int {
	c, err := s.LinkCounts(context.Background())
	require.NoError(t, err)
	return c.Unknown
}

func TestPoolPolitenessAndConcurrency(t *testing.T) {
	f, err := farm.Start(5, farm.Options{Latency: 30 * time.Millisecond, FirstAddr: 10, FTP: 2})
	require.NoError(t, err)
	defer f.Close()
	var urls []string
	for _, h := range f.Hosts {
		for i := range 6 {
			urls = append(urls, fmt.Sprintf("%s/%d/page%d", h.Base, []int{200, 404, 500, 301, 200, 200}[i], i))
		}
	}
	for _, h := range f.FTPHosts {
		urls = append(urls, h.Base+"/200/p0", h.Base+"/200/p1", h.Base+"/404/p2")
	}
	st := memstore.New()
	interval := 200 * time.Millisecond
	// One check decides (FailuresToUnavailable 1): this test counts requests.
	e, err := lms.New(st, lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker, Concurrency: 3, HostInterval: interval,
		ClaimPoll: 20 * time.Millisecond, CheckerConfig: private(), Policy: lms.Policy{FailuresToUnavailable: 1}})
	require.NoError(t, err)
	register(t, e, "a", urls)
	stop := runEngine(t, e)
	waitFor(t, 30*time.Second, "all links checked", func() bool { return unchecked(t, st) == 0 })
	stop()
	p := f.Politeness(interval)
	require.Zero(t, p.Violations, "requests closer than the host interval (min gap %v at %s)", p.MinGap, p.MinGapHost)
	require.LessOrEqual(t, f.PeakInFlight(), 3, "concurrency cap")
	// Each URL once (a 301 costs one more request, to the same host, also paced).
	require.Equal(t, len(urls)+5, f.Total())
	ls, err := e.ClientLinks(context.Background(), "a", lms.Page{})
	require.NoError(t, err)
	for _, l := range ls {
		switch {
		case strings.HasPrefix(l.URL, "ftp:") && strings.Contains(l.URL, "/404/"):
			require.Equal(t, lms.StateUnavailable, l.State, l.URL)
			require.Equal(t, 550, l.Code, l.Reason)
		case strings.Contains(l.URL, "/404/"):
			require.Equal(t, lms.StateUnavailable, l.State, l.URL)
		case strings.Contains(l.URL, "/500/"):
			require.Equal(t, lms.StateTemporary, l.State, l.URL)
		case strings.Contains(l.URL, "/301/"):
			require.Equal(t, lms.StateOK, l.State, l.URL)
			require.True(t, l.Permanent)
			require.Contains(t, l.FinalURL, "/200/")
		default:
			require.Equal(t, lms.StateOK, l.State, l.URL)
		}
		require.False(t, l.LastChecked.IsZero())
		require.True(t, l.NextDue.After(time.Now().Add(time.Hour)), "next due after MinRecheck")
	}
}

func TestPoolFairness(t *testing.T) {
	f, err := farm.Start(11, farm.Options{Latency: 5 * time.Millisecond, FirstAddr: 20})
	require.NoError(t, err)
	defer f.Close()
	big, small := f.Hosts[0], f.Hosts[1:]
	var urls []string
	for i := range 30 {
		urls = append(urls, fmt.Sprintf("%s/200/big%d", big.Base, i))
	}
	st := memstore.New()
	interval := 100 * time.Millisecond
	clock := newLaggingClock(time.Second) // the small hosts' links become due after all of the big host's
	e, err := lms.New(st, lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker, Concurrency: 4, HostInterval: interval,
		ClaimPoll: 20 * time.Millisecond, CheckerConfig: private(), Now: clock.now})
	require.NoError(t, err)
	register(t, e, "big", urls)
	var smallURLs []string
	for _, h := range small {
		smallURLs = append(smallURLs, h.Base+"/200/small")
	}
	clock.catchUp()
	register(t, e, "small", smallURLs)
	start := time.Now()
	stop := runEngine(t, e)
	waitFor(t, 30*time.Second, "all links checked", func() bool { return unchecked(t, st) == 0 })
	stop()
	last, err := farm.LastRequest(small)
	require.NoError(t, err)
	require.Less(t, last.Sub(start), time.Second, "small hosts must not wait for the big one (it needs ≥ 2.9 s)")
	bigReqs := big.Requests()
	require.Len(t, bigReqs, 30)
	require.GreaterOrEqual(t, bigReqs[29].At.Sub(bigReqs[0].At), 29*interval)
	require.Zero(t, f.Politeness(interval).Violations)
}

func TestEngineEndToEnd(t *testing.T) {
	stores := map[string]func(t *testing.T) lms.Store{
		"memstore": func(*testing.T) lms.Store { return memstore.New() },
		"boltstore": func(t *testing.T) lms.Store {
			s, err := boltstore.Open(filepath.Join(t.TempDir(), "lms.db"), boltstore.Options{})
			require.NoError(t, err)
			return s
		},
	}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			f, err := farm.Start(2, farm.Options{FirstAddr: 40})
			require.NoError(t, err)
			defer f.Close()
			st := newStore(t)
			defer st.Close()
			var mu sync.Mutex
			got := map[string]lms.Update{}
			var calls []lms.Endpoint
			notifier := lms.NotifierFunc(func(_ context.Context, cb lms.Endpoint, ups []lms.Update) error {
				mu.Lock()
				defer mu.Unlock()
				calls = append(calls, cb)
				for _, u := range ups {
					got[u.URL] = u
				}
				return nil
			})
			e, err := lms.New(st, lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker | lms.RunNotifier, Notifier: notifier,
				HostInterval: 50 * time.Millisecond, ClaimPoll: 20 * time.Millisecond, NotifyPoll: 20 * time.Millisecond, NotifyInterval: 50 * time.Millisecond,
				CheckerConfig: private(), Policy: lms.Policy{MinRecheck: 240 * time.Millisecond}}) // failures confirmed after 20 ms
			require.NoError(t, err)
			ok, missing := f.Hosts[0].Base+"/200/ok", f.Hosts[1].Base+"/404/missing"
			register(t, e, "site", []string{ok, missing, "mailto:x@example.org", "news:comp.lang.go", "not a url"})
			ctx := context.Background()
			first, err := e.RegisterURLs(ctx, "site", []string{ok})
			require.NoError(t, err)
			require.Empty(t, first, "nothing checked yet")
			stop := runEngine(t, e)
			waitFor(t, 20*time.Second, "four notifications, the 404 confirmed", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(got) == 4 && got[missing].State == lms.StateUnavailable
			})
			stop()
			mu.Lock()
			require.Equal(t, lms.Update{URL: ok, State: lms.StateOK, Reason: "OK"}, got[ok])
			require.Equal(t, lms.Update{URL: missing, State: lms.StateUnavailable, Reason: "Not Found"}, got[missing])
			require.Equal(t, lms.StateOK, got["mailto:x@example.org"].State)
			require.Equal(t, lms.Update{URL: "news:comp.lang.go", State: lms.StateUnsupported, Reason: lms.ReasonNoHandler}, got["news:comp.lang.go"])
			require.Equal(t, lms.Endpoint{ClientID: "site", Password: "password-site", URL: "http://site.example/db"}, calls[0])
			mu.Unlock()
			n, err := st.PendingCount(ctx, "site")
			require.NoError(t, err)
			require.Zero(t, n, "delivered changes are acknowledged")
			again, err := e.RegisterURLs(ctx, "site", []string{missing, ok, missing})
			require.NoError(t, err)
			require.Equal(t, []lms.Update{got[missing], got[ok], got[missing]}, again)
			stats, err := e.Stats(ctx)
			require.NoError(t, err)
			require.Equal(t, 4, stats.Links.Total())
			require.EqualValues(t, 5, stats.ChecksTotal, "the 404 is checked twice: once, and to confirm it")
			// The 404's first state (temporary unavailable) is delivered too
			// unless its confirmation came within the notify interval.
			require.Contains(t, []uint64{4, 5}, stats.NotifyDelivered)
			require.Len(t, stats.Clients, 1)
		})
	}
}

// TestRestartResumes stops a bolt-backed engine in the middle of checking
// and starts a new one on the same file: every link gets checked, none is
// lost, and finished ones are not checked again.
func TestRestartResumes(t *testing.T) {
	f, err := farm.Start(10, farm.Options{Latency: 100 * time.Millisecond, FirstAddr: 50})
	require.NoError(t, err)
	defer f.Close()
	var urls []string
	for _, h := range f.Hosts {
		for i := range 4 {
			urls = append(urls, fmt.Sprintf("%s/200/%d", h.Base, i))
		}
	}
	path := filepath.Join(t.TempDir(), "lms.db")
	cfg := lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker, Concurrency: 4, HostInterval: 100 * time.Millisecond,
		ClaimPoll: 20 * time.Millisecond, CheckerConfig: private()}
	open := func() lms.Store {
		s, err := boltstore.Open(path, boltstore.Options{})
		require.NoError(t, err)
		return s
	}
	st := open()
	e, err := lms.New(st, cfg)
	require.NoError(t, err)
	register(t, e, "a", urls)
	stop := runEngine(t, e)
	waitFor(t, 20*time.Second, "some checks", func() bool { return unchecked(t, st) <= len(urls)-10 })
	stop()
	before := len(urls) - unchecked(t, st)
	require.NoError(t, st.Close())

	st = open()
	defer st.Close()
	e, err = lms.New(st, cfg)
	require.NoError(t, err)
	stop = runEngine(t, e)
	waitFor(t, 20*time.Second, "all links checked after the restart", func() bool { return unchecked(t, st) == 0 })
	stop()
	require.GreaterOrEqual(t, before, 10)
	// Abandoned in-flight checks may have reached a server once before the
	// stop; nothing finished was checked again.
	require.LessOrEqual(t, f.Total(), len(urls)+cfg.Concurrency)
	require.Zero(t, f.Politeness(0).Violations)
}

func TestOutageGuardHoldsBackNetworkFailures(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var down atomic.Bool
		checker := lms.CheckerFunc(func(ctx context.Context, u string) lms.Result {
			if down.Load() {
				return lms.Result{State: lms.StateUnavailable, Reason: "Connection refused", NetworkError: true}
			}
			return lms.Result{State: lms.StateOK, Reason: "OK", Code: 200}
		})
		st := memstore.New()
		now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
		var clock atomic.Int64
		clock.Store(now.UnixNano())
		e, err := lms.New(st, lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker, Checker: checker, HostInterval: time.Millisecond,
			ClaimPoll: 10 * time.Millisecond, Now: func() time.Time { return time.Unix(0, clock.Load()).UTC() }})
		require.NoError(t, err)
		var urls []string
		for i := range 30 {
			urls = append(urls, fmt.Sprintf("http://host%d.example/", i))
		}
		register(t, e, "a", urls)
		stop := runEngine(t, e)
		waitFor(t, 10*time.Second, "first round", func() bool { return unchecked(t, st) == 0 })
		// The network goes away; a day later everything is due again.
		down.Store(true)
		clock.Store(now.Add(30 * time.Hour).UnixNano())
		waitFor(t, 10*time.Second, "the guard to trip", func() bool {
			s, err := e.Stats(context.Background())
			return err == nil && s.Outage && s.ChecksTotal >= 60
		})
		stop()
		counts, err := st.LinkCounts(context.Background())
		require.NoError(t, err)
		// Before the guard tripped (10 hosts) some links may have got the
		// policy's first-failure "temporary"; none may be reported unavailable.
		require.Zero(t, counts.Unavailable, "an outage must not mark links unavailable: %+v", counts)
		require.GreaterOrEqual(t, counts.OK, 15, "most links keep their state: %+v", counts)
		s, err := e.Stats(context.Background())
		require.NoError(t, err)
		require.Positive(t, s.HeldBack)
	})
}

func TestCheckerPanicDoesNotKillTheEngine(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	checker := lms.CheckerFunc(func(ctx context.Context, u string) lms.Result {
		if strings.Contains(u, "boom") {
			panic("kaboom")
		}
		return lms.Result{State: lms.StateOK, Reason: "OK"}
	})
	e, err := lms.New(st, lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker, Checker: checker, ClaimPoll: 10 * time.Millisecond})
	require.NoError(t, err)
	register(t, e, "a", []string{"http://x.example/boom", "http://y.example/fine"})
	stop := runEngine(t, e)
	waitFor(t, 10*time.Second, "both checked", func() bool { return unchecked(t, st) == 0 })
	stop()
	ls, err := e.LinkStates(context.Background(), "a", []string{"http://x.example/boom", "http://y.example/fine"})
	require.NoError(t, err)
	require.Equal(t, lms.StateUnsupported, ls[0].State)
	require.Contains(t, ls[0].Reason, "kaboom")
	require.Equal(t, lms.StateOK, ls[1].State)
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	cases := map[string]lms.Config{
		"Concurrency":           {Concurrency: -1, Components: lms.RunChecker},
		"HostInterval":          {HostInterval: -time.Second, Components: lms.RunChecker},
		"Policy.Interval":       {Policy: lms.Policy{Interval: -time.Hour}, Components: lms.RunChecker},
		"NotifyInterval":        {NotifyInterval: -1, Components: lms.RunChecker},
		"Notifier":              {},
		"Lister":                {Components: lms.RunSyncer, Notifier: lms.NotifierFunc(nil)},
		"PublicURL":             {PublicURL: "ftp://x", Components: lms.RunChecker},
		"OutageRatio":           {OutageRatio: 2, Components: lms.RunChecker},
		"CheckerConfig.Timeout": {CheckerConfig: lms.CheckerConfig{Timeout: -1}, Components: lms.RunChecker},
	}
	for field, cfg := range cases {
		_, err := lms.New(st, cfg)
		require.Error(t, err, field)
		require.True(t, errors.Is(err, lms.ErrInvalid), field)
		require.Contains(t, err.Error(), "Config."+field)
	}
	e, err := lms.New(st, lms.Config{Components: lms.RunChecker})
	require.NoError(t, err)
	c := e.Config()
	require.Equal(t, 20, c.Concurrency)
	require.Equal(t, time.Second, c.HostInterval)
	require.Equal(t, 24*time.Hour, c.Policy.Interval)
	require.Equal(t, 15*time.Second, c.NotifyInterval)
}

func TestAdminSecretEnforced(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, err := lms.New(memstore.New(), lms.Config{Components: lms.RunChecker})
	require.NoError(t, err)
	reg := lms.Registration{ID: "x", ContactEmail: "x@example.org", CallbackURL: "http://x.example/"}
	_, err = e.RegisterClient(ctx, "", reg)
	require.ErrorIs(t, err, lms.ErrUnauthorized, "no admin secret configured: management refused")
	e, err = lms.New(memstore.New(), lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker})
	require.NoError(t, err)
	_, err = e.RegisterClient(ctx, adminSecret+"x", reg)
	require.ErrorIs(t, err, lms.ErrUnauthorized)
	pw, err := e.RegisterClient(ctx, adminSecret, reg)
	require.NoError(t, err)
	require.Len(t, pw, secret.PasswordLength)
	require.NoError(t, e.Authenticate(ctx, "x", pw))
	require.ErrorIs(t, e.Authenticate(ctx, "x", pw+"!"), lms.ErrUnauthorized)
	require.ErrorIs(t, e.Authenticate(ctx, "nobody", pw), lms.ErrUnauthorized)
	for _, bad := range []lms.Registration{
		{ID: "", ContactEmail: "x@example.org", CallbackURL: "http://x.example/"},
		{ID: "y", ContactEmail: "nope", CallbackURL: "http://x.example/"},
		{ID: "y", ContactEmail: "y@example.org", CallbackURL: "javascript:alert(1)"},
		{ID: "y", ContactEmail: "y@example.org", CallbackURL: "http://x.example/", Password: "short"},
	} {
		_, err := e.RegisterClient(ctx, adminSecret, bad)
		require.ErrorIs(t, err, lms.ErrInvalid, "%+v", bad)
	}
}

func TestHostBackoffAfter429(t *testing.T) {
	f, err := farm.Start(2, farm.Options{FirstAddr: 60})
	require.NoError(t, err)
	defer f.Close()
	busy, other := f.Hosts[0], f.Hosts[1]
	st := newCountingStore(memstore.New())
	clock := newLaggingClock(time.Second) // the other links become due after the first
	e, err := lms.New(st, lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker, HostInterval: 50 * time.Millisecond, HostBackoff: 2 * time.Second,
		ClaimPoll: 10 * time.Millisecond, CheckerConfig: private(), Now: clock.now})
	require.NoError(t, err)
	register(t, e, "a", []string{busy.Base + "/429/first"})
	clock.catchUp()
	_, err = e.RegisterURLs(context.Background(), "a", []string{busy.Base + "/200/b", busy.Base + "/200/c", other.Base + "/200/x", other.Base + "/200/y"})
	require.NoError(t, err)
	stop := runEngine(t, e)
	waitFor(t, 10*time.Second, "the other host", func() bool { return len(other.Requests()) == 2 })
	st.awaitCalls(t, "ClaimDue", 10) // the resting host's links are neither claimed nor checked meanwhile
	s, err := e.Stats(context.Background())
	require.NoError(t, err)
	stop()
	reqs := busy.Requests()
	// The 429 (without Retry-After) gets its one browser-like retry, paced;
	// then the host rests.
	require.Len(t, reqs, 2, "a host that answered 429 rests: %v", reqs)
	require.Equal(t, "/429/first", reqs[0].Path)
	require.Equal(t, "/429/first", reqs[1].Path)
	require.GreaterOrEqual(t, reqs[1].At.Sub(reqs[0].At), 50*time.Millisecond, "the retry is paced")
	require.Equal(t, 1, s.HostsBackedOff)
	ls, err := e.LinkStates(context.Background(), "a", []string{busy.Base + "/429/first", busy.Base + "/200/b"})
	require.NoError(t, err)
	require.Equal(t, lms.StateTemporary, ls[0].State)
	require.Equal(t, "Too Many Requests", ls[0].Reason)
	require.Equal(t, lms.StateUnknown, ls[1].State)
	require.True(t, ls[1].NextDue.After(time.Now().Add(time.Second)), "the rest of the host's links wait for the back-off")
}

// TestNewLinksCheckedWithoutWaitingForThePoll registers links into a running
// engine whose poll is a quarter of an hour: they are checked at once.
func TestNewLinksCheckedWithoutWaitingForThePoll(t *testing.T) {
	t.Parallel()
	var checked atomic.Int64
	checker := lms.CheckerFunc(func(ctx context.Context, u string) lms.Result {
		checked.Add(1)
		return lms.Result{State: lms.StateOK, Reason: "OK", Code: 200}
	})
	st := memstore.New()
	e, err := lms.New(st, lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker, Checker: checker,
		ClaimPoll: 15 * time.Minute, HostInterval: time.Hour})
	require.NoError(t, err)
	register(t, e, "a", []string{"http://a.example/"})
	stop := runEngine(t, e)
	defer stop()
	// The first claim takes this link; the next finds nothing and the
	// claimer waits for its poll.
	waitFor(t, 5*time.Second, "the first link checked", func() bool { return checked.Load() == 1 })
	_, err = e.RegisterURLs(context.Background(), "a", []string{"http://b.example/", "http://c.example/"})
	require.NoError(t, err)
	waitFor(t, 5*time.Second, "the new links checked", func() bool { return checked.Load() == 3 })
}

// countingStore counts the calls of the store methods that start a round of
// a background loop: ClaimDue (the scheduler), PendingClients (the
// notifier), WebhookClients (the webhook deliverer), ListClients (the
// syncer, and the mailer when it has a Mailer). A test that asserts that something did not happen waits for
// rounds (awaitCalls) instead of sleeping.
type countingStore struct {
	lms.Store
	mu      sync.Mutex
	n       map[string]int
	changed chan struct{} // closed and replaced at every call
}

func newCountingStore(s lms.Store) *countingStore {
	return &countingStore{Store: s, n: map[string]int{}, changed: make(chan struct{})}
}

func (s *countingStore) count(method string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n[method]++
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *countingStore) ClaimDue(ctx context.Context, now time.Time, opt lms.ClaimOptions) ([]lms.Link, error) {
	s.count("ClaimDue")
	return s.Store.ClaimDue(ctx, now, opt)
}

func (s *countingStore) PendingClients(ctx context.Context) ([]string, error) {
	s.count("PendingClients")
	return s.Store.PendingClients(ctx)
}

func (s *countingStore) WebhookClients(ctx context.Context) ([]string, error) {
	s.count("WebhookClients")
	return s.Store.WebhookClients(ctx)
}

func (s *countingStore) ListClients(ctx context.Context) ([]lms.Client, error) {
	s.count("ListClients")
	return s.Store.ListClients(ctx)
}

// awaitCalls waits until method has been called n more times: the loop
// that calls it at the start of each round has completed at least n-1
// rounds since.
func (s *countingStore) awaitCalls(t testing.TB, method string, n int) {
	t.Helper()
	s.awaitCallsOr(t, method, n, nil)
}

// awaitCallsOr is awaitCalls that also ends, returning false, as soon as
// or yields a value: the event that would hold the loop before its rounds.
func (s *countingStore) awaitCallsOr(t testing.TB, method string, n int, or <-chan struct{}) bool {
	t.Helper()
	s.mu.Lock()
	target := s.n[method] + n
	s.mu.Unlock()
	deadline := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		done, changed := s.n[method] >= target, s.changed
		s.mu.Unlock()
		if done {
			return true
		}
		select {
		case <-changed:
		case <-or:
			return false
		case <-deadline:
			t.Fatalf("%s was not called %d more times within 10 s", method, n)
		}
	}
}
