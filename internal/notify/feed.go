package notify

import (
	"context"
	"errors"
	"time"
)

// The notifier hands a client's pending changes to its webhook in each of
// its rounds, before the callback's push (HandOff). While the callback of
// a client that has both is backing off after failures, or was switched
// off by them, the notifier serves no rounds for it; feed hands the
// changes to the webhook meanwhile, so that a broken callback does not
// hold the webhook back. It takes the same notify lease (never at once
// with a round of the notifier) and leaves the callback's bookkeeping
// alone: the changes stay pending, marked handed, for the callback.

// errLeased aborts taking the notify lease: the client is served
// elsewhere or not due.
var errLeased = errors.New("client served elsewhere or not due")

// feedDue reports whether feed serves c at now: a webhook that is on, a
// callback whose rounds do not come (backing off, or switched off by
// failures; a client that switched notifications off itself gets neither),
// and the lease free.
func (h *Deliverer) feedDue(c Client, now time.Time) bool {
	if !On(c) || !c.hasCallback() || c.leaseHeld(now, h.cfg.ProcessID) {
		return false
	}
	backingOff := c.Notify && c.NotifyFailures > 0 && now.Before(c.NextNotify)
	switchedOff := !c.Notify && !c.NotifyDisabledAt.IsZero()
	return backingOff || switchedOff
}

// feedAll serves every client feedDue names, each at most once per
// Interval once it handed an event, and looks again after ten polls when
// it had nothing new (fed holds when this process may serve each next).
func (h *Deliverer) feedAll(ctx context.Context, fed map[string]time.Time) {
	ids, err := h.store.PendingClients(ctx)
	if err != nil {
		if ctx.Err() == nil {
			h.log.Error("listing pending clients for webhooks", "err", err)
		}
		return
	}
	now := h.cfg.Now()
	for id, at := range fed {
		if !now.Before(at) {
			delete(fed, id)
		}
	}
	for _, id := range ids {
		if _, ok := fed[id]; ok || ctx.Err() != nil {
			continue
		}
		c, err := h.store.Client(ctx, id)
		if err != nil || !h.feedDue(c, now) {
			continue
		}
		fed[id] = now.Add(min(h.cfg.Interval, 10*h.cfg.Poll))
		if h.feed(ctx, id) {
			fed[id] = now.Add(h.cfg.Interval)
		}
	}
}

// feed takes the client's notify lease, hands its pending changes to the
// webhook chunk by chunk, and ends the lease. It reports whether it handed
// an event.
func (h *Deliverer) feed(ctx context.Context, id string) (handed bool) {
	now := h.cfg.Now()
	c, err := h.store.UpdateClient(ctx, id, func(c *Client) error {
		if !h.feedDue(*c, now) {
			return errLeased
		}
		c.LeaseHolder, c.LeaseUntil = h.cfg.ProcessID, now.Add(h.cfg.Timeout+time.Minute)
		return nil
	})
	if err != nil {
		if !errors.Is(err, errLeased) && ctx.Err() == nil {
			h.log.Error("taking a client's notify lease for its webhook", "client", id, "err", err)
		}
		return false
	}
	defer func() {
		_, err := h.store.UpdateClient(context.WithoutCancel(ctx), id, func(c *Client) error {
			if c.LeaseHolder == h.cfg.ProcessID {
				c.LeaseHolder, c.LeaseUntil = "", time.Time{}
			}
			return nil
		})
		if err != nil {
			h.log.Error("ending a client's notify lease", "client", id, "err", err)
		}
	}()
	// The changes stay pending for the callback: read them all, hand them
	// over in the notifier's chunks (HandOff skips those handed before).
	ps, err := h.store.PendingUpdates(ctx, id, 0)
	if err != nil {
		return false
	}
	for i := 0; i < len(ps) && ctx.Err() == nil; i += h.cfg.Chunk {
		n, err := h.HandOff(ctx, c, ps[i:min(i+h.cfg.Chunk, len(ps))])
		if err != nil {
			h.log.Error("handing changes to the webhook", "client", id, "err", err)
			return handed
		}
		handed = handed || n > 0
	}
	return handed
}
