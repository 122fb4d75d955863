package wal

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"
)

// tenantCache is what the committer needs per tenant without reading
// Badger: the webhooks (all, and the active ones for fan-out) and the known
// event types. Entries are immutable once published; updates replace them.
type tenantCache struct {
	all    []*Webhook // by ID
	active []*Webhook
	types  map[string]struct{}
}

func (tc *tenantCache) hasType(t string) bool { _, ok := tc.types[t]; return ok }

// typeCount is how many event types the tenant has registered (none for a
// tenant without a cache yet).
func (tc *tenantCache) typeCount() int {
	if tc == nil {
		return 0
	}
	return len(tc.types)
}

func compareID(a, b ID) int { return bytes.Compare(a[:], b[:]) }

// tenantCacheRO returns the tenant's cache for reading in the committer.
// The committer is the only writer, so what it reads cannot change under it.
func (s *Store) tenantCacheRO(tenant string) *tenantCache {
	s.cacheMu.RLock()
	defer s.cacheMu.RUnlock()
	return s.tenants[tenant]
}

func (s *Store) tenant(t string) *tenantCache {
	tc := s.tenants[t]
	if tc == nil {
		tc = &tenantCache{types: map[string]struct{}{}}
		s.tenants[t] = tc
	}
	return tc
}

func (s *Store) webhook(tenant string, id ID) (*Webhook, bool) {
	s.cacheMu.RLock()
	defer s.cacheMu.RUnlock()
	w, ok := s.hooks[id]
	if !ok || w.Tenant != tenant {
		return nil, false
	}
	return w, true
}

// putWebhook publishes w (a private copy) as the current version, then
// runs also (when set) under the same lock.
func (s *Store) putWebhook(w *Webhook, also func()) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	if also != nil {
		defer also()
	}
	s.hooks[w.ID] = w
	old := s.tenant(w.Tenant)
	tc := &tenantCache{types: old.types}
	tc.all = slices.Clone(old.all)
	i, found := slices.BinarySearchFunc(tc.all, w.ID, func(x *Webhook, id ID) int { return compareID(x.ID, id) })
	if found {
		tc.all[i] = w
	} else {
		tc.all = slices.Insert(tc.all, i, w)
	}
	tc.active = activeOf(tc.all)
	s.tenants[w.Tenant] = tc
}

func (s *Store) dropWebhook(tenant string, id ID) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	delete(s.hooks, id)
	old := s.tenant(tenant)
	tc := &tenantCache{types: old.types}
	tc.all = slices.DeleteFunc(slices.Clone(old.all), func(w *Webhook) bool { return w.ID == id })
	tc.active = activeOf(tc.all)
	s.tenants[tenant] = tc
}

func activeOf(all []*Webhook) []*Webhook {
	var out []*Webhook
	for _, w := range all {
		if w.IsActive {
			out = append(out, w)
		}
	}
	return out
}

func (s *Store) addTypes(tenant string, names []string) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	tc := s.tenant(tenant)
	for _, n := range names {
		tc.types[n] = struct{}{}
	}
}

func (s *Store) dropType(tenant, name string) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	delete(s.tenant(tenant).types, name)
}

// loadCaches reads every webhook and event type at open.
func (s *Store) loadCaches() error {
	return s.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{pfxWebhook, '/'}, PrefetchValues: true, PrefetchSize: 100})
		for it.Rewind(); it.Valid(); it.Next() {
			w, err := loadWebhook(it.Item())
			if err != nil {
				it.Close()
				return fmt.Errorf("wal: load webhook %x: %w", it.Item().Key(), err)
			}
			s.putWebhook(w, nil)
		}
		it.Close()
		cpfx := []byte{pfxCursor, '/'}
		it = txn.NewIterator(badger.IteratorOptions{Prefix: cpfx, PrefetchValues: true})
		for it.Rewind(); it.ValidForPrefix(cpfx); it.Next() {
			var wh, cur ID
			k := it.Item().Key()
			if len(k) != 2+len(wh) {
				continue
			}
			copy(wh[:], k[2:])
			if err := it.Item().Value(func(v []byte) error {
				if len(v) != len(cur) && len(v) != 2*len(cur) { // then the open floor (openfloor.go)
					return errCorrupt
				}
				copy(cur[:], v)
				return nil
			}); err != nil {
				it.Close()
				return fmt.Errorf("wal: load queue cursor %x: %w", k, err)
			}
			s.cursors[wh] = cur
		}
		it.Close()
		if err := s.loadUnindexed(txn); err != nil {
			return fmt.Errorf("wal: load open batches above their floors: %w", err)
		}
		pfx := []byte{pfxEventType, '/'}
		it = txn.NewIterator(badger.IteratorOptions{Prefix: pfx})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()[2:]
			i := bytes.IndexByte(k, '/')
			if i < 0 {
				continue
			}
			s.addTypes(string(k[:i]), []string{string(k[i+1:])})
		}
		return nil
	})
}
