package api

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"hookd/wal"
)

type batchEventOut struct {
	ID   string          `json:"id"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data,omitempty"`
}

type batchOut struct {
	ID                string          `json:"id"`
	WebhookID         string          `json:"webhookId"`
	Status            string          `json:"status"`
	Events            []batchEventOut `json:"events"`
	EventTypes        []string        `json:"eventTypes"`
	TotalEvents       int             `json:"totalEvents"`
	Attempts          int             `json:"attempts"`
	MaxAttempts       int             `json:"maxAttempts"`
	CreatedAt         string          `json:"createdAt"`
	NextAttemptAt     *string         `json:"nextAttemptAt"`
	LastAttemptAt     *string         `json:"lastAttemptAt"`
	LastAttemptStatus *string         `json:"lastAttemptStatus"`
	LastStatusCode    *int            `json:"lastStatusCode"`
	DeliveredAt       *string         `json:"deliveredAt"`
}

func toBatchOut(b *wal.Batch) batchOut {
	o := batchOut{ID: b.ID.Text("bat_"), WebhookID: b.WebhookID.Text("wh_"), Status: b.Status,
		TotalEvents: len(b.Events), Attempts: b.Attempts, MaxAttempts: b.MaxAttempts,
		CreatedAt: timestamp(b.CreatedAt), LastAttemptAt: optTime(b.LastAttemptAt), DeliveredAt: optTime(b.DeliveredAt)}
	if b.Open() {
		o.NextAttemptAt = optTime(b.NextAttemptAt)
	}
	if b.LastStatus != "" {
		s := b.LastStatus
		o.LastAttemptStatus = &s
	}
	if b.LastCode != 0 {
		c := b.LastCode
		o.LastStatusCode = &c
	}
	o.Events = make([]batchEventOut, len(b.Events))
	seen := map[string]bool{}
	o.EventTypes = []string{}
	for i, e := range b.Events {
		o.Events[i] = batchEventOut{ID: e.ID.Text("evt_"), Type: e.Type}
		if !seen[e.Type] {
			seen[e.Type] = true
			o.EventTypes = append(o.EventTypes, e.Type)
		}
	}
	return o
}

type attemptOut struct {
	ID                 string            `json:"id"`
	BatchID            string            `json:"batchId"`
	WebhookID          string            `json:"webhookId"`
	Status             string            `json:"status"`
	Trigger            string            `json:"trigger"`
	ScheduledAt        string            `json:"scheduledAt"`
	StartedAt          *string           `json:"startedAt"`
	DurationMs         int64             `json:"durationMs"`
	RequestHeaders     map[string]string `json:"requestHeaders"`
	ResponseStatusCode *int              `json:"responseStatusCode"`
	ResponseBody       *string           `json:"responseBody"`
	Error              *string           `json:"error"`
}

func toAttemptOut(a *wal.Attempt) attemptOut {
	o := attemptOut{ID: a.ID.Text("att_"), BatchID: a.BatchID.Text("bat_"), WebhookID: a.WebhookID.Text("wh_"),
		Status: a.Status, Trigger: a.Trigger, ScheduledAt: timestamp(a.ScheduledAt), StartedAt: optTime(a.StartedAt),
		DurationMs: a.Duration.Milliseconds(), RequestHeaders: a.RequestHeaders}
	if o.RequestHeaders == nil {
		o.RequestHeaders = map[string]string{}
	}
	if a.Status != wal.AttemptScheduled {
		code, body := a.ResponseCode, a.ResponseBody
		if code != 0 {
			o.ResponseStatusCode = &code
		}
		o.ResponseBody = &body
	}
	if a.Error != "" {
		e := a.Error
		o.Error = &e
	}
	return o
}

// batchFilter is the query of GET .../batches (API.md §6).
type batchFilter struct {
	status, eventType, lastStatus   string
	createdAfter, createdBefore     time.Time
	deliveredAfter, deliveredBefore time.Time
	refs                            []wal.Ref
}

func parseBatchFilter(ctx *fasthttp.RequestCtx) (*batchFilter, error) {
	f := &batchFilter{}
	var err error
	q := ctx.QueryArgs()
	f.status = string(q.Peek("status"))
	switch f.status {
	case "", wal.BatchPending, wal.BatchRetrying, wal.BatchDelivered, wal.BatchExpired, wal.BatchCancelled:
	default:
		return nil, errValidation("status", "must be pending, retrying, delivered, expired or cancelled")
	}
	f.eventType = string(q.Peek("eventType"))
	f.lastStatus = string(q.Peek("lastAttemptStatus"))
	if f.lastStatus == "" {
		f.lastStatus = string(q.Peek("lastDeliveryAttemptStatus"))
	}
	f.lastStatus = strings.ToLower(f.lastStatus)
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"createdAfter", &f.createdAfter}, {"createdBefore", &f.createdBefore},
		{"lastDeliveredAfter", &f.deliveredAfter}, {"lastDeliveredBefore", &f.deliveredBefore}} {
		if *t.dst, err = queryTime(ctx, t.name); err != nil {
			return nil, err
		}
	}
	q.VisitAll(func(k, v []byte) {
		if name, ok := strings.CutPrefix(string(k), "ref."); ok {
			f.refs = append(f.refs, wal.Ref{Name: name, Value: string(v)})
		}
	})
	return f, nil
}

// queryTime reads an RFC 3339 or Unix-milliseconds query argument.
func queryTime(ctx *fasthttp.RequestCtx, name string) (time.Time, error) {
	v := string(ctx.QueryArgs().Peek(name))
	if v == "" {
		return time.Time{}, nil
	}
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms >= 0 && ms < 1<<50 {
		return time.UnixMilli(ms), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, errValidation(name, "must be RFC 3339 or Unix milliseconds")
	}
	return t, nil
}

func (f *batchFilter) keep(b *wal.Batch) bool {
	if f.status != "" && b.Status != f.status {
		return false
	}
	if f.lastStatus != "" && b.LastStatus != f.lastStatus {
		return false
	}
	if f.eventType != "" {
		found := false
		for _, e := range b.Events {
			if e.Type == f.eventType {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if !f.createdAfter.IsZero() && !b.CreatedAt.After(f.createdAfter) ||
		!f.createdBefore.IsZero() && !b.CreatedAt.Before(f.createdBefore) ||
		!f.deliveredAfter.IsZero() && !b.LastAttemptAt.After(f.deliveredAfter) ||
		!f.deliveredBefore.IsZero() && (b.LastAttemptAt.IsZero() || !b.LastAttemptAt.Before(f.deliveredBefore)) {
		return false
	}
	for _, want := range f.refs {
		found := false
		for _, r := range b.Refs {
			if r == want {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// hookOf resolves the {id} of a webhook route to a webhook of the caller's
// tenant (404 otherwise).
func (s *Server) hookOf(ctx *fasthttp.RequestCtx, p *Principal) (*wal.Webhook, error) {
	id, err := s.webhookID(ctx)
	if err != nil {
		return nil, err
	}
	return s.opGetWebhook(p, id)
}

func (s *Server) batchOf(ctx *fasthttp.RequestCtx, p *Principal) (*wal.Webhook, *wal.Batch, error) {
	w, err := s.hookOf(ctx, p)
	if err != nil {
		return nil, nil, err
	}
	bid, err := wal.ParseID("bat_", pathParam(ctx, "batchId"))
	if err != nil {
		return nil, nil, errNotFound("batch")
	}
	b, err := s.opGetBatch(p, w.ID, bid)
	if err != nil {
		return nil, nil, err
	}
	return w, b, nil
}

func (s *Server) listBatches(ctx *fasthttp.RequestCtx, p *Principal) error {
	w, err := s.hookOf(ctx, p)
	if err != nil {
		return err
	}
	limit, err := listLimit(ctx)
	if err != nil {
		return err
	}
	f, err := parseBatchFilter(ctx)
	if err != nil {
		return err
	}
	var after wal.ID
	if c := ctx.QueryArgs().Peek("cursor"); len(c) > 0 {
		if after, err = wal.ParseID("bat_", string(c)); err != nil {
			return errValidation("cursor", "not a cursor this list returned")
		}
	}
	bs, more, err := s.opListBatches(p, w.ID, f, after, limit)
	if err != nil {
		return err
	}
	out := make([]batchOut, len(bs))
	for i, b := range bs {
		out[i] = toBatchOut(b)
	}
	next := ""
	if more && len(out) > 0 {
		next = out[len(out)-1].ID
	}
	return writeJSON(ctx, 200, newPage(out, next))
}

func (s *Server) getBatch(ctx *fasthttp.RequestCtx, p *Principal) error {
	_, b, err := s.batchOf(ctx, p)
	if err != nil {
		return err
	}
	out := toBatchOut(b)
	for i, e := range s.opBatchEvents(p, b) {
		if e != nil { // nil: retention removed it
			out.Events[i].Data = e.Data
		}
	}
	return writeJSON(ctx, 200, out)
}

func (s *Server) listAttempts(ctx *fasthttp.RequestCtx, p *Principal) error {
	w, b, err := s.batchOf(ctx, p)
	if err != nil {
		return err
	}
	limit, err := listLimit(ctx)
	if err != nil {
		return err
	}
	var after wal.ID
	if c := ctx.QueryArgs().Peek("cursor"); len(c) > 0 {
		if after, err = wal.ParseID("att_", string(c)); err != nil {
			return errValidation("cursor", "not a cursor this list returned")
		}
	}
	as, more, err := s.opListAttempts(p, w.ID, b.ID, after, limit)
	if err != nil {
		return err
	}
	out := make([]attemptOut, len(as))
	for i, a := range as {
		out[i] = toAttemptOut(a)
	}
	next := ""
	if more && len(out) > 0 {
		next = out[len(out)-1].ID
	}
	return writeJSON(ctx, 200, newPage(out, next))
}

func (s *Server) getAttempt(ctx *fasthttp.RequestCtx, p *Principal) error {
	w, b, err := s.batchOf(ctx, p)
	if err != nil {
		return err
	}
	aid, err := wal.ParseID("att_", pathParam(ctx, "attemptId"))
	if err != nil {
		return errNotFound("attempt")
	}
	a, err := s.opGetAttempt(p, w.ID, b.ID, aid)
	if err != nil {
		return err
	}
	return writeJSON(ctx, 200, toAttemptOut(a))
}

// replayBatch is POST .../batches/{batchId}/attempts: deliver again now.
func (s *Server) replayBatch(ctx *fasthttp.RequestCtx, p *Principal) error {
	w, b, err := s.batchOf(ctx, p)
	if err != nil {
		return err
	}
	id, err := s.opReplay(p, w.ID, b.ID)
	if err != nil {
		return err
	}
	return writeJSON(ctx, 201, map[string]string{"id": id.Text("att_"), "status": wal.AttemptScheduled})
}
