package api

import (
	"context"
	"errors"
	"time"

	"hookd/engine"
	"hookd/wal"
)

// The operations of webhook management, written once. The native /v1
// handlers and the four compatibility profiles (compat_*.go) are only
// translation around these: paths, field names, paging, envelopes and
// status codes. An operation takes the caller's Principal and typed input
// and returns typed results or an error that toError (or a profile's own
// error writer) maps; it never touches the request. Every store write that
// the engine must know of is paired with its notification here, and only
// here. A portal principal limited to some webhooks (portal.go,
// Principal.sees) is held to them here too: another webhook is a 404 like
// another tenant's, and lists show only its own.

// opCreateWebhook validates in and stores a new webhook of p's tenant.
func (s *Server) opCreateWebhook(p *Principal, in *webhookIn) (*wal.Webhook, error) {
	if p.limited() {
		return nil, errPortalCreate
	}
	now := s.now().UTC()
	w := &wal.Webhook{Tenant: p.Tenant, Account: p.Account, IsActive: true, MaxBatchSize: 1,
		Compression: "none", CreatedAt: now, UpdatedAt: now}
	if err := s.applyWebhook(in, w, true); err != nil {
		return nil, err
	}
	if len(w.Secrets) == 0 {
		w.Secrets = []wal.Secret{{Value: newSecret()}}
	}
	w.ID = s.store.NewWebhookID()
	if err := s.store.CreateWebhookUpTo(w, s.cfg.Webhooks.MaxPerTenant); err != nil {
		return nil, err
	}
	s.engine.WebhookChanged(w)
	return w, nil
}

// opUpdateWebhook applies the fields present in in to webhook id.
func (s *Server) opUpdateWebhook(p *Principal, id wal.ID, in *webhookIn) (*wal.Webhook, error) {
	if !p.sees(id) {
		return nil, errNotFound("webhook")
	}
	if in.Secret != nil && !p.may(RoleAdmin) {
		// Secrets are tenant-admin's (API.md §2): the write role sets one
		// when it creates a webhook, never on an existing one, whatever the
		// value (an answer that told "same secret" from "another" would be
		// an oracle for it).
		return nil, &Error{Status: 403, Code: codeForbidden, Field: "secret",
			Detail: "changing a webhook's secret needs the tenant-admin role (or POST /v1/webhooks/{id}/secret:rotate as tenant-admin)"}
	}
	now := s.now().UTC()
	w, err := s.store.UpdateWebhook(p.Tenant, id, func(w *wal.Webhook) error {
		if err := s.applyWebhook(in, w, false); err != nil {
			return err
		}
		w.UpdatedAt = now
		return nil
	})
	if err != nil {
		return nil, notFoundAs(err, "webhook")
	}
	s.engine.WebhookChanged(w)
	return w, nil
}

// opDeleteWebhook deletes webhook id; its pending batches are cancelled.
func (s *Server) opDeleteWebhook(p *Principal, id wal.ID) error {
	if !p.sees(id) {
		return errNotFound("webhook")
	}
	if err := s.store.DeleteWebhook(p.Tenant, id); err != nil {
		return notFoundAs(err, "webhook")
	}
	s.engine.WebhookDeleted(p.Tenant, id)
	return nil
}

// opGetWebhook returns webhook id of p's tenant (404 for another tenant's).
func (s *Server) opGetWebhook(p *Principal, id wal.ID) (*wal.Webhook, error) {
	if !p.sees(id) {
		return nil, errNotFound("webhook")
	}
	w, err := s.store.GetWebhook(p.Tenant, id)
	if err != nil {
		return nil, notFoundAs(err, "webhook")
	}
	return w, nil
}

// maxListBytes bounds the webhooks one list or page holds, by
// webhookBytes: a webhook may carry ~60 KiB of headers, metadata and
// event types, and a tenant 10,000 webhooks. Past it a list ends early,
// with a cursor (or short of an offset page's take). (A variable: tests
// lower it.)
var maxListBytes = 8 << 20

// webhookBytes is about what w takes rendered as JSON (its variable
// fields, and 256 bytes for the rest).
func webhookBytes(w *wal.Webhook) int {
	n := 256 + len(w.URL) + len(w.Description)
	for _, e := range w.Events {
		n += len(e) + 3
	}
	for k, v := range w.CustomHeaders {
		n += len(k) + len(v) + 6
	}
	for k, v := range w.Metadata {
		n += len(k) + len(v) + 6
	}
	return n
}

// opListWebhooks returns up to limit webhooks after the cursor `after`,
// fewer (at least one) once they pass maxListBytes, and whether more
// follow.
func (s *Server) opListWebhooks(p *Principal, after wal.ID, limit int) ([]*wal.Webhook, bool, error) {
	return boundedList(after, limit, maxListBytes, webhookBytes,
		func(after wal.ID, n int) ([]*wal.Webhook, bool, error) { return s.readWebhooks(p, after, n) },
		func(w *wal.Webhook) wal.ID { return w.ID })
}

// readWebhooks reads up to n webhooks p sees after `after`, unbounded.
func (s *Server) readWebhooks(p *Principal, after wal.ID, n int) ([]*wal.Webhook, bool, error) {
	if p.limited() {
		return s.opListSeen(p, after, n)
	}
	return s.store.ListWebhooks(p.Tenant, after, n)
}

// boundedList reads a cursor-paged list through read, listChunk items at a
// time, and returns up to limit items after `after`, fewer (at least one)
// once their weights pass budget, and whether more follow.
func boundedList[T any](after wal.ID, limit, budget int, weight func(T) int,
	read func(after wal.ID, n int) ([]T, bool, error), id func(T) wal.ID) ([]T, bool, error) {
	var out []T
	used := 0
	for {
		page, more, err := read(after, min(limit-len(out), listChunk))
		if err != nil {
			return nil, false, err
		}
		for _, it := range page {
			w := weight(it)
			if len(out) > 0 && used+w > budget {
				return out, true, nil // it and what follows are left
			}
			out = append(out, it)
			used += w
		}
		if !more || len(page) == 0 || len(out) == limit {
			return out, more, nil
		}
		after = id(page[len(page)-1])
	}
}

// opCountWebhooks is how many webhooks p sees.
func (s *Server) opCountWebhooks(p *Principal) (int, error) {
	if !p.limited() {
		return s.store.CountWebhooks(p.Tenant), nil
	}
	seen, _, err := s.opListSeen(p, wal.ID{}, portalMaxWebhooks)
	return len(seen), err
}

// opWebhookPage is offset paging (the profiles' from/take and page/per_page):
// webhooks [from, from+take) in creation order, fewer (at least one) once
// they pass maxListBytes, and the tenant's total. The webhooks before
// from are read listChunk at a time and dropped.
func (s *Server) opWebhookPage(p *Principal, from, take int) ([]*wal.Webhook, int, error) {
	total, err := s.opCountWebhooks(p)
	if err != nil || from >= total || take <= 0 {
		return nil, total, err
	}
	var out []*wal.Webhook
	var after wal.ID
	i, size := 0, 0
	for len(out) < take {
		page, more, err := s.readWebhooks(p, after, listChunk)
		if err != nil {
			return nil, 0, err
		}
		for _, w := range page {
			if i >= from && len(out) < take {
				b := webhookBytes(w)
				if len(out) > 0 && size+b > maxListBytes {
					return out, total, nil
				}
				out = append(out, w)
				size += b
			}
			i++
		}
		if !more || len(page) == 0 {
			break
		}
		after = page[len(page)-1].ID
	}
	return out, total, nil
}

// maxListEvents bounds the events a page of batches lists (every batch
// lists its events' ids and types): a page of 1,000 batches of 1,000
// events each was a million of them, ~175 MB of JSON. Past it the page
// ends early, with a cursor to the rest. listChunk is how many batches
// one read of the store holds. (Variables: tests lower them.)
var (
	maxListEvents = 20_000
	listChunk     = 100
)

// opListBatches returns up to limit batches of webhook hook matching f,
// after the cursor `after`, fewer when they list more than maxListEvents
// events (at least one batch).
func (s *Server) opListBatches(p *Principal, hook wal.ID, f *batchFilter, after wal.ID, limit int) ([]*wal.Batch, bool, error) {
	if _, err := s.opGetWebhook(p, hook); err != nil {
		return nil, false, err
	}
	return boundedList(after, limit, maxListEvents, func(b *wal.Batch) int { return len(b.Events) },
		func(after wal.ID, n int) ([]*wal.Batch, bool, error) {
			return s.store.ListBatches(p.Tenant, hook, after, n, f.keep)
		}, func(b *wal.Batch) wal.ID { return b.ID })
}

// maxOffsetScan bounds the batches an offset page reads to count: past
// it, the total says "at least" (offsetPage.capped).
const maxOffsetScan = 100_000

// offsetPage is one page of an offset-paged list.
type offsetPage[T any] struct {
	items  []T
	total  int  // matching items, up to maxOffsetScan
	capped bool // more than maxOffsetScan matched: total is a floor
}

// opBatchPage is offset paging over a webhook's batches matching f, oldest
// first, with their total (counted up to maxOffsetScan). With bounded set
// the page also ends, short of take, before its batches list more than
// maxListEvents events (at least one batch): Duck Creek's pages, whose
// callers go on from from+rowCount. oCore's page numbers cannot skip, so
// it pages unbounded (100 batches at most) and bounds its payloads itself.
func (s *Server) opBatchPage(p *Principal, hook wal.ID, f *batchFilter, from, take int, bounded bool) (offsetPage[*wal.Batch], error) {
	if _, err := s.opGetWebhook(p, hook); err != nil {
		return offsetPage[*wal.Batch]{}, err
	}
	var weight func(*wal.Batch) int
	if bounded {
		weight = func(b *wal.Batch) int { return len(b.Events) }
	}
	return scanOffset(from, take, func(after wal.ID) ([]*wal.Batch, bool, error) {
		return s.store.ListBatches(p.Tenant, hook, after, listChunk, f.keep)
	}, func(b *wal.Batch) wal.ID { return b.ID }, weight, maxListEvents)
}

// scanOffset reads a cursor-paged list through list to cut the page
// [from, from+take) and count the total, up to maxOffsetScan items. With
// weight set the page ends early, at least one item in, before the
// weights of its items pass budget; the total still counts every item.
func scanOffset[T any](from, take int, list func(after wal.ID) ([]T, bool, error), id func(T) wal.ID,
	weight func(T) int, budget int) (offsetPage[T], error) {
	var out offsetPage[T]
	var after wal.ID
	used, full := 0, false
	for {
		items, more, err := list(after)
		if err != nil {
			return out, err
		}
		for _, it := range items {
			if out.total >= from && len(out.items) < take && !full {
				if weight != nil {
					w := weight(it)
					if len(out.items) > 0 && used+w > budget {
						full = true // this item and what follows are left
					}
					used += w
				}
				if !full {
					out.items = append(out.items, it)
				}
			}
			out.total++
		}
		if !more || len(items) == 0 {
			return out, nil
		}
		if out.total >= maxOffsetScan {
			out.capped = true
			return out, nil
		}
		after = id(items[len(items)-1])
	}
}

// opGetBatch returns batch id of webhook hook.
func (s *Server) opGetBatch(p *Principal, hook, id wal.ID) (*wal.Batch, error) {
	if _, err := s.opGetWebhook(p, hook); err != nil {
		return nil, err
	}
	b, err := s.store.GetBatch(p.Tenant, hook, id)
	if err != nil {
		return nil, notFoundAs(err, "batch")
	}
	return b, nil
}

// opBatchEvents returns the stored events of b, in b's order; an entry is
// nil when retention removed that event.
func (s *Server) opBatchEvents(p *Principal, b *wal.Batch) []*wal.Event {
	ids := make([]wal.ID, len(b.Events))
	for i, e := range b.Events {
		ids[i] = e.ID
	}
	evs, err := s.store.GetEvents(p.Tenant, ids)
	if err != nil {
		return make([]*wal.Event, len(ids))
	}
	return evs
}

// opListAttempts returns up to limit attempts of a batch after `after`.
func (s *Server) opListAttempts(p *Principal, hook, batch, after wal.ID, limit int) ([]*wal.Attempt, bool, error) {
	b, err := s.opGetBatch(p, hook, batch)
	if err != nil {
		return nil, false, err
	}
	return s.store.ListAttempts(p.Tenant, b.ID, after, limit)
}

// opGetAttempt returns one attempt of a batch.
func (s *Server) opGetAttempt(p *Principal, hook, batch, id wal.ID) (*wal.Attempt, error) {
	b, err := s.opGetBatch(p, hook, batch)
	if err != nil {
		return nil, err
	}
	a, err := s.store.GetAttempt(p.Tenant, b.ID, id)
	if err != nil {
		return nil, notFoundAs(err, "attempt")
	}
	return a, nil
}

// opReplay schedules one more attempt of a batch now, whatever its status,
// and returns the new attempt's id.
func (s *Server) opReplay(p *Principal, hook, batch wal.ID) (wal.ID, error) {
	b, err := s.opGetBatch(p, hook, batch)
	if err != nil {
		return wal.ID{}, err
	}
	return s.engine.Replay(p.Tenant, hook, b.ID)
}

// opPing sends a signed webhook.ping to webhook hook now.
func (s *Server) opPing(p *Principal, hook wal.ID) (engine.PingResult, error) {
	w, err := s.opGetWebhook(p, hook)
	if err != nil {
		return engine.PingResult{}, err
	}
	c, cancel := context.WithTimeout(context.Background(), s.cfg.Delivery.Timeout.Duration+time.Second)
	defer cancel()
	r, err := s.engine.Ping(c, w)
	return r, probeErr(err)
}

// probeErr is the answer to a ping or probe the engine did not send.
func probeErr(err error) error {
	if errors.Is(err, engine.ErrProbeBusy) {
		return &Error{Status: 429, Code: codeRateLimited, RetryAfter: 1,
			Detail: "a ping or probe of this webhook, or too many to its destination, is in flight: try again when it ended"}
	}
	return err
}

// heartbeat is a webhook's health and, when probed, a live ping's result.
type heartbeat struct {
	Webhook *wal.Webhook
	Health  engine.Health
	Probe   *engine.PingResult // nil when not probed
}

// opHeartbeat reports webhook hook's health from recent attempts and, when
// probe is set, from a live signed ping.
func (s *Server) opHeartbeat(p *Principal, hook wal.ID, probe bool) (heartbeat, error) {
	w, err := s.opGetWebhook(p, hook)
	if err != nil {
		return heartbeat{}, err
	}
	hb := heartbeat{Webhook: w, Health: s.engine.Health(w.ID)}
	if !w.IsActive {
		hb.Health.Status = "disabled"
	}
	if probe {
		c, cancel := context.WithTimeout(context.Background(), s.cfg.Delivery.Timeout.Duration+time.Second)
		defer cancel()
		r, err := s.engine.Ping(c, w)
		if err != nil {
			return heartbeat{}, probeErr(err)
		}
		hb.Probe = &r
	}
	return hb, nil
}

// opSendExpired gives every expired batch of p's tenant matching f a fresh
// attempt budget and returns how many. A webhook named in f must be the
// tenant's.
func (s *Server) opSendExpired(p *Principal, f engine.ExpiredFilter) (int, error) {
	if p.limited() && f.Webhook.IsZero() {
		n := 0
		for _, id := range p.Webhooks {
			f.Webhook = id
			k, err := s.opSendExpired(p, f)
			if err != nil && toError(err).Status != 404 {
				return n, err
			}
			n += k
		}
		return n, nil
	}
	if !f.Webhook.IsZero() {
		if _, err := s.opGetWebhook(p, f.Webhook); err != nil {
			return 0, err
		}
	}
	return s.engine.SendExpired(p.Tenant, f)
}

// opFindEvent resolves an event reference: an event id (evt_...) or an
// idempotency key the event was published with. A portal limited to some
// webhooks finds only events that went (or are queued) to one of them:
// to it the others do not exist, so that no route of it (nCore's
// sendexpired with a notification_id) tells whether a key was published.
func (s *Server) opFindEvent(p *Principal, ref string) (wal.ID, error) {
	id, err := s.findEvent(p, ref)
	if err != nil || !p.limited() {
		return id, err
	}
	ds, err := s.store.EventDeliveries(p.Tenant, id)
	if err != nil {
		return wal.ID{}, err
	}
	for _, d := range ds {
		if p.sees(d.WebhookID) {
			return id, nil
		}
	}
	return wal.ID{}, errNotFound("event")
}

func (s *Server) findEvent(p *Principal, ref string) (wal.ID, error) {
	if id, err := wal.ParseID("evt_", ref); err == nil {
		if _, err := s.store.GetEvent(p.Tenant, id); err == nil {
			return id, nil
		}
	}
	if !validKey(ref) {
		return wal.ID{}, errNotFound("event")
	}
	id, err := s.store.EventByKey(p.Tenant, ref)
	if err != nil {
		return wal.ID{}, notFoundAs(err, "event")
	}
	return id, nil
}

// opListEventTypes returns up to limit event types after the name `after`.
func (s *Server) opListEventTypes(p *Principal, after string, limit int) ([]wal.EventType, bool, error) {
	if after != "" && !validType(after) {
		return nil, false, errValidation("cursor", "not a cursor this list returned")
	}
	return s.store.ListEventTypes(p.Tenant, after, limit)
}
