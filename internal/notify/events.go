package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/linkmonitor/lms/internal/stdwebhook"
)

// eventBody is the JSON body of every delivery.
type eventBody struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      any    `json:"data"`
}

// linkChange is one link in links.changed and links.synced.
type linkChange struct {
	URL               string      `json:"url"`
	State             string      `json:"state"`
	Reason            string      `json:"reason"`
	Code              int         `json:"code"`
	FinalURL          *string     `json:"final_url"`
	PermanentRedirect bool        `json:"permanent_redirect"`
	Sources           []sourceRef `json:"sources"`
}

// sourceRef is a Source on the wire.
type sourceRef struct {
	ID      string  `json:"id"`
	Title   string  `json:"title"`
	EditURL string  `json:"edit_url"`
	Owner   *string `json:"owner"`
}

// changedData is the data of links.changed.
type changedData struct {
	Changes []linkChange `json:"changes"`
}

// syncedData is the data of links.synced: pages of one sync share SyncID;
// Last marks the final page.
type syncedData struct {
	SyncID string       `json:"sync_id"`
	Page   int          `json:"page"`
	Last   bool         `json:"last"`
	Links  []linkChange `json:"links"`
}

// NewEvent makes an event of type typ with data for the client, due at
// now, with a new id.
func NewEvent(clientID, typ string, now time.Time, data any) (Event, error) {
	body, err := json.Marshal(eventBody{Type: typ, Timestamp: now.UTC().Format(time.RFC3339Nano), Data: data})
	if err != nil {
		return Event{}, fmt.Errorf("webhook event: %w", err)
	}
	return Event{
		Delivery: Delivery{ID: stdwebhook.NewID(), ClientID: clientID, Type: typ, Created: now, NextAttempt: now},
		Body:     body,
	}, nil
}

// changes describes updates with their links' details and, when the
// store keeps sources, where each is used. links may hold details the
// caller has already read; missing ones are looked up.
func (h *Deliverer) changes(ctx context.Context, clientID string, ups []Update, links map[string]Link) ([]linkChange, error) {
	urls := make([]string, 0, len(ups))
	var missing []string
	for _, u := range ups {
		urls = append(urls, u.URL)
		if _, ok := links[u.URL]; !ok {
			missing = append(missing, u.URL)
		}
	}
	if len(missing) > 0 {
		found, err := h.store.Links(ctx, missing)
		if err != nil {
			return nil, err
		}
		if links == nil {
			links = found
		} else {
			for k, v := range found {
				links[k] = v
			}
		}
	}
	sources, err := h.store.Sources(ctx, clientID, urls)
	if err != nil {
		return nil, err
	}
	out := make([]linkChange, len(ups))
	for i, u := range ups {
		l := links[u.URL]
		ch := linkChange{URL: u.URL, State: u.State, Reason: u.Reason, Code: l.Code, PermanentRedirect: l.Permanent, Sources: []sourceRef{}}
		if l.FinalURL != "" {
			f := l.FinalURL
			ch.FinalURL = &f
		}
		for _, s := range sources[u.URL] {
			r := sourceRef{ID: s.ID, Title: s.Title, EditURL: s.EditURL}
			if s.Owner != "" {
				o := s.Owner
				r.Owner = &o
			}
			ch.Sources = append(ch.Sources, r)
		}
		out[i] = ch
	}
	return out, nil
}

// HandOff gives the chunk ps of c's pending changes to its webhook as one
// links.changed event (the notifier calls it under the client's notify
// lease, before the callback's push). Without a callback the changes are
// acknowledged in the same step; with one, they stay pending for it and
// only those not handed before go into the event. A client whose webhook
// is off keeps its changes pending. It returns how many changes the event
// carries.
func (h *Deliverer) HandOff(ctx context.Context, c Client, ps []Pending) (int, error) {
	if !On(c) || len(ps) == 0 {
		return 0, nil
	}
	fresh := ps
	if c.hasCallback() {
		var err error
		if fresh, err = h.store.Unhanded(ctx, c.ID, ps); err != nil {
			return 0, err
		}
		if len(fresh) == 0 {
			return 0, nil
		}
	}
	ups := make([]Update, len(fresh))
	for i, p := range fresh {
		ups[i] = p.Update
	}
	chs, err := h.changes(ctx, c.ID, ups, nil)
	if err != nil {
		return 0, err
	}
	ev, err := NewEvent(c.ID, EventLinksChanged, h.cfg.Now(), changedData{Changes: chs})
	if err != nil {
		return 0, err
	}
	if err := h.store.Enqueue(ctx, ev, fresh, !c.hasCallback()); err != nil {
		return 0, err
	}
	h.Poke()
	return len(fresh), nil
}

// Synced queues one page of the full state list after a sync of c as a
// links.synced event (the syncer calls it per page): ups in their order,
// links the details of those it has.
func (h *Deliverer) Synced(ctx context.Context, c Client, syncID string, page int, last bool, ups []Update, links map[string]Link) error {
	if !On(c) {
		return nil
	}
	chs, err := h.changes(ctx, c.ID, ups, links)
	if err != nil {
		return err
	}
	ev, err := NewEvent(c.ID, EventLinksSynced, h.cfg.Now(), syncedData{SyncID: syncID, Page: page, Last: last, Links: chs})
	if err != nil {
		return err
	}
	if err := h.store.Enqueue(ctx, ev, nil, false); err != nil {
		return err
	}
	h.Poke()
	return nil
}

// RetryNow makes the oldest event of a webhook that was off due at once
// (its back-off may have had minutes to run); nothing is in flight for a
// webhook that is off.
func (h *Deliverer) RetryNow(ctx context.Context, clientID string) {
	ds, err := h.store.WebhookDeliveries(ctx, clientID, 0)
	if err != nil {
		h.log.Warn("listing webhook events", "client", clientID, "err", err)
		return
	}
	for i := len(ds) - 1; i >= 0; i-- {
		if d := ds[i]; d.Pending() {
			if now := h.cfg.Now(); d.NextAttempt.After(now) {
				d.NextAttempt = now
				if err := h.store.RecordWebhookAttempt(ctx, clientID, d); err != nil {
					h.log.Warn("making a webhook event due", "client", clientID, "err", err)
				}
			}
			return
		}
	}
}
