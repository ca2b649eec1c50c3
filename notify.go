package lms

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// notifyState is the notifier's in-memory state: which clients are being
// served right now, and counters. Everything that must survive a restart
// lives in the Store.
type notifyState struct {
	mu        sync.Mutex
	busy      map[string]bool
	pushes    atomic.Uint64
	delivered atomic.Uint64
	failures  atomic.Uint64
	disabled  atomic.Uint64
}

func newNotifyState() *notifyState { return &notifyState{busy: make(map[string]bool)} }

// claim marks a client busy unless it is already; it returns false then.
func (s *notifyState) claim(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy[id] {
		return false
	}
	s.busy[id] = true
	return true
}

func (s *notifyState) release(id string) {
	s.mu.Lock()
	delete(s.busy, id)
	s.mu.Unlock()
}

// runNotifier delivers pending changes: per client at most one round per
// NotifyInterval, many clients concurrently, a slow one never delaying the
// others.
func (e *Engine) runNotifier(ctx context.Context) error {
	sem := make(chan struct{}, e.cfg.NotifyConcurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
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
			if !e.notify.claim(id) {
				continue
			}
			select {
			case sem <- struct{}{}:
			default: // all slots busy: try again next tick
				e.notify.release(id)
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem; e.notify.release(id) }()
				e.deliver(ctx, c)
			}()
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
		c.NextNotify = now.Add(NotifyBackoff(e.cfg.NotifyInterval, e.cfg.NotifyBackoffMax, c.NotifyFailures, rand.Float64()))
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

// NotifyBackoff is the wait after the n-th consecutive failed push:
// interval doubled per failure, at most max, with ±20 % jitter (rnd in
// [0, 1)).
func NotifyBackoff(interval, max time.Duration, n int, rnd float64) time.Duration {
	d := interval
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	return d + time.Duration(float64(d)*0.4*(rnd-0.5))
}
