package lms

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linkmonitor/lms/internal/backoff"
)

// notifyState counts the notifier's work for Stats. Everything that must
// survive a restart lives in the Store.
type notifyState struct {
	pushes    atomic.Uint64
	delivered atomic.Uint64
	failures  atomic.Uint64
	disabled  atomic.Uint64
}

// clientWorkers runs at most n jobs at once and at most one per client; a
// job that finds every slot taken is skipped (the next tick retries it), so
// one slow client never delays the others.
type clientWorkers struct {
	sem  chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	busy map[string]bool
}

func newClientWorkers(n int) *clientWorkers {
	return &clientWorkers{sem: make(chan struct{}, n), busy: make(map[string]bool)}
}

// try starts fn for client id unless the client is busy or no slot is free.
func (w *clientWorkers) try(id string, fn func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.busy[id] {
		return
	}
	select {
	case w.sem <- struct{}{}:
	default:
		return
	}
	w.busy[id] = true
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer func() {
			w.mu.Lock()
			delete(w.busy, id)
			w.mu.Unlock()
			<-w.sem
		}()
		fn()
	}()
}

// wait returns when every started job has finished.
func (w *clientWorkers) wait() { w.wg.Wait() }

// runNotifier delivers pending changes: per client at most one round per
// NotifyInterval, many clients concurrently, a slow one never delaying the
// others.
func (e *Engine) runNotifier(ctx context.Context) error {
	workers := newClientWorkers(e.cfg.NotifyConcurrency)
	defer workers.wait()
	t := time.NewTicker(e.cfg.NotifyPoll)
	defer t.Stop()
	for {
		ids, err := e.store.PendingClients(ctx)
		if err != nil && ctx.Err() == nil {
			e.log.Error("listing pending clients", "err", err)
		}
		for _, id := range ids {
			c, err := e.store.GetClient(ctx, id)
			if err != nil || !c.Notify || e.now().Before(c.NextNotify) {
				continue
			}
			workers.try(id, func() { e.deliver(ctx, c) })
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// deliver sends the client's pending changes in chunks and acknowledges
// each chunk once the client accepted it.
func (e *Engine) deliver(ctx context.Context, c Client) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.NotifyTimeout)
	defer cancel()
	cb, err := e.callback(c)
	if err != nil {
		e.log.Warn("cannot notify", "client", c.ID, "err", err)
		_, _ = e.store.UpdateClient(context.WithoutCancel(ctx), c.ID, func(c *Client) error {
			c.NextNotify, c.LastNotifyError = e.now().Add(e.cfg.NotifyInterval), err.Error()
			return nil
		})
		return
	}
	n, err := e.store.PendingCount(ctx, c.ID)
	if err != nil {
		return
	}
	sent := 0
	for round := 0; round <= n/e.cfg.NotifyChunk; round++ {
		ps, err := e.store.PendingUpdates(ctx, c.ID, e.cfg.NotifyChunk)
		if err != nil || len(ps) == 0 {
			break
		}
		ups := make([]Update, len(ps))
		for i, p := range ps {
			ups[i] = p.Update
		}
		e.notify.pushes.Add(1)
		if err := e.cfg.Notifier.Notify(ctx, cb, ups); err != nil {
			if ctx.Err() != nil && context.Cause(ctx) == context.Canceled {
				return // shutting down: not the client's fault
			}
			e.notifyFailed(ctx, c.ID, err)
			return
		}
		if err := e.store.AckUpdates(context.WithoutCancel(ctx), c.ID, ps); err != nil {
			e.log.Error("acknowledging updates", "client", c.ID, "err", err)
			return
		}
		sent += len(ps)
		e.notify.delivered.Add(uint64(len(ps)))
		if len(ps) < e.cfg.NotifyChunk {
			break
		}
	}
	now := e.now()
	_, err = e.store.UpdateClient(context.WithoutCancel(ctx), c.ID, func(c *Client) error {
		c.NotifyFailures, c.LastNotifyError = 0, ""
		c.LastNotified, c.NextNotify = now, now.Add(e.cfg.NotifyInterval)
		return nil
	})
	if err != nil {
		e.log.Error("recording notification", "client", c.ID, "err", err)
	}
	e.log.Debug("notified", "client", c.ID, "updates", sent)
}

// notifyFailed records a failed push: exponential back-off with jitter, and
// notifications off (plus a mail) after NotifyMaxFailures in a row.
func (e *Engine) notifyFailed(ctx context.Context, id string, cause error) {
	e.notify.failures.Add(1)
	now := e.now()
	disabled := false
	c, err := e.store.UpdateClient(context.WithoutCancel(ctx), id, func(c *Client) error {
		c.NotifyFailures++
		c.LastNotifyError = cause.Error()
		c.NextNotify = now.Add(notifyBackoff(e.cfg.NotifyInterval, e.cfg.NotifyBackoffMax, c.NotifyFailures, rand.Float64()))
		if c.NotifyFailures >= e.cfg.NotifyMaxFailures && c.Notify {
			c.Notify, c.NotifyDisabledAt, disabled = false, now, true
		}
		return nil
	})
	if err != nil {
		e.log.Error("recording notification failure", "client", id, "err", err)
		return
	}
	e.log.Warn("notification failed", "client", id, "failures", c.NotifyFailures, "retry_at", c.NextNotify, "err", cause)
	if disabled {
		e.notify.disabled.Add(1)
		e.log.Warn("notifications disabled after repeated failures", "client", id, "failures", c.NotifyFailures)
		e.sendMail(ctx, e.disabledMail(c))
	}
}

// notifyBackoff is the wait after the n-th consecutive failed push:
// interval doubled per failure, at most max, with ±20 % jitter (rnd in
// [0, 1)).
func notifyBackoff(interval, max time.Duration, n int, rnd float64) time.Duration {
	return backoff.Jittered(backoff.Doubled(interval, max, n), 0.2, 2*rnd-1)
}
