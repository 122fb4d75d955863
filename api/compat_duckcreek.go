package api

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"hookd/wal"
)

// The Duck Creek profile (seed 002): /v1/notifications/webhooks and what
// lies below it, answered in the seed's shapes.
//
//   - x-account-id and x-tenant-id are required on every request (400
//     without); authenticate already makes them equal the token's claims
//     (403 otherwise).
//   - Lists are offset-paged with from/take and answer the seed's page
//     envelope (dcPage).
//   - Times are Unix milliseconds; a time that has not happened is null.
//   - The router cannot hold two names for one path segment, so the seed's
//     {subscriptionId} of the delivery-attempt routes is {webhookId} here:
//     it is the same id.
//
// Errors are problem+json, as on /v1: the seed documents no error body.

func init() {
	register(&profile{name: "duckcreek", routes: (*Server).duckCreekRoutes})
}

// dcBase is the root of the profile's paths.
const dcBase = "/v1/notifications/webhooks"

func (s *Server) duckCreekRoutes() []route {
	const hook, batch = dcBase + "/{webhookId}", dcBase + "/{webhookId}/batches/{batchId}"
	return []route{
		{"GET", dcBase, RoleRead, dcHeaders(s.dcListWebhooks)},
		{"POST", dcBase, RoleWrite, dcHeaders(s.dcCreateWebhook)},
		// A static segment wins over {webhookId} in fasthttp/router.
		{"GET", dcBase + "/event-types", RoleRead, dcHeaders(s.dcEventTypes)},
		{"GET", hook, RoleRead, dcHeaders(s.getHook(dcHookID, dcOut))},
		{"PUT", hook, RoleWrite, dcHeaders(updateHook(s, dcHookID, (*dcWebhookIn).native, dcOut))},
		{"DELETE", hook, RoleWrite, dcHeaders(s.deleteHook(dcHookID, nil))},
		{"GET", hook + "/batches", RoleRead, dcHeaders(s.dcListBatches)},
		{"GET", batch, RoleRead, dcHeaders(s.dcGetBatch)},
		{"GET", batch + "/delivery-attempts", RoleRead, dcHeaders(s.dcListAttempts)},
		{"POST", batch + "/delivery-attempts", RoleWrite, dcHeaders(s.dcSchedule)},
		{"GET", batch + "/delivery-attempts/{deliveryAttemptId}", RoleRead, dcHeaders(s.dcGetAttempt)},
	}
}

// dcHeaders requires the seed's x-account-id and x-tenant-id headers.
func dcHeaders(h handler) handler {
	return func(ctx *fasthttp.RequestCtx, p *Principal) error {
		for _, name := range []string{"x-account-id", "x-tenant-id"} {
			if len(ctx.Request.Header.Peek(name)) == 0 {
				return &Error{Status: 400, Code: codeValidation, Field: name,
					Detail: name + ": required header (the token's " + strings.TrimSuffix(strings.TrimPrefix(name, "x-"), "-id") + ")"}
			}
		}
		return h(ctx, p)
	}
}

// dcPage is the seed's page envelope. currentPage is the 0-based page
// from/take falls in (from / take), pageCount the pages of take rows that
// totalCount fills, pageSize the take asked for, rowCount the rows in
// results.
type dcPage[T any] struct {
	CurrentPage int `json:"currentPage"`
	PageCount   int `json:"pageCount"`
	PageSize    int `json:"pageSize"`
	RowCount    int `json:"rowCount"`
	TotalCount  int `json:"totalCount"`
	Results     []T `json:"results"`
}

func newDCPage[T any](results []T, from, take, total int) dcPage[T] {
	if results == nil {
		results = []T{}
	}
	p := dcPage[T]{PageSize: take, RowCount: len(results), TotalCount: total, Results: results}
	if take > 0 {
		p.CurrentPage = from / take
		p.PageCount = (total + take - 1) / take
	}
	return p
}

// dcMaxTake bounds take on every list of the profile.
const dcMaxTake = 1000

// dcPaging reads from/take (the seed sends them as strings; "0"/"" from
// and an absent take are the defaults; take=0 counts without rows).
func dcPaging(ctx *fasthttp.RequestCtx, defTake int) (from, take int, err error) {
	return offsetArgs(ctx, "from", "take", 0, defTake, dcMaxTake, false)
}

// dcMillis is t in Unix milliseconds, or nil when t is zero.
func dcMillis(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	ms := t.UnixMilli()
	return &ms
}

// dcWebhookIn is the seed's webhook body: maxBatchSize and
// maxBatchTimeDelay are strings in the seed and numbers here too; null is
// absent (on update: unchanged).
type dcWebhookIn struct {
	Destination       *string   `json:"destination"`
	Events            *[]string `json:"events"`
	MaxBatchSize      *dcInt    `json:"maxBatchSize"`
	MaxBatchTimeDelay *dcDelay  `json:"maxBatchTimeDelay"`
	IsActive          *bool     `json:"isActive"`
}

// dcInt is maxBatchSize: 10 or "10"; "" counts as absent.
type dcInt struct {
	set bool
	n   flexInt
}

func (d *dcInt) UnmarshalJSON(b []byte) error {
	if string(b) == `""` {
		return nil
	}
	d.set = true
	return d.n.UnmarshalJSON(b)
}

// dcDelay is maxBatchTimeDelay: milliseconds as a number or a numeric
// string, a duration such as "250ms", or a .NET TimeSpan such as
// "00:00:01.5"; "" counts as absent.
type dcDelay struct {
	set bool
	d   flexDuration
}

var timeSpan = regexp.MustCompile(`^(?:(\d{1,2})\.)?(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,7}))?$`)

func (d *dcDelay) UnmarshalJSON(b []byte) error {
	if string(b) == `""` {
		return nil
	}
	d.set = true
	if m := timeSpan.FindStringSubmatch(strings.Trim(string(b), `"`)); m != nil && b[0] == '"' {
		days, _ := strconv.Atoi(m[1])
		h, _ := strconv.Atoi(m[2])
		mi, _ := strconv.Atoi(m[3])
		sec, _ := strconv.Atoi(m[4])
		frac := time.Duration(0)
		if m[5] != "" {
			n, _ := strconv.Atoi((m[5] + "000000")[:7]) // 100 ns ticks
			frac = time.Duration(n) * 100
		}
		d.d = flexDuration(time.Duration(days)*24*time.Hour + time.Duration(h)*time.Hour +
			time.Duration(mi)*time.Minute + time.Duration(sec)*time.Second + frac)
		return nil
	}
	if err := d.d.UnmarshalJSON(b); err != nil {
		return &fieldError{"maxBatchTimeDelay", strings.TrimPrefix(err.Error(), ": ") + " or a TimeSpan such as \"00:00:01\""}
	}
	return nil
}

// native is the webhookIn the shared operations take.
func (in *dcWebhookIn) native() *webhookIn {
	w := &webhookIn{Destination: in.Destination, Events: in.Events, IsActive: in.IsActive}
	if in.MaxBatchSize != nil && in.MaxBatchSize.set {
		w.MaxBatchSize = &in.MaxBatchSize.n
	}
	if in.MaxBatchTimeDelay != nil && in.MaxBatchTimeDelay.set {
		w.MaxBatchTimeDelay = &in.MaxBatchTimeDelay.d
	}
	return w
}

// dcWebhook is the webhook object: the seed's request fields (the numbers
// as strings, as the seed types them) plus its id and times.
type dcWebhook struct {
	WebhookID             string   `json:"webhookId"`
	Destination           string   `json:"destination"`
	Events                []string `json:"events"`
	MaxBatchSize          string   `json:"maxBatchSize"`
	MaxBatchTimeDelay     string   `json:"maxBatchTimeDelay"` // milliseconds
	IsActive              bool     `json:"isActive"`
	CreationTimestamp     int64    `json:"creationTimestamp"`
	LastModifiedTimestamp int64    `json:"lastModifiedTimestamp"`
	Secret                string   `json:"secret,omitempty"` // on create only
}

func toDCWebhook(w *wal.Webhook) dcWebhook {
	o := dcWebhook{WebhookID: w.ID.Text("wh_"), Destination: w.URL, Events: w.Events,
		MaxBatchSize: strconv.Itoa(w.MaxBatchSize), MaxBatchTimeDelay: strconv.FormatInt(w.MaxBatchTimeDelay.Milliseconds(), 10),
		IsActive: w.IsActive, CreationTimestamp: w.CreatedAt.UnixMilli(), LastModifiedTimestamp: w.UpdatedAt.UnixMilli()}
	if o.Events == nil {
		o.Events = []string{}
	}
	return o
}

// dcHookID is the {webhookId} of the path (404 when malformed).
var dcHookID = hookIDParam("webhookId")

func dcOut(w *wal.Webhook) any { return toDCWebhook(w) }

// dcBatchID is the {batchId} of the path (404 when malformed).
func dcBatchID(ctx *fasthttp.RequestCtx) (wal.ID, error) {
	id, err := wal.ParseID("bat_", pathParam(ctx, "batchId"))
	if err != nil {
		return id, errNotFound("batch")
	}
	return id, nil
}

func (s *Server) dcListWebhooks(ctx *fasthttp.RequestCtx, p *Principal) error {
	from, take, err := dcPaging(ctx, 20)
	if err != nil {
		return err
	}
	hooks, total, err := s.opWebhookPage(p, from, take)
	if err != nil {
		return err
	}
	out := make([]dcWebhook, len(hooks))
	for i, w := range hooks {
		out[i] = toDCWebhook(w)
	}
	return writeJSON(ctx, 200, newDCPage(out, from, take, total))
}

func (s *Server) dcCreateWebhook(ctx *fasthttp.RequestCtx, p *Principal) error {
	var in dcWebhookIn
	if err := decodeBody(ctx, &in, false); err != nil {
		return err
	}
	if in.Destination == nil {
		return errValidation("destination", "required")
	}
	w, err := s.opCreateWebhook(p, in.native())
	if err != nil {
		return err
	}
	out := toDCWebhook(w)
	out.Secret = w.Secrets[0].Value // shown once, as on /v1
	ctx.Response.Header.Set("Location", dcBase+"/"+out.WebhookID)
	return writeJSON(ctx, 201, out)
}

// dcEventType is one entry of GET .../event-types.
type dcEventType struct {
	EventType   string `json:"eventType"`
	Description string `json:"description"`
}

// dcEventTypes is GET .../event-types: the tenant's event types, by name,
// in the profile's page envelope (from/take, default 0 and 100).
func (s *Server) dcEventTypes(ctx *fasthttp.RequestCtx, p *Principal) error {
	from, take, err := dcPaging(ctx, 100)
	if err != nil {
		return err
	}
	var out []dcEventType
	total, after := 0, ""
	for {
		types, more, err := s.opListEventTypes(p, after, 1000)
		if err != nil {
			return err
		}
		for _, t := range types {
			if total >= from && len(out) < take {
				out = append(out, dcEventType{EventType: t.Name, Description: t.Description})
			}
			total++
		}
		if !more || len(types) == 0 {
			break
		}
		after = types[len(types)-1].Name
	}
	return writeJSON(ctx, 200, newDCPage(out, from, take, total))
}

// dcBatch is the seed's batch object, exactly.
type dcBatch struct {
	BatchID                      string         `json:"batchId"`
	CreationTimestamp            int64          `json:"creationTimestamp"`
	Events                       []dcBatchEvent `json:"events"`
	EventTypes                   []string       `json:"eventTypes"`
	LastDeliveryAttemptStatus    *string        `json:"lastDeliveryAttemptStatus"`
	LastDeliveryAttemptTimestamp *int64         `json:"lastDeliveryAttemptTimestamp"`
	TotalEvents                  int            `json:"totalEvents"`
}

type dcBatchEvent struct {
	EventType string `json:"eventType"`
	MessageID string `json:"messageId"`
}

// dcStatus is an attempt status the seed's way: Scheduled, Succeeded,
// Failed.
func dcStatus(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func toDCBatch(b *wal.Batch) dcBatch {
	n := toBatchOut(b) // the native object's events and types, once
	o := dcBatch{BatchID: n.ID, CreationTimestamp: b.CreatedAt.UnixMilli(), EventTypes: n.EventTypes,
		TotalEvents: n.TotalEvents, Events: make([]dcBatchEvent, len(n.Events))}
	for i, e := range n.Events {
		o.Events[i] = dcBatchEvent{EventType: e.Type, MessageID: e.ID}
	}
	if b.LastStatus != "" { // an attempt has finished
		st := dcStatus(b.LastStatus)
		o.LastDeliveryAttemptStatus = &st
		o.LastDeliveryAttemptTimestamp = dcMillis(b.LastAttemptAt)
	}
	return o
}

// dcRefFilters are the seed's reference filters: each matches batches
// holding an event published with that ref (refs on POST /v1/events).
var dcRefFilters = []string{"orderRef", "instructionRef", "transactionId", "customerRef",
	"financialInstrumentId", "mandateRef", "chargebackId"}

// dcBatchFilter reads the seed's batch filters: the native ones it shares
// (createdBefore/After, lastDeliveredBefore/After, eventType,
// lastDeliveryAttemptStatus) plus the reference filters.
func dcBatchFilter(ctx *fasthttp.RequestCtx) (*batchFilter, error) {
	switch st := strings.ToLower(string(ctx.QueryArgs().Peek("lastDeliveryAttemptStatus"))); st {
	case "", wal.AttemptSucceeded, wal.AttemptFailed:
	default:
		return nil, errValidation("lastDeliveryAttemptStatus",
			"must be Succeeded or Failed (a batch whose first attempt has not finished has no last delivery attempt)")
	}
	f, err := parseBatchFilter(ctx)
	if err != nil {
		return nil, err
	}
	for _, name := range dcRefFilters {
		if v := ctx.QueryArgs().Peek(name); len(v) > 0 {
			f.refs = append(f.refs, wal.Ref{Name: name, Value: string(v)})
		}
	}
	return f, nil
}

func (s *Server) dcListBatches(ctx *fasthttp.RequestCtx, p *Principal) error {
	id, err := dcHookID(ctx)
	if err != nil {
		return err
	}
	f, err := dcBatchFilter(ctx)
	if err != nil {
		return err
	}
	from, take, err := dcPaging(ctx, 100)
	if err != nil {
		return err
	}
	pg, err := s.opBatchPage(p, id, f, from, take, true)
	if err != nil {
		return err
	}
	out := make([]dcBatch, len(pg.items))
	for i, b := range pg.items {
		out[i] = toDCBatch(b)
	}
	return writeJSON(ctx, 200, newDCPage(out, from, take, pg.total))
}

func (s *Server) dcGetBatch(ctx *fasthttp.RequestCtx, p *Principal) error {
	hook, batch, err := dcBatchPath(ctx)
	if err != nil {
		return err
	}
	b, err := s.opGetBatch(p, hook, batch)
	if err != nil {
		return err
	}
	return writeJSON(ctx, 200, toDCBatch(b))
}

// dcBatchPath is the {webhookId} and {batchId} of the path.
func dcBatchPath(ctx *fasthttp.RequestCtx) (hook, batch wal.ID, err error) {
	if hook, err = dcHookID(ctx); err != nil {
		return
	}
	batch, err = dcBatchID(ctx)
	return
}

// dcAttempt is the seed's delivery attempt object.
type dcAttempt struct {
	AccountID          string  `json:"accountId"`
	TenantID           string  `json:"tenantId"`
	SubscriptionID     string  `json:"subscriptionId"`
	BatchID            string  `json:"batchId"`
	DeliveryAttemptID  string  `json:"deliveryAttemptId"`
	DeliveryTimestamp  int64   `json:"deliveryTimestamp"`
	DeliveryStatus     string  `json:"deliveryStatus"`
	Error              *string `json:"error"`
	RequestHeaders     *string `json:"requestHeaders"`
	ResponseStatusCode *int    `json:"responseStatusCode"`
	Response           *string `json:"response"`
}

// toDCAttempt renders a: deliveryTimestamp is when it was sent (when it is
// due, while Scheduled); requestHeaders the JSON object of the headers
// sent (signature redacted), as a string; the response fields null until
// there is a response.
func toDCAttempt(a *wal.Attempt, account, tenant string) dcAttempt {
	n := toAttemptOut(a)
	o := dcAttempt{AccountID: account, TenantID: tenant, SubscriptionID: n.WebhookID, BatchID: n.BatchID,
		DeliveryAttemptID: n.ID, DeliveryTimestamp: a.ScheduledAt.UnixMilli(), DeliveryStatus: dcStatus(a.Status),
		Error: n.Error, ResponseStatusCode: n.ResponseStatusCode, Response: n.ResponseBody}
	if !a.StartedAt.IsZero() {
		o.DeliveryTimestamp = a.StartedAt.UnixMilli()
	}
	if a.Status != wal.AttemptScheduled {
		b, _ := json.Marshal(n.RequestHeaders)
		h := string(b)
		o.RequestHeaders = &h
	}
	return o
}

func (s *Server) dcListAttempts(ctx *fasthttp.RequestCtx, p *Principal) error {
	hook, batch, err := dcBatchPath(ctx)
	if err != nil {
		return err
	}
	from, take, err := dcPaging(ctx, 100)
	if err != nil {
		return err
	}
	pg, err := s.opAttemptPage(p, hook, batch, from, take)
	if err != nil {
		return err
	}
	account := string(ctx.Request.Header.Peek("x-account-id"))
	out := make([]dcAttempt, len(pg.items))
	for i, a := range pg.items {
		out[i] = toDCAttempt(a, account, p.Tenant)
	}
	return writeJSON(ctx, 200, newDCPage(out, from, take, pg.total))
}

func (s *Server) dcGetAttempt(ctx *fasthttp.RequestCtx, p *Principal) error {
	hook, batch, err := dcBatchPath(ctx)
	if err != nil {
		return err
	}
	id, err := wal.ParseID("att_", pathParam(ctx, "deliveryAttemptId"))
	if err != nil {
		return errNotFound("attempt")
	}
	a, err := s.opGetAttempt(p, hook, batch, id)
	if err != nil {
		return err
	}
	return writeJSON(ctx, 200, toDCAttempt(a, string(ctx.Request.Header.Peek("x-account-id")), p.Tenant))
}

// dcSchedule is POST .../delivery-attempts: deliver the batch again now
// (replay), 201 with the new attempt's id.
func (s *Server) dcSchedule(ctx *fasthttp.RequestCtx, p *Principal) error {
	hook, batch, err := dcBatchPath(ctx)
	if err != nil {
		return err
	}
	id, err := s.opReplay(p, hook, batch)
	if err != nil {
		return err
	}
	out := id.Text("att_")
	ctx.Response.Header.Set("Location", dcBase+"/"+hook.Text("wh_")+"/batches/"+batch.Text("bat_")+"/delivery-attempts/"+out)
	return writeJSON(ctx, 201, map[string]string{"deliveryAttemptId": out})
}
