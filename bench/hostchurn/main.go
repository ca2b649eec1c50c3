// Command hostchurn measures how many host rows lmsd keeps in PostgreSQL
// while links redirect through host names no link uses: -links links, each
// of whose checks follows -hops redirects, every hop to a loopback address
// (127.x.y.z) never named before, so every check names -hops new hosts. It
// prints the rows of the hosts table every 10 s for -duration.
//
//	go run ./bench/hostchurn                      # 3 minutes
//	go run ./bench/hostchurn -lmsd /tmp/lmsd-old  # another build
//
// See BENCHMARKS.md, "Hostile sites and a frozen database".
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkmonitor/lms/internal/lmsdproc"
	"github.com/linkmonitor/lms/internal/pgtest"
	"github.com/linkmonitor/lms/xmlrpcapi"
)

const adminSecret = "hostchurn-admin-secret"

func main() {
	bin := flag.String("lmsd", "", "lmsd binary (default: go build ./examples/lmsd)")
	links := flag.Int("links", 20, "links, each redirecting through fresh hosts")
	hops := flag.Int("hops", 19, "redirects per check (each to a new host)")
	duration := flag.Duration("duration", 3*time.Minute, "how long to watch")
	flag.Parse()
	if err := run(*bin, *links, *hops, *duration); err != nil {
		log.Fatal(err)
	}
}

func run(bin string, links, hops int, duration time.Duration) error {
	dir, err := os.MkdirTemp("", "hostchurn-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	if bin == "" {
		if bin, err = lmsdproc.Build(ctx, dir); err != nil {
			return err
		}
	}
	srv, err := pgtest.Launch(pgtest.Config{})
	if err != nil {
		return err
	}
	defer srv.Close()
	dsn, err := srv.NewDatabase("lms")
	if err != nil {
		return err
	}
	// One listener answers every 127.x.y.z: each hop goes to the next
	// unused address, the last one answers 200.
	ln, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		return err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	var next atomic.Uint32
	next.Store(2 << 16) // 127.2.0.0 on
	site := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/db" {
			resp, _ := xmlrpcapi.EncodeResponse(nil)
			_, _ = w.Write(resp)
			return
		}
		k, _ := strconv.Atoi(r.URL.Query().Get("k"))
		if k >= hops {
			_, _ = fmt.Fprint(w, "<html><title>here</title></html>")
			return
		}
		n := next.Add(1)
		to := fmt.Sprintf("http://127.%d.%d.%d:%d%s?k=%d", n>>16&0xff, n>>8&0xff, n&0xff, port, r.URL.Path, k+1)
		http.Redirect(w, r, to, http.StatusFound)
	})}
	go func() { _ = site.Serve(ln) }()
	defer site.Close()

	ready, mail := filepath.Join(dir, "ready"), filepath.Join(dir, "mail")
	cmd := exec.Command(bin, "-store", "postgres", "-dsn", dsn, "-addr", "127.0.0.1:0", "-ready-file", ready,
		"-admin-secret", adminSecret, "-mail-dir", mail, "-log-level", "error", "-allow-private",
		"-check-interval", "4s", "-min-recheck", "1s", "-host-interval", "100ms")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	addr, err := lmsdproc.WaitReady(ready, 30*time.Second)
	if err != nil {
		return err
	}
	url := "http://" + addr + "/RPC2"
	if _, err := lmsdproc.Call(ctx, nil, url, "registerClient", adminSecret, "site", fmt.Sprintf("http://127.0.0.1:%d/db", port), "Site", "site@example.org"); err != nil {
		return err
	}
	pw, err := lmsdproc.MailedPassword(mail)
	if err != nil {
		return err
	}
	urls := make([]string, links)
	for i := range urls {
		urls[i] = fmt.Sprintf("http://127.0.0.1:%d/link%d", port, i)
	}
	if _, err := lmsdproc.Call(ctx, nil, url, "registerURLs", "site", pw, urls); err != nil {
		return err
	}
	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close(ctx)
	start := time.Now()
	peak := 0
	for t := time.Duration(0); t <= duration; t += 10 * time.Second {
		time.Sleep(time.Until(start.Add(t)))
		var rows int
		if err := db.QueryRow(ctx, "SELECT count(*) FROM hosts").Scan(&rows); err != nil {
			return err
		}
		peak = max(peak, rows)
		fmt.Printf("%4.0fs  host rows %6d  hosts named by redirects so far %6d\n", t.Seconds(), rows, next.Load()-2<<16)
	}
	fmt.Printf("peak %d host rows\n", peak)
	return nil
}
