package lms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/linkmonitor/lms/internal/logsafe"
	"github.com/linkmonitor/lms/internal/loop"
	"github.com/linkmonitor/lms/internal/stdwebhook"
	"github.com/linkmonitor/lms/internal/validate"
)

// LinkLister fetches a client's complete list of links
// (xmlrpc_getAllLinks). The list may contain duplicates and garbage.
type LinkLister interface {
	ListLinks(ctx context.Context, from Endpoint) ([]string, error)
}

// LinkListerFunc adapts a function to the LinkLister interface.
type LinkListerFunc func(ctx context.Context, from Endpoint) ([]string, error)

// ListLinks calls f.
func (f LinkListerFunc) ListLinks(ctx context.Context, from Endpoint) ([]string, error) {
	return f(ctx, from)
}

// syncerStore is what the syncer uses of the Store.
type syncerStore interface {
	ClientStore
	SubscriptionStore
}

// syncer runs the daily (or forced) full sync of every client whose
// notifications are on: pull its list of links, reconcile, push every
// state back.
type syncer struct {
	store      syncerStore
	lister     LinkLister
	out        Notifier
	endpoint   func(Client) (Endpoint, error)
	linksAdded func() // wakes the scheduler
	mailOwed   func() // wakes the mailer
	cfg        Config
	log        *slog.Logger
	hooks      *webhooks // gets the full state list too

	ok, failed atomic.Uint64
}

func newSyncer(store syncerStore, cfg Config, endpoint func(Client) (Endpoint, error), linksAdded, mailOwed func(), hooks *webhooks) *syncer {
	return &syncer{store: store, lister: cfg.Lister, out: cfg.Notifier, endpoint: endpoint, linksAdded: linksAdded, mailOwed: mailOwed, hooks: hooks, cfg: cfg, log: cfg.Logger}
}

func (s *syncer) run(ctx context.Context) error {
	workers := loop.NewWorkers(s.cfg.SyncConcurrency)
	defer workers.Wait()
	loop.Rounds(ctx, s.cfg.SyncPoll, nil, func() {
		clients, err := s.store.ListClients(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Error("listing clients", "err", err)
		}
		now := s.cfg.Now()
		for _, c := range clients {
			if !s.due(c, now) {
				continue
			}
			workers.Try(c.ID, 0, func() {
				if err := s.leaseAndSync(ctx, c.ID); err != nil && !errors.Is(err, errLeased) {
					s.log.Debug("sync ended", "client", c.ID, "err", err)
				}
			})
		}
	})
	return nil
}

// due reports whether c should be synced at now by this process.
func (s *syncer) due(c Client, now time.Time) bool {
	return c.Notify && (c.SyncForced || !now.Before(c.NextSync)) && !c.SyncLease.Held(now, s.cfg.ProcessID)
}

// leaseAndSync takes the client's sync lease (re-reading it: another
// process may have synced it meanwhile) and syncs it.
func (s *syncer) leaseAndSync(ctx context.Context, id string) error {
	now := s.cfg.Now()
	_, err := s.store.UpdateClient(ctx, id, func(c *Client) error {
		if !s.due(*c, now) {
			return errLeased
		}
		c.SyncLease = Lease{Holder: s.cfg.ProcessID, Until: now.Add(s.cfg.SyncTimeout + time.Minute)}
		return nil
	})
	if err != nil {
		return err
	}
	return s.sync(ctx, id)
}

// sync runs one full sync of the client now and records it on the client
// (ending this process's sync lease). A failure is retried at the next
// period; it does not count toward switching notifications off.
func (s *syncer) sync(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.SyncTimeout)
	defer cancel()
	err := s.pullAndPush(ctx, id)
	now := s.cfg.Now()
	mailed := false
	_, uerr := s.store.UpdateClient(context.WithoutCancel(ctx), id, func(c *Client) error {
		c.SyncForced = false
		c.NextSync = now.Add(s.cfg.SyncInterval)
		if err != nil {
			c.LastSyncError = logsafe.Value(err.Error())
			if errors.Is(err, ErrTooLarge) && !c.SyncTooLargeMailed {
				c.SyncTooLargeMailed, mailed = true, true
				c.Outbox = append(c.Outbox, OutboxMail{Kind: MailSyncTooLarge, Queued: now})
			}
		} else {
			c.LastSync, c.LastSyncError, c.SyncTooLargeMailed = now, "", false
		}
		if c.SyncLease.Holder == s.cfg.ProcessID {
			c.SyncLease = Lease{}
		}
		return nil
	})
	if mailed && uerr == nil {
		s.mailOwed()
	}
	if err != nil {
		s.failed.Add(1)
		s.log.Warn("sync failed", "client", id, "err", err)
		return err
	}
	if uerr != nil {
		return fmt.Errorf("lms: sync %q: %w", id, uerr)
	}
	s.ok.Add(1)
	return nil
}

func (s *syncer) pullAndPush(ctx context.Context, id string) error {
	c, err := s.store.GetClient(ctx, id)
	if err != nil {
		return fmt.Errorf("lms: sync: %w", err)
	}
	// A client without an XML-RPC callback has no list to pull: its sync
	// is the full state list to its webhook.
	callback := c.CallbackURL != ""
	var to Endpoint
	var remote, urls []string
	var added, removed int
	if callback {
		if to, err = s.endpoint(c); err != nil {
			return fmt.Errorf("lms: sync %q: %w", id, err)
		}
		if remote, err = s.lister.ListLinks(ctx, to); err != nil {
			return fmt.Errorf("lms: sync %q: pulling links: %w", id, err)
		}
		urls = validate.URLs(remote)
		if added, removed, err = s.store.ReplaceSubscriptions(ctx, id, urls, s.cfg.Now()); err != nil {
			return fmt.Errorf("lms: sync %q: %w", id, err)
		}
		if added > 0 {
			s.linksAdded()
		}
	}
	pushed := 0
	after := ""
	syncID := stdwebhook.NewID()
	for page := 1; ; page++ {
		ls, err := s.store.ClientLinks(ctx, id, Page{After: after, Limit: s.cfg.NotifyChunk})
		if err != nil {
			return fmt.Errorf("lms: sync %q: %w", id, err)
		}
		// The webhook gets every page, the last one marked (empty if the
		// list ended exactly at a page's end).
		if err := s.hooks.synced(ctx, c, syncID, page, len(ls) < s.cfg.NotifyChunk, ls); err != nil {
			return fmt.Errorf("lms: sync %q: webhook: %w", id, err)
		}
		if len(ls) == 0 {
			break
		}
		if callback {
			ups := make([]Update, len(ls))
			for i, l := range ls {
				ups[i] = l.Update()
			}
			if err := s.out.Notify(ctx, to, ups); err != nil {
				return fmt.Errorf("lms: sync %q: pushing states: %w", id, err)
			}
		}
		pushed += len(ls)
		if len(ls) < s.cfg.NotifyChunk {
			break
		}
		after = ls[len(ls)-1].URL
	}
	s.log.Info("synced", "client", id, "remote", len(remote), "valid", len(urls), "added", added, "removed", removed, "pushed", pushed)
	return nil
}

// snapshot adds the syncer's counters to st.
func (s *syncer) snapshot(st *Stats) {
	st.SyncsOK, st.SyncsFailed = s.ok.Load(), s.failed.Load()
}
