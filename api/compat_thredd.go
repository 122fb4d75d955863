package api

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"hookd/wal"
)

// The Thredd profile (seed 003): /api/v1/Webhooks, answered in the seed's
// {"status":"success","response":...} envelope, and every error under the
// prefix, 401/403/404/405 included, in the same style (threddError).
//
//   - The program manager code is the tenant: X-PM-Code, required on the
//     list (the seed sends it there) and checked wherever it is sent, and
//     programManagerCode of a create body must both equal the token's
//     tenant (403 otherwise; "default" in auth.mode none).
//   - Event codes are integers here and event type names ("101") in the
//     native model; productId lives in the webhook's metadata.
//   - The seed spells a few things differently from example to example;
//     each answer is spelled as its example is, and input takes both.

func init() {
	register(&profile{name: "thredd", prefix: threddBase, errorBody: threddError, routes: (*Server).threddRoutes})
}

const threddBase = "/api/v1/Webhooks"

func (s *Server) threddRoutes() []route {
	return []route{
		{"POST", threddBase, RoleWrite, s.threddCreate},
		// 201, not 200: the seed says so for the list.
		{"GET", threddBase, RoleRead, s.threddList},
		{"GET", threddBase + "/{webhookId}", RoleRead, s.threddGet},
		{"GET", threddBase + "/{webhookId}/heartbeat", RoleRead, s.threddHeartbeat},
	}
}

// threddEnvelope is every answer of the profile.
type threddEnvelope struct {
	Status   string `json:"status"` // success | error
	Response any    `json:"response"`
}

type threddErr struct {
	Code          string `json:"code"` // the stable code of API.md §1
	Message       string `json:"message"`
	CorrelationID string `json:"correlationId"`
	Field         string `json:"field,omitempty"`
}

// threddError is the profile's error body.
func threddError(e *Error, cid string) []byte {
	msg := e.Detail
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	b, _ := json.Marshal(threddEnvelope{Status: "error",
		Response: threddErr{Code: e.Code, Message: msg, CorrelationID: cid, Field: e.Field}})
	return b
}

func threddOK(ctx *fasthttp.RequestCtx, status int, v any) error {
	return writeJSON(ctx, status, threddEnvelope{Status: "success", Response: v})
}

// threddPM checks the X-PM-Code header against the tenant: absent is a
// 400 when required, else fine.
func threddPM(ctx *fasthttp.RequestCtx, p *Principal, required bool) error {
	pm := ctx.Request.Header.Peek("X-PM-Code")
	switch {
	case len(pm) == 0 && required:
		return &Error{Status: 400, Code: codeValidation, Field: "X-PM-Code", Detail: "X-PM-Code: required header (the program manager code)"}
	case len(pm) > 0 && string(pm) != p.Tenant:
		return &Error{Status: 403, Code: codeForbidden, Detail: "X-PM-Code does not name the token's program manager"}
	}
	return nil
}

var digits = regexp.MustCompile(`^[0-9]{1,18}$`)

// threddNumber reads a JSON number or a string of digits (an event code,
// productId) as its decimal text, or fails naming field.
func threddNumber(raw json.RawMessage, field string) (string, error) {
	s := string(raw)
	if len(raw) > 1 && raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", errValidation(field, "must be a non-negative integer")
		}
	}
	if !digits.MatchString(s) {
		return "", errValidation(field, "must be a non-negative integer, got "+strconv.Quote(string(raw)))
	}
	if s = strings.TrimLeft(s, "0"); s == "" {
		s = "0"
	}
	return s, nil
}

// threddText is a JSON string or number, as text (programManagerCode).
type threddText string

func (t *threddText) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*t = threddText(s)
		return nil
	}
	n, err := threddNumber(b, "programManagerCode")
	if err != nil {
		return &fieldError{"programManagerCode", "must be a string"}
	}
	*t = threddText(n)
	return nil
}

type threddConfigIn struct {
	URL           *string            `json:"url"`
	CustomHeaders *map[string]string `json:"customHeaders"`
	CustomHeader  *map[string]string `json:"customHeader"` // the list example's spelling
}

type threddIn struct {
	ProgramManagerCode *threddText        `json:"programManagerCode"`
	ProductID          json.RawMessage    `json:"productId"`
	Events             *[]json.RawMessage `json:"events"`
	WebhookStatus      *string            `json:"webhookStatus"`
	Config             *threddConfigIn    `json:"config"`
}

// native validates what the native model does not know and returns the
// webhookIn for opCreateWebhook.
func (in *threddIn) native(p *Principal) (*webhookIn, error) {
	switch {
	case in.ProgramManagerCode == nil || *in.ProgramManagerCode == "":
		return nil, errValidation("programManagerCode", "required")
	case string(*in.ProgramManagerCode) != p.Tenant:
		return nil, &Error{Status: 403, Code: codeForbidden, Field: "programManagerCode", Detail: "programManagerCode does not name the token's program manager"}
	case in.Config == nil || in.Config.URL == nil:
		return nil, errValidation("config.url", "required")
	case in.Config.CustomHeaders != nil && in.Config.CustomHeader != nil:
		return nil, errValidation("config.customHeaders", "give customHeaders or customHeader, not both")
	}
	w := &webhookIn{URL: in.Config.URL, CustomHeaders: in.Config.CustomHeaders}
	if w.CustomHeaders == nil {
		w.CustomHeaders = in.Config.CustomHeader
	}
	if in.Events != nil {
		ev := make([]string, len(*in.Events))
		for i, e := range *in.Events {
			var err error
			if ev[i], err = threddNumber(e, "events["+strconv.Itoa(i)+"]"); err != nil {
				return nil, err
			}
		}
		w.Events = &ev
	}
	if in.WebhookStatus != nil {
		var active bool
		switch strings.ToLower(*in.WebhookStatus) {
		case "active":
			active = true
		case "inactive":
		default:
			return nil, errValidation("webhookStatus", `must be "active" or "inactive"`)
		}
		w.IsActive = &active
	}
	if len(in.ProductID) > 0 && string(in.ProductID) != "null" {
		id, err := threddNumber(in.ProductID, "productId")
		if err != nil {
			return nil, err
		}
		w.Metadata = &map[string]string{"productId": id}
	}
	return w, nil
}

// threddConfig is config on the way out; the list spells customHeader.
type threddConfig struct {
	URL           string            `json:"url"`
	CustomHeaders map[string]string `json:"customHeaders,omitempty"`
	CustomHeader  map[string]string `json:"customHeader,omitempty"`
}

// threddCreated is the create example's object (the id spelled webhookid).
type threddCreated struct {
	WebhookID          string       `json:"webhookid"`
	ProgramManagerCode string       `json:"programManagerCode"`
	ProductID          *int64       `json:"productId"`
	Events             []any        `json:"events"`
	WebhookStatus      string       `json:"webhookStatus"`
	Config             threddConfig `json:"config"`
	CreatedTime        string       `json:"createdTime"`
}

// threddWebhook is the get and list examples' object.
type threddWebhook struct {
	WebhookID        string       `json:"webhookId"`
	WebhookStatus    string       `json:"webhookStatus"`
	ProductID        *int64       `json:"productId"`
	Events           []any        `json:"events"`
	Config           threddConfig `json:"config"`
	CreatedTime      string       `json:"createdTime"`
	LastModifiedTime string       `json:"lastModifiedTime"`
}

// threddTime is the seed's timestamp: RFC 3339 UTC, whole seconds.
func threddTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// threddEvents are w's event types as the seed's integer codes. A type
// that is not an integer (a webhook made through another API) stays a
// string rather than being dropped; [] is every type, as natively.
func threddEvents(w *wal.Webhook) []any {
	out := make([]any, len(w.Events))
	for i, e := range w.Events {
		if digits.MatchString(e) {
			n, _ := strconv.ParseInt(e, 10, 64)
			out[i] = n
		} else {
			out[i] = e
		}
	}
	return out
}

// threddProduct is the productId in w's metadata, or nil.
func threddProduct(w *wal.Webhook) *int64 {
	n, err := strconv.ParseInt(w.Metadata["productId"], 10, 64)
	if err != nil {
		return nil
	}
	return &n
}

func threddStatus(w *wal.Webhook) string {
	if w.IsActive {
		return "active"
	}
	return "inactive"
}

func toThreddWebhook(w *wal.Webhook, listSpelling bool) threddWebhook {
	o := threddWebhook{WebhookID: w.ID.Text("wh_"), WebhookStatus: threddStatus(w), ProductID: threddProduct(w),
		Events: threddEvents(w), Config: threddConfig{URL: w.URL}, CreatedTime: threddTime(w.CreatedAt),
		LastModifiedTime: threddTime(w.UpdatedAt)}
	h := w.CustomHeaders
	if h == nil {
		h = map[string]string{}
	}
	if listSpelling {
		o.Config.CustomHeader = h
	} else {
		o.Config.CustomHeaders = h
	}
	return o
}

func (s *Server) threddCreate(ctx *fasthttp.RequestCtx, p *Principal) error {
	if err := threddPM(ctx, p, false); err != nil {
		return err
	}
	var in threddIn
	if err := decodeBody(ctx, &in, false); err != nil {
		return threddField(err)
	}
	nin, err := in.native(p)
	if err != nil {
		return err
	}
	w, err := s.opCreateWebhook(p, nin)
	if err != nil {
		return threddField(err)
	}
	g := toThreddWebhook(w, false)
	ctx.Response.Header.Set("Location", threddBase+"/"+g.WebhookID)
	return threddOK(ctx, 201, threddCreated{WebhookID: g.WebhookID, ProgramManagerCode: p.Tenant, ProductID: g.ProductID,
		Events: g.Events, WebhookStatus: g.WebhookStatus, Config: g.Config, CreatedTime: g.CreatedTime})
}

// threddField names a native field the way the Thredd body does
// (url -> config.url, customHeaders -> config.customHeaders).
func threddField(err error) error {
	e := toError(err)
	if e.Field == "url" || strings.HasPrefix(e.Field, "customHeaders") {
		c := *e
		c.Field = "config." + e.Field
		c.Detail = "config." + e.Detail
		return &c
	}
	return err
}

// threddList is GET /api/v1/Webhooks: every webhook of the program
// manager, 201 as the seed says.
func (s *Server) threddList(ctx *fasthttp.RequestCtx, p *Principal) error {
	if err := threddPM(ctx, p, true); err != nil {
		return err
	}
	hooks, err := s.allWebhooks(ctx, p)
	if err != nil {
		return err
	}
	out := make([]threddWebhook, len(hooks))
	for i, w := range hooks {
		out[i] = toThreddWebhook(w, true)
	}
	return threddOK(ctx, 201, map[string]any{"content": out})
}

// threddHookID is the {webhookId} of the path (404 when malformed).
func threddHookID(ctx *fasthttp.RequestCtx) (wal.ID, error) {
	id, err := wal.ParseID("wh_", pathParam(ctx, "webhookId"))
	if err != nil {
		return id, errNotFound("webhook")
	}
	return id, nil
}

func (s *Server) threddGet(ctx *fasthttp.RequestCtx, p *Principal) error {
	if err := threddPM(ctx, p, false); err != nil {
		return err
	}
	id, err := threddHookID(ctx)
	if err != nil {
		return err
	}
	w, err := s.opGetWebhook(p, id)
	if err != nil {
		return err
	}
	return threddOK(ctx, 200, toThreddWebhook(w, false))
}

type threddHeartbeatOut struct {
	WebhookID    string `json:"webhookId"`
	HealthStatus string `json:"healthStatus"`
	Reachable    *bool  `json:"reachable,omitempty"`
	LatencyMs    *int64 `json:"latencyMs,omitempty"`
}

// threddHeartbeat is GET .../{webhookId}/heartbeat: the native health
// from recent attempts plus, unless ?probe=false, a live signed ping; a
// failed probe makes an enabled webhook "unhealthy".
func (s *Server) threddHeartbeat(ctx *fasthttp.RequestCtx, p *Principal) error {
	if err := threddPM(ctx, p, false); err != nil {
		return err
	}
	id, err := threddHookID(ctx)
	if err != nil {
		return err
	}
	hb, err := s.opHeartbeat(p, id, string(ctx.QueryArgs().Peek("probe")) != "false")
	if err != nil {
		return err
	}
	out := threddHeartbeatOut{WebhookID: id.Text("wh_"), HealthStatus: hb.Health.Status}
	if r := hb.Probe; r != nil {
		ok, ms := r.Success, r.Latency.Milliseconds()
		out.Reachable, out.LatencyMs = &ok, &ms
		if !ok && out.HealthStatus != "disabled" {
			out.HealthStatus = "unhealthy"
		}
	}
	return threddOK(ctx, 200, out)
}
