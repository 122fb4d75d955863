package api

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fasthttp"

	"hookd/config"
	"hookd/wal"
)

// Role names of API.md §2.
const (
	RoleRead    = "tenant-webhook-read"
	RoleWrite   = "tenant-webhook-write"
	RolePublish = "tenant-event-publish"
	RoleAdmin   = "tenant-admin"
	// RoleOperator is not a tenant role: it runs the whole server (a
	// backup of every tenant), and no tenant role grants it.
	RoleOperator = "hookd-operator"
	rolePublic   = "" // no authentication (health, metrics, openapi)
)

// grants says which roles satisfy a route's role.
var grants = map[string][]string{
	RoleRead:    {RoleRead, RoleWrite, RoleAdmin},
	RoleWrite:   {RoleWrite, RoleAdmin},
	RolePublish: {RolePublish, RoleAdmin},
	RoleAdmin:   {RoleAdmin},

	RoleOperator: {RoleOperator},
}

// Principal is who a request acts as.
type Principal struct {
	Tenant  string
	Account string
	Roles   []string
	// Portal is set for a portal-session token (portal.go). Webhooks, when
	// not nil, are the only webhooks of the tenant it may see or touch:
	// the service operations enforce it (service.go, Principal.sees).
	Portal   bool
	Webhooks []wal.ID
}

// may reports whether p holds a role that grants need. The Duck Creek
// spelling tenant-webhook-writer (config.RoleWriteAlias) is
// tenant-webhook-write, from a token or an API key alike.
func (p *Principal) may(need string) bool {
	for _, g := range grants[need] {
		for _, r := range p.Roles {
			if r == g || r == config.RoleWriteAlias && g == RoleWrite {
				return true
			}
		}
	}
	return false
}

// allRoles are auth.mode none's: every role, the operator's included.
var allRoles = []string{RoleRead, RoleWrite, RolePublish, RoleAdmin, RoleOperator}

// authenticator turns a request's Authorization header into a Principal.
type authenticator struct {
	mode    string
	keyfunc jwt.Keyfunc
	methods []string
	parser  *jwt.Parser
	apiKeys map[[32]byte]config.APIKey
	portal  *portalKeys // portal-session tokens, accepted in every mode

	// Verified tokens, so a client that sends the same JWT on every request
	// costs one map lookup, not one HMAC (bounded; reset when full).
	mu    sync.Mutex
	cache map[string]cachedToken
	now   func() time.Time
}

type cachedToken struct {
	p   *Principal
	exp time.Time
}

const tokenCacheMax = 10000

func newAuthenticator(c config.Auth, now func() time.Time) (*authenticator, error) {
	a := &authenticator{mode: c.Mode, cache: map[string]cachedToken{}, now: now, portal: newPortalKeys(c, now)}
	switch c.Mode {
	case "none":
	case "jwt":
		keys, err := loadJWTKeys(c)
		if err != nil {
			return nil, err
		}
		a.methods, a.keyfunc = keys.methods(), keys.keyfunc
		opts := []jwt.ParserOption{jwt.WithValidMethods(a.methods), jwt.WithExpirationRequired(),
			jwt.WithLeeway(30 * time.Second), jwt.WithTimeFunc(now)}
		if c.Issuer != "" {
			opts = append(opts, jwt.WithIssuer(c.Issuer))
		}
		if c.Audience != "" {
			opts = append(opts, jwt.WithAudience(c.Audience))
		}
		a.parser = jwt.NewParser(opts...)
	case "apikey":
		a.apiKeys = map[[32]byte]config.APIKey{}
		for _, k := range c.APIKeys {
			var h [32]byte
			b, err := hex.DecodeString(k.SHA256)
			if err != nil || len(b) != 32 {
				return nil, fmt.Errorf("api: auth.api_keys: sha256 must be 64 hex characters")
			}
			copy(h[:], b)
			a.apiKeys[h] = k
		}
	default:
		return nil, fmt.Errorf("api: auth.mode: unknown mode %q", c.Mode)
	}
	return a, nil
}

var errUnauthorized = &Error{Status: 401, Code: codeUnauthorized, Detail: "missing or invalid bearer token"}

// claims of a hookd JWT.
type claims struct {
	Tenant  string      `json:"tenant"`
	Account string      `json:"account,omitempty"`
	Roles   stringOrSet `json:"roles"`
	jwt.RegisteredClaims
}

// UnmarshalJSON decodes the claims as golang-jwt would, except that exp,
// nbf and iat must be JSON numbers: golang-jwt also takes a numeric string
// ("exp":"9999999999"), which RFC 7519's NumericDate is not.
func (c *claims) UnmarshalJSON(b []byte) error {
	type plain claims // the same fields without this method
	var w struct {
		*plain
		// At depth 0 these shadow RegisteredClaims' exp, nbf and iat.
		Exp json.RawMessage `json:"exp"`
		Nbf json.RawMessage `json:"nbf"`
		Iat json.RawMessage `json:"iat"`
	}
	w.plain = (*plain)(c)
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	for _, d := range []struct {
		name string
		raw  json.RawMessage
		dst  **jwt.NumericDate
	}{{"exp", w.Exp, &c.ExpiresAt}, {"nbf", w.Nbf, &c.NotBefore}, {"iat", w.Iat, &c.IssuedAt}} {
		if len(d.raw) == 0 || string(d.raw) == "null" {
			continue
		}
		if ch := d.raw[0]; ch != '-' && (ch < '0' || ch > '9') {
			return fmt.Errorf("api: jwt claim %s: must be a number, got %.20s", d.name, d.raw)
		}
		*d.dst = new(jwt.NumericDate)
		if err := (*d.dst).UnmarshalJSON(d.raw); err != nil {
			return err
		}
	}
	return nil
}

// stringOrSet accepts roles as a JSON array or a space-separated string.
type stringOrSet []string

func (s *stringOrSet) UnmarshalJSON(b []byte) error {
	var list []string
	if err := jsonUnmarshal(b, &list); err == nil {
		*s = list
		return nil
	}
	var one string
	if err := jsonUnmarshal(b, &one); err != nil {
		return err
	}
	*s = strings.Fields(one)
	return nil
}

// authenticate returns the principal of a request with headers h, or a
// 401/403 error. It reads the headers only, so it can run before the body
// is read (admit).
func (a *authenticator) authenticate(h *fasthttp.RequestHeader) (*Principal, error) {
	var p *Principal
	v := h.Peek("Authorization")
	const bearer = "bearer "
	hasBearer := len(v) > len(bearer) && bytes.EqualFold(v[:len(bearer)], []byte(bearer))
	var tok []byte
	if hasBearer {
		tok = bytes.TrimSpace(v[len(bearer):])
	}
	var err error
	switch {
	case hasBearer && isPortalToken(tok):
		// A portal-session token limits the caller in every mode, none
		// included: a portal tried out locally behaves as it will for real.
		p, err = a.portalJWT(string(tok))
	case a.mode == "none":
		p = &Principal{Tenant: "default", Roles: allRoles}
	case !hasBearer:
		err = errUnauthorized
	case a.mode == "apikey":
		p, err = a.apiKey(tok)
	default:
		p, err = a.jwt(string(tok))
	}
	if err != nil {
		return nil, err
	}
	if t := h.Peek("x-tenant-id"); len(t) > 0 && string(t) != p.Tenant {
		return nil, &Error{Status: 403, Code: codeForbidden, Detail: "x-tenant-id does not match the token's tenant"}
	}
	if t := h.Peek("x-account-id"); len(t) > 0 && a.mode != "none" && string(t) != p.Account {
		return nil, &Error{Status: 403, Code: codeForbidden, Detail: "x-account-id does not match the token's account"}
	}
	return p, nil
}

func (a *authenticator) apiKey(tok []byte) (*Principal, error) {
	h := sha256.Sum256(tok)
	for k, v := range a.apiKeys {
		if subtle.ConstantTimeCompare(k[:], h[:]) == 1 {
			return &Principal{Tenant: v.Tenant, Account: v.Account, Roles: v.Roles}, nil
		}
	}
	return nil, errUnauthorized
}

func (a *authenticator) jwt(tok string) (*Principal, error) {
	now := a.now()
	a.mu.Lock()
	c, ok := a.cache[tok]
	a.mu.Unlock()
	if ok && now.Before(c.exp) {
		return c.p, nil
	}
	var cl claims
	if _, err := a.parser.ParseWithClaims(tok, &cl, a.keyfunc); err != nil {
		return nil, errUnauthorized
	}
	if !wal.ValidTenant(cl.Tenant) {
		return nil, errUnauthorized
	}
	p := &Principal{Tenant: cl.Tenant, Account: cl.Account, Roles: cl.Roles}
	if cl.ExpiresAt != nil && cl.NotBefore == nil {
		// Cache only what stays valid until exp; a future nbf is re-checked.
		a.mu.Lock()
		if len(a.cache) >= tokenCacheMax {
			clear(a.cache)
		}
		a.cache[tok] = cachedToken{p: p, exp: cl.ExpiresAt.Time}
		a.mu.Unlock()
	}
	return p, nil
}

// MintToken signs an HS256 token for local use and tests (`hookd token`).
func MintToken(c config.Auth, tenant, account string, roles []string, ttl time.Duration, now time.Time) (string, error) {
	if c.JWTSecret == "" {
		return "", fmt.Errorf("auth.jwt_secret is empty: set it in the config or HOOKD_AUTH_JWT_SECRET")
	}
	cl := claims{Tenant: tenant, Account: account, Roles: roles, RegisteredClaims: jwt.RegisteredClaims{
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)), Issuer: c.Issuer,
	}}
	if c.Audience != "" {
		cl.Audience = jwt.ClaimStrings{c.Audience}
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, cl).SignedString([]byte(c.JWTSecret))
}
