package wal

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Webhook is one subscription. wal stores it and keeps every webhook in
// memory (O(webhooks)) for fan-out; the API owns its validation.
type Webhook struct {
	ID                ID                `json:"-"`
	Tenant            string            `json:"-"`
	Account           string            `json:"account,omitempty"`
	URL               string            `json:"url"`
	Description       string            `json:"description,omitempty"`
	Events            []string          `json:"events,omitempty"`
	IsActive          bool              `json:"isActive"`
	CustomHeaders     map[string]string `json:"customHeaders,omitempty"`
	MaxBatchSize      int               `json:"maxBatchSize"`
	MaxBatchTimeDelay time.Duration     `json:"maxBatchTimeDelay"`
	Ordered           bool              `json:"ordered,omitempty"`
	RateLimit         int               `json:"rateLimit,omitempty"`
	Compression       string            `json:"compression,omitempty"`
	RetrySchedule     []time.Duration   `json:"retrySchedule,omitempty"` // nil: the global one
	Metadata          map[string]string `json:"metadata,omitempty"`
	Secrets           []Secret          `json:"secrets"` // Secrets[0] is the current one
	CreatedAt         time.Time         `json:"createdAt"`
	UpdatedAt         time.Time         `json:"updatedAt"`
}

// Secret is a signing secret; an old one stays valid until ExpiresAt.
type Secret struct {
	Value     string    `json:"value"`
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
}

// Matches reports whether an event of type typ goes to w. hookd's own
// operational events (types beginning "hookd.") go only to webhooks that
// name their type: not to a catch-all filter (none, or "*").
func (w *Webhook) Matches(typ string) bool {
	reserved := len(typ) >= 6 && strings.EqualFold(typ[:6], "hookd.")
	if len(w.Events) == 0 {
		return !reserved
	}
	for _, e := range w.Events {
		if e == typ || e == "*" && !reserved {
			return true
		}
	}
	return false
}

// Clone returns a deep copy, so callers may change it freely.
func (w *Webhook) Clone() *Webhook {
	c := *w
	c.Events = slices.Clone(w.Events)
	c.CustomHeaders = cloneMap(w.CustomHeaders)
	c.Metadata = cloneMap(w.Metadata)
	c.RetrySchedule = slices.Clone(w.RetrySchedule)
	c.Secrets = slices.Clone(w.Secrets)
	return &c
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// NewWebhookID returns a fresh webhook ID.
func (s *Store) NewWebhookID() ID { return s.ids.New(s.opts.Now()) }

// CreateWebhook stores w (w.ID and w.Tenant set by the caller; w.ID from
// NewWebhookID). Events appended after it returns fan out to it.
func (s *Store) CreateWebhook(w *Webhook) error { return s.createWebhook(w, nil) }

// createWebhook is CreateWebhook; cached, when set, runs under cacheMu in
// the same critical section that adds w to the cache.
func (s *Store) createWebhook(w *Webhook, cached func()) error {
	w = w.Clone()
	o := &op{weight: 1}
	o.apply = func(g *group) error {
		if _, ok := s.webhook(w.Tenant, w.ID); ok {
			return ErrConflict
		}
		v, err := json.Marshal(w)
		if err != nil {
			return err
		}
		g.set(webhookKey(w.Tenant, w.ID), v, 0)
		return nil
	}
	o.after = func() { s.putWebhook(w, cached) }
	return s.submit(o)
}

// ErrLimit: the tenant already has as many webhooks as it may have.
var ErrLimit = errors.New("wal: tenant webhook limit reached")

// CreateWebhookUpTo is CreateWebhook refusing with ErrLimit when the
// tenant already has max webhooks (creates in flight count too, so
// concurrent creates cannot overshoot).
func (s *Store) CreateWebhookUpTo(w *Webhook, max int) error {
	s.cacheMu.Lock()
	n := s.creating[w.Tenant]
	if tc := s.tenants[w.Tenant]; tc != nil {
		n += len(tc.all)
	}
	if n >= max {
		s.cacheMu.Unlock()
		return ErrLimit
	}
	if s.creating == nil {
		s.creating = map[string]int{}
	}
	s.creating[w.Tenant]++
	s.cacheMu.Unlock()
	done := func() { // under cacheMu: once in the cache, or on failure
		if s.creating[w.Tenant]--; s.creating[w.Tenant] == 0 {
			delete(s.creating, w.Tenant)
		}
	}
	var counted bool
	err := s.createWebhook(w, func() { done(); counted = true })
	if !counted {
		s.cacheMu.Lock()
		done()
		s.cacheMu.Unlock()
	}
	return err
}

// UpdateWebhook applies fn to a copy of the stored webhook and stores the
// result. fn's error aborts the update and is returned as is.
func (s *Store) UpdateWebhook(tenant string, id ID, fn func(*Webhook) error) (*Webhook, error) {
	var next *Webhook
	o := &op{weight: 1}
	o.apply = func(g *group) error {
		cur, ok := s.webhook(tenant, id)
		if !ok {
			return ErrNotFound
		}
		next = cur.Clone()
		if err := fn(next); err != nil {
			return err
		}
		next.ID, next.Tenant = cur.ID, cur.Tenant
		v, err := json.Marshal(next)
		if err != nil {
			return err
		}
		g.set(webhookKey(tenant, id), v, 0)
		if next.IsActive && !cur.IsActive {
			g.del(healthKey(id)) // reactivated: a fresh start
		}
		return nil
	}
	o.after = func() { s.putWebhook(next, nil) }
	if err := s.submit(o); err != nil {
		return nil, err
	}
	return next.Clone(), nil
}

// DeleteWebhook removes a webhook and its queue entries' future: events
// appended after it returns no longer fan out to it.
func (s *Store) DeleteWebhook(tenant string, id ID) error {
	o := &op{weight: 1}
	o.apply = func(g *group) error {
		if _, ok := s.webhook(tenant, id); !ok {
			return ErrNotFound
		}
		g.del(webhookKey(tenant, id))
		g.del(healthKey(id))
		return nil
	}
	o.after = func() { s.dropWebhook(tenant, id) }
	return s.submit(o)
}

// GetWebhook returns a copy of one webhook of tenant.
func (s *Store) GetWebhook(tenant string, id ID) (*Webhook, error) {
	if err := s.readable(); err != nil {
		return nil, err
	}
	w, ok := s.webhook(tenant, id)
	if !ok {
		return nil, ErrNotFound
	}
	return w.Clone(), nil
}

// ListWebhooks returns up to limit webhooks of tenant with IDs after
// `after` (zero: from the start), oldest first, and whether more follow.
func (s *Store) ListWebhooks(tenant string, after ID, limit int) ([]*Webhook, bool, error) {
	if err := s.readable(); err != nil {
		return nil, false, err
	}
	s.cacheMu.RLock()
	defer s.cacheMu.RUnlock()
	tc := s.tenants[tenant]
	if tc == nil {
		return nil, false, nil
	}
	i, _ := slices.BinarySearchFunc(tc.all, after, func(w *Webhook, id ID) int { return compareID(w.ID, id) })
	if i < len(tc.all) && tc.all[i].ID == after {
		i++
	}
	var out []*Webhook
	for ; i < len(tc.all) && len(out) < limit; i++ {
		out = append(out, tc.all[i].Clone())
	}
	return out, i < len(tc.all), nil
}

// Webhooks returns a copy of every webhook of every tenant (for the engine
// at start).
func (s *Store) Webhooks() []*Webhook {
	s.cacheMu.RLock()
	defer s.cacheMu.RUnlock()
	out := make([]*Webhook, 0, len(s.hooks))
	for _, w := range s.hooks {
		out = append(out, w.Clone())
	}
	slices.SortFunc(out, func(a, b *Webhook) int { return compareID(a.ID, b.ID) })
	return out
}

func loadWebhook(item *badger.Item) (*Webhook, error) {
	k := item.Key()
	// w/<tenant>/<id16>
	if len(k) < 2+1+1+16 {
		return nil, errCorrupt
	}
	w := &Webhook{}
	if err := item.Value(func(v []byte) error { return json.Unmarshal(v, w) }); err != nil {
		return nil, err
	}
	copy(w.ID[:], k[len(k)-16:])
	w.Tenant = string(k[2 : len(k)-17])
	return w, nil
}

// CountWebhooks returns how many webhooks tenant has.
func (s *Store) CountWebhooks(tenant string) int {
	s.cacheMu.RLock()
	defer s.cacheMu.RUnlock()
	if tc := s.tenants[tenant]; tc != nil {
		return len(tc.all)
	}
	return 0
}
