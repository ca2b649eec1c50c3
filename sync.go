package lms

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/linkmonitor/lms/internal/validate"
)

// syncState counts syncs for Stats.
type syncState struct {
	ok     atomic.Uint64
	failed atomic.Uint64
}

// runSyncer runs the daily (or forced) full sync of every client whose
// notifications are on.
func (e *Engine) runSyncer(ctx context.Context) error {
	workers := newClientWorkers(e.cfg.SyncConcurrency)
	defer workers.wait()
	t := time.NewTicker(e.cfg.SyncPoll)
	defer t.Stop()
	for {
		clients, err := e.store.ListClients(ctx)
		if err != nil && ctx.Err() == nil {
			e.log.Error("listing clients", "err", err)
		}
		now := e.now()
		for _, c := range clients {
			if !c.Notify || (!c.SyncForced && now.Before(c.NextSync)) {
				continue
			}
			workers.try(c.ID, func() { _ = e.Sync(ctx, c.ID) })
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Sync runs one full sync of the client now: pull its list of links,
// de-duplicate and validate it, replace its subscriptions in one atomic
// step, and push the state of all its links. A failure is recorded on the
// client and retried at the next period; it does not count toward
// switching notifications off. It returns the error, if any.
func (e *Engine) Sync(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.SyncTimeout)
	defer cancel()
	err := e.sync(ctx, id)
	now := e.now()
	_, uerr := e.store.UpdateClient(context.WithoutCancel(ctx), id, func(c *Client) error {
		c.SyncForced = false
		c.NextSync = now.Add(e.cfg.SyncInterval)
		if err != nil {
			c.LastSyncError = err.Error()
		} else {
			c.LastSync, c.LastSyncError = now, ""
		}
		return nil
	})
	if err != nil {
		e.syncs.failed.Add(1)
		e.log.Warn("sync failed", "client", id, "err", err)
		return err
	}
	if uerr != nil {
		return fmt.Errorf("lms: sync %q: %w", id, uerr)
	}
	e.syncs.ok.Add(1)
	return nil
}

func (e *Engine) sync(ctx context.Context, id string) error {
	c, err := e.store.GetClient(ctx, id)
	if err != nil {
		return fmt.Errorf("lms: sync: %w", err)
	}
	cb, err := e.callback(c)
	if err != nil {
		return fmt.Errorf("lms: sync %q: %w", id, err)
	}
	remote, err := e.cfg.Lister.ListLinks(ctx, cb)
	if err != nil {
		return fmt.Errorf("lms: sync %q: pulling links: %w", id, err)
	}
	urls := validate.URLs(remote)
	added, removed, err := e.store.ReplaceSubscriptions(ctx, id, urls, e.now())
	if err != nil {
		return fmt.Errorf("lms: sync %q: %w", id, err)
	}
	if added > 0 {
		e.pool.linksAdded()
	}
	pushed := 0
	after := ""
	for {
		ls, err := e.store.ClientLinks(ctx, id, Page{After: after, Limit: e.cfg.NotifyChunk})
		if err != nil {
			return fmt.Errorf("lms: sync %q: %w", id, err)
		}
		if len(ls) == 0 {
			break
		}
		ups := make([]Update, len(ls))
		for i, l := range ls {
			ups[i] = l.Update()
		}
		if err := e.cfg.Notifier.Notify(ctx, cb, ups); err != nil {
			return fmt.Errorf("lms: sync %q: pushing states: %w", id, err)
		}
		pushed += len(ls)
		after = ls[len(ls)-1].URL
	}
	e.log.Info("synced", "client", id, "remote", len(remote), "valid", len(urls), "added", added, "removed", removed, "pushed", pushed)
	return nil
}
