package lms

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/linkmonitor/lms/internal/secret"
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

// tokenPrefix starts every API token. The client id follows in unpadded
// base64url, then '.' and 32 random bytes in unpadded base64url, so that a
// token names its client and needs no index of its own.
const tokenPrefix = "lmst_"

// validTokenName reports whether name may name a token (it goes in a URL
// path).
func validTokenName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// TokenClient returns the client id a token names, and false if token does
// not have the form of an API token.
func TokenClient(token string) (string, bool) {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok || len(token) > 1024 {
		return "", false
	}
	enc, sec, ok := strings.Cut(rest, ".")
	if !ok || len(sec) != 43 {
		return "", false
	}
	id, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(id) == 0 {
		return "", false
	}
	return string(id), true
}

// CreateToken makes a new API token for the client and returns it (the
// only time it is shown) with its record. A name the client uses already
// gives ErrExists; an invalid name, or a client that has MaxTokens
// already, ErrInvalid.
func (e *Engine) CreateToken(ctx context.Context, clientID, name string) (string, APIToken, error) {
	if !validTokenName(name) {
		return "", APIToken{}, fmt.Errorf("lms: token name %q: want 1 to 64 letters, digits, '.', '_' or '-': %w", name, ErrInvalid)
	}
	var raw [32]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails (Go 1.24+)
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(clientID)) + "." + base64.RawURLEncoding.EncodeToString(raw[:])
	rec := APIToken{Name: name, Hash: tokenHash(token), Created: e.now().UTC()}
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
	return token, rec, nil
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
func (e *Engine) AuthenticateToken(ctx context.Context, token string) (string, error) {
	id, ok := TokenClient(token)
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
	h := tokenHash(token)
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
