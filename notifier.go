package lms

import (
	"context"
	"errors"
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

// errLeased means another process serves the client, or its turn has not
// come: skip it this round.
var errLeased = errors.New("client served elsewhere or not due")
