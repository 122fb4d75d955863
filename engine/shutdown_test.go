package engine

import (
	"context"
	"net"
	"testing"
	"time"

	"hookd/wal"
)

// Abort cuts off a send in flight, whether it waits for a response or
// for its connection, and every later one: ClassCanceled, not an attempt.
func TestDispatcherAbortCutsOffSends(t *testing.T) {
	srv := newRawServer(t, hang)
	dialing, release := make(chan struct{}, 1), make(chan struct{})
	t.Cleanup(func() { close(release) })
	stuck := func(string) (net.Conn, error) { dialing <- struct{}{}; <-release; return nil, net.ErrClosed }
	for _, tc := range []struct {
		name string
		opts DispatcherOptions
		wait func()
	}{
		{"waiting for the response", DispatcherOptions{Timeout: time.Minute}, func() { srv.waitAccepted(t, 1) }},
		{"dialing", DispatcherOptions{Timeout: time.Minute, Dial: stuck}, func() { <-dialing }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newTestDispatcher(tc.opts)
			got := make(chan Result, 1)
			go func() { got <- d.Send(context.Background(), testRequest(srv.url())) }()
			tc.wait()
			d.Abort()
			if res := <-got; res.Class != ClassCanceled || res.Err == nil {
				t.Errorf("send in flight = %d, %v (%s); want class %s", res.StatusCode, res.Err, res.Class, ClassCanceled)
			}
			if res := d.Send(context.Background(), testRequest(srv.url())); res.Class != ClassCanceled {
				t.Errorf("send after Abort = %v (%s); want class %s", res.Err, res.Class, ClassCanceled)
			}
		})
	}
}

// Close cuts off attempts that outlive its context: it returns without
// waiting for them (nil: that is what a deadline means), records no
// attempt, and leaves the batch open as it was, for the next start.
func TestCloseCutsOffHangingAttempts(t *testing.T) {
	srv := newRawServer(t, hang)
	st, err := wal.Open(wal.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recorded := make(chan *wal.Attempt, 10)
	eng := New(Options{Store: st, Dispatcher: NewDispatcher(DispatcherOptions{Timeout: time.Minute}),
		OnAttempt: func(_ *wal.Batch, a *wal.Attempt) { recorded <- a }})
	if err := eng.Start(); err != nil {
		t.Fatal(err)
	}
	w := &wal.Webhook{ID: st.NewWebhookID(), Tenant: "acme", IsActive: true, URL: srv.url(), MaxBatchSize: 1,
		Secrets: []wal.Secret{{Value: GenerateSecret()}}}
	if err := st.CreateWebhook(w); err != nil {
		t.Fatal(err)
	}
	eng.WebhookChanged(w)
	if _, err := st.Append("acme", []wal.EventInput{{Type: "t", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	srv.waitAccepted(t, 1) // the attempt hangs

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the shutdown deadline has come
	if err := eng.Close(ctx); err != nil {
		t.Fatalf("Close = %v; want nil", err)
	}
	select {
	case a := <-recorded:
		t.Fatalf("an attempt was recorded for the cut-off send: %+v", a)
	default:
	}
	bs, _, err := st.ListBatches("acme", w.ID, wal.ID{}, 10, nil)
	if err != nil || len(bs) != 1 {
		t.Fatalf("batches = %d, %v; want 1", len(bs), err)
	}
	if b := bs[0]; b.Status != wal.BatchPending || b.Attempts != 0 {
		t.Errorf("batch after the cut-off: %s with %d attempts; want pending with 0", b.Status, b.Attempts)
	}
}
