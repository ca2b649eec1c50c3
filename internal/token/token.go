// Package token makes and reads the API tokens of the JSON API: "lmst_",
// the client id in unpadded base64url, '.', and 32 random bytes in
// unpadded base64url, so that a token names its client and needs no index
// of its own. Stores keep only a token's Hash.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

const prefix = "lmst_"

// New returns a new token of client id.
func New(id string) string {
	var raw [32]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails (Go 1.24+)
	return prefix + base64.RawURLEncoding.EncodeToString([]byte(id)) + "." + base64.RawURLEncoding.EncodeToString(raw[:])
}

// Hash returns the stored form of a token: "sha256:" and its hex SHA-256.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Client returns the client id a token names, and false if token does not
// have the form of an API token.
func Client(token string) (string, bool) {
	rest, ok := strings.CutPrefix(token, prefix)
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

// ValidName reports whether name may name a token (it goes in a URL path):
// 1 to 64 letters, digits, '.', '_' or '-'.
func ValidName(name string) bool {
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
