package lms_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/kolo/xmlrpc"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/boltstore"
	"github.com/linkmonitor/lms/memstore"
	"github.com/linkmonitor/lms/xmlrpcapi"
)

// An embedding program: a bolt store, the XML-RPC API, and the engine
// checking and notifying. A CMS site registers itself and one of its links
// over XML-RPC; the engine checks the link and tells the site its state
// (here through a NotifierFunc; xmlrpcapi.NewCallbackClient calls the site
// back over XML-RPC).
func Example() {
	dir, err := os.MkdirTemp("", "lms-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := boltstore.Open(filepath.Join(dir, "lms.db"), boltstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	// The page the site links to (on loopback, hence AllowPrivate).
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "<h1>Hello</h1>")
	}))
	defer page.Close()
	delivered := make(chan lms.Update, 1)
	engine, err := lms.New(store, lms.Config{
		AdminSecret:   "change me",
		Components:    lms.RunChecker | lms.RunNotifier,
		CheckerConfig: lms.CheckerConfig{AllowPrivate: true},
		Notifier: lms.NotifierFunc(func(ctx context.Context, to lms.Endpoint, updates []lms.Update) error {
			for _, u := range updates {
				delivered <- u
			}
			return nil
		}),
	})
	if err != nil {
		log.Fatal(err)
	}
	api := httptest.NewServer(xmlrpcapi.NewServer(engine, xmlrpcapi.ServerConfig{}))
	defer api.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- engine.Run(ctx) }()

	site, err := xmlrpc.NewClient(api.URL, nil)
	if err != nil {
		log.Fatal(err)
	}
	var ok bool
	if err := site.Call("registerClient", []any{"change me", "mysite", "http://mysite.example/portal_linkchecker/database", "Jane Doe", "jane@mysite.example", "password-of-mysite"}, &ok); err != nil {
		log.Fatal(err)
	}
	var states [][]string
	if err := site.Call("registerURLs", []any{"mysite", "password-of-mysite", []string{page.URL + "/"}}, &states); err != nil {
		log.Fatal(err)
	}
	fmt.Println("registered:", ok, "states known:", len(states))
	u := <-delivered
	fmt.Println(u.URL == page.URL+"/", u.State, u.Reason)
	cancel()
	if err := <-done; err != nil {
		log.Fatal(err)
	}
	// Output:
	// registered: true states known: 0
	// true ok OK
}

// Registering URLs returns the states of those already checked, in input
// order; invalid strings are dropped.
func ExampleEngine_RegisterURLs() {
	ctx := context.Background()
	store := memstore.New()
	engine, _ := lms.New(store, lms.Config{AdminSecret: "s3cret", Components: lms.RunChecker})
	_, _ = engine.RegisterClient(ctx, "s3cret", lms.Registration{ID: "site", Password: "site-password", ContactEmail: "admin@site.example", CallbackURL: "http://site.example/db"})

	first, _ := engine.RegisterURLs(ctx, "site", []string{"http://example.org/", "not a url"})
	fmt.Println(len(first), "known states")

	// A checker (maybe in another process) records a result.
	_ = store.RecordResults(ctx, []lms.Outcome{{URL: "http://example.org/", Checked: time.Now(), NextDue: time.Now().Add(24 * time.Hour),
		Result: lms.Result{State: lms.StateOK, Reason: "OK", Code: 200}}})

	again, _ := engine.RegisterURLs(ctx, "site", []string{"http://example.org/", "http://example.org/"})
	for _, u := range again {
		fmt.Println(u.URL, u.State, u.Reason)
	}
	// Output:
	// 0 known states
	// http://example.org/ ok OK
	// http://example.org/ ok OK
}

// A custom checker for a scheme of your own, next to the built-in ones.
func ExampleCheckerFunc() {
	mux := lms.NewDefaultChecker(lms.CheckerConfig{})
	mux.Handle("urn", lms.CheckerFunc(func(ctx context.Context, u string) lms.Result {
		return lms.Result{State: lms.StateOK, Reason: "URNs are always fine here"}
	}))
	for _, u := range []string{"urn:isbn:0451450523", "mailto:nobody", "gopher://x/"} {
		r := mux.Check(context.Background(), u)
		fmt.Printf("%s: %s (%s)\n", u, r.State, r.Reason)
	}
	// Output:
	// urn:isbn:0451450523: ok (URNs are always fine here)
	// mailto:nobody: unavailable (No valid email address)
	// gopher://x/: unsupported protocol (No handler registered for URL)
}

// The scheduling policy is a pure function of the time: a link that was ok
// and fails once is reported "temporary unavailable" and checked again
// five minutes later to confirm the failure.
func ExamplePolicy_Next() {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	rec := lms.Policy{}.Next(lms.Link{URL: "http://example.org/", State: lms.StateOK},
		lms.Result{State: lms.StateUnavailable, Reason: "Not Found", Code: 404}, now, 0)
	fmt.Println(rec.Result.State, rec.Failures, rec.NextDue.Sub(now))
	// Output: temporary unavailable 1 5m0s
}
