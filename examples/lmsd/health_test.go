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
// other reads work): a checker that cannot renew its leases.
type claimFailStore struct {
	lms.Store
	fail atomic.Bool
}

func (s *claimFailStore) ClaimDue(ctx context.Context, now time.Time, opt lms.ClaimOptions) ([]lms.Link, error) {
	if s.fail.Load() {
		return nil, errors.New("claims refused")
	}
	return s.Store.ClaimDue(ctx, now, opt)
}

// /healthz tells a checker that cannot renew its leases (its claims fail)
// by a 503, and /metrics says which process it is.
func TestHealthzLeasesAndProcessLabel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &claimFailStore{Store: memstore.New()}
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

		time.Sleep(time.Second)
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
		time.Sleep(time.Second)
		rec = do(t, h, "GET", "/healthz", "", false)
		require.Equal(t, http.StatusServiceUnavailable, rec.Code)
		require.Equal(t, "leases not renewed\n", rec.Body.String())
		require.Contains(t, do(t, h, "GET", "/metrics", "", false).Body.String(), `lms_claim_failing{process="check-7"} 1`)

		st.fail.Store(false)
		time.Sleep(time.Second)
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
