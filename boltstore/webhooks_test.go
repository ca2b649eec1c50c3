package boltstore_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/boltstore"
)

// TestWebhookCrash runs a child process that queues webhook events one at
// a time, each handing a pending change to the webhook (acknowledging it),
// and holds the oldest event as a deliverer in flight would; it prints
// each event id once EnqueueWebhook returned. The parent kills it with
// SIGKILL and checks in the reopened file that every printed event is
// there, still to deliver, with its id, and that the oldest is handed out
// again once the dead process's hold has ended.
func TestWebhookCrash(t *testing.T) {
	if path := os.Getenv("LMS_HOOK_CRASH_CHILD"); path != "" {
		hookCrashChild(path)
		return
	}
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	path := filepath.Join(t.TempDir(), "lms.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestWebhookCrash$")
	cmd.Env = append(os.Environ(), "LMS_HOOK_CRASH_CHILD="+path)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var acked []string
	sc := bufio.NewScanner(out)
	for sc.Scan() && len(acked) < 200 {
		if id, ok := strings.CutPrefix(sc.Text(), "ACK "); ok {
			acked = append(acked, id)
		}
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	require.Len(t, acked, 200, "child did not acknowledge enough events")

	s := open(t, path)
	defer s.Close()
	ctx := context.Background()
	ds, err := s.WebhookDeliveries(ctx, "crash", 0)
	require.NoError(t, err)
	have := map[string]bool{}
	for _, d := range ds {
		require.True(t, d.Pending(), "event %s is no longer to deliver", d.ID)
		have[d.ID] = true
	}
	for _, id := range acked {
		require.True(t, have[id], "acknowledged event %s lost in the crash", id)
	}
	// The handed changes went with the events: none of theirs is pending.
	ps, err := s.PendingUpdates(ctx, "crash", 0)
	require.NoError(t, err)
	require.Empty(t, ps, "changes handed to the webhook are pending again")
	// The dead holder's claim ends with its lease; then the oldest event
	// comes back under its id.
	_, ok, err := s.ClaimWebhook(ctx, "crash", "new", time.Now(), time.Minute)
	require.NoError(t, err)
	require.False(t, ok, "the dead process's hold ended early")
	ev, ok, err := s.ClaimWebhook(ctx, "crash", "new", time.Now().Add(2*time.Hour), time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, acked[0], ev.ID)
	require.Equal(t, `{"n":0}`, string(ev.Body))
}

func hookCrashChild(path string) {
	fail := func(err error) {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	ctx := context.Background()
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		fail(err)
	}
	if err := s.CreateClient(ctx, lms.Client{ID: "crash"}); err != nil {
		fail(err)
	}
	now := time.Now()
	for i := 0; ; i++ {
		u := fmt.Sprintf("http://h.example/%d", i)
		if _, err := s.Subscribe(ctx, "crash", []string{u}, now); err != nil {
			fail(err)
		}
		if err := s.RecordResults(ctx, []lms.Outcome{{URL: u, Checked: now, NextDue: now.Add(time.Hour), Result: lms.Result{State: lms.StateOK, Reason: "OK"}}}); err != nil {
			fail(err)
		}
		ps, err := s.PendingUpdates(ctx, "crash", 0)
		if err != nil {
			fail(err)
		}
		id := fmt.Sprintf("msg_%d", i)
		ev := lms.WebhookEvent{WebhookDelivery: lms.WebhookDelivery{ID: id, ClientID: "crash", Type: "links.changed", Created: now, NextAttempt: now},
			Body: fmt.Appendf(nil, `{"n":%d}`, i)}
		if err := s.EnqueueWebhook(ctx, ev, ps, true); err != nil {
			fail(err)
		}
		if i == 0 {
			if _, _, err := s.ClaimWebhook(ctx, "crash", "child", now, time.Hour); err != nil {
				fail(err)
			}
		}
		fmt.Println("ACK", id)
	}
}
