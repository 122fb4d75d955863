package engine

import (
	"context"
	"errors"
	"sync"
	"testing"

	"hookd/wal"
)

// Pings and heartbeat probes go around the batches' fairness, so they are
// bounded themselves: one at a time a webhook, maxProbesPerDest a
// destination; the others are refused (ErrProbeBusy) until one ends.
func TestProbesBounded(t *testing.T) {
	hold := make(chan struct{})
	rc := newSink(t, hold)
	r := newFakeRig(t, CoreOptions{})
	hooks := make([]*wal.Webhook, maxProbesPerDest+1)
	for i := range hooks {
		hooks[i] = r.webhook(t, rc.srv.URL, 1) // one destination
	}
	var wg sync.WaitGroup
	results := make(chan error, maxProbesPerDest)
	for _, w := range hooks[:maxProbesPerDest] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := r.eng.Ping(context.Background(), w)
			results <- err
		}()
	}
	for range maxProbesPerDest {
		recv(t, rc.got, "a held ping") // each is at the receiver
	}
	if _, err := r.eng.Ping(context.Background(), hooks[0]); !errors.Is(err, ErrProbeBusy) {
		t.Errorf("a second ping of a webhook whose ping is in flight: %v, want ErrProbeBusy", err)
	}
	if _, err := r.eng.Ping(context.Background(), hooks[maxProbesPerDest]); !errors.Is(err, ErrProbeBusy) {
		t.Errorf("a ping past %d in flight to one destination: %v, want ErrProbeBusy", maxProbesPerDest, err)
	}
	close(hold)
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil {
			t.Errorf("an admitted ping: %v", err)
		}
	}
	if res, err := r.eng.Ping(context.Background(), hooks[maxProbesPerDest]); err != nil || !res.Success {
		t.Errorf("a ping once the others ended: %+v, %v", res, err)
	}
}
