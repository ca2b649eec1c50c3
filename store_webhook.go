package lms

import (
	"context"
	"time"

	"github.com/linkmonitor/lms/internal/notify"
)

// WebhookLogSize is how many finished (delivered or given up) events a
// store keeps per client for the deliveries log; events still to deliver
// are never dropped.
const WebhookLogSize = 100

// WebhookDelivery is one delivery of a webhook event to a client (the
// deliveries log of the JSON API): its ID is the webhook-id header, the
// same on every attempt; then the client, the event type, when it was
// made, the attempts so far, the HTTP status and the error of the last
// one, when it is tried again (zero once delivered or given up) and when
// a 2xx acknowledged it. It is the delivery record of internal/notify,
// which makes the events and delivers them.
type WebhookDelivery = notify.Delivery

// WebhookEvent is one event in a client's webhook queue: its delivery
// record and the body that every attempt sends, byte for byte.
type WebhookEvent struct {
	WebhookDelivery
	Body []byte
}

// WebhookStore keeps each client's webhook events, in the order they were
// made, until they are delivered, and the log of the last deliveries (the
// webhook deliverer, the notifier, the JSON API's deliveries list).
type WebhookStore interface {
	// EnqueueWebhook stores ev as the client's newest event and, in the
	// same atomic step, hands the pending changes it carries (handed) to
	// the webhook: with ack they are acknowledged as AckUpdates does (no
	// XML-RPC callback needs them any more); without, they stay pending
	// for the callback and are marked handed, so that UnhandedUpdates
	// leaves them out. A change whose Seq differs from the pending one is
	// neither acknowledged nor marked. ev.ID must be new among the
	// client's events (ErrExists otherwise, and nothing changes);
	// ev.ClientID names the client (ErrNotFound if unknown).
	// An event whose NextAttempt is zero is only logged, never claimed.
	// Attempts, Status, Error and Delivered are stored as given.
	EnqueueWebhook(ctx context.Context, ev WebhookEvent, handed []PendingUpdate, ack bool) error
	// UnhandedUpdates returns, in their order, those of ps that are not
	// marked handed to the client's webhook with the same Seq.
	UnhandedUpdates(ctx context.Context, clientID string, ps []PendingUpdate) ([]PendingUpdate, error)
	// WebhookClients returns the ids of the clients that have events
	// still to deliver, ordered by id.
	WebhookClients(ctx context.Context) ([]string, error)
	// ClaimWebhook returns the client's oldest event still to deliver if
	// it is due (NextAttempt at or before now) and no other holder holds
	// it, and holds it for holder until now+lease: at most one delivery
	// per client is in flight, and its events go out in order. ok is false
	// (and nothing changes) otherwise.
	ClaimWebhook(ctx context.Context, clientID, holder string, now time.Time, lease time.Duration) (ev WebhookEvent, ok bool, err error)
	// RecordWebhookAttempt stores what an attempt at event d.ID found:
	// Attempts, Status, Error, NextAttempt (zero: no further attempt) and
	// Delivered, and ends its hold. An unknown event gives ErrNotFound.
	RecordWebhookAttempt(ctx context.Context, clientID string, d WebhookDelivery) error
	// WebhookDeliveries returns the client's events, newest first, at most
	// limit (all that are kept if 0; negative is ErrInvalid): those still
	// to deliver and the last WebhookLogSize finished ones.
	WebhookDeliveries(ctx context.Context, clientID string, limit int) ([]WebhookDelivery, error)
}
