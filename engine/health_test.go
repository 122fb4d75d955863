package engine

import (
	"context"
	"testing"
	"time"

	"hookd/engine/clocktest"
	"hookd/wal"
)

// deactivations tells of every webhook the engine updates (deactivates).
type deactivations struct {
	*wal.Store
	updated chan *wal.Webhook
}

func (d *deactivations) UpdateWebhook(tenant string, id wal.ID, fn func(*wal.Webhook) error) (*wal.Webhook, error) {
	w, err := d.Store.UpdateWebhook(tenant, id, fn)
	if err == nil {
		d.updated <- w
	}
	return w, err
}

// A webhook's health survives a restart: one that was unhealthy is still
// unhealthy (probed, not stormed), and disable_after counts from the first
// failure before the restart, not from the first one after it.
func TestHealthSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	rc := newSink(t)
	rc.status.Store(500)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	opts := CoreOptions{Schedule: []time.Duration{0, time.Hour, time.Hour, time.Hour, time.Hour, time.Hour},
		UnhealthyAfter: 2, DisableAfter: 10 * time.Hour}
	type run struct {
		store    *deactivations
		eng      *Engine
		clock    *clocktest.FakeClock
		attempts chan *wal.Attempt
	}
	start := func(at time.Time) *run {
		st, err := wal.Open(wal.Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		r := &run{store: &deactivations{Store: st, updated: make(chan *wal.Webhook, 10)}, clock: clocktest.New(at),
			attempts: make(chan *wal.Attempt, 100)}
		r.eng = New(Options{Store: r.store, Dispatcher: NewDispatcher(DispatcherOptions{Timeout: 2 * time.Second}),
			Clock: r.clock, Core: opts, OnAttempt: func(b *wal.Batch, a *wal.Attempt) { r.attempts <- a }})
		if err := r.eng.Start(); err != nil {
			t.Fatal(err)
		}
		return r
	}
	stop := func(r *run) {
		r.eng.Close(context.Background())
		r.store.Close()
	}
	failed := func(r *run, what string) {
		t.Helper()
		select {
		case a := <-r.attempts:
			if a.Status != wal.AttemptFailed {
				t.Fatalf("%s: attempt %+v", what, a)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no attempt", what)
		}
	}

	r := start(t0)
	w := &wal.Webhook{ID: r.store.NewWebhookID(), Tenant: "acme", URL: rc.srv.URL, IsActive: true, MaxBatchSize: 1,
		Secrets: []wal.Secret{{Value: GenerateSecret()}}}
	if err := r.store.CreateWebhook(w); err != nil {
		t.Fatal(err)
	}
	r.eng.WebhookChanged(w)
	if _, err := r.store.Append("acme", []wal.EventInput{{Type: "t", Data: []byte(`1`)}}); err != nil {
		t.Fatal(err)
	}
	// The engine schedules a retry after it reports the attempt before:
	// time moves once the retry is scheduled.
	advance := func(r *run, d time.Duration) {
		t.Helper()
		select {
		case <-r.clock.ScheduledBy(r.clock.Now().Add(d)):
		case <-time.After(10 * time.Second):
			t.Fatalf("nothing scheduled within %v of %v", d, r.clock.Now())
		}
		r.clock.Advance(d)
	}
	failed(r, "first attempt")
	advance(r, time.Hour)
	failed(r, "second attempt")
	if h := r.eng.Health(w.ID); h.Status != "unhealthy" || h.ConsecutiveFailures != 2 {
		t.Fatalf("before restart: %+v", h)
	}
	stop(r)

	r = start(t0.Add(5 * time.Hour))
	defer stop(r)
	h := r.eng.Health(w.ID)
	if h.Status != "unhealthy" || h.ConsecutiveFailures != 2 || !h.LastFailure.Equal(t0.Add(time.Hour)) {
		t.Fatalf("after restart: %+v, want unhealthy with 2 failures, the last at %v", h, t0.Add(time.Hour))
	}
	// The retry due at t0+2h is overdue at start; then t0+11h: failing for
	// more than disable_after since t0, so the webhook is deactivated.
	failed(r, "overdue retry after restart")
	select {
	case <-r.store.updated:
		t.Fatalf("deactivated at %v after failing since %v", r.clock.Now(), t0)
	default:
	}
	advance(r, 6*time.Hour)
	failed(r, "retry at t0+11h")
	select {
	case nw := <-r.store.updated:
		if nw.IsActive {
			t.Fatalf("update %+v, want inactive", nw)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("not deactivated: disable_after restarted with the process")
	}
	// Reactivated: a fresh start, also in the store.
	nw, err := r.store.UpdateWebhook("acme", w.ID, func(x *wal.Webhook) error { x.IsActive = true; return nil })
	if err != nil {
		t.Fatal(err)
	}
	<-r.store.updated
	r.eng.WebhookChanged(nw)
	if _, ok, err := r.store.Health(w.ID); ok || err != nil {
		t.Errorf("stored health after reactivation: %v %v, want none", ok, err)
	}
}
