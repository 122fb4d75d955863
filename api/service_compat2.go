package api

import "hookd/wal"

// Operations the compat profiles need beyond service.go.

// opAttemptPage is offset paging over a batch's attempts, oldest first,
// with their total (counted up to maxOffsetScan).
func (s *Server) opAttemptPage(p *Principal, hook, batch wal.ID, from, take int) (offsetPage[*wal.Attempt], error) {
	var out offsetPage[*wal.Attempt]
	b, err := s.opGetBatch(p, hook, batch)
	if err != nil {
		return out, err
	}
	var after wal.ID
	for {
		as, more, err := s.store.ListAttempts(p.Tenant, b.ID, after, 1000)
		if err != nil {
			return out, err
		}
		for _, a := range as {
			if out.total >= from && len(out.items) < take {
				out.items = append(out.items, a)
			}
			out.total++
		}
		if !more || len(as) == 0 {
			return out, nil
		}
		if out.total >= maxOffsetScan {
			out.capped = true
			return out, nil
		}
		after = as[len(as)-1].ID
	}
}
