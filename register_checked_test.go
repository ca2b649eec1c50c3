package lms_test

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/memstore"
)

// checkedStore is a memstore with lms.SubscribeCheckedStore, counting its
// calls and those of LookupLinks.
type checkedStore struct {
	*memstore.Store
	subscribeChecked, lookups int
}

func (s *checkedStore) SubscribeChecked(ctx context.Context, clientID string, urls []string, now time.Time) (int, map[string]lms.Link, error) {
	s.subscribeChecked++
	added, err := s.Subscribe(ctx, clientID, urls, now)
	if err != nil {
		return 0, nil, err
	}
	ls, err := s.Store.LookupLinks(ctx, urls)
	maps.DeleteFunc(ls, func(_ string, l lms.Link) bool { return l.LastChecked.IsZero() })
	return added, ls, err
}

func (s *checkedStore) LookupLinks(ctx context.Context, urls []string) (map[string]lms.Link, error) {
	s.lookups++
	return s.Store.LookupLinks(ctx, urls)
}

// TestRegisterURLsSubscribeChecked: with a store that has SubscribeChecked,
// RegisterURLs answers from it (no LookupLinks), in input order with
// duplicates repeated, as it does from LookupLinks.
func TestRegisterURLsSubscribeChecked(t *testing.T) {
	st := &checkedStore{Store: memstore.New()}
	e, err := lms.New(st, lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker})
	require.NoError(t, err)
	ctx := context.Background()
	register(t, e, "a", []string{"http://x.example/", "http://y.example/"})
	at := time.Now()
	require.NoError(t, st.RecordResults(ctx, []lms.Outcome{{URL: "http://x.example/", Checked: at, NextDue: at.Add(time.Hour),
		Result: lms.Result{State: lms.StateOK, Reason: "OK", Code: 200}}}))
	st.subscribeChecked, st.lookups = 0, 0
	got, err := e.RegisterURLs(ctx, "a", []string{"http://x.example/", "http://y.example/", "http://z.example/", "not a url", "http://x.example/"})
	require.NoError(t, err)
	ok := lms.Update{URL: "http://x.example/", State: lms.StateOK, Reason: "OK"}
	require.Equal(t, []lms.Update{ok, ok}, got)
	require.Equal(t, 1, st.subscribeChecked)
	require.Zero(t, st.lookups, "answered without LookupLinks")
	// No valid URL: nothing to subscribe, the client is checked and the
	// answer is empty.
	got, err = e.RegisterURLs(ctx, "a", []string{"not a url"})
	require.NoError(t, err)
	require.Empty(t, got)
	require.Equal(t, 1, st.subscribeChecked)
}
