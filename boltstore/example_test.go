package boltstore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/boltstore"
)

// A store in a file keeps what it was told across a restart.
func ExampleOpen() {
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	dir, err := os.MkdirTemp("", "boltstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "lms.db")

	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if err := s.CreateClient(ctx, lms.Client{ID: "cms"}); err != nil {
		log.Fatal(err)
	}
	if _, err := s.Subscribe(ctx, "cms", []string{"https://b.example/", "https://a.example/page"}, now); err != nil {
		log.Fatal(err)
	}
	if err := s.Close(); err != nil {
		log.Fatal(err)
	}

	s, err = boltstore.Open(path, boltstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	links, err := s.ClientLinks(ctx, "cms", lms.Page{})
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range links {
		fmt.Println(l.URL, l.State, l.NextDue.Format(time.RFC3339))
	}
	counts, err := s.LinkCounts(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("links:", counts.Total())
	// Output:
	// https://a.example/page unknown 2026-11-23T12:00:00Z
	// https://b.example/ unknown 2026-11-23T12:00:00Z
	// links: 2
}
