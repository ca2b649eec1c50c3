package pgstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkmonitor/lms"
	"github.com/linkmonitor/lms/internal/storerules"
)

// PendingClients implements lms.NotificationStore.
func (s *Store) PendingClients(ctx context.Context) ([]string, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	return readRows(ctx, s, "pending clients", pgx.RowTo[string], nil,
		`SELECT c.id FROM clients c WHERE EXISTS (SELECT 1 FROM pending p WHERE p.client_id = c.id) ORDER BY c.id`)
}

// PendingUpdates implements lms.NotificationStore.
func (s *Store) PendingUpdates(ctx context.Context, clientID string, limit int) ([]lms.PendingUpdate, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	return clientRows(ctx, s, "pending updates", clientID, func(r pgx.CollectableRow) (lms.PendingUpdate, error) {
		var u, reason string
		var st int16
		var seq int64
		if err := r.Scan(&u, &st, &reason, &seq); err != nil {
			return lms.PendingUpdate{}, err
		}
		return storerules.Pending(u, stateOf(st), reason, uint64(seq)), nil
	}, `SELECT url, state, reason, seq FROM pending WHERE client_id = $1 ORDER BY url LIMIT $2`, clientID, lim)
}

// PendingCount implements lms.NotificationStore.
func (s *Store) PendingCount(ctx context.Context, clientID string) (int, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	var n int
	err := s.read(ctx, "pending count", func(q querier) error {
		if err := q.QueryRow(ctx, `SELECT count(*) FROM pending WHERE client_id = $1`, clientID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return clientExists(ctx, q, clientID)
		}
		return nil
	})
	return n, err
}

// AckUpdates implements lms.NotificationStore.
func (s *Store) AckUpdates(ctx context.Context, clientID string, delivered []lms.PendingUpdate) error {
	ctx, cancel := s.callN(ctx, len(delivered))
	defer cancel()
	urls := make([]string, 0, len(delivered))
	seqs := make([]int64, 0, len(delivered))
	for _, d := range delivered {
		if text(d.URL) == d.URL {
			urls, seqs = append(urls, d.URL), append(seqs, int64(d.Seq))
		}
	}
	return s.tx(ctx, "ack updates", func(tx pgx.Tx) error {
		if err := clientExists(ctx, tx, clientID); err != nil {
			return err
		}
		if len(urls) == 0 {
			return nil
		}
		// The rows are locked in URL order, the order result writes take
		// one client's rows in.
		_, err := tx.Exec(ctx, `WITH lk AS (SELECT url FROM pending WHERE client_id = $1 AND url = ANY($2) ORDER BY url FOR UPDATE)
			DELETE FROM pending p USING unnest($2::text[], $3::int8[]) AS d(url, seq), lk
			WHERE p.client_id = $1 AND p.url = d.url AND p.seq = d.seq AND lk.url = d.url`, clientID, urls, seqs)
		return err
	})
}

// wakeChannel is the LISTEN/NOTIFY channel of the store's wake-ups. A
// payload is the lms.Wakeup bits and the sending Store's id.
const wakeChannel = "lms_wake"

// notifyEvery is the least time between two NOTIFYs of one Store.
// PostgreSQL serialises the commits of the transactions that NOTIFY (they
// take one lock of the notification queue, held through the commit's
// flush), so the wake-ups are not sent by the writes' transactions but
// after their commits, at most one per notifyEvery: a wake-up waits at
// most that long, and writes commit in parallel.
const notifyEvery = 20 * time.Millisecond

// wake asks for w to be sent to the other processes; the caller's write is
// committed. The first wake-up after a quiet spell goes out at once, the
// next ones together after notifyEvery.
func (s *Store) wake(w lms.Wakeup) {
	s.wakeMu.Lock()
	s.wakeBits |= w
	s.wakeMu.Unlock()
	select {
	case s.wakeKick <- struct{}{}:
	default:
	}
}

// takeWake returns and clears the wake-ups to send.
func (s *Store) takeWake() lms.Wakeup {
	s.wakeMu.Lock()
	defer s.wakeMu.Unlock()
	w := s.wakeBits
	s.wakeBits = 0
	return w
}

// sendWakeups sends the wake-ups wake asked for, one NOTIFY at a time and
// at most one per notifyEvery, until the store is closed; what is left then
// is sent before it returns. A NOTIFY that fails (the server is away) is
// tried again with back-off; the listeners of the other processes wake up
// for everything when they reconnect anyway.
func (s *Store) sendWakeups() {
	defer s.wg.Done()
	delay := notifyEvery
	for {
		select {
		case <-s.wakeKick:
		case <-s.stop:
			if w := s.takeWake(); w != 0 {
				_ = s.notify(w, time.Second)
			}
			return
		}
		if w := s.takeWake(); w != 0 {
			if err := s.notify(w, s.notifyTimeout()); err != nil {
				s.wake(w) // keep it for the next round
				delay = min(2*delay, 5*time.Second)
			} else {
				delay = notifyEvery
			}
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-s.stop:
			t.Stop()
			if w := s.takeWake(); w != 0 {
				_ = s.notify(w, time.Second)
			}
			return
		}
	}
}

// notifyTimeout bounds a NOTIFY of sendWakeups: the call timeout, or 5 s
// when that is disabled.
func (s *Store) notifyTimeout() time.Duration {
	if s.callTimeout > 0 {
		return s.callTimeout
	}
	return 5 * time.Second
}

// notify sends one NOTIFY of w.
func (s *Store) notify(w lms.Wakeup, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, err := s.pool.Exec(ctx, `SELECT pg_notify('`+wakeChannel+`', $1)`, fmt.Sprintf("%d %s", w, s.id))
	return err
}

// Wakeups implements lms.Waker. A dedicated connection LISTENs for the
// wake-ups of the other processes (and other Store values) sharing the
// database; it reconnects with back-off while the server is unreachable,
// and after a reconnection sends every kind of wake-up once, since some
// may have been missed. The channel is closed when ctx ends or the store
// is closed.
func (s *Store) Wakeups(ctx context.Context) <-chan lms.Wakeup {
	out := make(chan lms.Wakeup, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		close(out)
		return out
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(out)
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		notes := make(chan lms.Wakeup)
		recvDone := make(chan struct{})
		go func() {
			defer close(recvDone)
			s.listen(ctx, notes)
		}()
		defer func() { <-recvDone }()
		var pending lms.Wakeup
		for {
			var send chan lms.Wakeup
			if pending != 0 {
				send = out
			}
			select {
			case w := <-notes:
				pending |= w
			case send <- pending:
				pending = 0
			case <-ctx.Done():
				return
			case <-s.stop:
				cancel()
				return
			}
		}
	}()
	return out
}

// listen receives notifications until ctx ends, reconnecting with
// back-off.
func (s *Store) listen(ctx context.Context, notes chan<- lms.Wakeup) {
	delay := 50 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, notes, !first)
		if ctx.Err() != nil {
			return
		}
		select {
		case s.listenEnded <- err:
		default:
		}
		if err == nil {
			delay = 50 * time.Millisecond
		}
		first = false
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// listenOnce connects, LISTENs, and forwards notifications until the
// connection fails or ctx ends; wakeAll sends every kind once connected.
// After s.listenQuiet without a notification it pings the server, so that a
// server that froze or vanished without closing the connection is noticed
// (within s.listenQuiet and the call timeout) and the connection replaced.
func (s *Store) listenOnce(ctx context.Context, notes chan<- lms.Wakeup, wakeAll bool) error {
	cctx, cancel := s.call(ctx)
	conn, err := pgx.ConnectConfig(cctx, s.conn.Copy())
	if err != nil {
		cancel()
		return err
	}
	defer func() {
		// Close sends a Terminate message; a frozen server must not
		// hold it.
		cctx, cancel := s.call(context.WithoutCancel(ctx))
		defer cancel()
		_ = conn.Close(cctx)
	}()
	_, err = conn.Exec(cctx, "LISTEN "+wakeChannel)
	cancel()
	if err != nil {
		return err
	}
	forward := func(w lms.Wakeup) bool {
		select {
		case notes <- w:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if wakeAll && !forward(lms.WakeLinksAdded|lms.WakePending|lms.WakeMail) {
		return nil
	}
	for {
		wctx, cancel := context.WithTimeout(ctx, s.listenQuiet)
		n, err := conn.WaitForNotification(wctx)
		quiet := err != nil && ctx.Err() == nil && wctx.Err() != nil
		cancel()
		if quiet {
			// A quiet spell: the connection stays usable after a
			// deadline while waiting; the ping tells whether the server
			// still answers.
			pctx, cancel := s.call(ctx)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		bits, from, _ := strings.Cut(n.Payload, " ")
		if from == s.id {
			continue
		}
		w, err := strconv.ParseUint(bits, 10, 8)
		if err != nil || w == 0 {
			continue
		}
		if !forward(lms.Wakeup(w)) {
			return nil
		}
	}
}
