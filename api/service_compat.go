package api

import (
	"math"

	"github.com/valyala/fasthttp"

	"hookd/wal"
)

// Operations the compat profiles need beyond service.go: whole lists where
// a seed API has no paging, and a batch's last finished attempt.

// allWebhooks is the webhooks of p's tenant in creation order for the
// seed lists that have no paging: all of them (at most
// webhooks.max_per_tenant), unless they pass maxListBytes. Then the list
// ends early and a `Link: <path?cursor=wh_…>; rel="next"` header points to
// the rest, which the same route serves from ?cursor= on (an extension:
// the seeds have no paging).
func (s *Server) allWebhooks(ctx *fasthttp.RequestCtx, p *Principal) ([]*wal.Webhook, error) {
	var after wal.ID
	if c := ctx.QueryArgs().Peek("cursor"); len(c) > 0 {
		var err error
		if after, err = wal.ParseID("wh_", string(c)); err != nil {
			return nil, errValidation("cursor", "not a cursor this list returned")
		}
	}
	hooks, more, err := s.opListWebhooks(p, after, math.MaxInt)
	if err != nil {
		return nil, err
	}
	if more && len(hooks) > 0 {
		ctx.Response.Header.Set("Link", "<"+string(ctx.Path())+"?cursor="+hooks[len(hooks)-1].ID.Text("wh_")+`>; rel="next"`)
	}
	return hooks, nil
}

// opLastAttempt returns the newest finished (not merely scheduled)
// attempt of batch b of webhook hook, or nil when none has run yet.
func (s *Server) opLastAttempt(p *Principal, hook wal.ID, b *wal.Batch) (*wal.Attempt, error) {
	if !b.LastAttemptID.IsZero() { // one read; batches stored before the field existed are listed
		a, err := s.store.GetAttempt(p.Tenant, b.ID, b.LastAttemptID)
		if err == nil && a.WebhookID == hook && a.Status != wal.AttemptScheduled {
			return a, nil
		}
	}
	var last *wal.Attempt
	var after wal.ID
	for {
		as, more, err := s.store.ListAttempts(p.Tenant, b.ID, after, 100)
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			if a.Status != wal.AttemptScheduled && a.WebhookID == hook {
				last = a
			}
		}
		if !more || len(as) == 0 {
			return last, nil
		}
		after = as[len(as)-1].ID
	}
}

// opAttemptPage is offset paging over a batch's attempts, oldest first,
// with their total (counted up to maxOffsetScan).
func (s *Server) opAttemptPage(p *Principal, hook, batch wal.ID, from, take int) (offsetPage[*wal.Attempt], error) {
	b, err := s.opGetBatch(p, hook, batch)
	if err != nil {
		return offsetPage[*wal.Attempt]{}, err
	}
	return scanOffset(from, take, func(after wal.ID) ([]*wal.Attempt, bool, error) {
		return s.store.ListAttempts(p.Tenant, b.ID, after, 1000)
	}, func(a *wal.Attempt) wal.ID { return a.ID }, nil, 0)
}
