package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/testkit"
	"github.com/linkmonitor/lms/memstore"
)

// /, /alerts, /healthz and /metrics share one snapshot per -snapshot-ttl;
// /healthz tells a failure by its status, not its text.
func TestPublicEndpointsShareACachedSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &testkit.SnapshotStore{Store: memstore.New()}
		e, err := lms.New(st, lms.Config{AdminSecret: secret, Components: lms.RunChecker, Mailer: lms.MailerFunc(func(context.Context, lms.Message) error { return nil })})
		require.NoError(t, err)
		const ttl = 3 * time.Second
		h, _, err := newHandlers(e, handlerConfig{secret: secret, log: slog.New(slog.DiscardHandler), snapshotTTL: ttl})
		require.NoError(t, err)
		type answer struct {
			path string
			code int
		}
		start := time.Now()
		for _, step := range []struct {
			at        time.Duration // after the first request
			fail      bool          // the store fails
			rounds    int           // of the requests
			want      []answer
			snapshots int64 // computed so far
			what      string
		}{
			{0, false, 5, []answer{{"/", 200}, {"/alerts", 200}, {"/healthz", 200}, {"/metrics", 200}}, 1, "20 requests, one snapshot"},
			{0, true, 1, []answer{{"/healthz", 200}}, 1, "the snapshot is still fresh"},
			{ttl, true, 3, []answer{{"/healthz", http.StatusServiceUnavailable}, {"/", 500}}, 2, "the failure is cached too"},
			{2 * ttl, false, 1, []answer{{"/healthz", 200}}, 3, "well again"},
		} {
			time.Sleep(time.Until(start.Add(step.at)))
			st.Fail.Store(step.fail)
			for range step.rounds {
				for _, a := range step.want {
					rec := do(t, h, "GET", a.path, "", false)
					require.Equal(t, a.code, rec.Code, "%s at %v: %s", a.path, step.at, step.what)
					if a.path == "/healthz" && a.code != 200 {
						require.Equal(t, "unavailable\n", rec.Body.String(), "no error text for anyone who asks")
					}
				}
			}
			require.Equal(t, step.snapshots, st.DueCounts.Load(), "at %v: %s", step.at, step.what)
		}
	})
}

// /metrics names no client unless -metrics-per-client; the totals are
// always there.
func TestMetricsNameClientsOnlyWhenAsked(t *testing.T) {
	for _, perClient := range []bool{false, true} {
		e, err := lms.New(memstore.New(), lms.Config{AdminSecret: secret, Components: lms.RunChecker, Mailer: lms.MailerFunc(func(context.Context, lms.Message) error { return nil })})
		require.NoError(t, err)
		_, err = e.RegisterClient(context.Background(), secret, lms.Registration{ID: "acme-intranet", ContactEmail: "it@acme.example", CallbackURL: "http://acme.example/db"})
		require.NoError(t, err)
		h, _, err := newHandlers(e, handlerConfig{secret: secret, log: slog.New(slog.DiscardHandler), metricsPerClient: perClient})
		require.NoError(t, err)
		body := withoutProcess(do(t, h, "GET", "/metrics", "", false).Body.String())
		require.Contains(t, body, `lms_clients{notifications="on"} 1`)
		require.Contains(t, body, "lms_pending_updates 0")
		if perClient {
			require.Contains(t, body, `lms_client_notifications_on{client="acme-intranet"} 1`)
		} else {
			require.NotContains(t, body, "acme")
			require.NotContains(t, body, "lms_client_")
		}
	}
}

// logRecords parses run's JSON log lines.
func logRecords(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), sc.Text())
		out = append(out, m)
	}
	return out
}

// startRun runs lmsd in-process with args (plus a free port and a ready
// file) and returns its address, its logs and a function that stops it
// (also called when the test ends).
func startRun(t *testing.T, getenv func(string) string, args ...string) (string, *testkit.SyncBuffer, func()) {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready")
	logs := &testkit.SyncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0", "-ready-file", ready, "-log-format", "json"}, args...), getenv, logs)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-done)
		})
	}
	t.Cleanup(stop)
	return waitFile(t, ready), logs, stop
}

func httpGet(t *testing.T, url string, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	if auth != "" {
		req.SetBasicAuth("admin", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// With -metrics-addr, /metrics is served there and not on -addr.
func TestMetricsAddr(t *testing.T) {
	dir := t.TempDir()
	addr, logs, _ := startRun(t, os.Getenv, "-store", "memory", "-admin-secret", secret, "-mail-dir", filepath.Join(dir, "mail"), "-metrics-addr", "127.0.0.1:0")
	var metricsAddr string
	for _, r := range logRecords(t, logs.String()) {
		if r["msg"] == "metrics serving" {
			metricsAddr, _ = r["addr"].(string)
		}
	}
	require.NotEmpty(t, metricsAddr, "no 'metrics serving' log line:\n%s", logs)
	code, body := httpGet(t, "http://"+metricsAddr+"/metrics", "")
	body = withoutProcess(body)
	require.Equal(t, 200, code)
	require.Contains(t, body, `lms_links{state="ok"}`)
	code, _ = httpGet(t, "http://"+addr+"/metrics", "")
	require.Equal(t, 404, code, "/metrics on -addr")
	code, home := httpGet(t, "http://"+addr+"/", "")
	require.Equal(t, 200, code)
	require.NotContains(t, home, `href="/metrics"`, "the footer links metrics that are not there")
	code, _ = httpGet(t, "http://"+addr+"/healthz", "")
	require.Equal(t, 200, code)
}

// A generated admin secret is written into a 0600 file that the log names;
// no log line carries it.
func TestGeneratedSecretIsNotLogged(t *testing.T) {
	for _, store := range []string{"memory", "bolt"} {
		t.Run(store, func(t *testing.T) {
			dir := t.TempDir()
			tmp := t.TempDir()
			env := func(k string) string {
				if k == "TMPDIR" {
					return tmp
				}
				return "" // no $LMS_ADMIN_SECRET
			}
			addr, logs, stop := startRun(t, env, "-store", store, "-db", filepath.Join(dir, "lms.db"), "-mail-dir", filepath.Join(dir, "mail"))
			var file string
			for _, r := range logRecords(t, logs.String()) {
				if f, ok := r["file"].(string); ok && strings.Contains(r["msg"].(string), "-admin-secret") {
					file = f
				}
			}
			require.NotEmpty(t, file, "no log line names the secret's file:\n%s", logs)
			if store == "bolt" {
				require.Equal(t, filepath.Join(dir, "lms.db.secret"), file)
			} else {
				require.Equal(t, tmp, filepath.Dir(file), "the memory store's secret goes to $TMPDIR")
			}
			fi, err := os.Stat(file)
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
			b, err := os.ReadFile(file)
			require.NoError(t, err)
			s := strings.TrimSpace(string(b))
			require.Len(t, s, 36)
			code, _ := httpGet(t, "http://"+addr+"/admin", s)
			require.Equal(t, 200, code, "the secret in the file opens /admin")
			code, _ = httpGet(t, "http://"+addr+"/admin", "wrong")
			require.Equal(t, 401, code)
			stop()
			require.NotContains(t, logs.String(), s, "a log line carries the secret")
			_, err = os.Stat(file)
			if store == "bolt" {
				require.NoError(t, err, "the bolt store's secret is kept for the next start")
			} else {
				require.ErrorIs(t, err, os.ErrNotExist, "the memory store's secret file outlives its run")
			}
		})
	}
}

// Credentials in URLs never reach a log line: not in a message, a string
// or an error, whoever logs it (here the engine, on registration).
func TestLogsRedactURLCredentials(t *testing.T) {
	var buf strings.Builder
	log, err := newLogger(&options{logFormat: "text", logLevel: "info"}, &buf)
	require.NoError(t, err)
	log.Info("push to http://plone:hunter2@site.example/db failed", "callback", "https://u:hunter2@site.example:8443/x?y=1",
		"err", errors.New(`Post "http://plone:hunter2@site.example/db": connection refused`), "mail", "jane@site.example", "plain", "http://site.example/")
	out := buf.String()
	require.NotContains(t, out, "hunter2")
	require.Contains(t, out, "http://plone:xxxxx@site.example/db failed")
	require.Contains(t, out, "https://u:xxxxx@site.example:8443/x?y=1")
	require.Contains(t, out, "jane@site.example", "an address is not a URL")
	require.Contains(t, out, "plain=http://site.example/")

	dir := t.TempDir()
	addr, logs, stop := startRun(t, os.Getenv, "-store", "memory", "-admin-secret", secret, "-mail-dir", filepath.Join(dir, "mail"))
	newRPC(t, "http://"+addr+"/").call(t, "registerClient", secret, "plone", "http://plone:hunter2@site.example/portal_linkchecker/database", "Site Admin", "admin@site.example")
	stop()
	require.Contains(t, logs.String(), "plone:xxxxx@site.example", "the engine logs the registration")
	require.NotContains(t, logs.String(), "hunter2")
}
