package xmlrpcapi

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/memstore"
)

// gatedStore holds every GetClient (one per password check) at its gate
// once armed, as a database round trip would: guesses sent at once are then
// all in the middle of their check together.
type gatedStore struct {
	lms.Store
	armed   atomic.Bool
	gate    chan struct{}
	entered chan struct{}
	gets    atomic.Int64
}

func (s *gatedStore) GetClient(ctx context.Context, id string) (lms.Client, error) {
	if s.armed.Load() {
		s.gets.Add(1)
		s.entered <- struct{}{}
		<-s.gate
	}
	return s.Store.GetClient(ctx, id)
}

// TestSimultaneousGuesses: 100 wrong passwords for one id sent at once from
// 100 addresses get at most the id's burst of password checks, although
// none of the checked ones has failed yet when the others arrive; the
// others wait for those checks and are refused (429) without one. The
// race that let all 100 be checked is issue 20's hole 5.
func TestSimultaneousGuesses(t *testing.T) {
	const burst, guesses = 10, 100
	st := &gatedStore{Store: memstore.New(), gate: make(chan struct{}), entered: make(chan struct{}, guesses)}
	e, err := lms.New(st, lms.Config{AdminSecret: gSecret, Components: lms.RunChecker})
	require.NoError(t, err)
	_, err = e.RegisterClient(context.Background(), gSecret, lms.Registration{ID: gID, ContactEmail: "a@site.example", CallbackURL: "http://site.example/db"})
	require.NoError(t, err)
	s := NewServer(e, ServerConfig{Throttle: Throttle{IDBurst: burst, IDEvery: time.Hour, AddrBurst: burst, Delay: -1},
		RemoteAddr: func(r *http.Request) string { return r.Header.Get("X-Test-Client") }})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	st.armed.Store(true)

	statuses := make(chan int, guesses)
	var wg sync.WaitGroup
	for i := range guesses {
		wg.Go(func() {
			body, err := EncodeCall("checkConnection", gID, fmt.Sprint("guess-", i))
			if err != nil {
				statuses <- 0
				return
			}
			req, _ := http.NewRequest("POST", srv.URL+"/RPC2", bytes.NewReader(body))
			req.Header.Set("X-Test-Client", fmt.Sprintf("192.0.2.%d", i))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		})
	}
	// The first burst guesses wait in their password checks; the others
	// find the id's budget reserved and wait for those checks to settle.
	for range burst {
		<-st.entered
	}
	close(st.gate)
	wg.Wait()
	close(statuses)
	refused := 0
	for code := range statuses {
		if code == http.StatusTooManyRequests {
			refused++
			continue
		}
		require.Equal(t, http.StatusUnauthorized, code, "a checked guess")
	}
	require.Equal(t, int64(burst), st.gets.Load(), "password checks among %d simultaneous guesses", guesses)
	require.Equal(t, guesses-burst, refused)
}
