package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/linkmonitor/lms/internal/apibench"
	"github.com/linkmonitor/lms/internal/lmsdproc"
	"github.com/linkmonitor/lms/internal/pgtest"
)

// BenchmarkRegisterURLs measures registerURLs through lmsd, over HTTP and
// XML-RPC, on PostgreSQL (a durable server of the benchmark's own on this
// machine) and, side by side, on bolt: 50 concurrent clients, batches of
// 100 and 1,000 fresh URLs. The checker does not run (it would check the
// URLs); the API and the store do all the work. It reports URLs per second
// and the p99 latency of one call.
func BenchmarkRegisterURLs(b *testing.B) {
	srv := pgtest.New(b, pgtest.Config{Durable: true})
	for _, store := range []string{"postgres", "bolt"} {
		for _, batch := range []int{100, 1000} {
			b.Run(fmt.Sprintf("%s/batch=%d", store, batch), func(b *testing.B) {
				args := []string{"-store", store, "-db", filepath.Join(b.TempDir(), "lms.db")}
				if store == "postgres" {
					args = []string{"-store", "postgres", "-dsn", srv.CreateSchema(b), "-pg-max-conns", "20"}
				}
				benchLmsd(b, args, batch)
			})
		}
	}
}

func benchLmsd(b *testing.B, storeArgs []string, batch int) {
	dir := b.TempDir()
	ready := filepath.Join(dir, "ready")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	args := append([]string{"-addr", "127.0.0.1:0", "-admin-secret", secret, "-components", "notifier", "-log-level", "error",
		"-mail-dir", filepath.Join(dir, "mail"), "-ready-file", ready}, storeArgs...)
	go func() { done <- run(ctx, args, os.Getenv, io.Discard) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	base := "http://" + waitFile(b, ready) + "/RPC2"
	clients := make([]apibench.Client, 50)
	for c := range clients {
		clients[c] = apibench.Client{ID: fmt.Sprintf("c%02d", c), Password: fmt.Sprintf("password-%02d", c)}
		if _, err := lmsdproc.Call(ctx, nil, base, "registerClient", secret, clients[c].ID, "http://127.0.0.1:1/db", "n", "a@example.org", clients[c].Password); err != nil {
			b.Fatal(err)
		}
	}
	apibench.RegisterURLs(b, base, clients, batch)
}
