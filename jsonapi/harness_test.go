package jsonapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/boltstore"
	"github.com/linkmonitor/lms/internal/apicontract"
	"github.com/linkmonitor/lms/internal/guard"
	"github.com/linkmonitor/lms/internal/pgtest"
	"github.com/linkmonitor/lms/jsonapi"
	"github.com/linkmonitor/lms/memstore"
	"github.com/linkmonitor/lms/pgstore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const adminSecret = "the-admin-secret-of-the-tests"

// stores are the stores the tests run over where the store matters.
var stores = []struct {
	name string
	open func(t *testing.T) lms.Store
}{
	{"mem", func(t *testing.T) lms.Store { return memstore.New() }},
	{"bolt", func(t *testing.T) lms.Store {
		s, err := boltstore.Open(filepath.Join(t.TempDir(), "lms.db"), boltstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
	{"pg", func(t *testing.T) lms.Store {
		s, err := pgstore.Open(context.Background(), pgtest.Start(t), pgstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
}

// env is a JSON API over a real Engine and store, on a loopback server,
// with a client whose every answer is validated against the OpenAPI
// document (apicontract.Contract.Transport).
type env struct {
	t     *testing.T
	e     *lms.Engine
	store lms.Store
	srv   *httptest.Server
	c     *http.Client
}

func newEnv(t *testing.T, store lms.Store, gcfg guard.Config) *env {
	t.Helper()
	t.Cleanup(func() { _ = store.Close() })
	e, err := lms.New(store, lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker})
	if err != nil {
		t.Fatal(err)
	}
	if gcfg.Delay == 0 {
		gcfg.Delay = -1 // throttled answers at once: the tests need no hold
	}
	srv := httptest.NewServer(jsonapi.New(e, jsonapi.Config{Guard: guard.New(gcfg)}))
	t.Cleanup(srv.Close)
	return &env{t: t, e: e, store: store, srv: srv, c: &http.Client{Transport: docValidator(t).Transport(t, srv.Client().Transport)}}
}

var contract struct {
	once sync.Once
	c    *apicontract.Contract
	err  error
}

// docValidator returns the document loaded into the validator the tests
// share (internal/apicontract, also used by lmsd's end-to-end tests).
func docValidator(t *testing.T) *apicontract.Contract {
	contract.once.Do(func() { contract.c, contract.err = apicontract.Load() })
	if contract.err != nil {
		t.Fatal(contract.err)
	}
	return contract.c
}

// answer is one answer of the API.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into v.
func (a answer) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("answer %d %s: %v", a.status, a.body, err)
	}
}

// problem returns the answer as a problem.
func (a answer) problem(t *testing.T) problem {
	t.Helper()
	if ct := a.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("answer %d has Content-Type %q, want application/problem+json: %s", a.status, ct, a.body)
	}
	var p problem
	a.json(t, &p)
	return p
}

type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field  string `json:"field"`
		Detail string `json:"detail"`
	} `json:"errors"`
}

// names reports whether the problem names field.
func (p problem) names(field string) bool {
	for _, e := range p.Errors {
		if e.Field == field {
			return true
		}
	}
	return false
}

// auth is how a request authenticates.
type auth func(r *http.Request)

func bearer(tok string) auth {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

func basic(id, pw string) auth { return func(r *http.Request) { r.SetBasicAuth(id, pw) } }

var admin = bearer(adminSecret)

func noAuth(*http.Request) {}

// do sends a request; body is JSON-encoded unless it is a string or []byte
// (sent as is).
func (e *env) do(method, path string, a auth, body any) answer {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	a(req)
	resp, err := e.c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

// want fails unless a has status.
func (a answer) want(t *testing.T, status int) answer {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.body)
	}
	return a
}

// newClient creates a client through the admin path and returns its token.
func (e *env) newClient(id string) string {
	e.t.Helper()
	var out struct {
		Token struct {
			Token string `json:"token"`
		} `json:"token"`
	}
	e.do("POST", "/api/v1/admin/clients", admin, map[string]any{"id": id, "contact_name": "Web team", "contact_email": id + "@example.org"}).want(e.t, http.StatusCreated).json(e.t, &out)
	if !strings.HasPrefix(out.Token.Token, "lmst_") {
		e.t.Fatalf("no token in the answer: %+v", out)
	}
	return out.Token.Token
}

// record writes check results as the checker pool would.
func (e *env) record(st lms.State, reason string, code int, urls ...string) {
	e.t.Helper()
	now := time.Now()
	var recs []lms.Outcome
	for _, u := range urls {
		recs = append(recs, lms.Outcome{URL: u, Result: lms.Result{State: st, Reason: reason, Code: code}, Checked: now, NextDue: now.Add(time.Hour)})
	}
	if err := e.store.RecordResults(context.Background(), recs); err != nil {
		e.t.Fatal(err)
	}
}
