package lms

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/linkmonitor/lms/internal/backoff"
	"github.com/linkmonitor/lms/internal/logsafe"
	"github.com/linkmonitor/lms/internal/loop"
)

// Notifier delivers state updates to one client (updateManyStates). It
// returns nil only if the client accepted them.
type Notifier interface {
	Notify(ctx context.Context, to Endpoint, updates []Update) error
}

// NotifierFunc adapts a function to the Notifier interface.
type NotifierFunc func(ctx context.Context, to Endpoint, updates []Update) error

// Notify calls f.
func (f NotifierFunc) Notify(ctx context.Context, to Endpoint, updates []Update) error {
	return f(ctx, to, updates)
}

// Endpoint is how to reach a client: its id and password (sent as the
// first two arguments of every callback) and its callback URL.
type Endpoint struct {
	ClientID string
	Password string
	URL      string
}

// notifierStore is what the notifier uses of the Store.
type notifierStore interface {
	ClientStore
	NotificationStore
}

// notifier delivers each client's pending changes: per client at most one
// round per NotifyInterval, many clients at once, a slow or dead client
// never delaying the others; after NotifyMaxFailures failures in a row it
// switches the client's notifications off and owes its contact a mail.
type notifier struct {
	store    notifierStore
	out      Notifier
	hooks    *webhooks // takes each chunk for the client's webhook first
	endpoint func(Client) (Endpoint, error)
	mailOwed func() // wakes the mailer
	cfg      Config
	log      *slog.Logger
	wake     chan struct{}

	pushes, delivered, failures, disabled atomic.Uint64
}

func newNotifier(store notifierStore, cfg Config, endpoint func(Client) (Endpoint, error), mailOwed func(), hooks *webhooks) *notifier {
	return &notifier{store: store, out: cfg.Notifier, endpoint: endpoint, mailOwed: mailOwed, hooks: hooks, cfg: cfg, log: cfg.Logger, wake: make(chan struct{}, 1)}
}

// pendingAdded tells the notifier that changes may be pending now (another
// process's wake-up).
func (n *notifier) pendingAdded() { loop.Poke(n.wake) }

// errLeased means another process serves the client, or its turn has not
// come: skip it this round.
var errLeased = errors.New("client served elsewhere or not due")

func (n *notifier) run(ctx context.Context) error {
	// Clients that keep failing (a dead or stalled callback) have slots of
	// their own, a quarter as many, so that they cannot take every slot from
	// healthy ones.
	workers := loop.NewWorkers(n.cfg.NotifyConcurrency, max(1, n.cfg.NotifyConcurrency/4))
	defer workers.Wait()
	loop.Rounds(ctx, n.cfg.NotifyPoll, n.wake, func() {
		ids, err := n.store.PendingClients(ctx)
		if err != nil && ctx.Err() == nil {
			n.log.Error("listing pending clients", "err", err)
		}
		for _, id := range ids {
			c, err := n.store.GetClient(ctx, id)
			if err != nil || !c.Notify || n.cfg.Now().Before(c.NextNotify) || c.NotifyLease.Held(n.cfg.Now(), n.cfg.ProcessID) {
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

// serve takes the client's notify lease and delivers its pending changes.
func (n *notifier) serve(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.NotifyTimeout)
	defer cancel()
	now := n.cfg.Now()
	c, err := n.store.UpdateClient(ctx, id, func(c *Client) error {
		if !c.Notify || now.Before(c.NextNotify) || c.NotifyLease.Held(now, n.cfg.ProcessID) {
			return errLeased
		}
		c.NotifyLease = Lease{Holder: n.cfg.ProcessID, Until: now.Add(n.cfg.NotifyTimeout + time.Minute)}
		return nil
	})
	if err != nil {
		if !errors.Is(err, errLeased) && ctx.Err() == nil {
			n.log.Error("taking a client's notify lease", "client", id, "err", err)
		}
		return
	}
	n.deliver(ctx, c)
}

// deliver sends the client's pending changes in chunks and acknowledges
// each chunk once the client accepted it, then records the round and ends
// the lease.
func (n *notifier) deliver(ctx context.Context, c Client) {
	callback := c.CallbackURL != "" // else only a webhook takes the changes
	var to Endpoint
	var err error
	if callback {
		to, err = n.endpoint(c)
	}
	if err != nil {
		n.log.Warn("cannot notify", "client", c.ID, "err", err)
		n.finish(ctx, c.ID, func(c *Client) {
			c.NextNotify, c.LastNotifyError = n.cfg.Now().Add(n.cfg.NotifyInterval), logsafe.Value(err.Error())
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
	for round := 0; round <= count/n.cfg.NotifyChunk; round++ {
		ps, err := n.store.PendingUpdates(ctx, c.ID, n.cfg.NotifyChunk)
		if err != nil {
			n.storeFailed(ctx, c.ID, "reading pending updates", err)
			return
		}
		if len(ps) == 0 {
			break
		}
		if _, err := n.hooks.handOff(ctx, c, ps); err != nil {
			n.log.Error("handing changes to the webhook", "client", c.ID, "err", err)
			n.finish(ctx, c.ID, func(*Client) {})
			return
		}
		if !callback {
			if !webhookOn(c) || len(ps) < n.cfg.NotifyChunk {
				break // a webhook that is off keeps them pending
			}
			continue
		}
		ups := make([]Update, len(ps))
		for i, p := range ps {
			ups[i] = p.Update
		}
		n.pushes.Add(1)
		if err := n.out.Notify(ctx, to, ups); err != nil {
			if ctx.Err() != nil && context.Cause(ctx) == context.Canceled {
				n.finish(ctx, c.ID, func(*Client) {}) // shutting down: not the client's fault
				return
			}
			n.failed(ctx, c.ID, err)
			return
		}
		if err := n.store.AckUpdates(context.WithoutCancel(ctx), c.ID, ps); err != nil {
			n.log.Error("acknowledging updates", "client", c.ID, "err", err)
			n.finish(ctx, c.ID, func(*Client) {})
			return
		}
		sent += len(ps)
		n.delivered.Add(uint64(len(ps)))
		if len(ps) < n.cfg.NotifyChunk {
			break
		}
	}
	now := n.cfg.Now()
	n.finish(ctx, c.ID, func(c *Client) {
		c.NotifyFailures, c.LastNotifyError = 0, ""
		c.LastNotified, c.NextNotify = now, now.Add(n.cfg.NotifyInterval)
	})
	n.log.Debug("notified", "client", c.ID, "updates", sent)
}

// finish records the round with fn and ends this process's lease.
func (n *notifier) finish(ctx context.Context, id string, fn func(*Client)) {
	_, err := n.store.UpdateClient(context.WithoutCancel(ctx), id, func(c *Client) error {
		fn(c)
		if c.NotifyLease.Holder == n.cfg.ProcessID {
			c.NotifyLease = Lease{}
		}
		return nil
	})
	if err != nil {
		n.log.Error("recording notification", "client", id, "err", err)
	}
}

// storeFailed logs a store error of a round (unless shutting down) and ends
// the lease without recording the round.
func (n *notifier) storeFailed(ctx context.Context, id, what string, err error) {
	if ctx.Err() == nil || context.Cause(ctx) != context.Canceled {
		n.log.Error(what, "client", id, "err", err)
	}
	n.finish(ctx, id, func(*Client) {})
}

// failed records a failed push: exponential back-off with jitter, and
// notifications off (plus a mail in the outbox) after NotifyMaxFailures in
// a row.
func (n *notifier) failed(ctx context.Context, id string, cause error) {
	n.failures.Add(1)
	now := n.cfg.Now()
	disabled := false
	var c Client
	n.finish(ctx, id, func(cl *Client) {
		cl.NotifyFailures++
		cl.LastNotifyError = logsafe.Value(cause.Error())
		cl.NextNotify = now.Add(backoff.Retry(n.cfg.NotifyInterval, n.cfg.NotifyBackoffMax, cl.NotifyFailures, rand.Float64()))
		if cl.NotifyFailures >= n.cfg.NotifyMaxFailures && cl.Notify {
			cl.Notify, cl.NotifyDisabledAt, disabled = false, now, true
			cl.Outbox = append(cl.Outbox, OutboxMail{Kind: MailDisabled, Queued: now})
		}
		c = *cl
	})
	n.log.Warn("notification failed", "client", id, "failures", c.NotifyFailures, "retry_at", c.NextNotify, "err", cause)
	if disabled {
		n.disabled.Add(1)
		n.log.Warn("notifications disabled after repeated failures", "client", id, "failures", c.NotifyFailures)
		n.mailOwed()
	}
}

// snapshot adds the notifier's counters to st.
func (n *notifier) snapshot(st *Stats) {
	st.NotifyPushes = n.pushes.Load()
	st.NotifyDelivered = n.delivered.Load()
	st.NotifyFailures = n.failures.Load()
	st.NotifyDisabled = n.disabled.Load()
}
