package lms_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/memstore"
)

// TestPoolSlowCommitShared: on a store other processes share, a check gives
// its request slot back once its result is handed to the store's write, so
// a slow commit does not stop new checks; at most Concurrency results wait
// for their commit, and a check whose result cannot be handed over waits in
// its slot: at most 2 × Concurrency links are sent and not committed at any
// time (what a process that dies can lose).
func TestPoolSlowCommitShared(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const conc, hosts = 3, 30
		st := newSlowCommitStore(hosts)
		started := make(chan struct{}, 2*hosts)
		answer := make(chan struct{}) // one value answers one request; closed, all
		checker := lms.CheckerFunc(func(ctx context.Context, u string) lms.Result {
			st.sent()
			started <- struct{}{}
			select {
			case <-answer:
			case <-ctx.Done():
				return lms.Result{State: lms.StateUnknown, Reason: "stopped", NetworkError: true}
			}
			return lms.Result{State: lms.StateOK, Reason: "OK", Code: 200}
		})
		e, err := lms.New(st, lms.Config{AdminSecret: adminSecret, Components: lms.RunChecker, Checker: checker, Concurrency: conc, HostInterval: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		var urls []string
		for h := range hosts {
			urls = append(urls, fmt.Sprintf("http://host%d.example/", h))
		}
		register(t, e, "a", urls)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- e.Run(ctx) }()

		for range conc {
			<-started
		}
		phase := func(name string, wantStarted, wantWriting int) {
			t.Helper()
			synctest.Wait()
			if n := len(started); n != wantStarted {
				t.Errorf("%s: %d checks started, want %d", name, n, wantStarted)
			}
			for len(started) > 0 {
				<-started
			}
			if w := st.inWrite(); w != wantWriting {
				t.Errorf("%s: %d results in the store's write, want %d", name, w, wantWriting)
			}
		}
		phase("every slot busy", 0, 0)
		for range conc {
			answer <- struct{}{}
		}
		phase("the first answers wait for their commit", conc, conc)
		for range conc {
			answer <- struct{}{}
		}
		phase("the next answers cannot be handed over", 0, conc)

		close(st.gate)
		close(answer)
		wait, stop := context.WithTimeout(context.Background(), time.Minute)
		defer stop()
		select {
		case <-st.all:
		case <-wait.Done():
			t.Fatalf("%d of %d results committed", st.committedN(), hosts)
		}
		synctest.Wait()
		assertIdle(t, e)
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		st.mu.Lock()
		defer st.mu.Unlock()
		if st.peakWriting != conc {
			t.Errorf("at most %d results in the store's write at once, want %d (Concurrency)", st.peakWriting, conc)
		}
		if st.peakOpen != 2*conc {
			t.Errorf("at most %d links sent and not committed at once, want %d (2 × Concurrency)", st.peakOpen, 2*conc)
		}
	})
}

// slowCommitStore is a memstore that the engine takes for one that other
// processes share (a lms.Waker), whose result writes wait until gate is
// closed. It counts the requests sent and the results committed.
type slowCommitStore struct {
	*memstore.Store
	gate chan struct{} // closed to let the writes through
	all  chan struct{} // closed once want results are committed
	want int

	mu                   sync.Mutex
	writing, peakWriting int // results handed to a write and not committed
	nSent, committed     int
	peakOpen             int // the most requests sent and not committed
	closedAll            bool
}

func newSlowCommitStore(want int) *slowCommitStore {
	return &slowCommitStore{Store: memstore.New(), gate: make(chan struct{}), all: make(chan struct{}), want: want}
}

// Wakeups implements lms.Waker: no other process writes.
func (s *slowCommitStore) Wakeups(ctx context.Context) <-chan lms.Wakeup {
	ch := make(chan lms.Wakeup)
	context.AfterFunc(ctx, func() { close(ch) })
	return ch
}

// sent records a request sent.
func (s *slowCommitStore) sent() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nSent++
	s.peakOpen = max(s.peakOpen, s.nSent-s.committed)
}

func (s *slowCommitStore) inWrite() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writing
}

func (s *slowCommitStore) committedN() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.committed
}

// RecordResults waits for gate, then writes.
func (s *slowCommitStore) RecordResults(ctx context.Context, recs []lms.Outcome) error {
	n := 0
	for _, r := range recs {
		if !r.Hold {
			n++
		}
	}
	s.mu.Lock()
	s.writing += n
	s.peakWriting = max(s.peakWriting, s.writing)
	s.mu.Unlock()
	var err error
	select {
	case <-s.gate:
		err = s.Store.RecordResults(ctx, recs)
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writing -= n
	if err == nil {
		s.committed += n
	}
	if s.committed >= s.want && !s.closedAll {
		s.closedAll = true
		close(s.all)
	}
	return err
}
