package wal

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// EventType is a registered event type of a tenant.
type EventType struct {
	Name        string    `json:"-"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
}

func encodeEventType(t EventType) []byte {
	v, _ := json.Marshal(t) // cannot fail: strings and a time
	return v
}

// maxEventTypes bounds the event types of one tenant, registered by hand
// or by publishing: the store keeps every tenant's type names in memory,
// and a publisher could otherwise grow them without end, 1,000 new types
// a request. Events of a type past the bound are stored and delivered as
// any other; their type is not registered. (A variable: tests lower it.)
var maxEventTypes = 10_000

// MaxEventTypes is the bound on one tenant's registered event types.
func MaxEventTypes() int { return maxEventTypes }

// ErrTypeLimit: the tenant has as many event types as it may have.
var ErrTypeLimit = errors.New("wal: tenant event type limit reached")

// HasEventType reports whether tenant has registered typ.
func (s *Store) HasEventType(tenant, typ string) bool {
	s.cacheMu.RLock()
	defer s.cacheMu.RUnlock()
	tc := s.tenants[tenant]
	return tc != nil && tc.hasType(typ)
}

// CreateEventType registers a type; ErrConflict when it exists.
func (s *Store) CreateEventType(tenant string, t EventType) (EventType, error) {
	o := &op{weight: 1}
	o.apply = func(g *group) error {
		if s.HasEventType(tenant, t.Name) || !g.noteType(tenant, t.Name) {
			return ErrConflict
		}
		if s.tenantCacheRO(tenant).typeCount() >= maxEventTypes {
			return ErrTypeLimit
		}
		t.CreatedAt = g.now
		g.set(eventTypeKey(tenant, t.Name), encodeEventType(t), 0)
		return nil
	}
	o.after = func() { s.addTypes(tenant, []string{t.Name}) }
	return t, s.submit(o)
}

// DeleteEventType removes a registered type; ErrNotFound when unknown.
func (s *Store) DeleteEventType(tenant, name string) error {
	o := &op{weight: 1}
	o.apply = func(g *group) error {
		if !s.HasEventType(tenant, name) {
			return ErrNotFound
		}
		g.del(eventTypeKey(tenant, name))
		return nil
	}
	o.after = func() { s.dropType(tenant, name) }
	return s.submit(o)
}

// ListEventTypes returns up to limit types of tenant with names after
// `after`, in name order, and whether more follow.
func (s *Store) ListEventTypes(tenant, after string, limit int) ([]EventType, bool, error) {
	if err := s.readable(); err != nil {
		return nil, false, err
	}
	pfx := tenantKey(pfxEventType, tenant, 0)
	var out []EventType
	more := false
	err := s.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: pfx, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		start := pfx
		if after != "" {
			start = append(eventTypeKey(tenant, after), 0)
		}
		for it.Seek(start); it.ValidForPrefix(pfx); it.Next() {
			if len(out) == limit {
				more = true
				return nil
			}
			item := it.Item()
			t := EventType{Name: string(item.Key()[len(pfx):])}
			if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &t) }); err != nil {
				return err
			}
			out = append(out, t)
		}
		return nil
	})
	return out, more, translate(err)
}
