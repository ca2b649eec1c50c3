package xmlrpcapi_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kolo/xmlrpc"
	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
)

// The editors' extensions through an independent client (kolo/xmlrpc).
func TestEditorExtensions(t *testing.T) {
	f := newFixture(t)
	const u = "http://h.example/page"
	f.markChecked(t, u, lms.StateOK, "OK")
	f.markChecked(t, u, lms.StateUnavailable, "Not Found")
	c, err := xmlrpc.NewClient(f.srv.URL+"/RPC2", nil)
	require.NoError(t, err)
	defer c.Close()

	var hist []map[string]any
	require.NoError(t, c.Call("getURLHistory", []any{cid, cpw, u}, &hist))
	require.Len(t, hist, 2)
	require.Equal(t, "unavailable", hist[0]["state"])
	require.Equal(t, "Not Found", hist[0]["reason"])
	require.Equal(t, "ok", hist[1]["state"])
	require.IsType(t, time.Time{}, hist[0]["time"])
	var one []map[string]any
	require.NoError(t, c.Call("getURLHistory", []any{cid, cpw, u, 1}, &one))
	require.Len(t, one, 1)
	var none []map[string]any
	err = c.Call("getURLHistory", []any{cid, cpw, "http://not-mine.example/"}, &none)
	require.ErrorContains(t, err, "is not registered by client")
	err = c.Call("getURLHistory", []any{cid, cpw, u, 0}, &none)
	require.ErrorContains(t, err, "-32602")

	var states []map[string]any
	require.NoError(t, c.Call("getURLStates", []any{cid, cpw, []any{u}}, &states))
	require.EqualValues(t, 0, states[0]["failures"], "markChecked records no failure count")
	require.IsType(t, time.Time{}, states[0]["failing_since"])

	var n int
	require.NoError(t, c.Call("recheckURLs", []any{cid, cpw, []any{u, "http://not-mine.example/"}}, &n))
	require.Equal(t, 1, n)
	var ign int
	require.NoError(t, c.Call("ignoreURLs", []any{cid, cpw, []any{u}, true}, &ign))
	require.Equal(t, 1, ign)
	ig, err := f.e.IgnoredLinks(t.Context(), cid, lms.Page{})
	require.NoError(t, err)
	require.Len(t, ig, 1)
	require.Equal(t, lms.IgnoredUntilChanged, ig[0].Mode)
	var m int
	require.NoError(t, c.Call("unignoreURLs", []any{cid, cpw, []any{u}}, &m))
	require.Equal(t, 1, m)
	var k int
	err = c.Call("ignoreURLs", []any{cid, cpw, []any{u}, "yes please"}, &k)
	require.ErrorContains(t, err, "-32602")

	var methods []string
	require.NoError(t, c.Call("system.listMethods", nil, &methods))
	require.Subset(t, methods, []string{"getURLHistory", "recheckURLs", "ignoreURLs", "unignoreURLs"})
}

// Over the re-check cap: HTTP 429 with the Retry-After the cap says; more
// than the cap in one call: invalid params.
func TestRecheckURLsRateLimited(t *testing.T) {
	f := newFixture(t)
	many := func(from, n int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = fmt.Sprintf("http://r%d.example/", from+i)
		}
		return out
	}
	status, body := f.post(t, callXML("recheckURLs", cid, cpw, many(0, 600)))
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "<int>0</int>", "none of them is the client's")
	resp, err := http.Post(f.srv.URL+"/RPC2", "text/xml", strings.NewReader(callXML("recheckURLs", cid, cpw, many(600, 600))))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err)
	require.InDelta(t, 200*3.6, secs, 5, "200 URLs more are earned in 12 min at 1000 an hour")
	status, body = f.post(t, callXML("recheckURLs", cid, cpw, many(0, 1001)))
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "<int>-32602</int>", body)
}
