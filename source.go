package lms

import (
	"context"
	"time"
)

// SourceRef names a source (a page of a client's site, or any other place
// that uses links) in a link answer or a webhook, so that an editor knows
// where a link is used and who to ask.
type SourceRef struct {
	ID      string // the client's own id of the source
	Title   string // the page's title
	EditURL string // where an editor edits the page
	Owner   string // an editor's id or mail address; "" if none was given
}

// SourceLookup tells which of a client's sources use given URLs. It is the
// read side of the sources a client registers through the JSON API; the
// notifier uses it to say in a webhook where each changed link is used.
type SourceLookup interface {
	// LinkSources returns, for each of urls that at least one source of the
	// client uses, the sources that use it, ordered by source id. URLs no
	// source uses are absent from the map. An unknown client gives
	// ErrNotFound.
	LinkSources(ctx context.Context, clientID string, urls []string) (map[string][]SourceRef, error)
}

// WebhookDelivery is one delivery of a webhook event to a client (the
// deliveries log of the JSON API): its id is the webhook-id header, the
// same on every attempt.
type WebhookDelivery struct {
	ID          string    // unique; the webhook-id of every attempt
	ClientID    string    // the client it goes to
	Type        string    // event type: "links.changed", "links.synced", "webhook.test"
	Created     time.Time // when the event was made
	Attempts    int       // attempts so far
	Status      int       // HTTP status of the last attempt; 0 if there was none
	Error       string    // why the last attempt failed, in plain words; "" after a success
	NextAttempt time.Time // when it is tried again; zero once delivered or given up
	Delivered   time.Time // when a 2xx acknowledged it; zero until then
}
