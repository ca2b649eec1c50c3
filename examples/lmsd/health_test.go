package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/memstore"
)

// claimFailStore is a memstore whose claims fail while fail is set (its
// other reads work): a checker that cannot renew its leases. claimed gets
// whether each claim failed, as it returns (dropped when nobody listens).
type claimFailStore struct {
	lms.Store
	fail    atomic.Bool
	claimed chan bool
}

func (s *claimFailStore) ClaimDue(ctx context.Context, now time.Time, opt lms.ClaimOptions) ([]lms.Link, error) {
	failed := s.fail.Load()
	defer func() {
		select {
		case s.claimed <- failed:
		default:
		}
	}()
	if failed {
		return nil, errors.New("claims refused")
	}
	return s.Store.ClaimDue(ctx, now, opt)
}

// awaitClaim waits for the next claim that fails (or succeeds, by failed)
// and until the checker has taken note of it; it fails t if none comes
// within a minute (virtual time: six hundred claim polls).
func (s *claimFailStore) awaitClaim(t *testing.T, failed bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		select {
		case f := <-s.claimed:
			if f == failed {
				synctest.Wait()
				return
			}
		case <-ctx.Done():
			t.Fatalf("no claim with failed=%v within a minute", failed)
		}
	}
}

// /healthz tells a checker that cannot renew its leases (its claims fail)
// by a 503, and /metrics says which process it is.
func TestHealthzLeasesAndProcessLabel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &claimFailStore{Store: memstore.New(), claimed: make(chan bool, 1)}
		e, err := lms.New(st, lms.Config{AdminSecret: secret, Components: lms.RunChecker, ProcessID: "check-7", ClaimPoll: 100 * time.Millisecond,
			Mailer: lms.MailerFunc(func(context.Context, lms.Message) error { return nil })})
		require.NoError(t, err)
		h, _, err := newHandlers(e, handlerConfig{secret: secret, log: slog.New(slog.DiscardHandler), snapshotTTL: 50 * time.Millisecond})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- e.Run(ctx) }()
		defer func() {
			cancel()
			require.NoError(t, <-done)
		}()

		// Claims are 100 ms apart, the snapshot lives 50 ms: each claim
		// awaited below is seen by the next request.
		st.awaitClaim(t, false)
		rec := do(t, h, "GET", "/healthz", "", false)
		require.Equal(t, 200, rec.Code)
		metrics := do(t, h, "GET", "/metrics", "", false).Body.String()
		require.Contains(t, metrics, `lms_claim_failing{process="check-7"} 0`)
		for _, line := range strings.Split(metrics, "\n") {
			if line != "" && !strings.HasPrefix(line, "#") {
				require.Contains(t, line, `process="check-7"`, "every series names the process")
			}
		}

		st.fail.Store(true)
		st.awaitClaim(t, true)
		rec = do(t, h, "GET", "/healthz", "", false)
		require.Equal(t, http.StatusServiceUnavailable, rec.Code)
		require.Equal(t, "leases not renewed\n", rec.Body.String())
		require.Contains(t, do(t, h, "GET", "/metrics", "", false).Body.String(), `lms_claim_failing{process="check-7"} 1`)

		st.fail.Store(false)
		st.awaitClaim(t, false)
		require.Equal(t, 200, do(t, h, "GET", "/healthz", "", false).Code)
	})
}

// processLabel matches the process label every series carries.
var processLabel = regexp.MustCompile(`process="[^"]*",?|,process="[^"]*"`)

// withoutProcess removes the process label from a /metrics body, so that
// other tests can name series as they were before it.
func withoutProcess(body string) string {
	return strings.ReplaceAll(processLabel.ReplaceAllString(body, ""), "{}", "")
}
