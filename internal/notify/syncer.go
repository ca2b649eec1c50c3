package notify

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/linkmonitor/lms/internal/logsafe"
	"github.com/linkmonitor/lms/internal/loop"
	"github.com/linkmonitor/lms/internal/stdwebhook"
	"github.com/linkmonitor/lms/internal/validate"
)

// Stored is one of a client's links as the store keeps it: its state and
// its details.
type Stored struct {
	Update
	Link
}

// SyncConfig sets up a Syncer; the rest follows the Deliverer's Config.
type SyncConfig struct {
	// Poll is how often due and forced syncs are looked for, Interval the
	// time between two syncs of a client, Timeout the bound of one sync,
	// Concurrency how many clients sync at once.
	Poll, Interval, Timeout time.Duration
	Concurrency             int
	// List pulls a client's list of links (xmlrpc_getAllLinks).
	List func(ctx context.Context, from Endpoint) ([]string, error)
	// LinksAdded wakes the scheduler after a sync subscribed new links.
	LinksAdded func()
	// TooLarge is the error (errors.Is) of a list over a limit: the
	// contact is mailed once per run of such failures.
	TooLarge error
}

// Syncer runs the daily (or forced) full sync of every client whose
// notifications are on: pull its list of links, reconcile, push every
// state back to the callback and, page by page, to the webhook. A client
// without a callback has no list to pull: its sync is the full state list
// to its webhook.
type Syncer struct {
	store Store
	hooks *Deliverer
	cfg   Config
	sc    SyncConfig

	ok, failed atomic.Uint64
}

// NewSyncer returns the syncer of the clients of hooks' store.
func NewSyncer(hooks *Deliverer, sc SyncConfig) *Syncer {
	return &Syncer{store: hooks.store, hooks: hooks, cfg: hooks.cfg, sc: sc}
}

// Run syncs the due clients until ctx ends.
func (s *Syncer) Run(ctx context.Context) error {
	workers := loop.NewWorkers(s.sc.Concurrency)
	defer workers.Wait()
	loop.Rounds(ctx, s.sc.Poll, nil, func() {
		clients, err := s.store.AllClients(ctx)
		if err != nil && ctx.Err() == nil {
			s.cfg.Logger.Error("listing clients", "err", err)
		}
		now := s.cfg.Now()
		for _, c := range clients {
			if !s.due(c, now) {
				continue
			}
			workers.Try(c.ID, 0, func() {
				if err := s.leaseAndSync(ctx, c.ID); err != nil && !errors.Is(err, errLeased) {
					s.cfg.Logger.Debug("sync ended", "client", c.ID, "err", err)
				}
			})
		}
	})
	return nil
}

// due reports whether c should be synced at now by this process.
func (s *Syncer) due(c Client, now time.Time) bool {
	held := c.SyncLeaseHolder != "" && c.SyncLeaseHolder != s.cfg.ProcessID && now.Before(c.SyncLeaseUntil)
	return c.Notify && (c.SyncForced || !now.Before(c.NextSync)) && !held
}

// leaseAndSync takes the client's sync lease (re-reading it: another
// process may have synced it meanwhile) and syncs it.
func (s *Syncer) leaseAndSync(ctx context.Context, id string) error {
	now := s.cfg.Now()
	_, err := s.store.UpdateClient(ctx, id, func(c *Client) error {
		if !s.due(*c, now) {
			return errLeased
		}
		c.SyncLeaseHolder, c.SyncLeaseUntil = s.cfg.ProcessID, now.Add(s.sc.Timeout+time.Minute)
		return nil
	})
	if err != nil {
		return err
	}
	return s.Sync(ctx, id)
}

// Sync runs one full sync of the client now and records it on the client
// (ending this process's sync lease). A failure is retried at the next
// period; it does not count toward switching notifications off.
func (s *Syncer) Sync(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, s.sc.Timeout)
	defer cancel()
	err := s.pullAndPush(ctx, id)
	now := s.cfg.Now()
	mailed := false
	_, uerr := s.store.UpdateClient(context.WithoutCancel(ctx), id, func(c *Client) error {
		c.SyncForced = false
		c.NextSync = now.Add(s.sc.Interval)
		if err != nil {
			c.LastSyncError = logsafe.Value(err.Error())
			if errors.Is(err, s.sc.TooLarge) && !c.SyncTooLargeMailed {
				c.SyncTooLargeMailed, mailed = true, true
				c.Outbox = append(c.Outbox, Mail{Kind: KindSyncTooLarge, Queued: now})
			}
		} else {
			c.LastSync, c.LastSyncError, c.SyncTooLargeMailed = now, "", false
		}
		if c.SyncLeaseHolder == s.cfg.ProcessID {
			c.SyncLeaseHolder, c.SyncLeaseUntil = "", time.Time{}
		}
		return nil
	})
	if mailed && uerr == nil {
		s.cfg.MailOwed()
	}
	if err != nil {
		s.failed.Add(1)
		s.cfg.Logger.Warn("sync failed", "client", id, "err", err)
		return err
	}
	if uerr != nil {
		return fmt.Errorf("lms: sync %q: %w", id, uerr)
	}
	s.ok.Add(1)
	return nil
}

func (s *Syncer) pullAndPush(ctx context.Context, id string) error {
	c, err := s.store.Client(ctx, id)
	if err != nil {
		return fmt.Errorf("lms: sync: %w", err)
	}
	var to Endpoint
	var remote, urls []string
	var added, removed int
	if c.hasCallback() {
		if to, err = s.hooks.Endpoint(c); err != nil {
			return fmt.Errorf("lms: sync %q: %w", id, err)
		}
		if remote, err = s.sc.List(ctx, to); err != nil {
			return fmt.Errorf("lms: sync %q: pulling links: %w", id, err)
		}
		urls = validate.URLs(remote)
		if added, removed, err = s.store.ReplaceSubscriptions(ctx, id, urls, s.cfg.Now()); err != nil {
			return fmt.Errorf("lms: sync %q: %w", id, err)
		}
		if added > 0 {
			s.sc.LinksAdded()
		}
	}
	pushed := 0
	after := ""
	syncID := stdwebhook.NewID()
	for page := 1; ; page++ {
		ls, err := s.store.ClientLinks(ctx, id, after, s.cfg.Chunk)
		if err != nil {
			return fmt.Errorf("lms: sync %q: %w", id, err)
		}
		// The webhook gets every page, the last one marked (empty if the
		// list ended exactly at a page's end).
		ups := make([]Update, len(ls))
		byURL := make(map[string]Link, len(ls))
		for i, l := range ls {
			ups[i], byURL[l.URL] = l.Update, l.Link
		}
		if err := s.hooks.Synced(ctx, c, syncID, page, len(ls) < s.cfg.Chunk, ups, byURL); err != nil {
			return fmt.Errorf("lms: sync %q: webhook: %w", id, err)
		}
		if len(ls) == 0 {
			break
		}
		if c.hasCallback() {
			if err := s.cfg.Push(ctx, to, ups); err != nil {
				return fmt.Errorf("lms: sync %q: pushing states: %w", id, err)
			}
		}
		pushed += len(ls)
		if len(ls) < s.cfg.Chunk {
			break
		}
		after = ls[len(ls)-1].URL
	}
	s.cfg.Logger.Info("synced", "client", id, "remote", len(remote), "valid", len(urls), "added", added, "removed", removed, "pushed", pushed)
	return nil
}

// Counters returns the syncs that succeeded and failed since start.
func (s *Syncer) Counters() (ok, failed uint64) { return s.ok.Load(), s.failed.Load() }
