package api

import (
	"hookd/wal"
)

// Operations the compat profiles need beyond service.go: whole lists where
// a seed API has no paging, and a batch's last finished attempt.

// opAllWebhooks returns every webhook of p's tenant in creation order
// (at most webhooks.max_per_tenant of them), for the seed lists that
// have no paging.
func (s *Server) opAllWebhooks(p *Principal) ([]*wal.Webhook, error) {
	var out []*wal.Webhook
	var after wal.ID
	for {
		hooks, more, err := s.opListWebhooks(p, after, 1000)
		if err != nil {
			return nil, err
		}
		out = append(out, hooks...)
		if !more || len(hooks) == 0 {
			return out, nil
		}
		after = hooks[len(hooks)-1].ID
	}
}

// opLastAttempt returns the newest finished (not merely scheduled)
// attempt of batch b of webhook hook, or nil when none has run yet.
func (s *Server) opLastAttempt(p *Principal, hook wal.ID, b *wal.Batch) (*wal.Attempt, error) {
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
