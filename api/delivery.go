package api

import (
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"hookd/engine"
	"hookd/wal"
)

// sendExpired is POST /v1/webhooks:sendexpired.
func (s *Server) sendExpired(ctx *fasthttp.RequestCtx, p *Principal) error {
	var in struct {
		WebhookID     string   `json:"webhookId"`
		BatchIDs      []string `json:"batchIds"`
		CreatedAfter  string   `json:"createdAfter"`
		CreatedBefore string   `json:"createdBefore"`
	}
	if err := decodeBody(ctx, &in, true); err != nil {
		return err
	}
	var f engine.ExpiredFilter
	if in.WebhookID != "" {
		id, err := wal.ParseID("wh_", in.WebhookID)
		if err != nil {
			return errNotFound("webhook")
		}
		f.Webhook = id
	}
	if len(in.BatchIDs) > 1000 {
		return errValidation("batchIds", "at most 1000 ids")
	}
	if in.BatchIDs != nil {
		f.Batches = map[wal.ID]bool{}
		for i, b := range in.BatchIDs {
			id, err := wal.ParseID("bat_", b)
			if err != nil {
				return errValidation("batchIds", "entry "+strconv.Itoa(i)+" is not a batch id")
			}
			f.Batches[id] = true
		}
	}
	var err error
	if f.CreatedAfter, err = parseTimeField("createdAfter", in.CreatedAfter); err != nil {
		return err
	}
	if f.CreatedBefore, err = parseTimeField("createdBefore", in.CreatedBefore); err != nil {
		return err
	}
	n, err := s.opSendExpired(p, f)
	if err != nil {
		return err
	}
	return writeJSON(ctx, 202, map[string]int{"scheduled": n})
}

func parseTimeField(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return t, errValidation(name, "must be an RFC 3339 timestamp")
	}
	return t, nil
}

type pingOut struct {
	Success    bool    `json:"success"`
	StatusCode int     `json:"statusCode"`
	LatencyMs  int64   `json:"latencyMs"`
	Error      *string `json:"error"`
}

func toPingOut(r engine.PingResult) pingOut {
	o := pingOut{Success: r.Success, StatusCode: r.StatusCode, LatencyMs: r.Latency.Milliseconds()}
	if r.Error != "" {
		e := r.Error
		o.Error = &e
	}
	return o
}

// ping sends a signed webhook.ping now (POST /v1/webhooks/{id}:ping).
func (s *Server) ping(ctx *fasthttp.RequestCtx, p *Principal) error {
	id, err := s.webhookID(ctx)
	if err != nil {
		return err
	}
	r, err := s.opPing(p, id)
	if err != nil {
		return err
	}
	return writeJSON(ctx, 200, toPingOut(r))
}

type heartbeatOut struct {
	WebhookID           string  `json:"webhookId"`
	HealthStatus        string  `json:"healthStatus"`
	Reachable           *bool   `json:"reachable"`
	LatencyMs           *int64  `json:"latencyMs"`
	LastSuccessAt       *string `json:"lastSuccessAt"`
	LastFailureAt       *string `json:"lastFailureAt"`
	ConsecutiveFailures int     `json:"consecutiveFailures"`
}

// heartbeat is GET /v1/webhooks/{id}/heartbeat: health from recent
// attempts plus, unless ?probe=false, a live signed ping.
func (s *Server) heartbeat(ctx *fasthttp.RequestCtx, p *Principal) error {
	id, err := s.webhookID(ctx)
	if err != nil {
		return err
	}
	hb, err := s.opHeartbeat(p, id, string(ctx.QueryArgs().Peek("probe")) != "false")
	if err != nil {
		return err
	}
	h := hb.Health
	out := heartbeatOut{WebhookID: id.Text("wh_"), HealthStatus: h.Status, ConsecutiveFailures: h.ConsecutiveFailures,
		LastSuccessAt: optTime(h.LastSuccess), LastFailureAt: optTime(h.LastFailure)}
	if r := hb.Probe; r != nil {
		ok, ms := r.Success, r.Latency.Milliseconds()
		out.Reachable, out.LatencyMs = &ok, &ms
	}
	return writeJSON(ctx, 200, out)
}
