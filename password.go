package lms

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
		_, _ = rand.Read(buf[:])
		if int(buf[0]) < limit {
			return int(buf[0]) % n
		}
	}
}

// HashPassword returns the stored form of a password. Generated passwords
// carry enough entropy for a salted SHA-256; human-chosen ones (human) get
// bcrypt.
func HashPassword(pw string, human bool) (string, error) {
	if human {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
		if err != nil {
			return "", fmt.Errorf("lms: hash password: %w", err)
		}
		return "bcrypt$" + string(h), nil
	}
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	sum := sha256.Sum256(append(salt, pw...))
	return "sha256$" + hex.EncodeToString(salt) + "$" + hex.EncodeToString(sum[:]), nil
}

// VerifyPassword reports whether pw matches hash, in constant time.
func VerifyPassword(hash, pw string) bool {
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

// equalSecret compares two secrets in constant time (for equal lengths;
// the length itself is not secret).
func equalSecret(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// sealer encrypts client passwords for callbacks with AES-GCM under a key
// derived from the admin secret.
type sealer struct {
	key  [32]byte
	aead cipher.AEAD
}

func newSealer(secret string) *sealer {
	s := &sealer{key: sha256.Sum256([]byte("lms seal v1\x00" + secret))}
	block, err := aes.NewCipher(s.key[:])
	if err != nil {
		panic(err) // a 32-byte key never fails
	}
	s.aead, err = cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return s
}

func (s *sealer) seal(id, pw string) string {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return base64.StdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, []byte(pw), []byte(id)))
}

func (s *sealer) open(id, sealed string) (string, bool) {
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

// proof is a keyed digest of a successful authentication, cached so that
// bcrypt runs once per client and password, not on every call.
func (s *sealer) proof(id, pw, hash string) string {
	m := hmac.New(sha256.New, s.key[:])
	m.Write([]byte(id + "\x00" + pw + "\x00" + hash))
	return string(m.Sum(nil))
}
