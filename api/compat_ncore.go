package api

import (
	"strings"

	"github.com/valyala/fasthttp"

	"hookd/engine"
	"hookd/wal"
)

// The nCore profile (seed 000): webhooks at the root, /webhooks, with the
// fields endpoint and events, a ping action and sendexpired by
// notification_id. The seed shows no response bodies and no error shape:
// the objects are nCore-style (id, endpoint, events, isActive, createdAt,
// updatedAt) and errors are problem+json as in /v1.

func init() {
	register(&profile{name: "ncore", routes: func(s *Server) []route {
		return []route{
			{"GET", "/webhooks", RoleRead, s.ncoreList},
			{"POST", "/webhooks", RoleWrite, s.ncoreCreate},
			{"POST", "/webhooks:sendexpired", RoleWrite, s.ncoreSendExpired},
			{"GET", "/webhooks/{id}", RoleRead, s.getHook(ncoreID, ncoreOut)},
			// PUT: the fields present replace, the absent ones stay.
			{"PUT", "/webhooks/{id}", RoleWrite, updateHook(s, ncoreID, asIs, ncoreOut)},
			{"DELETE", "/webhooks/{id}", RoleWrite, s.deleteHook(ncoreID, nil)},
			// POST /webhooks/{id}:ping: the router cannot split "{id}:ping"
			// inside one segment, so ncoreAction does (as webhookAction).
			{"POST", "/webhooks/{id}", RoleWrite, s.ncoreAction},
		}
	}})
}

// ncoreWebhook is the nCore webhook object.
type ncoreWebhook struct {
	ID       string   `json:"id"`
	Endpoint string   `json:"endpoint"`
	Events   []string `json:"events"` // [] = every type
	IsActive bool     `json:"isActive"`
	// Secret is the signing secret, in the create response only.
	Secret    string `json:"secret,omitempty"`
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
}

func toNcoreWebhook(w *wal.Webhook) ncoreWebhook {
	o := ncoreWebhook{ID: w.ID.Text("wh_"), Endpoint: w.URL, Events: w.Events, IsActive: w.IsActive,
		CreatedAt: timestamp(w.CreatedAt), UpdatedAt: timestamp(w.UpdatedAt)}
	if o.Events == nil {
		o.Events = []string{}
	}
	return o
}

// ncoreID is the {id} of the path (404 when malformed).
var ncoreID = hookIDParam("id")

func ncoreOut(w *wal.Webhook) any { return toNcoreWebhook(w) }

// ncoreList is GET /webhooks: a JSON array of every webhook of the tenant,
// oldest first (the seed has no paging).
func (s *Server) ncoreList(ctx *fasthttp.RequestCtx, p *Principal) error {
	hooks, err := s.allWebhooks(ctx, p)
	if err != nil {
		return err
	}
	out := make([]ncoreWebhook, len(hooks))
	for i, w := range hooks {
		out[i] = toNcoreWebhook(w)
	}
	return writeJSON(ctx, 200, out)
}

// ncoreCreate is POST /webhooks → 201. The body is webhookIn: nCore's
// endpoint and events, url as an alias, and the native fields besides.
func (s *Server) ncoreCreate(ctx *fasthttp.RequestCtx, p *Principal) error {
	var in webhookIn
	if err := decodeBody(ctx, &in, false); err != nil {
		return err
	}
	w, err := s.opCreateWebhook(p, &in)
	if err != nil {
		return err
	}
	out := toNcoreWebhook(w)
	out.Secret = w.Secrets[0].Value // shown once, on create
	ctx.Response.Header.Set("Location", "/webhooks/"+out.ID)
	return writeJSON(ctx, 201, out)
}

// ncoreAction is POST /webhooks/{id}:action; ping is the only action.
func (s *Server) ncoreAction(ctx *fasthttp.RequestCtx, p *Principal) error {
	raw, action, ok := strings.Cut(pathParam(ctx, "id"), ":")
	if !ok {
		return &Error{Status: 405, Code: codeMethod, Detail: "POST is not allowed on a webhook; use PUT to update"}
	}
	if action != "ping" {
		return errNotFound("action " + action)
	}
	id, err := wal.ParseID("wh_", raw)
	if err != nil {
		return errNotFound("webhook")
	}
	r, err := s.opPing(p, id)
	if err != nil {
		return err
	}
	return writeJSON(ctx, 200, toPingOut(r))
}

// ncoreSendExpired is POST /webhooks:sendexpired → 202 {"scheduled": n}.
// With {"notification_id": X} (an event id evt_... or the idempotency key
// it was published with) it revives the expired batches holding that one
// event; an unknown X is a 404. With no body, {} or a null
// notification_id, every expired batch of the tenant.
func (s *Server) ncoreSendExpired(ctx *fasthttp.RequestCtx, p *Principal) error {
	var in struct {
		NotificationID *string `json:"notification_id"`
	}
	if err := decodeBody(ctx, &in, true); err != nil {
		return err
	}
	var f engine.ExpiredFilter
	if in.NotificationID != nil {
		if *in.NotificationID == "" {
			return errValidation("notification_id", "must be an event id or the idempotency key it was published with")
		}
		id, err := s.opFindEvent(p, *in.NotificationID)
		if err != nil {
			return err
		}
		f.Event = id
	}
	n, err := s.opSendExpired(p, f)
	if err != nil {
		return err
	}
	return writeJSON(ctx, 202, map[string]int{"scheduled": n})
}
