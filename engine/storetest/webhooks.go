package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"hookd/wal"
)

// Webhook CRUD: copies both ways, conflicts, limits, paging, tenants.
func testWebhooks(t *testing.T, su *suite) {
	s, _ := su.open(t, "")
	w := hook(t, s, acme, true, "a", "b")
	want := w.Clone()
	// The caller may change what it gave...
	w.URL, w.Events[0], w.CustomHeaders["X-A"] = "http://changed", "changed", "changed"
	got, err := s.GetWebhook(acme, want.ID)
	if err != nil || !sameHook(got, want) {
		t.Fatalf("GetWebhook after the caller changed its argument = %+v, %v; want %+v", got, err, want)
	}
	// ...and what it got.
	got.URL, got.Events[0], got.Secrets[0].Value = "http://changed", "changed", "changed"
	if again, _ := s.GetWebhook(acme, want.ID); !sameHook(again, want) {
		t.Errorf("GetWebhook after the caller changed a result = %+v", again)
	}
	wantErr(t, "CreateWebhook of an existing ID", s.CreateWebhook(want.Clone()), wal.ErrConflict)
	_, err = s.GetWebhook(beta, want.ID)
	wantErr(t, "GetWebhook of another tenant's webhook", err, wal.ErrNotFound)
	_, err = s.GetWebhook(acme, s.NewWebhookID())
	wantErr(t, "GetWebhook of an unknown ID", err, wal.ErrNotFound)

	// Update: fn on a copy; its error aborts; ID and tenant stay.
	_, err = s.UpdateWebhook(beta, want.ID, func(*wal.Webhook) error { return nil })
	wantErr(t, "UpdateWebhook of another tenant's webhook", err, wal.ErrNotFound)
	_, err = s.UpdateWebhook(acme, s.NewWebhookID(), func(*wal.Webhook) error { return nil })
	wantErr(t, "UpdateWebhook of an unknown ID", err, wal.ErrNotFound)
	refuse := errors.New("refused by fn")
	_, err = s.UpdateWebhook(acme, want.ID, func(x *wal.Webhook) error { x.URL = "http://half"; return refuse })
	if err != refuse {
		t.Errorf("UpdateWebhook with fn failing = %v, want fn's error as is", err)
	}
	if again, _ := s.GetWebhook(acme, want.ID); !sameHook(again, want) {
		t.Errorf("a failed update changed the webhook: %+v", again)
	}
	up, err := s.UpdateWebhook(acme, want.ID, func(x *wal.Webhook) error {
		x.URL, x.Events = "http://new", append(x.Events, "c")
		x.ID, x.Tenant = wal.ID{1}, beta
		return nil
	})
	if err != nil || up.URL != "http://new" || up.ID != want.ID || up.Tenant != acme {
		t.Fatalf("UpdateWebhook = %+v, %v", up, err)
	}
	want.URL, want.Events = "http://new", []string{"a", "b", "c"}
	up.Events[0] = "changed"
	if again, _ := s.GetWebhook(acme, want.ID); !sameHook(again, want) {
		t.Errorf("after an update: %+v, want %+v", again, want)
	}

	// Paging in ID order; counts; every tenant's in Webhooks.
	ids := []wal.ID{want.ID}
	for i := 0; i < 4; i++ {
		ids = append(ids, hook(t, s, acme, i%2 == 0).ID)
	}
	other := hook(t, s, beta, true)
	page, more, err := s.ListWebhooks(acme, wal.ID{}, 2)
	if err != nil || !more || len(page) != 2 || page[0].ID != ids[0] || page[1].ID != ids[1] {
		t.Fatalf("ListWebhooks page 1 = %d, more %v, %v", len(page), more, err)
	}
	page[0].URL = "http://changed"
	page, more, err = s.ListWebhooks(acme, page[1].ID, 10)
	if err != nil || more || len(page) != 3 || page[0].ID != ids[2] {
		t.Fatalf("ListWebhooks page 2 = %d, more %v, %v", len(page), more, err)
	}
	if again, _ := s.GetWebhook(acme, ids[0]); again.URL != "http://new" {
		t.Error("changing a listed webhook changed the store's")
	}
	if page, more, err := s.ListWebhooks("nobody", wal.ID{}, 10); err != nil || more || len(page) != 0 {
		t.Errorf("a tenant without webhooks lists %d, %v, %v", len(page), more, err)
	}
	if n := s.CountWebhooks(acme); n != 5 {
		t.Errorf("CountWebhooks = %d, want 5", n)
	}
	// The partitions' webhooks: every tenant's, each in the partition
	// PartOf names, in ID order; copies.
	var allIDs []wal.ID
	var all []*wal.Webhook
	for _, c := range claims(t, s) {
		st, err := s.LoadPart(c.Part)
		if err != nil {
			t.Fatalf("LoadPart: %v", err)
		}
		if !slices.IsSortedFunc(st.Webhooks, func(a, b *wal.Webhook) int { return cmpID(a.ID, b.ID) }) {
			t.Errorf("LoadPart(%v): webhooks not in ID order", c.Part)
		}
		for _, x := range st.Webhooks {
			if p := s.PartOf(x.Tenant, x.ID); p != c.Part {
				t.Errorf("LoadPart(%v) gave a webhook of partition %v", c.Part, p)
			}
			allIDs = append(allIDs, x.ID)
		}
		all = append(all, st.Webhooks...)
	}
	slices.SortFunc(allIDs, cmpID)
	if !slices.Equal(allIDs, sorted(append(slices.Clone(ids), other.ID)...)) {
		t.Errorf("the partitions' webhooks = %s, want every tenant's", show(allIDs))
	}
	all[0].URL = "http://changed"
	if again, _ := s.GetWebhook(all[0].Tenant, all[0].ID); again.URL == "http://changed" {
		t.Error("changing what LoadPart gave changed the store's")
	}

	// Delete.
	wantErr(t, "DeleteWebhook of another tenant's webhook", s.DeleteWebhook(beta, ids[1]), wal.ErrNotFound)
	if err := s.DeleteWebhook(acme, ids[1]); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "DeleteWebhook twice", s.DeleteWebhook(acme, ids[1]), wal.ErrNotFound)
	_, err = s.GetWebhook(acme, ids[1])
	wantErr(t, "GetWebhook of a deleted webhook", err, wal.ErrNotFound)
	if n := s.CountWebhooks(acme); n != 4 {
		t.Errorf("CountWebhooks after a delete = %d, want 4", n)
	}

	// Limit: concurrent creates cannot overshoot.
	var wg sync.WaitGroup
	var mu sync.Mutex
	made, limited := 0, 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := &wal.Webhook{ID: s.NewWebhookID(), Tenant: "limited", URL: "http://x", IsActive: true}
			err := s.CreateWebhookUpTo(x, 3)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				made++
			case errors.Is(err, wal.ErrLimit):
				limited++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if made != 3 || limited != 5 || s.CountWebhooks("limited") != 3 {
		t.Errorf("8 creates up to 3: %d made, %d limited, %d stored", made, limited, s.CountWebhooks("limited"))
	}
}
