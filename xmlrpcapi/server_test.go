package xmlrpcapi_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kolo/xmlrpc"
	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/memstore"
	"github.com/linkmonitor/lms/xmlrpcapi"
)

const (
	secret = "admin-secret-for-tests"
	cid    = "plone"
	cpw    = "client-password-1"
)

type fixture struct {
	e     *lms.Engine
	store lms.Store
	srv   *httptest.Server
	mails *mailbox
}

type mailbox struct {
	mu   sync.Mutex
	msgs []lms.Message
}

func (m *mailbox) Send(_ context.Context, msg lms.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, msg)
	return nil
}

func (m *mailbox) all() []lms.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.msgs)
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st := memstore.New()
	mb := &mailbox{}
	e, err := lms.New(st, lms.Config{AdminSecret: secret, Components: lms.RunChecker, Mailer: mb, PublicURL: "http://lms.example"})
	require.NoError(t, err)
	srv := httptest.NewServer(xmlrpcapi.NewServer(e, xmlrpcapi.ServerConfig{MaxBodyBytes: 1 << 20}))
	t.Cleanup(srv.Close)
	_, err = e.RegisterClient(context.Background(), secret, lms.Registration{ID: cid, Password: cpw, ContactName: "Site Admin", ContactEmail: "admin@site.example", CallbackURL: "http://site.example/portal_linkchecker/database"})
	require.NoError(t, err)
	return &fixture{e: e, store: st, srv: srv, mails: mb}
}

func (f *fixture) post(t *testing.T, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(f.srv.URL+"/RPC2", "text/xml", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func callXML(method string, params ...any) string {
	b, err := xmlrpcapi.EncodeCall(method, params...)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// markChecked records a result for a URL as the checker would.
func (f *fixture) markChecked(t *testing.T, url string, st lms.State, reason string) {
	t.Helper()
	ctx := context.Background()
	_, err := f.store.Subscribe(ctx, cid, []string{url}, time.Now())
	require.NoError(t, err)
	require.NoError(t, f.store.RecordResults(ctx, []lms.Outcome{{URL: url, Checked: time.Now(), NextDue: time.Now().Add(time.Hour),
		Result: lms.Result{State: st, Reason: reason, Code: 200}}}))
}

func TestRegisterURLsSemantics(t *testing.T) {
	f := newFixture(t)
	urls := []any{"http://a.example/", "junk", "http://a.example/", "http://b.example/x y", "ftp://f.example/file"}
	status, body := f.post(t, callXML("registerURLs", cid, cpw, urls))
	require.Equal(t, 200, status)
	require.Contains(t, body, "<array><data></data></array>", "a first registration returns []")
	f.markChecked(t, "http://a.example/", lms.StateUnavailable, "Not Found")
	_, body = f.post(t, callXML("registerURLs", cid, cpw, urls))
	want := `<value><array><data><value><string>http://a.example/</string></value><value><string>unavailable</string></value><value><string>Not Found</string></value></data></array></value>`
	require.Equal(t, 2, strings.Count(body, want), "duplicates repeated, in input order: %s", body)
	ls, err := f.e.ClientLinks(context.Background(), cid, lms.Page{})
	require.NoError(t, err)
	require.Len(t, ls, 2, "invalid strings dropped, valid ones stored once")
}

func TestWireErrors(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name, body string
		status     int
		fault      string
	}{
		{"bad password", callXML("checkConnection", cid, "wrong"), 401, ""},
		{"unknown client", callXML("registerURLs", "ghost", cpw, []any{"http://x/"}), 401, ""},
		{"wrong admin secret", callXML("registerClient", "nope", "c2", "http://c2.example/", "N", "n@example.org"), 401, ""},
		{"malformed", `<methodCall><methodName>checkConnection`, 200, "-32700"},
		{"unknown method", callXML("dropDatabase", cid, cpw), 200, "-32601"},
		{"too few args", callXML("checkConnection", cid), 200, "-32602"},
		{"wrong type", callXML("registerURLs", cid, cpw, "http://x/"), 200, "-32602"},
		{"int as id", callXML("checkConnection", 5, cpw), 200, "-32602"},
		{"bad callback", callXML("registerClient", secret, "c3", "ftp://x/", "N", "n@example.org"), 200, "-32602"},
		{"bad e-mail", callXML("registerClient", secret, "c4", "http://c4.example/", "N", "not-an-address"), 200, "-32602"},
		{"duplicate client", callXML("registerClient", secret, cid, "http://c.example/", "N", "n@example.org"), 200, "-1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := f.post(t, tc.body)
			require.Equal(t, tc.status, status, body)
			if tc.fault != "" {
				require.Contains(t, body, "<name>faultCode</name><value><int>"+tc.fault+"</int>", body)
			}
		})
	}
	cs, err := f.e.Clients(context.Background())
	require.NoError(t, err)
	require.Len(t, cs, 1, "failed calls created nothing")
	ls, _ := f.e.ClientLinks(context.Background(), cid, lms.Page{})
	require.Empty(t, ls, "failed calls stored nothing")

	resp, err := http.Get(f.srv.URL + "/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)

	big := callXML("registerURLs", cid, cpw, []any{strings.Repeat("x", 2<<20)})
	status, _ := f.post(t, big)
	require.Equal(t, http.StatusRequestEntityTooLarge, status)
}

func TestRegisterClientMailsPassword(t *testing.T) {
	f := newFixture(t)
	status, body := f.post(t, callXML("registerClient", secret, "site2", "http://site2.example/portal_linkchecker/database", "Jane Doe", "jane@site2.example"))
	require.Equal(t, 200, status)
	require.Contains(t, body, "<boolean>1</boolean>")
	mails := f.mails.all()
	require.Len(t, mails, 2)
	m := mails[1]
	require.Equal(t, `Registration of client id "site2"`, m.Subject)
	require.Equal(t, "jane@site2.example", m.To[0].Address)
	require.Equal(t, "Jane Doe", m.To[0].Name)
	var pw string
	for _, line := range strings.Split(m.Body, "\n") {
		if v, ok := strings.CutPrefix(line, "Password:"); ok {
			pw = strings.TrimSpace(v)
		}
	}
	require.Len(t, pw, 30) // internal/secret.PasswordLength
	require.Contains(t, m.Body, "http://site2.example/portal_linkchecker/database")
	require.Contains(t, m.Body, "http://lms.example/")
	// The mailed password works; the stored hash is not the password.
	status, _ = f.post(t, callXML("checkConnection", "site2", pw))
	require.Equal(t, 200, status)
	c, err := f.store.GetClient(context.Background(), "site2")
	require.NoError(t, err)
	require.NotContains(t, c.PasswordHash, pw)
	require.NotContains(t, c.SealedPassword, pw)
}

func TestKoloClient(t *testing.T) {
	f := newFixture(t)
	f.markChecked(t, "http://k.example/", lms.StateOK, "OK")
	c, err := xmlrpc.NewClient(f.srv.URL+"/RPC2", nil)
	require.NoError(t, err)
	defer c.Close()
	var v int
	require.NoError(t, c.Call("checkConnection", []any{cid, cpw}, &v))
	require.Equal(t, 2, v)
	var triples [][]string
	require.NoError(t, c.Call("registerURLs", []any{cid, cpw, []string{"http://k.example/", "nope"}}, &triples))
	require.Equal(t, [][]string{{"http://k.example/", "ok", "OK"}}, triples)
	var urls []string
	require.NoError(t, c.Call("listURLs", []any{cid, cpw}, &urls))
	require.Equal(t, []string{"http://k.example/"}, urls)
	var clients []map[string]any
	require.NoError(t, c.Call("listClients", []any{secret}, &clients))
	require.Len(t, clients, 1)
	require.Equal(t, cid, clients[0]["id"])
	var ok bool
	require.NoError(t, c.Call("removeClient", []any{secret, cid}, &ok))
	require.True(t, ok)
	err = c.Call("checkConnection", []any{cid, cpw}, &v)
	require.ErrorContains(t, err, "401")
}

// python makes a command of one Python interpreter with args.
type python func(args ...string) *exec.Cmd

// pythons returns the machine's Pythons by name: python3, and python2 (as
// the real Plone sites run) under pyenv's 2.7.18.
func pythons(t *testing.T) map[string]python {
	out := map[string]python{}
	if p, err := exec.LookPath("python3"); err == nil {
		out["python3"] = func(args ...string) *exec.Cmd { return exec.Command(p, args...) }
	}
	if p, err := exec.LookPath("python"); err == nil {
		py2 := func(args ...string) *exec.Cmd {
			cmd := exec.Command(p, args...)
			cmd.Env = append(os.Environ(), "PYENV_VERSION=2.7.18")
			return cmd
		}
		if py2("-c", "import sys; assert sys.version_info[0] == 2").Run() == nil {
			out["python2"] = py2
		}
	}
	if len(out) == 0 {
		t.Skip("no python to act as an independent XML-RPC peer")
	}
	return out
}

// requireOK runs cmd, a Python script, which must succeed and print OK.
func requireOK(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "OK")
}

// TestPythonClientReplay replays the real client's call patterns with
// Python's own xmlrpc client (2.7 as the real Plone sites, and 3).
func TestPythonClientReplay(t *testing.T) {
	for name, py := range pythons(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			f.markChecked(t, "http://checked.example/", lms.StateOK, "OK")
			requireOK(t, py("testdata/plone_client.py", f.srv.URL, cid, cpw, secret))
			ls, err := f.e.ClientLinks(context.Background(), cid, lms.Page{})
			require.NoError(t, err)
			var got []string
			for _, l := range ls {
				got = append(got, l.URL)
			}
			require.Equal(t, []string{"http://CHECKED.example/", "http://checked.example/", "javascript:void(0)", "mailto:someone@example.org"}, got)
			_, err = f.e.Client(context.Background(), "other")
			require.NoError(t, err, "registerClient from python created the client")
		})
	}
}

// TestPythonThrottled: old clients see a throttled call as what it is, a
// ProtocolError with errcode 429 (like the 401 of a wrong password), and a
// client that authenticated before keeps working.
func TestPythonThrottled(t *testing.T) {
	const script = `
import sys
try:
    import xmlrpclib as x
except ImportError:
    import xmlrpc.client as x
url, cid, pw = sys.argv[1:4]
s = x.ServerProxy(url)
assert s.checkConnection(cid, pw) == 2
codes = []
for guess in ["a", "b", "c"]:
    try:
        s.checkConnection(cid, guess)
    except x.ProtocolError as e:
        codes.append(e.errcode)
assert codes == [401, 429, 429], codes
assert s.checkConnection(cid, pw) == 2
print("OK")
`
	for name, py := range pythons(t) {
		t.Run(name, func(t *testing.T) {
			st := memstore.New()
			e, err := lms.New(st, lms.Config{AdminSecret: secret, Components: lms.RunChecker})
			require.NoError(t, err)
			pw, err := e.RegisterClient(context.Background(), secret, lms.Registration{ID: cid, ContactEmail: "a@site.example", CallbackURL: "http://site.example/db"})
			require.NoError(t, err)
			srv := httptest.NewServer(xmlrpcapi.NewServer(e, xmlrpcapi.ServerConfig{Throttle: xmlrpcapi.Throttle{IDBurst: 1, IDEvery: time.Hour, Delay: -1}}))
			defer srv.Close()
			requireOK(t, py("-c", script, srv.URL+"/RPC2", cid, pw))
		})
	}
}

// failingStore fails the way a store whose disk or database went away
// does, with the store's own words.
type failingStore struct{ lms.Store }

func (failingStore) ListClients(context.Context) ([]lms.Client, error) {
	return nil, errors.New("boltstore: /var/lib/lms/lms.db: read: input/output error")
}

// TestFaultStrings: faults say what went wrong in the protocol's terms:
// no package names of the layers below, no internal errors, and values
// from the request cut (a 15 MiB method name was echoed in full).
func TestFaultStrings(t *testing.T) {
	f := newFixture(t)
	fault := func(t *testing.T, body string) (int, string) {
		t.Helper()
		status, answer := f.post(t, body)
		require.Equal(t, http.StatusOK, status, answer)
		v, err := xmlrpcapi.DecodeResponse(strings.NewReader(answer), xmlrpcapi.Limits{})
		var fl *xmlrpcapi.Fault
		require.True(t, errors.As(err, &fl), "want a fault, got %v %v", v, err)
		return fl.Code, fl.String
	}
	code, msg := fault(t, callXML("registerClient", secret, cid, "http://c.example/", "N", "n@example.org"))
	require.Equal(t, xmlrpcapi.FaultApplication, code)
	require.Equal(t, `Unexpected LMS exception: Exists: client "plone" already exists`, msg)
	code, msg = fault(t, callXML("removeClient", secret, "ghost"))
	require.Equal(t, xmlrpcapi.FaultApplication, code)
	require.Equal(t, `Unexpected LMS exception: NotFound: client "ghost" not found`, msg)

	long := strings.Repeat("a", 1000)
	for name, body := range map[string]string{
		"unknown method":          callXML("no."+long, cid, cpw),
		"methodHelp":              callXML("system.methodHelp", long),
		"unknown in a multicall":  callXML("system.multicall", []any{map[string]any{"methodName": long, "params": []any{}}}),
		"bad e-mail":              callXML("registerClient", secret, "c4", "http://c4.example/", "N", long+"@"),
		"bad callback":            callXML("registerClient", secret, "c5", "ftp://"+long, "N", "n@example.org"),
		"bad id":                  callXML("registerClient", secret, long, "http://c6.example/", "N", "n@example.org"),
		"remove a bad id":         callXML("removeClient", secret, long),
		"wrong type":              callXML("registerURLs", cid, cpw, "http://x/"),
		"too many args":           callXML("checkConnection", cid, cpw, long),
		"malformed":               `<methodCall><methodName>checkConnection</methodName><params><param>` + long,
		"notifications, bad bool": callXML("setClientNotifications", cid, cpw, long),
	} {
		t.Run(name, func(t *testing.T) {
			_, answer := f.post(t, body)
			require.Less(t, len(answer), 1000, "%.300s", answer)
			require.NotContains(t, answer, strings.Repeat("a", 41), "a value echoed beyond 40 characters")
			for _, internal := range []string{"lms:", "memstore", "invalid params: "} {
				require.NotContains(t, answer, internal)
			}
		})
	}

	// A 15 MiB method name is refused once it passes 256 bytes.
	huge := "<?xml version=\"1.0\"?><methodCall><methodName>" + strings.Repeat("a", 15<<20) + "</methodName></methodCall>"
	srv := httptest.NewServer(xmlrpcapi.NewServer(f.e, xmlrpcapi.ServerConfig{}))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/RPC2", "text/xml", strings.NewReader(huge))
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Less(t, len(b), 1000, "%.300s", b)
	require.Contains(t, string(b), "<int>-32700</int>")
	require.Contains(t, string(b), "methodName over 256 bytes")

	// A store's own failure is not shown to the client.
	e, err := lms.New(failingStore{memstore.New()}, lms.Config{AdminSecret: secret, Components: lms.RunChecker})
	require.NoError(t, err)
	broken := httptest.NewServer(xmlrpcapi.NewServer(e, xmlrpcapi.ServerConfig{}))
	defer broken.Close()
	resp, err = http.Post(broken.URL+"/RPC2", "text/xml", strings.NewReader(callXML("listClients", secret)))
	require.NoError(t, err)
	b, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	_, err = xmlrpcapi.DecodeResponse(bytes.NewReader(b), xmlrpcapi.Limits{})
	var fl *xmlrpcapi.Fault
	require.True(t, errors.As(err, &fl), "%s", b)
	require.Equal(t, xmlrpcapi.FaultApplication, fl.Code)
	require.True(t, strings.HasPrefix(fl.String, "Unexpected LMS exception: "), fl.String)
	require.NotContains(t, fl.String, "boltstore")
	require.NotContains(t, fl.String, "/var/lib")
}
