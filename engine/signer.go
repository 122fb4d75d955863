package engine

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"strconv"
	"strings"
	"sync"
)

// Standard Webhooks signing: webhook-signature is "v1," + base64 of
// HMAC-SHA256(key, id + "." + timestamp + "." + body), where key is the
// base64-decoded part of the secret after "whsec_". With several live
// secrets (rotation) the signatures are joined by a single space.

const secretPrefix = "whsec_"

// Secret errors.
var (
	ErrSecretPrefix   = errors.New("engine: secret: must start with whsec_")
	ErrSecretEncoding = errors.New("engine: secret: not base64 after whsec_")
	ErrSecretEmpty    = errors.New("engine: secret: empty key")
)

// ParseSecret returns the HMAC key of a "whsec_<base64>" secret. Padding
// is optional.
func ParseSecret(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(s, secretPrefix)
	if !ok {
		return nil, ErrSecretPrefix
	}
	enc := base64.StdEncoding
	if len(b64)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	key, err := enc.DecodeString(b64)
	if err != nil {
		return nil, ErrSecretEncoding
	}
	if len(key) == 0 {
		return nil, ErrSecretEmpty
	}
	return key, nil
}

// GenerateSecret returns a new secret: whsec_ + base64 of 32 random bytes.
func GenerateSecret() string {
	var key [32]byte
	_, _ = rand.Read(key[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return secretPrefix + base64.StdEncoding.EncodeToString(key[:])
}

// signScratch is the reusable memory of one Sign call, so that the only
// allocations left are crypto/hmac's own and the returned string.
type signScratch struct {
	head []byte // id + "." + timestamp + "."
	out  []byte
	sum  [sha256.Size]byte
	// The HMAC of the secret the last call signed with last: a webhook's
	// sends in a row reset it rather than key a new one (two SHA-256
	// blocks and 500 bytes an event at maxBatchSize 1).
	key []byte
	mac hash.Hash
}

var signScratches = sync.Pool{New: func() any {
	return &signScratch{head: make([]byte, 0, 64), out: make([]byte, 0, 128)}
}}

// Sign returns the webhook-signature header value for one message: one
// "v1,<base64>" per secret, joined by a space. No secrets gives "".
func Sign(secrets [][]byte, msgID string, ts int64, body []byte) string {
	if len(secrets) == 0 {
		return ""
	}
	s := signScratches.Get().(*signScratch)
	defer signScratches.Put(s)

	s.head = append(s.head[:0], msgID...)
	s.head = append(s.head, '.')
	s.head = strconv.AppendInt(s.head, ts, 10)
	s.head = append(s.head, '.')

	s.out = s.out[:0]
	for i, key := range secrets {
		mac := s.keyed(key)
		mac.Write(s.head)
		mac.Write(body)
		if i > 0 {
			s.out = append(s.out, ' ')
		}
		s.out = append(s.out, "v1,"...)
		s.out = base64.StdEncoding.AppendEncode(s.out, mac.Sum(s.sum[:0]))
	}
	return string(s.out)
}

// keyed returns an HMAC-SHA256 of key, reset.
func (s *signScratch) keyed(key []byte) hash.Hash {
	if s.mac != nil && bytes.Equal(s.key, key) {
		s.mac.Reset()
		return s.mac
	}
	s.mac = hmac.New(sha256.New, key)
	s.key = append(s.key[:0], key...)
	return s.mac
}

// redactedSignature is how a signature header appears in attempt records.
func redactedSignature(n int) string {
	if n <= 1 {
		return "v1,<redacted>"
	}
	return strings.TrimSuffix(strings.Repeat("v1,<redacted> ", n), " ")
}
