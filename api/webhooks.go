package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"hookd/engine"
	"hookd/wal"
)

// webhookIn is a create or update body. Pointers tell absent from zero:
// on update, present fields replace and absent ones stay (PUT = PATCH).
type webhookIn struct {
	URL               *string            `json:"url"`
	Destination       *string            `json:"destination"`
	Endpoint          *string            `json:"endpoint"`
	Description       *string            `json:"description"`
	Events            *[]string          `json:"events"`
	IsActive          *bool              `json:"isActive"`
	CustomHeaders     *map[string]string `json:"customHeaders"`
	MaxBatchSize      *flexInt           `json:"maxBatchSize"`
	MaxBatchTimeDelay *flexDuration      `json:"maxBatchTimeDelay"`
	Ordered           *bool              `json:"ordered"`
	RateLimit         *int               `json:"rateLimit"`
	Compression       *string            `json:"compression"`
	Retry             *struct {
		Schedule []flexDuration `json:"schedule"`
	} `json:"retry"`
	Metadata *map[string]string `json:"metadata"`
	Secret   *string            `json:"secret"`
}

// flexInt accepts 100 or "100" (the Duck Creek API sends strings).
type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	n, err := strconv.Atoi(s)
	if err != nil {
		return &fieldError{"maxBatchSize", "must be an integer"}
	}
	*f = flexInt(n)
	return nil
}

// flexDuration accepts milliseconds as a number or numeric string, or a Go
// duration string ("250ms", "5m").
type flexDuration time.Duration

func (f *flexDuration) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > int64(7*24*time.Hour/time.Millisecond) {
			return &fieldError{"", fmt.Sprintf("%d ms is out of range", n)}
		}
		*f = flexDuration(time.Duration(n) * time.Millisecond)
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return &fieldError{"", fmt.Sprintf("%q is neither milliseconds nor a duration such as \"250ms\"", s)}
	}
	*f = flexDuration(d)
	return nil
}

// apply validates in and writes it onto w. create says whether absent
// required fields are an error.
func (s *Server) applyWebhook(in *webhookIn, w *wal.Webhook, create bool) error {
	u := in.URL
	field := "url"
	for _, alt := range []struct {
		v    *string
		name string
	}{{in.Destination, "destination"}, {in.Endpoint, "endpoint"}} {
		if u == nil && alt.v != nil {
			u, field = alt.v, alt.name
		}
	}
	if u != nil {
		if err := s.validURL(*u); err != nil {
			return errValidation(field, err.Error())
		}
		w.URL = *u
	} else if create {
		return errValidation("url", "required")
	}
	if in.Description != nil {
		if len(*in.Description) > 1024 {
			return errValidation("description", "at most 1024 bytes")
		}
		w.Description = *in.Description
	}
	if in.Events != nil {
		if len(*in.Events) > 256 {
			return errValidation("events", "at most 256 event types")
		}
		for i, e := range *in.Events {
			if e != "*" && !validType(e) {
				return errValidation(fmt.Sprintf("events[%d]", i), "must be \"*\" or 1..128 characters of [A-Za-z0-9._:-]")
			}
		}
		w.Events = *in.Events
		if len(w.Events) == 1 && w.Events[0] == "*" {
			w.Events = nil
		}
	}
	if in.IsActive != nil {
		w.IsActive = *in.IsActive
	}
	if in.CustomHeaders != nil {
		if err := validHeaders(*in.CustomHeaders); err != nil {
			return err
		}
		w.CustomHeaders = *in.CustomHeaders
	}
	if in.MaxBatchSize != nil {
		if *in.MaxBatchSize < 1 || *in.MaxBatchSize > 1000 {
			return errValidation("maxBatchSize", "must be from 1 to 1000")
		}
		w.MaxBatchSize = int(*in.MaxBatchSize)
	}
	if in.MaxBatchTimeDelay != nil {
		d := time.Duration(*in.MaxBatchTimeDelay)
		if d < 0 || d > time.Hour {
			return errValidation("maxBatchTimeDelay", "must be from 0 to 1h (3600000 ms)")
		}
		w.MaxBatchTimeDelay = d
	}
	if in.Ordered != nil {
		w.Ordered = *in.Ordered
	}
	if in.RateLimit != nil {
		if *in.RateLimit < 0 || *in.RateLimit > 100000 {
			return errValidation("rateLimit", "must be from 0 (no limit) to 100000 requests per second")
		}
		w.RateLimit = *in.RateLimit
	}
	if in.Compression != nil {
		if *in.Compression != "none" && *in.Compression != "gzip" {
			return errValidation("compression", `must be "none" or "gzip"`)
		}
		w.Compression = *in.Compression
	}
	if in.Retry != nil {
		if n := len(in.Retry.Schedule); n < 1 || n > 50 {
			return errValidation("retry.schedule", "must hold 1 to 50 delays")
		}
		w.RetrySchedule = w.RetrySchedule[:0]
		for i, d := range in.Retry.Schedule {
			if d < 0 || time.Duration(d) > 7*24*time.Hour {
				return errValidation(fmt.Sprintf("retry.schedule[%d]", i), "must be from 0s to 168h")
			}
			w.RetrySchedule = append(w.RetrySchedule, time.Duration(d))
		}
	}
	if in.Metadata != nil {
		if len(*in.Metadata) > 50 {
			return errValidation("metadata", "at most 50 entries")
		}
		size := 0
		for k, v := range *in.Metadata {
			if len(k) == 0 || len(k) > 64 || len(v) > 1024 {
				return errValidation("metadata", "keys 1..64 bytes, values at most 1024 bytes")
			}
			size += len(k) + len(v)
		}
		if size > maxMetadataBytes {
			return errValidation("metadata", fmt.Sprintf("keys and values together at most %d bytes", maxMetadataBytes))
		}
		w.Metadata = *in.Metadata
	}
	if in.Secret != nil {
		if _, err := parseSecret(*in.Secret); err != nil {
			return errValidation("secret", err.Error())
		}
		if create {
			w.Secrets = []wal.Secret{{Value: *in.Secret}}
		} else if len(w.Secrets) == 0 || w.Secrets[0].Value != *in.Secret {
			w.Secrets = []wal.Secret{{Value: *in.Secret}} // replaced at once; use secret:rotate for a grace period
		}
	}
	return nil
}

// validURL checks a destination (API.md §3) with the same engine.Guard
// rules the dispatcher applies again at every connect, on the address the
// name resolves to then. Here literal addresses, zoned addresses, an empty
// host and localhost names are refused early.
func (s *Server) validURL(raw string) error {
	if len(raw) > 2048 {
		return fmt.Errorf("at most 2048 bytes")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil {
		return fmt.Errorf("must be an absolute http or https URL with a host and without credentials")
	}
	if u.Fragment != "" {
		return fmt.Errorf("must not have a fragment")
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	ip, literal := engine.ParseLooseIP(host)
	if literal && ip.Zone() != "" { // refused even with allow_private_destinations
		return fmt.Errorf("must not carry an IPv6 zone id")
	}
	if s.cfg.Delivery.AllowPrivateDestinations {
		return nil
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return fmt.Errorf("must not name a loopback, private or link-local address (delivery.allow_private_destinations is off)")
	}
	if literal {
		if !s.guard.Permits(ip) {
			return fmt.Errorf("must not name a loopback, private, link-local, reserved or documentation address (delivery.allow_private_destinations is off)")
		}
		return nil
	}
	// A name is resolved now too. A name that does not resolve (yet) is
	// accepted: the dispatcher checks the address again at every connect.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ips, err := s.lookup(ctx, host)
	if err != nil {
		return nil
	}
	for _, ip := range ips {
		if !s.guard.Permits(ip) {
			// The address itself is not said: a tenant would learn the
			// private addresses of the server's network, name by name.
			return fmt.Errorf("%s resolves to a loopback, private, link-local or reserved address (delivery.allow_private_destinations is off)", host)
		}
	}
	return nil
}

func validHeaders(h map[string]string) error {
	if len(h) > 20 {
		return errValidation("customHeaders", "at most 20 headers")
	}
	size := 0
	for k, v := range h {
		if !validToken(k) {
			return errValidation("customHeaders", fmt.Sprintf("%q is not a valid header name", k))
		}
		if engine.ReservedHeader(k) {
			return errValidation("customHeaders", fmt.Sprintf("%q is reserved", k))
		}
		if !validFieldValue(v) || len(v) > 4096 {
			return errValidation("customHeaders."+k, "value must be at most 4096 bytes without control characters (tab aside)")
		}
		size += len(k) + len(v)
	}
	if size > maxHeaderBytes {
		return errValidation("customHeaders", fmt.Sprintf("names and values together at most %d bytes", maxHeaderBytes))
	}
	return nil
}

// maxHeaderBytes bounds a webhook's custom headers, names and values
// together: they go with every attempt and its record, and many HTTP
// servers refuse a request whose headers pass 8 KiB. maxMetadataBytes
// bounds its metadata likewise.
const (
	maxHeaderBytes   = 8 << 10
	maxMetadataBytes = 16 << 10
)

// validFieldValue: an RFC 9110 field value, no control characters but
// horizontal tab (CR, LF and NUL included).
func validFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// validToken: an RFC 7230 token.
func validToken(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// parseSecret checks a Standard Webhooks secret: whsec_ + base64 of 24..64 bytes.
func parseSecret(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		return nil, fmt.Errorf("must start with whsec_")
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("must be whsec_ followed by standard base64")
	}
	if len(b) < 24 || len(b) > 64 {
		return nil, fmt.Errorf("must encode 24 to 64 bytes")
	}
	return b, nil
}

func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// webhookOut is the webhook object of API.md §3.
type webhookOut struct {
	ID                string            `json:"id"`
	URL               string            `json:"url"`
	Description       string            `json:"description"`
	Events            []string          `json:"events"`
	IsActive          bool              `json:"isActive"`
	CustomHeaders     map[string]string `json:"customHeaders"`
	MaxBatchSize      int               `json:"maxBatchSize"`
	MaxBatchTimeDelay int64             `json:"maxBatchTimeDelay"`
	Ordered           bool              `json:"ordered"`
	RateLimit         int               `json:"rateLimit"`
	Compression       string            `json:"compression"`
	Retry             retryOut          `json:"retry"`
	Metadata          map[string]string `json:"metadata"`
	HasSecret         bool              `json:"hasSecret"`
	Secret            string            `json:"secret,omitempty"`
	HealthStatus      string            `json:"healthStatus"`
	CreatedAt         string            `json:"createdAt"`
	UpdatedAt         string            `json:"updatedAt"`
}

type retryOut struct {
	Schedule []string `json:"schedule"`
}

func (s *Server) webhookOutAny(w *wal.Webhook) any { return s.webhookOut(w) }

func (s *Server) webhookOut(w *wal.Webhook) webhookOut {
	o := webhookOut{ID: w.ID.Text("wh_"), URL: w.URL, Description: w.Description, Events: w.Events,
		IsActive: w.IsActive, CustomHeaders: w.CustomHeaders, MaxBatchSize: w.MaxBatchSize,
		MaxBatchTimeDelay: w.MaxBatchTimeDelay.Milliseconds(), Ordered: w.Ordered, RateLimit: w.RateLimit,
		Compression: w.Compression, Metadata: w.Metadata, HasSecret: len(w.Secrets) > 0,
		HealthStatus: s.engine.Health(w.ID).Status, CreatedAt: timestamp(w.CreatedAt), UpdatedAt: timestamp(w.UpdatedAt)}
	if o.Events == nil {
		o.Events = []string{}
	}
	if o.CustomHeaders == nil {
		o.CustomHeaders = map[string]string{}
	}
	if o.Metadata == nil {
		o.Metadata = map[string]string{}
	}
	if o.Compression == "" {
		o.Compression = "none"
	}
	sched := w.RetrySchedule
	if sched == nil {
		for _, d := range s.cfg.Delivery.RetrySchedule {
			sched = append(sched, d.Duration)
		}
	}
	o.Retry.Schedule = make([]string, len(sched))
	for i, d := range sched {
		o.Retry.Schedule[i] = shortDuration(d)
	}
	if !w.IsActive {
		o.HealthStatus = "disabled"
	}
	return o
}

func (s *Server) createWebhook(ctx *fasthttp.RequestCtx, p *Principal) error {
	var in webhookIn
	if err := decodeBody(ctx, &in, false); err != nil {
		return err
	}
	w, err := s.opCreateWebhook(p, &in)
	if err != nil {
		return err
	}
	out := s.webhookOut(w)
	out.Secret = w.Secrets[0].Value // shown once, on create
	ctx.Response.Header.Set("Location", "/v1/webhooks/"+out.ID)
	return writeJSON(ctx, 201, out)
}

func (s *Server) webhookID(ctx *fasthttp.RequestCtx) (wal.ID, error) { return hookIDParam("id")(ctx) }

func (s *Server) getWebhook(ctx *fasthttp.RequestCtx, p *Principal) error {
	w, err := s.hookOf(ctx, p)
	if err != nil {
		return err
	}
	return writeJSON(ctx, 200, s.webhookOut(w))
}

func (s *Server) listWebhooks(ctx *fasthttp.RequestCtx, p *Principal) error {
	limit, err := listLimit(ctx)
	if err != nil {
		return err
	}
	var after wal.ID
	if c := ctx.QueryArgs().Peek("cursor"); len(c) > 0 {
		if after, err = wal.ParseID("wh_", string(c)); err != nil {
			return errValidation("cursor", "not a cursor this list returned")
		}
	}
	hooks, more, err := s.opListWebhooks(p, after, limit)
	if err != nil {
		return err
	}
	out := make([]webhookOut, len(hooks))
	for i, w := range hooks {
		out[i] = s.webhookOut(w)
	}
	next := ""
	if more {
		next = out[len(out)-1].ID
	}
	return writeJSON(ctx, 200, newPage(out, next))
}

// webhookAction is POST /v1/webhooks/{id}:action.
func (s *Server) webhookAction(ctx *fasthttp.RequestCtx, p *Principal) error {
	raw := pathParam(ctx, "id")
	id, action, ok := strings.Cut(raw, ":")
	if !ok {
		return &Error{Status: 405, Code: codeMethod, Detail: "POST is not allowed on a webhook; use PUT or PATCH to update"}
	}
	ctx.SetUserValue("id", id)
	switch action {
	case "ping":
		return s.ping(ctx, p)
	}
	return errNotFound("action " + action)
}

// getSecret is GET /v1/webhooks/{id}/secret (admin).
func (s *Server) getSecret(ctx *fasthttp.RequestCtx, p *Principal) error {
	w, err := s.hookOf(ctx, p)
	if err != nil {
		return err
	}
	return writeJSON(ctx, 200, map[string]string{"secret": w.Secrets[0].Value})
}

// rotateSecret is POST /v1/webhooks/{id}/secret:rotate (admin): the old
// secret keeps signing beside the new one for gracePeriod (default 24h).
func (s *Server) rotateSecret(ctx *fasthttp.RequestCtx, p *Principal) error {
	id, err := s.webhookID(ctx)
	if err != nil {
		return err
	}
	var in struct {
		Secret      *string       `json:"secret"`
		GracePeriod *flexDuration `json:"gracePeriod"`
	}
	if err := decodeBody(ctx, &in, true); err != nil {
		return err
	}
	next := newSecret()
	if in.Secret != nil {
		if _, err := parseSecret(*in.Secret); err != nil {
			return errValidation("secret", err.Error())
		}
		next = *in.Secret
	}
	grace := 24 * time.Hour
	if in.GracePeriod != nil {
		grace = time.Duration(*in.GracePeriod)
		if grace < 0 || grace > 7*24*time.Hour {
			return errValidation("gracePeriod", "must be from 0 to 168h")
		}
	}
	if err := s.opRotateSecret(p, id, next, grace); err != nil {
		return err
	}
	return writeJSON(ctx, 200, map[string]string{"secret": next})
}

// maxLiveSecrets bounds the secrets that sign at once: rotations within
// each other's grace periods keep the newest ones. Every live secret adds
// a signature to every delivery and stays in the webhook's record.
const maxLiveSecrets = 4

// opRotateSecret makes next the signing secret of webhook id; the current
// one keeps signing beside it for grace (up to maxLiveSecrets in all).
func (s *Server) opRotateSecret(p *Principal, id wal.ID, next string, grace time.Duration) error {
	now := s.now().UTC()
	w, err := s.store.UpdateWebhook(p.Tenant, id, func(w *wal.Webhook) error {
		keep := []wal.Secret{{Value: next}}
		for i, old := range w.Secrets {
			if i == 0 && grace > 0 {
				keep = append(keep, wal.Secret{Value: old.Value, ExpiresAt: now.Add(grace)})
			} else if i > 0 && old.ExpiresAt.After(now) {
				keep = append(keep, old)
			}
		}
		w.Secrets, w.UpdatedAt = keep[:min(len(keep), maxLiveSecrets)], now // newest first
		return nil
	})
	if err != nil {
		return notFoundAs(err, "webhook")
	}
	s.engine.WebhookChanged(w)
	return nil
}

// notFoundAs names the missing resource in a not-found error.
func notFoundAs(err error, what string) error {
	if toError(err).Status == 404 {
		return errNotFound(what)
	}
	return err
}

// shortDuration prints "5m" and "2h" rather than Go's "5m0s", "2h0m0s".
func shortDuration(d time.Duration) string {
	s := d.String()
	for _, suf := range []string{"m0s", "h0m"} {
		if strings.HasSuffix(s, suf) {
			s = strings.TrimSuffix(s, suf[1:])
		}
	}
	return s
}
