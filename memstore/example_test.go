package memstore_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/memstore"
)

// A client subscribes URLs; a checker claims the due links and records a
// result; the change of state waits for the notifier.
func Example() {
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	s := memstore.New()
	defer s.Close()

	if err := s.CreateClient(ctx, lms.Client{ID: "cms"}); err != nil {
		log.Fatal(err)
	}
	added, err := s.Subscribe(ctx, "cms", []string{"https://b.example/", "https://a.example/page", "https://b.example/"}, now)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("added", added)

	due, err := s.ClaimDue(ctx, now, lms.ClaimOptions{Limit: 10, PerHost: 1, Lease: time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("claimed", len(due))
	err = s.RecordResults(ctx, []lms.Outcome{{URL: "https://a.example/page", Checked: now, NextDue: now.Add(24 * time.Hour),
		Result: lms.Result{State: lms.StateUnavailable, Reason: "Not Found", Code: 404}}})
	if err != nil {
		log.Fatal(err)
	}

	links, err := s.ClientLinks(ctx, "cms", lms.Page{})
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range links {
		fmt.Println(l.URL, l.Host, l.State)
	}
	updates, err := s.PendingUpdates(ctx, "cms", 0)
	if err != nil {
		log.Fatal(err)
	}
	for _, u := range updates {
		fmt.Println("pending:", u.URL, u.State, u.Reason)
	}
	// Output:
	// added 2
	// claimed 2
	// https://a.example/page a.example unavailable
	// https://b.example/ b.example unknown
	// pending: https://a.example/page unavailable Not Found
}
