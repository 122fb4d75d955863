package api

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"hookd/config"
)

// TestJWTAttacks: every forged, stale or mismatched token is a 401.
func TestJWTAttacks(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef"
	ts := newTestServer(t, func(c *config.Config) {
		c.Auth.Mode, c.Auth.JWTSecret, c.Auth.Issuer, c.Auth.Audience = "jwt", secret, "https://id.example.com", "hookd"
	})
	now := time.Now()
	claimsFor := func(mod func(*claims)) *claims {
		c := &claims{Tenant: "acme", Roles: []string{RoleAdmin}, RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "https://id.example.com", Audience: jwt.ClaimStrings{"hookd"},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}}
		if mod != nil {
			mod(c)
		}
		return c
	}
	hs := func(c *claims, key string) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(key))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claimsFor(nil)).SignedString(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, claimsFor(nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	good := hs(claimsFor(nil), secret)
	// The same token with its tenant claim rewritten and the signature kept.
	parts := strings.Split(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"acme"`, `"beta"`, 1)))
	tampered := strings.Join(parts, ".")

	tests := []struct {
		name, token string
		status      int
	}{
		{"valid", good, 200},
		{"alg none", none, 401},
		{"RS256 against an HS256 key", rs, 401},
		{"wrong secret", hs(claimsFor(nil), "another-secret-of-enough-length"), 401},
		{"expired", hs(claimsFor(func(c *claims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Minute)) }), secret), 401},
		{"expired within leeway", hs(claimsFor(func(c *claims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-10 * time.Second)) }), secret), 200},
		{"no exp", hs(claimsFor(func(c *claims) { c.ExpiresAt = nil }), secret), 401},
		{"future nbf", hs(claimsFor(func(c *claims) { c.NotBefore = jwt.NewNumericDate(now.Add(time.Hour)) }), secret), 401},
		{"wrong aud", hs(claimsFor(func(c *claims) { c.Audience = jwt.ClaimStrings{"other"} }), secret), 401},
		{"wrong iss", hs(claimsFor(func(c *claims) { c.Issuer = "https://evil.example.com" }), secret), 401},
		{"bad tenant claim", hs(claimsFor(func(c *claims) { c.Tenant = "a/b" }), secret), 401},
		{"tampered tenant", tampered, 401},
		{"garbage", "not.a.jwt", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.do("GET", "/v1/webhooks", nil, "Authorization", "Bearer "+tt.token)
			if r.status != tt.status {
				t.Errorf("status = %d, want %d: %s", r.status, tt.status, r.body)
			}
			if got := r.header.Get("WWW-Authenticate"); r.status == 401 && got != `Bearer realm="hookd"` {
				t.Errorf("WWW-Authenticate = %q on a 401, want the bearer challenge", got)
			}
		})
	}
	for _, h := range []string{"", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer " + good + " extra"} {
		if r := ts.do("GET", "/v1/webhooks", nil, "Authorization", h); r.status != 401 {
			t.Errorf("Authorization %q = %d, want 401", h, r.status)
		}
	}
}

func TestAPIKeyAuth(t *testing.T) {
	sum := func(k string) string { h := sha256.Sum256([]byte(k)); return hex.EncodeToString(h[:]) }
	ts := newTestServer(t, func(c *config.Config) {
		c.Auth.Mode = "apikey"
		c.Auth.APIKeys = []config.APIKey{
			{SHA256: sum("reader-key"), Tenant: "acme", Roles: []string{RoleRead}},
			{SHA256: strings.ToUpper(sum("admin-key")), Tenant: "acme", Roles: []string{RoleAdmin}},
		}
	})
	tests := []struct {
		name, key, method string
		status            int
	}{
		{"reader lists", "reader-key", "GET", 200},
		{"reader may not create", "reader-key", "POST", 403},
		{"admin creates", "admin-key", "POST", 201},
		{"unknown key", "other-key", "GET", 401},
		{"the hash is not the key", sum("admin-key"), "GET", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.method == "POST" {
				body = `{"url":"https://example.com/hook"}`
			}
			if r := ts.do(tt.method, "/v1/webhooks", body, "Authorization", "Bearer "+tt.key); r.status != tt.status {
				t.Errorf("status = %d, want %d: %s", r.status, tt.status, r.body)
			}
		})
	}
}

// TestJWTPublicKeys: RS256 from a PEM file and ES256 from a JWKS file
// verify their tokens; an HS256 token "signed" with the public key, an
// unknown kid and an algorithm the keys do not fix are refused.
func TestJWTPublicKeys(t *testing.T) {
	dir := t.TempDir()
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	pemFile := filepath.Join(dir, "jwt.pem")
	os.WriteFile(pemFile, pubPEM, 0o600)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	jwks := fmt.Sprintf(`{"keys":[{"kty":"EC","kid":"ec-1","crv":"P-256","x":%q,"y":%q,"use":"sig"}]}`,
		b64(ek.PublicKey.X.FillBytes(make([]byte, 32))), b64(ek.PublicKey.Y.FillBytes(make([]byte, 32))))
	jwksFile := filepath.Join(dir, "jwks.json")
	os.WriteFile(jwksFile, []byte(jwks), 0o600)

	ts := newTestServer(t, func(c *config.Config) {
		c.Auth.Mode, c.Auth.JWTPublicKeyFile, c.Auth.JWKSFile = "jwt", pemFile, jwksFile
	})
	cl := func() *claims {
		return &claims{Tenant: "acme", Roles: []string{RoleAdmin}, RegisteredClaims: jwt.RegisteredClaims{
			ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}}
	}
	sign := func(m jwt.SigningMethod, kid string, key any) string {
		tok := jwt.NewWithClaims(m, cl())
		if kid != "" {
			tok.Header["kid"] = kid
		}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	otherEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tests := []struct {
		name, token string
		status      int
	}{
		{"RS256 from the PEM file", sign(jwt.SigningMethodRS256, "", rk), 200},
		{"ES256 from the JWKS file", sign(jwt.SigningMethodES256, "ec-1", ek), 200},
		{"ES256 without kid, one EC key", sign(jwt.SigningMethodES256, "", ek), 200},
		{"ES256 unknown kid", sign(jwt.SigningMethodES256, "ec-2", ek), 401},
		{"ES256 wrong key", sign(jwt.SigningMethodES256, "ec-1", otherEC), 401},
		{"HS256 with the public key as secret", sign(jwt.SigningMethodHS256, "", pubPEM), 401},
		{"RS512 not configured", sign(jwt.SigningMethodRS512, "", rk), 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := ts.do("GET", "/v1/webhooks", nil, "Authorization", "Bearer "+tt.token); r.status != tt.status {
				t.Errorf("status = %d, want %d: %s", r.status, tt.status, r.body)
			}
		})
	}
}
