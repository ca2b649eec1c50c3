package notify

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/linkmonitor/lms/internal/backoff"
	"github.com/linkmonitor/lms/internal/logsafe"
	"github.com/linkmonitor/lms/internal/loop"
)

// Endpoint is how to reach a client's callback: its id and password (the
// first two arguments of every callback) and its URL.
type Endpoint struct {
	ClientID string
	Password string
	URL      string
}

// ErrNoPassword means the client's password cannot be unsealed (the admin
// secret changed) and the client has not authenticated since.
var ErrNoPassword = errors.New("client password unavailable: the admin secret changed; it is learnt again at the client's next call")

// Endpoint returns how to reach c's callback: its password unsealed.
func (h *Deliverer) Endpoint(c Client) (Endpoint, error) {
	pw, ok := h.cfg.Sealer.Open(c.ID, c.SealedPassword)
	if !ok {
		return Endpoint{}, ErrNoPassword
	}
	return Endpoint{ClientID: c.ID, Password: pw, URL: c.CallbackURL}, nil
}

// Notifier delivers each client's pending changes: per client at most one
// round per Interval, many clients at once, a slow or dead client never
// delaying the others.
type Notifier struct {
	store Store
	hooks *Deliverer // takes each chunk for the client's webhook first
	cfg   Config
	wake  chan struct{}

	pushes, delivered, failures, disabled atomic.Uint64
}

// NewNotifier returns the notifier of the clients of hooks' store, which
// hands each chunk to hooks first; it follows hooks' Config.
func NewNotifier(hooks *Deliverer) *Notifier {
	return &Notifier{store: hooks.store, hooks: hooks, cfg: hooks.cfg, wake: make(chan struct{}, 1)}
}

// Poke tells the notifier that changes may be pending now.
func (n *Notifier) Poke() { loop.Poke(n.wake) }

// Run serves the clients with pending changes until ctx ends.
func (n *Notifier) Run(ctx context.Context) error {
	// Clients that keep failing (a dead or stalled callback) have slots of
	// their own, a quarter as many, so that they cannot take every slot from
	// healthy ones.
	workers := loop.NewWorkers(n.cfg.Concurrency, max(1, n.cfg.Concurrency/4))
	defer workers.Wait()
	loop.Rounds(ctx, n.cfg.Poll, n.wake, func() {
		ids, err := n.store.PendingClients(ctx)
		if err != nil && ctx.Err() == nil {
			n.cfg.Logger.Error("listing pending clients", "err", err)
		}
		for _, id := range ids {
			c, err := n.store.Client(ctx, id)
			if err != nil || !n.due(c, n.cfg.Now()) {
				continue
			}
			lane := 0
			if c.NotifyFailures > 0 {
				lane = 1
			}
			workers.Try(id, lane, func() { n.serve(ctx, id) })
		}
	})
	return nil
}

func (n *Notifier) due(c Client, now time.Time) bool {
	return c.Notify && !now.Before(c.NextNotify) && !c.leaseHeld(now, n.cfg.ProcessID)
}

// serve takes the client's notify lease and delivers its pending changes.
func (n *Notifier) serve(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	now := n.cfg.Now()
	c, err := n.store.UpdateClient(ctx, id, func(c *Client) error {
		if !n.due(*c, now) {
			return errLeased
		}
		c.LeaseHolder, c.LeaseUntil = n.cfg.ProcessID, now.Add(n.cfg.Timeout+time.Minute)
		return nil
	})
	if err != nil {
		if !errors.Is(err, errLeased) && ctx.Err() == nil {
			n.cfg.Logger.Error("taking a client's notify lease", "client", id, "err", err)
		}
		return
	}
	n.deliver(ctx, c)
}

// deliver sends the client's pending changes in chunks and acknowledges
// each chunk once the client accepted it, then records the round and ends
// the lease.
func (n *Notifier) deliver(ctx context.Context, c Client) {
	var to Endpoint
	var err error
	if c.hasCallback() { // else only a webhook takes the changes
		to, err = n.hooks.Endpoint(c)
	}
	if err != nil {
		n.cfg.Logger.Warn("cannot notify", "client", c.ID, "err", err)
		n.finish(ctx, c.ID, func(c *Client) {
			c.NextNotify, c.LastNotifyError = n.cfg.Now().Add(n.cfg.Interval), logsafe.Value(err.Error())
		})
		return
	}
	// A store error is neither the client's failure nor a delivered round:
	// the client keeps its record, the lease ends, and the next poll tries
	// again.
	count, err := n.store.PendingCount(ctx, c.ID)
	if err != nil {
		n.storeFailed(ctx, c.ID, "counting pending updates", err)
		return
	}
	sent := 0
	for round := 0; round <= count/n.cfg.Chunk; round++ {
		ps, err := n.store.PendingUpdates(ctx, c.ID, n.cfg.Chunk)
		if err != nil {
			n.storeFailed(ctx, c.ID, "reading pending updates", err)
			return
		}
		if len(ps) == 0 {
			break
		}
		if _, err := n.hooks.HandOff(ctx, c, ps); err != nil {
			n.cfg.Logger.Error("handing changes to the webhook", "client", c.ID, "err", err)
			n.finish(ctx, c.ID, func(*Client) {})
			return
		}
		if !c.hasCallback() {
			if !On(c) || len(ps) < n.cfg.Chunk {
				break // a webhook that is off keeps them pending
			}
			continue
		}
		ups := make([]Update, len(ps))
		for i, p := range ps {
			ups[i] = p.Update
		}
		n.pushes.Add(1)
		if err := n.cfg.Push(ctx, to, ups); err != nil {
			if ctx.Err() != nil && context.Cause(ctx) == context.Canceled {
				n.finish(ctx, c.ID, func(*Client) {}) // shutting down: not the client's fault
				return
			}
			n.failed(ctx, c.ID, err)
			return
		}
		if err := n.store.Ack(context.WithoutCancel(ctx), c.ID, ps); err != nil {
			n.cfg.Logger.Error("acknowledging updates", "client", c.ID, "err", err)
			n.finish(ctx, c.ID, func(*Client) {})
			return
		}
		sent += len(ps)
		n.delivered.Add(uint64(len(ps)))
		if len(ps) < n.cfg.Chunk {
			break
		}
	}
	now := n.cfg.Now()
	n.finish(ctx, c.ID, func(c *Client) {
		c.NotifyFailures, c.LastNotifyError = 0, ""
		c.LastNotified, c.NextNotify = now, now.Add(n.cfg.Interval)
	})
	n.cfg.Logger.Debug("notified", "client", c.ID, "updates", sent)
}

// finish records the round with fn and ends this process's lease.
func (n *Notifier) finish(ctx context.Context, id string, fn func(*Client)) {
	_, err := n.store.UpdateClient(context.WithoutCancel(ctx), id, func(c *Client) error {
		fn(c)
		if c.LeaseHolder == n.cfg.ProcessID {
			c.LeaseHolder, c.LeaseUntil = "", time.Time{}
		}
		return nil
	})
	if err != nil {
		n.cfg.Logger.Error("recording notification", "client", id, "err", err)
	}
}

// storeFailed logs a store error of a round (unless shutting down) and ends
// the lease without recording the round.
func (n *Notifier) storeFailed(ctx context.Context, id, what string, err error) {
	if ctx.Err() == nil || context.Cause(ctx) != context.Canceled {
		n.cfg.Logger.Error(what, "client", id, "err", err)
	}
	n.finish(ctx, id, func(*Client) {})
}

// failed records a failed push: exponential back-off with jitter, and
// notifications off (plus a mail in the outbox) after MaxFailures in a
// row.
func (n *Notifier) failed(ctx context.Context, id string, cause error) {
	n.failures.Add(1)
	now := n.cfg.Now()
	disabled := false
	var c Client
	n.finish(ctx, id, func(cl *Client) {
		cl.NotifyFailures++
		cl.LastNotifyError = logsafe.Value(cause.Error())
		cl.NextNotify = now.Add(backoff.Retry(n.cfg.Interval, n.cfg.BackoffMax, cl.NotifyFailures, rand.Float64()))
		if cl.NotifyFailures >= n.cfg.MaxFailures && cl.Notify {
			cl.Notify, cl.NotifyDisabledAt, disabled = false, now, true
			cl.Outbox = append(cl.Outbox, Mail{Kind: KindNotifyDisabled, Queued: now})
		}
		c = *cl
	})
	n.cfg.Logger.Warn("notification failed", "client", id, "failures", c.NotifyFailures, "retry_at", c.NextNotify, "err", cause)
	if disabled {
		n.disabled.Add(1)
		n.cfg.Logger.Warn("notifications disabled after repeated failures", "client", id, "failures", c.NotifyFailures)
		n.cfg.MailOwed()
	}
}

// Counters returns the pushes, the updates the clients acknowledged, the
// failed pushes and the clients switched off since start.
func (n *Notifier) Counters() (pushes, delivered, failures, disabled uint64) {
	return n.pushes.Load(), n.delivered.Load(), n.failures.Load(), n.disabled.Load()
}
