// Package outbox delivers the mails owed to clients' contacts: the store
// keeps them in each client's record, so that owing a mail is recorded in
// the same step as the change that owes it; a mail leaves the store only
// once the mailer accepted it, failures are retried with back-off, and a
// crash before delivery means the mail is sent after the restart. The
// package knows nothing of the lms model: Store takes, sends and settles
// each client's first mail; text.go writes the mails' texts.
package outbox

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linkmonitor/lms/internal/backoff"
	"github.com/linkmonitor/lms/internal/loop"
)

// Mail is a client's first owed mail, taken by Store.Take and held for
// this process.
type Mail struct {
	ID       any // the store's own identity of the mail
	Kind     string
	Attempts int    // failed deliveries so far
	To       string // the recipients, for the log
	// Send sends it; an error (including one making its text) keeps it in
	// the outbox.
	Send func(ctx context.Context) error
}

// Store is the outbox in the store.
type Store interface {
	// Due returns the ids of the clients whose first mail is due at now
	// and whom no other process holds.
	Due(ctx context.Context, now time.Time) ([]string, error)
	// Take holds the client for this process if its first mail is due at
	// now and returns that mail; ok is false if there is none to send.
	Take(ctx context.Context, id string, now time.Time) (m Mail, ok bool, err error)
	// Settle ends the hold and removes m if sendErr is nil, or records
	// the failed attempt, with no new attempt before next. It reports
	// whether the client's next mail is due and not held elsewhere.
	Settle(ctx context.Context, id string, m Mail, sendErr error, next time.Time) (more bool, err error)
}

// Config sets up a Sender.
type Config struct {
	Poll   time.Duration // how often the outbox is looked at
	Now    func() time.Time
	Logger *slog.Logger
	Off    bool // no mailer: mails wait in the outbox
}

// Sender delivers the outbox.
type Sender struct {
	store Store
	cfg   Config
	log   *slog.Logger
	wake  chan struct{}

	// busy holds the clients whose mail this process is sending: the
	// store's hold keeps other processes away, but not the loop and an
	// API call's immediate send of the same process (both would send).
	busyMu sync.Mutex
	busy   map[string]bool

	sent, failures atomic.Uint64
}

// New returns the sender of store's mails.
func New(store Store, cfg Config) *Sender {
	return &Sender{store: store, cfg: cfg, log: cfg.Logger, wake: make(chan struct{}, 1), busy: make(map[string]bool)}
}

// Owed tells the sender that a mail was put into the outbox.
func (s *Sender) Owed() { loop.Poke(s.wake) }

// Run delivers the due mails, one client after the other, at every poll
// and wake-up until ctx ends.
func (s *Sender) Run(ctx context.Context) error {
	if s.cfg.Off {
		s.log.Warn("no mailer configured: mails wait in the outbox (registration passwords reach no one)")
	}
	loop.Rounds(ctx, s.cfg.Poll, s.wake, func() {
		if s.cfg.Off {
			return
		}
		ids, err := s.store.Due(ctx, s.cfg.Now())
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("listing clients for the outbox", "err", err)
			}
			return
		}
		for _, id := range ids {
			for ctx.Err() == nil && s.Deliver(ctx, id) {
			}
		}
	})
	return nil
}

// Deliver sends the client's first owed mail if it is due and settles it.
// It reports whether the client's next mail is due now.
func (s *Sender) Deliver(ctx context.Context, id string) bool {
	s.busyMu.Lock()
	if s.busy[id] {
		s.busyMu.Unlock()
		return false // sent by the other caller of this process
	}
	s.busy[id] = true
	s.busyMu.Unlock()
	defer func() {
		s.busyMu.Lock()
		delete(s.busy, id)
		s.busyMu.Unlock()
	}()
	m, ok, err := s.store.Take(ctx, id, s.cfg.Now())
	if err != nil && ctx.Err() == nil {
		s.log.Error("taking a client's lease for its mail", "client", id, "err", err)
	}
	if !ok {
		return false
	}
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	err = m.Send(sctx)
	cancel()
	next := s.cfg.Now().Add(backoff.Doubled(time.Minute, time.Hour, m.Attempts+1))
	more, serr := s.store.Settle(context.WithoutCancel(ctx), id, m, err, next)
	if serr != nil {
		s.log.Error("recording a mail", "client", id, "kind", m.Kind, "err", serr)
		return false
	}
	if err != nil {
		s.failures.Add(1)
		s.log.Warn("mail not sent; it stays in the outbox", "client", id, "kind", m.Kind, "attempts", m.Attempts+1, "err", err)
		return false
	}
	s.sent.Add(1)
	s.log.Info("mail sent", "client", id, "kind", m.Kind, "to", m.To)
	return more
}

// Counters returns the mails sent and the failed deliveries since start.
func (s *Sender) Counters() (sent, failures uint64) { return s.sent.Load(), s.failures.Load() }
