package api

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fasthttp"

	"hookd/config"
	"hookd/wal"
)

// The customer portal: POST /v1/portal-sessions mints a short-lived token
// for one tenant, optionally limited to some of its webhooks, with the
// webhook read and write roles only, for an operator to hand to their own
// customer as a console URL (console.go).
//
// A portal token is an HS256 JWT whose header says kid "hookd-portal",
// signed with the portal key (auth.portal_secret; else derived from
// auth.jwt_secret; else random per process). It is accepted in every auth
// mode, so apikey and RS256/JWKS deployments, which hold no signing key of
// their own, can hand out portals too. Its claims:
//
//	tenant, account  the issuing admin's
//	roles            tenant-webhook-read, tenant-webhook-write
//	webhooks         the webhook ids it is limited to (absent: the tenant's)
//	portal           true
//
// The limit is the server's, not the console's: Principal.Webhooks is
// checked by the service operations (service.go), so every route that
// takes a webhook id answers 404 for another webhook, lists show only the
// allowed ones, and a limited portal cannot create webhooks.

const (
	portalKID        = "hookd-portal"
	portalDefaultTTL = time.Hour
	portalMaxTTL     = 24 * time.Hour
	portalMinTTL     = time.Minute
	// portalMaxWebhooks bounds the webhooks one portal names (and so the
	// token's size and the work of listing them).
	portalMaxWebhooks = 100
)

// portalRoles are what every portal token holds.
var portalRoles = []string{RoleRead, RoleWrite}

// portalKeys signs and verifies portal tokens.
type portalKeys struct {
	key    []byte
	parser *jwt.Parser
}

// newPortalKeys picks the portal key of c: auth.portal_secret, else one
// derived from auth.jwt_secret (so replicas sharing that secret share
// portals, and portals survive a restart), else a random key of this
// process.
func newPortalKeys(c config.Auth, now func() time.Time) *portalKeys {
	var key []byte
	switch {
	case c.PortalSecret != "":
		key = []byte(c.PortalSecret)
	case c.JWTSecret != "":
		m := hmac.New(sha256.New, []byte(c.JWTSecret))
		m.Write([]byte("hookd portal-session key v1"))
		key = m.Sum(nil)
	default:
		key = make([]byte, 32)
		_, _ = rand.Read(key)
	}
	return &portalKeys{key: key, parser: jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}),
		jwt.WithExpirationRequired(), jwt.WithLeeway(30*time.Second), jwt.WithTimeFunc(now))}
}

type portalClaims struct {
	Tenant   string   `json:"tenant"`
	Account  string   `json:"account,omitempty"`
	Roles    []string `json:"roles"`
	Webhooks []string `json:"webhooks,omitempty"`
	Portal   bool     `json:"portal"`
	jwt.RegisteredClaims
}

// mint signs a portal token for p's tenant, limited to hooks when not nil.
func (k *portalKeys) mint(p *Principal, hooks []wal.ID, ttl time.Duration, now time.Time) (string, time.Time, error) {
	exp := now.Add(ttl).Truncate(time.Second)
	cl := portalClaims{Tenant: p.Tenant, Account: p.Account, Roles: portalRoles, Portal: true,
		RegisteredClaims: jwt.RegisteredClaims{IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp)}}
	for _, h := range hooks {
		cl.Webhooks = append(cl.Webhooks, h.Text("wh_"))
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, cl)
	t.Header["kid"] = portalKID
	s, err := t.SignedString(k.key)
	return s, exp, err
}

// isPortalToken reports whether tok is a JWT whose header names the
// portal key; it says nothing of its validity.
func isPortalToken(tok []byte) bool {
	head, _, ok := bytes.Cut(tok, []byte("."))
	if !ok || len(head) > 256 {
		return false
	}
	var buf [192]byte
	n, err := base64.RawURLEncoding.Decode(buf[:], head)
	if err != nil {
		return false
	}
	var h struct {
		Kid string `json:"kid"`
	}
	return json.Unmarshal(buf[:n], &h) == nil && h.Kid == portalKID
}

// portalJWT verifies a portal token (through the same cache as a.jwt).
func (a *authenticator) portalJWT(tok string) (*Principal, error) {
	now := a.now()
	a.mu.Lock()
	c, ok := a.cache[tok]
	a.mu.Unlock()
	if ok && now.Before(c.exp) {
		return c.p, nil
	}
	var cl portalClaims
	keyfunc := func(t *jwt.Token) (any, error) {
		if t.Header["kid"] != portalKID {
			return nil, fmt.Errorf("api: not a portal token")
		}
		return a.portal.key, nil
	}
	if _, err := a.portal.parser.ParseWithClaims(tok, &cl, keyfunc); err != nil {
		return nil, errUnauthorized
	}
	if !cl.Portal || !wal.ValidTenant(cl.Tenant) || len(cl.Webhooks) > portalMaxWebhooks {
		return nil, errUnauthorized
	}
	p := &Principal{Tenant: cl.Tenant, Account: cl.Account, Portal: true}
	for _, r := range cl.Roles {
		if slices.Contains(portalRoles, r) { // never more than a portal's roles
			p.Roles = append(p.Roles, r)
		}
	}
	if cl.Webhooks != nil {
		p.Webhooks = make([]wal.ID, 0, len(cl.Webhooks))
		for _, s := range cl.Webhooks {
			id, err := wal.ParseID("wh_", s)
			if err != nil {
				return nil, errUnauthorized
			}
			p.Webhooks = append(p.Webhooks, id)
		}
	}
	a.mu.Lock()
	if len(a.cache) >= tokenCacheMax {
		clear(a.cache)
	}
	a.cache[tok] = cachedToken{p: p, exp: cl.ExpiresAt.Time}
	a.mu.Unlock()
	return p, nil
}

// limited reports whether p may see only some of its tenant's webhooks.
func (p *Principal) limited() bool { return p != nil && p.Webhooks != nil }

// sees reports whether p may see or touch webhook id of its tenant.
func (p *Principal) sees(id wal.ID) bool { return !p.limited() || slices.Contains(p.Webhooks, id) }

var errPortalCreate = &Error{Status: 403, Code: codeForbidden,
	Detail: "a portal limited to some webhooks cannot create webhooks"}

// opListSeen is opListWebhooks for a limited principal: its webhooks that
// still exist, in id (creation) order, after the cursor `after`.
func (s *Server) opListSeen(p *Principal, after wal.ID, limit int) ([]*wal.Webhook, bool, error) {
	ids := slices.Clone(p.Webhooks)
	slices.SortFunc(ids, func(a, b wal.ID) int { return bytes.Compare(a[:], b[:]) })
	var out []*wal.Webhook
	for _, id := range slices.Compact(ids) {
		if bytes.Compare(id[:], after[:]) <= 0 {
			continue
		}
		w, err := s.store.GetWebhook(p.Tenant, id)
		if err != nil {
			if toError(err).Status == 404 {
				continue
			}
			return nil, false, err
		}
		if len(out) == limit {
			return out, true, nil
		}
		out = append(out, w)
	}
	return out, false, nil
}

// portalSessionIn is the body of POST /v1/portal-sessions.
type portalSessionIn struct {
	WebhookIDs *[]string `json:"webhookIds"`
	TTL        *string   `json:"ttl"`
}

type portalSessionOut struct {
	URL       string   `json:"url"`
	Token     string   `json:"token"`
	ExpiresAt string   `json:"expiresAt"`
	Tenant    string   `json:"tenant"`
	Webhooks  []string `json:"webhookIds"`
}

// parsePortalSession validates a portal-session request: the webhooks it
// names (nil: the whole tenant) and its lifetime.
func parsePortalSession(in *portalSessionIn) (hooks []wal.ID, ttl time.Duration, err error) {
	ttl = portalDefaultTTL
	if in.TTL != nil {
		d, perr := time.ParseDuration(*in.TTL)
		if perr != nil || d < portalMinTTL || d > portalMaxTTL {
			return nil, 0, errValidation("ttl", "must be a duration from 1m to 24h, such as \"1h\"")
		}
		ttl = d
	}
	if in.WebhookIDs != nil {
		ids := *in.WebhookIDs
		if len(ids) == 0 || len(ids) > portalMaxWebhooks {
			return nil, 0, errValidation("webhookIds", fmt.Sprintf("must list 1 to %d webhook ids, or be absent for every webhook of the tenant", portalMaxWebhooks))
		}
		hooks = make([]wal.ID, 0, len(ids))
		for i, s := range ids {
			id, perr := wal.ParseID("wh_", s)
			if perr != nil || id.IsZero() {
				return nil, 0, errValidation(fmt.Sprintf("webhookIds[%d]", i), "not a webhook id")
			}
			if !slices.Contains(hooks, id) {
				hooks = append(hooks, id)
			}
		}
	}
	return hooks, ttl, nil
}

// createPortalSession is POST /v1/portal-sessions (admin).
func (s *Server) createPortalSession(ctx *fasthttp.RequestCtx, p *Principal) error {
	var in portalSessionIn
	if err := decodeBody(ctx, &in, true); err != nil {
		return err
	}
	hooks, ttl, err := parsePortalSession(&in)
	if err != nil {
		return err
	}
	for _, id := range hooks {
		if _, err := s.opGetWebhook(p, id); err != nil {
			return err
		}
	}
	tok, exp, err := s.auth.portal.mint(p, hooks, ttl, s.now())
	if err != nil {
		return err
	}
	out := portalSessionOut{URL: consoleURL(ctx) + "#portal=" + tok, Token: tok, ExpiresAt: timestamp(exp), Tenant: p.Tenant}
	for _, id := range hooks {
		out.Webhooks = append(out.Webhooks, id.Text("wh_"))
	}
	return writeJSON(ctx, 201, out)
}

// consoleURL is the console's absolute URL as the caller reached this
// server (X-Forwarded-Proto and X-Forwarded-Host when a proxy set them).
// The token goes in the fragment, which browsers never send to a server,
// so it reaches no access log; the console strips it once read.
func consoleURL(ctx *fasthttp.RequestCtx) string {
	scheme := "http"
	if ctx.IsTLS() {
		scheme = "https"
	}
	if v := string(ctx.Request.Header.Peek("X-Forwarded-Proto")); v == "https" || v == "http" {
		scheme = v
	}
	host := string(ctx.Host())
	if v := ctx.Request.Header.Peek("X-Forwarded-Host"); len(v) > 0 && printable(v) && !bytes.ContainsAny(v, "/\\@#?") {
		host = string(v)
	}
	return scheme + "://" + host + "/console"
}

// sessionOut is GET /v1/session: who the console is acting as, so it can
// show only the controls the token's roles allow (the server enforces
// them regardless).
type sessionOut struct {
	Tenant   string   `json:"tenant"`
	Account  string   `json:"account,omitempty"`
	Roles    []string `json:"roles"`
	Portal   bool     `json:"portal"`
	Webhooks []string `json:"webhookIds"` // null: every webhook of the tenant
	AuthMode string   `json:"authMode"`
}

func (s *Server) getSession(ctx *fasthttp.RequestCtx, p *Principal) error {
	out := sessionOut{Tenant: p.Tenant, Account: p.Account, Roles: p.Roles, Portal: p.Portal, AuthMode: s.cfg.Auth.Mode}
	for _, id := range p.Webhooks {
		out.Webhooks = append(out.Webhooks, id.Text("wh_"))
	}
	if p.Webhooks != nil && out.Webhooks == nil {
		out.Webhooks = []string{}
	}
	return writeJSON(ctx, 200, out)
}

// getEventSeen is GET /v1/events/{id} for every caller: a limited portal
// sees an event only when it went to one of its webhooks, and only those
// deliveries; anyone else gets getEvent as it is.
//
// {id} may also be the idempotency key the event was published with (the
// console's event lookup), URL-escaped.
func (s *Server) getEventSeen(ctx *fasthttp.RequestCtx, p *Principal) error {
	ref := pathParam(ctx, "id")
	if u, err := url.PathUnescape(ref); err == nil {
		ref = u
	}
	if _, err := wal.ParseID("evt_", ref); err != nil {
		id, err := s.opFindEvent(p, ref)
		if err != nil {
			return err
		}
		ctx.SetUserValue("id", id.Text("evt_"))
	}
	if err := s.getEvent(ctx, p); err != nil || !p.limited() || ctx.Response.StatusCode() != 200 {
		return err
	}
	var e eventOut
	if err := json.Unmarshal(ctx.Response.Body(), &e); err != nil {
		return err
	}
	seen := e.Deliveries[:0]
	for _, d := range e.Deliveries {
		if id, err := wal.ParseID("wh_", d.WebhookID); err == nil && p.sees(id) {
			seen = append(seen, d)
		}
	}
	ctx.Response.ResetBody()
	if len(seen) == 0 {
		return errNotFound("event")
	}
	e.Deliveries = seen
	return writeJSON(ctx, 200, e)
}
