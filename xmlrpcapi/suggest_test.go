package xmlrpcapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/kolo/xmlrpc"
	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
)

// getURLSuggestion through an independent client (kolo/xmlrpc).
func TestGetURLSuggestion(t *testing.T) {
	f := newFixture(t)
	const gone, moved, fine = "http://h.example/gone", "http://h.example/moved", "http://h.example/fine"
	f.markChecked(t, gone, lms.StateUnavailable, "Not Found")
	f.markChecked(t, fine, lms.StateOK, "OK")
	f.markChecked(t, moved, lms.StateOK, "OK")
	ctx := context.Background()
	now := time.Now()
	require.NoError(t, f.store.RecordResults(ctx, []lms.Outcome{{URL: moved, Checked: now, NextDue: now.Add(time.Hour),
		Result: lms.Result{State: lms.StateOK, Reason: "OK", Code: 200, FinalURL: "http://h.example/new", Permanent: true}}}))
	archived := time.Date(2013, 9, 19, 4, 46, 12, 0, time.UTC)
	require.NoError(t, f.store.(lms.ArchiveStore).PutArchivedCopy(ctx, lms.ArchivedCopy{URL: gone, Snapshot: "http://web.archive.org/web/20130919044612/" + gone, ArchivedAt: archived, Looked: now}))
	c, err := xmlrpc.NewClient(f.srv.URL+"/RPC2", nil)
	require.NoError(t, err)
	defer c.Close()

	var s map[string]any
	require.NoError(t, c.Call("getURLSuggestion", []any{cid, cpw, moved}, &s))
	require.Equal(t, map[string]any{"kind": "redirect", "url": "http://h.example/new"}, s)
	s = nil
	require.NoError(t, c.Call("getURLSuggestion", []any{cid, cpw, gone}, &s))
	require.Equal(t, "archive", s["kind"])
	require.Equal(t, "http://web.archive.org/web/20130919044612/"+gone, s["url"])
	require.True(t, archived.Equal(s["archived_at"].(time.Time)), "archived_at %v", s["archived_at"])
	s = nil
	require.NoError(t, c.Call("getURLSuggestion", []any{cid, cpw, fine}, &s))
	require.Empty(t, s)
	err = c.Call("getURLSuggestion", []any{cid, cpw, "http://not-mine.example/"}, &s)
	require.ErrorContains(t, err, "is not registered by client")
	err = c.Call("getURLSuggestion", []any{cid, "wrong", gone}, &s)
	require.Error(t, err)
}
