package lms_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/memstore"
)

// archiveStub answers like the Wayback Machine's availability API: a copy
// for every URL but none for those ending in "/none"; it counts requests.
func archiveStub(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		u := r.URL.Query().Get("url")
		w.Header().Set("Content-Type", "application/json")
		if len(u) > 5 && u[len(u)-5:] == "/none" {
			fmt.Fprintf(w, `{"url": %q, "archived_snapshots": {}}`, u)
			return
		}
		fmt.Fprintf(w, `{"url": %q, "archived_snapshots": {"closest": {"status": "200", "available": true, "url": "http://web.archive.org/web/20130919044612/%s", "timestamp": "20130919044612"}}}`, u, u)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// copyStore is a memstore that tells when an archive look-up was kept.
type copyStore struct {
	*memstore.Store
	kept chan string
}

// next returns the URL of the next look-up kept, failing after 30 s.
func (s *copyStore) next(t *testing.T) string {
	t.Helper()
	select {
	case u := <-s.kept:
		return u
	case <-time.After(30 * time.Second):
		t.Fatal("no archive look-up kept within 30 s")
		return ""
	}
}

func (s *copyStore) PutArchivedCopy(ctx context.Context, c lms.ArchivedCopy) error {
	err := s.Store.PutArchivedCopy(ctx, c)
	s.kept <- c.URL
	return err
}

func TestLinkSuggestion(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	archive, requests := archiveStub(t)
	st := &copyStore{Store: memstore.New(), kept: make(chan string, 10)}
	cfg := lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker, ArchiveEndpoint: archive.URL, HostInterval: 10 * time.Millisecond}
	cfg.Checker = lms.CheckerFunc(func(context.Context, string) lms.Result { return lms.Result{State: lms.StateOK} })
	cfg.CheckerConfig.AllowPrivate = true // the stub is on loopback
	e, err := lms.New(st, cfg)
	require.NoError(t, err)
	moved, broken, none, fine := "https://example.org/moved", "https://example.org/gone", "https://example.org/none", "https://example.org/fine"
	last := "https://example.org/last"
	enrol(t, e, "site", "http://127.0.0.1:1/", moved, broken, none, fine, last)
	now := time.Now()
	require.NoError(t, st.RecordResults(ctx, []lms.Outcome{
		{URL: moved, Checked: now, NextDue: now.Add(time.Hour), Result: lms.Result{State: lms.StateOK, FinalURL: "https://example.org/new", Permanent: true}},
		{URL: broken, Checked: now, NextDue: now.Add(time.Hour), Result: lms.Result{State: lms.StateUnavailable, Reason: "gone", Code: 404}},
		{URL: none, Checked: now, NextDue: now.Add(time.Hour), Result: lms.Result{State: lms.StateUnavailable, Reason: "gone", Code: 404}},
		{URL: fine, Checked: now, NextDue: now.Add(time.Hour), Result: lms.Result{State: lms.StateOK}},
	}))

	s, ok, err := e.LinkSuggestion(ctx, "site", moved)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, lms.Suggestion{Kind: lms.SuggestRedirect, URL: "https://example.org/new"}, s)
	_, ok, err = e.LinkSuggestion(ctx, "site", fine)
	require.NoError(t, err)
	require.False(t, ok)
	_, _, err = e.LinkSuggestion(ctx, "other", moved)
	require.True(t, errors.Is(err, lms.ErrNotFound), "another client's link: %v", err)

	// Broken links: none until looked up, in the background.
	_, ok, err = e.LinkSuggestion(ctx, "site", broken)
	require.NoError(t, err)
	require.False(t, ok)
	_, ok, _ = e.LinkSuggestion(ctx, "site", none)
	require.False(t, ok)
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	kept := map[string]bool{st.next(t): true, st.next(t): true}
	require.Equal(t, map[string]bool{broken: true, none: true}, kept)

	s, ok, err = e.LinkSuggestion(ctx, "site", broken)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, lms.Suggestion{Kind: lms.SuggestArchive, URL: "http://web.archive.org/web/20130919044612/" + broken,
		ArchivedAt: time.Date(2013, 9, 19, 4, 46, 12, 0, time.UTC)}, s)
	_, ok, err = e.LinkSuggestion(ctx, "site", none)
	require.NoError(t, err)
	require.False(t, ok, "no copy: no suggestion")
	// A later look-up, done in order after any the calls above queued,
	// shows they queued none: the answers, found or not, are kept.
	require.NoError(t, st.RecordResults(ctx, []lms.Outcome{{URL: last, Checked: now, NextDue: now.Add(time.Hour), Result: lms.Result{State: lms.StateUnavailable, Reason: "gone", Code: 410}}}))
	_, _, err = e.LinkSuggestion(ctx, "site", last)
	require.NoError(t, err)
	require.Equal(t, last, st.next(t))
	require.EqualValues(t, 3, requests.Load(), "each broken link looked up once")

	// A link that broke again is looked up again.
	later := now.Add(time.Minute)
	require.NoError(t, st.RecordResults(ctx, []lms.Outcome{
		{URL: none, Checked: later, NextDue: later.Add(time.Hour), Result: lms.Result{State: lms.StateOK}},
	}))
	require.NoError(t, st.RecordResults(ctx, []lms.Outcome{
		{URL: none, Checked: later.Add(time.Second), NextDue: later.Add(time.Hour), Result: lms.Result{State: lms.StateUnavailable, Reason: "gone", Code: 404}},
	}))
	_, _, err = e.LinkSuggestion(ctx, "site", none)
	require.NoError(t, err)
	require.Equal(t, none, st.next(t))
	require.EqualValues(t, 4, requests.Load())
	cancel()
	require.NoError(t, <-done)
}

// lookupLog is a slog handler that passes each failed archive look-up on.
type lookupLog struct{ failed chan string }

func (h lookupLog) Enabled(context.Context, slog.Level) bool { return true }
func (h lookupLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "archive look-up failed" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "err" {
				h.failed <- a.Value.String()
			}
			return true
		})
	}
	return nil
}
func (h lookupLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h lookupLog) WithGroup(string) slog.Handler      { return h }

// TestArchiveAddressPolicy: an archive service on a private address is
// not asked unless the operator allows the network; switched off, it is
// never asked.
func TestArchiveAddressPolicy(t *testing.T) {
	archive, requests := archiveStub(t)
	for _, tc := range []struct {
		name string
		cfg  lms.Config
	}{
		{"not allowed", lms.Config{ArchiveEndpoint: archive.URL}},
		{"off", lms.Config{ArchiveEndpoint: archive.URL, NoArchive: true, CheckerConfig: lms.CheckerConfig{AllowedPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			log := lookupLog{failed: make(chan string, 1)}
			cfg := tc.cfg
			cfg.AdminSecret, cfg.Components, cfg.Logger = adminSecret, lms.RunChecker, slog.New(log)
			cfg.Checker = lms.CheckerFunc(func(context.Context, string) lms.Result { return lms.Result{State: lms.StateUnavailable} })
			st := memstore.New()
			e, err := lms.New(st, cfg)
			require.NoError(t, err)
			const broken = "https://example.org/gone"
			enrol(t, e, "site", "http://127.0.0.1:1/", broken)
			now := time.Now()
			require.NoError(t, st.RecordResults(ctx, []lms.Outcome{{URL: broken, Checked: now, NextDue: now.Add(time.Hour), Result: lms.Result{State: lms.StateUnavailable, Reason: "gone", Code: 404}}}))
			done := make(chan error, 1)
			go func() { done <- e.Run(ctx) }()
			_, ok, err := e.LinkSuggestion(ctx, "site", broken)
			require.NoError(t, err)
			require.False(t, ok)
			if !cfg.NoArchive {
				select {
				case msg := <-log.failed:
					require.Contains(t, msg, "not allowed", "the look-up is refused by the address policy")
				case <-time.After(30 * time.Second):
					t.Fatal("no look-up failed within 30 s")
				}
			}
			cancel()
			require.NoError(t, <-done)
			require.Zero(t, requests.Load(), "no request reached the service")
		})
	}
}

func TestArchiveConfig(t *testing.T) {
	_, err := lms.New(memstore.New(), lms.Config{Components: lms.RunChecker, ArchiveEndpoint: "archive.org/wayback"})
	require.ErrorIs(t, err, lms.ErrInvalid)
	require.ErrorContains(t, err, "ArchiveEndpoint")
	_, err = lms.New(memstore.New(), lms.Config{Components: lms.RunChecker, ArchiveEndpoint: "archive.org/wayback", NoArchive: true})
	require.NoError(t, err, "an endpoint that is switched off is not looked at")
	_, err = lms.New(memstore.New(), lms.Config{Components: lms.RunChecker, ArchiveTTL: -time.Hour})
	require.ErrorIs(t, err, lms.ErrInvalid)
	e, err := lms.New(memstore.New(), lms.Config{Components: lms.RunChecker})
	require.NoError(t, err)
	require.Equal(t, "https://archive.org/wayback/available", e.Config().ArchiveEndpoint)
	require.Equal(t, 30*24*time.Hour, e.Config().ArchiveTTL)
}

// TestArchiveTTL: a kept answer stands for Config.ArchiveTTL, then the
// link is looked up again.
func TestArchiveTTL(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	archive, requests := archiveStub(t)
	st := &copyStore{Store: memstore.New(), kept: make(chan string, 10)}
	var offset atomic.Int64 // added to the clock
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	cfg := lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker, ArchiveEndpoint: archive.URL, ArchiveTTL: time.Hour, Now: clock, HostInterval: 10 * time.Millisecond}
	cfg.Checker = lms.CheckerFunc(func(context.Context, string) lms.Result { return lms.Result{State: lms.StateUnavailable} })
	cfg.CheckerConfig.AllowedPrefixes = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	e, err := lms.New(st, cfg)
	require.NoError(t, err)
	const broken, none = "https://example.org/gone", "https://example.org/none"
	enrol(t, e, "site", "http://127.0.0.1:1/", broken, none)
	now := time.Now()
	for _, u := range []string{broken, none} {
		require.NoError(t, st.RecordResults(ctx, []lms.Outcome{{URL: u, Checked: now, NextDue: now.Add(24 * time.Hour), Result: lms.Result{State: lms.StateUnavailable, Reason: "gone", Code: 404}}}))
	}
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	ask := func(u string) {
		_, _, err := e.LinkSuggestion(ctx, "site", u)
		require.NoError(t, err)
	}
	ask(broken)
	require.Equal(t, broken, st.next(t))
	ask(none)
	require.Equal(t, none, st.next(t))
	offset.Store(int64(59 * time.Minute))
	ask(broken) // within the TTL: not queued
	offset.Store(int64(61 * time.Minute))
	ask(none) // past it: queued, and done before anything queued later
	require.Equal(t, none, st.next(t))
	require.EqualValues(t, 3, requests.Load(), "found or not, an answer stands for the TTL")
	cancel()
	require.NoError(t, <-done)
}

// TestSuggestionNeverPrivate: a hostile site that redirects permanently to
// an address of the editor's own network (which the checks' policy then
// refuses) or to a URL with credentials, and a copy kept before the
// look-up refused such snapshots, are no suggestions; a redirect to
// another program (mailto:) still is.
func TestSuggestionNeverPrivate(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	cfg := lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker, ArchiveEndpoint: "http://127.0.0.1:1/"}
	cfg.Checker = lms.CheckerFunc(func(context.Context, string) lms.Result { return lms.Result{State: lms.StateOK} })
	e, err := lms.New(st, cfg)
	require.NoError(t, err)
	now := time.Now()
	enrol(t, e, "site", "http://127.0.0.1:1/")
	for _, tc := range []struct {
		target string
		state  lms.State
		want   bool
	}{
		{"http://10.0.0.1/admin", lms.StateUnsupported, false},
		{"http://[::1]:8080/", lms.StateUnsupported, false},
		{"http://127.0.0.1/", lms.StateUnsupported, false},
		{"https://intranet.localhost/", lms.StateOK, false},
		{"https://www.example.org@evil.example/new", lms.StateOK, false},
		{"https://evil.example/new", lms.StateOK, true},
		{"mailto:web@example.org", lms.StateOK, true},
	} {
		u := "https://example.org/moved-to/" + tc.target
		_, err := e.RegisterURLs(ctx, "site", []string{u})
		require.NoError(t, err)
		require.NoError(t, st.RecordResults(ctx, []lms.Outcome{{URL: u, Checked: now, NextDue: now.Add(time.Hour),
			Result: lms.Result{State: tc.state, FinalURL: tc.target, Permanent: true}}}))
		s, ok, err := e.LinkSuggestion(ctx, "site", u)
		require.NoError(t, err)
		require.Equal(t, tc.want, ok, "%s: %+v", tc.target, s)
	}
	const broken = "https://example.org/gone"
	_, err = e.RegisterURLs(ctx, "site", []string{broken})
	require.NoError(t, err)
	require.NoError(t, st.RecordResults(ctx, []lms.Outcome{{URL: broken, Checked: now, NextDue: now.Add(time.Hour), Result: lms.Result{State: lms.StateUnavailable, Code: 404}}}))
	require.NoError(t, st.PutArchivedCopy(ctx, lms.ArchivedCopy{URL: broken, Snapshot: "http://192.168.1.1/web/1/x", ArchivedAt: now, Looked: now}))
	s, ok, err := e.LinkSuggestion(ctx, "site", broken)
	require.NoError(t, err)
	require.False(t, ok, "a private snapshot kept before: %+v", s)
}
