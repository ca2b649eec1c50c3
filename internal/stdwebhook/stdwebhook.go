// Package stdwebhook signs webhook deliveries the Standard Webhooks way
// (https://www.standardwebhooks.com): secrets "whsec_" + base64, the
// headers webhook-id, webhook-timestamp and webhook-signature, and the
// signature "v1," + base64(HMAC-SHA256(key, id + "." + timestamp + "." +
// body)), several of them space-separated while a secret is rotated.
package stdwebhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The header names of the specification.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Prefix starts every secret.
const Prefix = "whsec_"

// KeyBytes is the length of generated keys (the specification asks for 24
// to 64 bytes).
const KeyBytes = 32

// ErrSecret means a secret is not "whsec_" followed by the standard base64
// of a key of at least one byte.
var ErrSecret = errors.New("not a webhook secret (whsec_ and base64)")

// NewSecret returns a new secret: "whsec_" and the base64 of KeyBytes
// random bytes.
func NewSecret() string {
	b := make([]byte, KeyBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return Prefix + base64.StdEncoding.EncodeToString(b)
}

// Key returns the key of a secret: the base64-decoded part after "whsec_".
func Key(secret string) ([]byte, error) {
	rest, ok := strings.CutPrefix(secret, Prefix)
	if !ok {
		return nil, ErrSecret
	}
	k, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(k) == 0 {
		return nil, ErrSecret
	}
	return k, nil
}

// Sign returns the signature "v1,<base64>" of one delivery under key.
func Sign(key []byte, id string, ts time.Time, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write(strconv.AppendInt(nil, ts.Unix(), 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// SetHeaders sets the three headers of a delivery on h: its id, the
// timestamp ts (Unix seconds) and one signature per key, space-separated,
// in the order given. Without keys no signature header is set (a client
// that has no secret yet gets unsigned deliveries).
func SetHeaders(h http.Header, id string, ts time.Time, body []byte, keys ...[]byte) {
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	if len(keys) == 0 {
		h.Del(HeaderSignature)
		return
	}
	sigs := make([]string, len(keys))
	for i, k := range keys {
		sigs[i] = Sign(k, id, ts, body)
	}
	h.Set(HeaderSignature, strings.Join(sigs, " "))
}

// NewID returns a new message id: "msg_" and 16 random bytes in unpadded
// URL-safe base64, unique for all practical purposes.
func NewID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "msg_" + base64.RawURLEncoding.EncodeToString(b)
}

// Verify checks the headers of a delivery against key the way receivers
// do: the id and timestamp present, the timestamp within tolerance of now
// (if tolerance > 0), and one of the space-separated signatures matching.
// It serves the package's own tests and a receiver written in Go; lms's
// tests verify with an implementation it did not write.
func Verify(key []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, tsText, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || tsText == "" || sigs == "" {
		return errors.New("stdwebhook: missing headers")
	}
	sec, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("stdwebhook: timestamp %q: %w", tsText, err)
	}
	ts := time.Unix(sec, 0)
	if tolerance > 0 && (now.Sub(ts) > tolerance || ts.Sub(now) > tolerance) {
		return errors.New("stdwebhook: timestamp out of tolerance")
	}
	want := Sign(key, id, ts, body)
	for _, s := range strings.Fields(sigs) {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return errors.New("stdwebhook: no matching signature")
}
