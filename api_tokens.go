package lms

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/linkmonitor/lms/internal/secret"
	"github.com/linkmonitor/lms/internal/token"
)

// APIToken is one named API token of a client. The token itself is shown
// once, when it is made; the store keeps only its hash.
type APIToken struct {
	Name    string    // unique per client: 1..64 letters, digits, '.', '_', '-'
	Hash    string    // "sha256:" and the hex SHA-256 of the token
	Created time.Time // when it was made
}

// MaxTokens is the most API tokens one client may have.
const MaxTokens = 20

// TokenClient returns the client id a token names, and false if token does
// not have the form of an API token (internal/token).
func TokenClient(t string) (string, bool) { return token.Client(t) }

// CreateToken makes a new API token for the client and returns it (the
// only time it is shown) with its record. A name the client uses already
// gives ErrExists; an invalid name, or a client that has MaxTokens
// already, ErrInvalid.
func (e *Engine) CreateToken(ctx context.Context, clientID, name string) (string, APIToken, error) {
	if !token.ValidName(name) {
		return "", APIToken{}, fmt.Errorf("lms: token name %q: want 1 to 64 letters, digits, '.', '_' or '-': %w", name, ErrInvalid)
	}
	t := token.New(clientID)
	rec := APIToken{Name: name, Hash: token.Hash(t), Created: e.now().UTC()}
	_, err := e.store.UpdateClient(ctx, clientID, func(c *Client) error {
		for _, t := range c.Tokens {
			if t.Name == name {
				return fmt.Errorf("lms: token %q: %w", name, ErrExists)
			}
		}
		if len(c.Tokens) >= MaxTokens {
			return fmt.Errorf("lms: a client has at most %d tokens: %w", MaxTokens, ErrInvalid)
		}
		c.Tokens = append(c.Tokens, rec)
		return nil
	})
	if err != nil {
		return "", APIToken{}, fmt.Errorf("lms: create token: %w", err)
	}
	e.log.Info("API token created", "client", clientID, "token", name)
	return t, rec, nil
}

// Tokens returns the client's API tokens (their records, not the tokens).
func (e *Engine) Tokens(ctx context.Context, clientID string) ([]APIToken, error) {
	c, err := e.store.GetClient(ctx, clientID)
	if err != nil {
		return nil, fmt.Errorf("lms: tokens: %w", err)
	}
	return c.Tokens, nil
}

// RevokeToken removes the client's token name: it stops working at once.
// An unknown name gives ErrNotFound.
func (e *Engine) RevokeToken(ctx context.Context, clientID, name string) error {
	_, err := e.store.UpdateClient(ctx, clientID, func(c *Client) error {
		for i, t := range c.Tokens {
			if t.Name == name {
				c.Tokens = append(c.Tokens[:i:i], c.Tokens[i+1:]...)
				return nil
			}
		}
		return fmt.Errorf("lms: token %q: %w", name, ErrNotFound)
	})
	if err != nil {
		return fmt.Errorf("lms: revoke token: %w", err)
	}
	e.log.Info("API token revoked", "client", clientID, "token", name)
	return nil
}

// AuthenticateToken returns the id of the client whose API token token
// is, and an error wrapping ErrUnauthorized for anything else (malformed,
// revoked, or of an unknown client). The token's hash is compared with
// each of the client's in constant time.
func (e *Engine) AuthenticateToken(ctx context.Context, t string) (string, error) {
	id, ok := token.Client(t)
	if !ok {
		return "", fmt.Errorf("lms: malformed API token: %w", ErrUnauthorized)
	}
	c, err := e.store.GetClient(ctx, id)
	if err != nil {
		if isNotFoundOrInvalid(err) {
			return "", fmt.Errorf("lms: API token: %w", ErrUnauthorized)
		}
		return "", fmt.Errorf("lms: API token: %w", err)
	}
	h := token.Hash(t)
	match := false
	for _, t := range c.Tokens {
		if secret.Equal(h, t.Hash) {
			match = true
		}
	}
	if !match {
		return "", fmt.Errorf("lms: API token of client %q: %w", id, ErrUnauthorized)
	}
	return id, nil
}

func isNotFoundOrInvalid(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalid)
}
