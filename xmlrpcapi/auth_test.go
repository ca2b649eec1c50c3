package xmlrpcapi_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/memstore"
	"github.com/linkmonitor/lms/xmlrpcapi"
)

// readCounter counts the client reads of a Store: Engine.Authenticate reads
// the client once per credential check.
type readCounter struct {
	lms.Store
	reads atomic.Int64
}

func (c *readCounter) GetClient(ctx context.Context, id string) (lms.Client, error) {
	c.reads.Add(1)
	return c.Store.GetClient(ctx, id)
}

// TestCredentialsOncePerCall: a call's credentials are checked once, by the
// dispatcher, whether the call is a request of its own or one call of a
// system.multicall; each call of a multicall is checked on its own.
func TestCredentialsOncePerCall(t *testing.T) {
	st := &readCounter{Store: memstore.New()}
	e, err := lms.New(st, lms.Config{AdminSecret: secret, Components: lms.RunChecker})
	require.NoError(t, err)
	srv := httptest.NewServer(xmlrpcapi.NewServer(e, xmlrpcapi.ServerConfig{}))
	t.Cleanup(srv.Close)
	_, err = e.RegisterClient(context.Background(), secret, lms.Registration{ID: cid, Password: cpw, ContactEmail: "a@site.example", CallbackURL: "http://site.example/db"})
	require.NoError(t, err)
	f := &fixture{e: e, store: st, srv: srv}

	before := st.reads.Load()
	status, body := f.post(t, callXML("checkConnection", cid, cpw))
	require.Equal(t, 200, status, body)
	require.Contains(t, body, "<int>2</int>")
	require.Equal(t, int64(1), st.reads.Load()-before, "one credential check for one call")

	call := func(pw string) map[string]any {
		return map[string]any{"methodName": "checkConnection", "params": []any{cid, pw}}
	}
	before = st.reads.Load()
	status, body = f.post(t, callXML("system.multicall", []any{call(cpw), call(cpw), call("wrong-password"), call(cpw)}))
	require.Equal(t, 200, status, body)
	require.Equal(t, int64(4), st.reads.Load()-before, "one credential check per call of the multicall")
	v, err := xmlrpcapi.DecodeResponse(strings.NewReader(body), xmlrpcapi.Limits{})
	require.NoError(t, err)
	res := v.([]any)
	require.Len(t, res, 4)
	require.Equal(t, []any{int64(2)}, res[0])
	require.Equal(t, []any{int64(2)}, res[1])
	require.Equal(t, int64(401), res[2].(map[string]any)["faultCode"], "a wrong password after good ones is refused: %v", res[2])
	require.Equal(t, []any{int64(2)}, res[3])

	// The admin secret is checked once too: a wrong one never reaches the
	// Engine's admin methods, a right one registers.
	status, _ = f.post(t, callXML("registerClient", "not-the-secret", "c2", "http://c2.example/", "N", "n@c2.example"))
	require.Equal(t, 401, status)
	status, body = f.post(t, callXML("registerClient", secret, "c2", "http://c2.example/", "N", "n@c2.example"))
	require.Equal(t, 200, status, body)
	_, err = e.Client(context.Background(), "c2")
	require.NoError(t, err)
}

// TestRegisterClientInvalidFields: the Engine validates the id and the
// callback URL (once); its InputError gives the fault the field's text.
func TestRegisterClientInvalidFields(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct{ id, callback, want string }{
		{"", "http://c.example/", "Invalid params: empty client id"},
		{"c\x01", "http://c.example/", "Invalid params: client id contains control characters or invalid UTF-8"},
		{"c3", "ftp://x/", `Invalid params: callback URL "ftp://x/": want an http or https URL`},
		{"c3", "http://" + strings.Repeat("a", 60) + "/ x", "Invalid params: callback URL: URL contains whitespace, a control byte or a non-ASCII byte"},
		{"c3", "http:///nohost", `Invalid params: callback URL "http:///nohost": want an http or https URL`},
		{"c3", "ftp://" + strings.Repeat("b", 60), `Invalid params: callback URL "ftp://` + strings.Repeat("b", 34) + `": want an http or https URL`},
	} {
		status, body := f.post(t, callXML("registerClient", secret, tc.id, tc.callback, "N", "n@example.org"))
		require.Equal(t, 200, status)
		_, err := xmlrpcapi.DecodeResponse(strings.NewReader(body), xmlrpcapi.Limits{})
		var fl *xmlrpcapi.Fault
		require.True(t, errors.As(err, &fl), "%q %q: want a fault, got %v", tc.id, tc.callback, err)
		require.Equal(t, xmlrpcapi.FaultInvalidParams, fl.Code)
		require.Equal(t, tc.want, fl.String)
	}
	cs, err := f.e.Clients(context.Background())
	require.NoError(t, err)
	require.Len(t, cs, 1, "a refused registration creates nothing")
}
