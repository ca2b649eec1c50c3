// Package secret holds the password handling the Engine and the tests
// share: generated client passwords, their stored hashes, constant-time
// comparison, and the sealing of the passwords that callbacks must send.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// PasswordLength is the length of generated client passwords.
const PasswordLength = 30

const passwordAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"

// GeneratePassword returns a random password of PasswordLength characters
// (letters and digits without the easily confused ones), about 174 bits.
func GeneratePassword() string {
	b := make([]byte, PasswordLength)
	for i := range b {
		b[i] = passwordAlphabet[randIntN(len(passwordAlphabet))]
	}
	return string(b)
}

func randIntN(n int) int {
	var buf [1]byte
	limit := 256 - 256%n
	for {
		_, _ = rand.Read(buf[:]) // crypto/rand.Read never fails (Go 1.24+)
		if int(buf[0]) < limit {
			return int(buf[0]) % n
		}
	}
}

// Hash returns the stored form of a password. Generated passwords carry
// enough entropy for a salted SHA-256; human-chosen ones (human) get
// bcrypt.
func Hash(pw string, human bool) (string, error) {
	if human {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
		if err != nil {
			return "", fmt.Errorf("hash password: %w", err)
		}
		return "bcrypt$" + string(h), nil
	}
	salt := make([]byte, 16)
	_, _ = rand.Read(salt) // never fails
	sum := sha256.Sum256(append(salt, pw...))
	return "sha256$" + hex.EncodeToString(salt) + "$" + hex.EncodeToString(sum[:]), nil
}

// Verify reports whether pw matches hash, in constant time.
func Verify(hash, pw string) bool {
	scheme, rest, _ := strings.Cut(hash, "$")
	switch scheme {
	case "bcrypt":
		return bcrypt.CompareHashAndPassword([]byte(rest), []byte(pw)) == nil
	case "sha256":
		saltHex, sumHex, _ := strings.Cut(rest, "$")
		salt, err1 := hex.DecodeString(saltHex)
		want, err2 := hex.DecodeString(sumHex)
		if err1 != nil || err2 != nil {
			return false
		}
		got := sha256.Sum256(append(salt, pw...))
		return subtle.ConstantTimeCompare(got[:], want) == 1
	}
	return false
}

// Equal compares two secrets in constant time (whatever their lengths).
func Equal(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// Sealer encrypts client passwords for callbacks with AES-GCM under a key
// derived from the admin secret, bound to the client id.
type Sealer struct {
	key  [32]byte
	aead cipher.AEAD
}

// NewSealer returns the Sealer keyed by the admin secret.
func NewSealer(adminSecret string) *Sealer {
	s := &Sealer{key: sha256.Sum256([]byte("lms seal v1\x00" + adminSecret))}
	block, err := aes.NewCipher(s.key[:])
	if err != nil {
		panic(err) // a 32-byte key never fails
	}
	s.aead, err = cipher.NewGCM(block)
	if err != nil {
		panic(err) // AES always has a GCM mode
	}
	return s
}

// Seal encrypts pw for client id.
func (s *Sealer) Seal(id, pw string) string {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce) // never fails
	return base64.StdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, []byte(pw), []byte(id)))
}

// Open decrypts what Seal sealed for client id; false if it was sealed under
// another key or for another id, or is damaged.
func (s *Sealer) Open(id, sealed string) (string, bool) {
	b, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(b) < s.aead.NonceSize() {
		return "", false
	}
	n := s.aead.NonceSize()
	pw, err := s.aead.Open(nil, b[:n], b[n:], []byte(id))
	if err != nil {
		return "", false
	}
	return string(pw), true
}

// Proof is a keyed digest of a successful authentication, cached so that
// bcrypt runs once per client and password, not on every call.
func (s *Sealer) Proof(id, pw, hash string) string {
	m := hmac.New(sha256.New, s.key[:])
	m.Write([]byte(id + "\x00" + pw + "\x00" + hash))
	return string(m.Sum(nil))
}

// Verifier checks client passwords against their stored hashes. It caches
// a proof of each client's last verified password, so that bcrypt runs
// once per client and password, not on every call; an unknown client
// costs the same work as a wrong password of a known one.
type Verifier struct {
	sealer *Sealer
	mu     sync.Mutex
	proofs map[string]string // client id → Proof of its last verified password
}

// NewVerifier returns a verifier whose proofs s keys.
func NewVerifier(s *Sealer) *Verifier {
	return &Verifier{sealer: s, proofs: make(map[string]string)}
}

// dummyHash is what a password of an unknown client id is verified
// against: a salted SHA-256 like those of generated passwords (Hash), of a
// password nobody knows, so that the time of the answer does not tell
// which ids exist.
const dummyHash = "sha256$8d1f0c7e52a94b36e0f4a1c29b7d5e63$5f3c9a0e7b21d84c6a9e0f1b3d5c7a92e4f6081b3c5d7e9f0a2b4c6d8e0f1a23"

// Check reports whether pw is the password of client id, stored as hash;
// known is false for an id that does not exist (hash is then ignored).
func (v *Verifier) Check(id, pw, hash string, known bool) bool {
	if !known {
		hash = dummyHash
	}
	proof := v.sealer.Proof(id, pw, hash)
	v.mu.Lock()
	cached := v.proofs[id]
	v.mu.Unlock()
	if cached != "" && Equal(cached, proof) {
		return true
	}
	if !Verify(hash, pw) || !known {
		return false
	}
	v.mu.Lock()
	v.proofs[id] = proof
	v.mu.Unlock()
	return true
}

// Forget drops the proof of client id (its password changed, or it was
// removed).
func (v *Verifier) Forget(id string) {
	v.mu.Lock()
	delete(v.proofs, id)
	v.mu.Unlock()
}
