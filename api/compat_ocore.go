package api

import (
	"encoding/json"

	"github.com/valyala/fasthttp"

	"hookd/wal"
)

// The oCore profile (seed 001), under /api: webhook endpoints (a webhook
// with active, description, events, secret and url; secret shows as a
// boolean), their delivery log paged by page/per_page, and replay by a
// delivery id alone. A delivery is a batch. Errors are problem+json as in
// /v1 (the seed shows no error shape).

func init() {
	register(&profile{name: "ocore", routes: func(s *Server) []route {
		return []route{
			{"GET", "/api/webhook-endpoints", RoleRead, s.ocoreList},
			{"POST", "/api/webhook-endpoints", RoleWrite, s.ocoreCreate},
			{"GET", "/api/webhook-endpoints/{id}", RoleRead, s.getHook(s.webhookID, ocoreOut)},
			{"PUT", "/api/webhook-endpoints/{id}", RoleWrite, updateHook(s, s.webhookID, (*ocoreEndpointIn).native, ocoreOut)},
			// DELETE answers 200 {"message"}, as the seed shows.
			{"DELETE", "/api/webhook-endpoints/{id}", RoleWrite, s.deleteHook(s.webhookID, ocoreDeleted)},
			{"GET", "/api/webhook-endpoints/{id}/deliveries", RoleRead, s.ocoreDeliveries},
			{"POST", "/api/webhook-deliveries/{deliveryId}/replay", RoleWrite, s.ocoreReplay},
		}
	}})
}

// ocoreEndpointIn is the seed's request body; absent fields stay on update.
type ocoreEndpointIn struct {
	Active      *bool     `json:"active"`
	Description *string   `json:"description"`
	Events      *[]string `json:"events"`
	Secret      *string   `json:"secret"`
	URL         *string   `json:"url"`
}

func (in *ocoreEndpointIn) native() *webhookIn {
	return &webhookIn{URL: in.URL, Description: in.Description, Events: in.Events, IsActive: in.Active, Secret: in.Secret}
}

// ocoreEndpoint is the seed's endpoint object.
type ocoreEndpoint struct {
	Active      bool     `json:"active"`
	CreatedAt   string   `json:"createdAt"`
	Description string   `json:"description"`
	Events      []string `json:"events"`
	ID          string   `json:"id"`
	Secret      bool     `json:"secret"` // whether one is set; the value is never shown
	UpdatedAt   string   `json:"updatedAt"`
	URL         string   `json:"url"`
}

func toOcoreEndpoint(w *wal.Webhook) ocoreEndpoint {
	o := ocoreEndpoint{Active: w.IsActive, CreatedAt: timestamp(w.CreatedAt), Description: w.Description,
		Events: w.Events, ID: w.ID.Text("wh_"), Secret: len(w.Secrets) > 0, UpdatedAt: timestamp(w.UpdatedAt), URL: w.URL}
	if o.Events == nil {
		o.Events = []string{}
	}
	return o
}

type ocoreMessage struct {
	Message string `json:"message"`
}

func (s *Server) ocoreList(ctx *fasthttp.RequestCtx, p *Principal) error {
	hooks, err := s.allWebhooks(ctx, p)
	if err != nil {
		return err
	}
	total, err := s.opCountWebhooks(p) // all of them, when a Link header says there are more
	if err != nil {
		return err
	}
	out := struct {
		Endpoints []ocoreEndpoint `json:"endpoints"`
		Total     int             `json:"total"`
	}{Endpoints: make([]ocoreEndpoint, len(hooks)), Total: total}
	for i, w := range hooks {
		out.Endpoints[i] = toOcoreEndpoint(w)
	}
	return writeJSON(ctx, 200, out)
}

func (s *Server) ocoreCreate(ctx *fasthttp.RequestCtx, p *Principal) error {
	var in ocoreEndpointIn
	if err := decodeBody(ctx, &in, false); err != nil {
		return err
	}
	w, err := s.opCreateWebhook(p, in.native())
	if err != nil {
		return err
	}
	out := toOcoreEndpoint(w)
	ctx.Response.Header.Set("Location", "/api/webhook-endpoints/"+out.ID)
	return writeJSON(ctx, 201, out)
}

func ocoreOut(w *wal.Webhook) any { return toOcoreEndpoint(w) }

func ocoreDeleted(ctx *fasthttp.RequestCtx, id wal.ID) error {
	return writeJSON(ctx, 200, ocoreMessage{"webhook endpoint " + id.Text("wh_") + " deleted"})
}

// ocoreDelivery is the seed's delivery object: one batch.
type ocoreDelivery struct {
	Attempt      int             `json:"attempt"` // attempts made
	CreatedAt    string          `json:"createdAt"`
	DeliveredAt  *string         `json:"deliveredAt"`
	EndpointID   string          `json:"endpointId"`
	EventType    string          `json:"eventType"`  // the first event's
	HTTPStatus   int             `json:"httpStatus"` // the last attempt's; 0: no response yet
	ID           string          `json:"id"`
	MaxAttempts  int             `json:"maxAttempts"`
	NextRetryAt  *string         `json:"nextRetryAt"`
	Payload      json.RawMessage `json:"payload"`
	ResponseBody string          `json:"responseBody"` // the last attempt's (a prefix)
	Status       string          `json:"status"`
}

// The oCore delivery id carries both halves of a batch's key, so replay
// finds it from the id alone with one read: "dlv_" + the webhook's 26
// ULID characters + the batch's 26.
const ocoreDeliveryPrefix = "dlv_"

func ocoreDeliveryID(hook, batch wal.ID) string {
	return ocoreDeliveryPrefix + hook.Text("") + batch.Text("")
}

func parseOcoreDeliveryID(s string) (hook, batch wal.ID, err error) {
	if len(s) != len(ocoreDeliveryPrefix)+52 || s[:len(ocoreDeliveryPrefix)] != ocoreDeliveryPrefix {
		return hook, batch, errNotFound("delivery")
	}
	s = s[len(ocoreDeliveryPrefix):]
	if hook, err = wal.ParseID("", s[:26]); err != nil {
		return hook, batch, errNotFound("delivery")
	}
	if batch, err = wal.ParseID("", s[26:]); err != nil {
		return hook, batch, errNotFound("delivery")
	}
	return hook, batch, nil
}

// ocoreDeliveries is GET /api/webhook-endpoints/{id}/deliveries: the
// webhook's batches newest first, page from 1 (0 or absent: 1), per_page
// 1..100 (0 or absent: 20).
func (s *Server) ocoreDeliveries(ctx *fasthttp.RequestCtx, p *Principal) error {
	w, err := s.hookOf(ctx, p)
	if err != nil {
		return err
	}
	page, perPage, err := offsetArgs(ctx, "page", "per_page", 1, 20, 100, true)
	if err != nil {
		return err
	}
	pg, err := s.opBatchPage(p, w.ID, &batchFilter{}, (page-1)*perPage, perPage, false)
	if err != nil {
		return err
	}
	out := struct {
		Deliveries []ocoreDelivery `json:"deliveries"`
		Page       int             `json:"page"`
		PerPage    int             `json:"perPage"`
		Total      int             `json:"total"`
	}{Deliveries: make([]ocoreDelivery, 0, len(pg.items)), Page: page, PerPage: perPage, Total: pg.total}
	shown := 0 // payload bytes on the page so far
	for _, b := range pg.items {
		d, err := s.toOcoreDelivery(p, w, b, len(out.Deliveries) == 0 || shown < ocorePagePayloadBytes)
		if err != nil {
			return err
		}
		if len(out.Deliveries) > 0 && shown+len(d.Payload) > ocorePagePayloadBytes {
			d.Payload = json.RawMessage("null") // the page is full; per_page=1 always carries it
		}
		shown += len(d.Payload)
		out.Deliveries = append(out.Deliveries, d)
	}
	return writeJSON(ctx, 200, out)
}

// ocorePagePayloadBytes bounds the payloads one page of deliveries carries
// (100 batches of up to engine.MaxBatchBytes each were 400 MiB): past it
// the rest of the page shows payload null. The first delivery of a page
// always carries its own. (A variable: tests lower it.)
var ocorePagePayloadBytes = 8 << 20

// toOcoreDelivery is batch b as an oCore delivery; its payload is read
// from the store only when withPayload (else null).
func (s *Server) toOcoreDelivery(p *Principal, w *wal.Webhook, b *wal.Batch, withPayload bool) (ocoreDelivery, error) {
	d := ocoreDelivery{Attempt: b.Attempts, CreatedAt: timestamp(b.CreatedAt), DeliveredAt: optTime(b.DeliveredAt),
		EndpointID: w.ID.Text("wh_"), HTTPStatus: b.LastCode, ID: ocoreDeliveryID(w.ID, b.ID),
		MaxAttempts: b.MaxAttempts, Status: b.Status}
	if len(b.Events) > 0 {
		d.EventType = b.Events[0].Type
	}
	if b.Open() {
		d.NextRetryAt = optTime(b.NextAttemptAt)
	}
	a, err := s.opLastAttempt(p, w.ID, b)
	if err != nil {
		return d, err
	}
	if a != nil {
		d.ResponseBody = a.ResponseBody
	}
	d.Payload = json.RawMessage("null")
	if withPayload {
		d.Payload = ocorePayload(w, b, s.opBatchEvents(p, b))
	}
	return d, nil
}

// ocorePayload is what the subscriber got: the event's data when the
// batch is one event of a webhook with maxBatchSize 1, else the batch
// envelope {"batchId","events":[{"id","type","timestamp","data"}]}. Null
// when retention removed the event(s) (and, in ocoreDeliveries, past the
// page's payload bound).
func ocorePayload(w *wal.Webhook, b *wal.Batch, evs []*wal.Event) json.RawMessage {
	if w.MaxBatchSize <= 1 && len(evs) == 1 {
		if evs[0] == nil {
			return json.RawMessage("null")
		}
		return evs[0].Data
	}
	type event struct {
		ID        string          `json:"id"`
		Type      string          `json:"type"`
		Timestamp string          `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}
	env := struct {
		BatchID string  `json:"batchId"`
		Events  []event `json:"events"`
	}{BatchID: b.ID.Text("bat_"), Events: make([]event, 0, len(evs))}
	for _, e := range evs {
		if e == nil {
			return json.RawMessage("null")
		}
		env.Events = append(env.Events, event{e.ID.Text("evt_"), e.Type, timestamp(e.CreatedAt), e.Data})
	}
	out, _ := json.Marshal(env)
	return out
}

// ocoreReplay is POST /api/webhook-deliveries/{deliveryId}/replay → 200:
// one more attempt of the delivery now, whatever its status. The id is
// one the deliveries list returned; anything else (a native bat_ id,
// which cannot be found without the webhook, included) is a 404.
func (s *Server) ocoreReplay(ctx *fasthttp.RequestCtx, p *Principal) error {
	hook, batch, err := parseOcoreDeliveryID(pathParam(ctx, "deliveryId"))
	if err != nil {
		return err
	}
	if _, err := s.opReplay(p, hook, batch); err != nil {
		return notFoundAs(err, "delivery")
	}
	return writeJSON(ctx, 200, ocoreMessage{"delivery " + ocoreDeliveryID(hook, batch) + " scheduled for another attempt"})
}
