package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lineWriter hands the first line written to it to a channel.
type lineWriter struct {
	once sync.Once
	ch   chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { w.ch <- strings.TrimSpace(string(p)) })
	return len(p), nil
}

// The floor server acknowledges a publish once its body is in the file,
// and relays each of its events, one request each, to every webhook.
func TestFloorServerRelays(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	w := &lineWriter{ch: make(chan string, 1)}
	served := make(chan error, 1)
	go func() { served <- ServeFloor(ctx, dir, w) }()
	var url string
	select {
	case line := <-w.ch:
		url = strings.TrimPrefix(line, "hookd listening on ")
	case err := <-served:
		t.Fatal(err)
	}
	defer func() {
		cancel()
		<-served
	}()
	s, err := StartSink(SinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tg := newTarget(url, "", 8)
	h := &hooks{t: tg}
	if err := h.createN(s, 2, hookSpec{MaxBatchSize: 1}); err != nil {
		t.Fatal(err)
	}
	pad := padding(50)
	single := publishBody(nil, 1, time.Now(), 0, pad)
	three := publishBody(nil, 3, time.Now(), 1, pad)
	for _, b := range [][]byte{single, three} {
		if body, code, err := tg.do("POST", "/v1/events", b); err != nil || code != 202 {
			t.Fatalf("publish: %d %s %v", code, body, err)
		}
	}
	if got, err := os.ReadFile(filepath.Join(dir, "floor.log")); err != nil || !bytes.Equal(got, append(append([]byte(nil), single...), three...)) {
		t.Fatalf("file holds %q (%v); want both bodies, in order", got, err)
	}
	select {
	case <-s.Until(8): // 4 events × 2 webhooks
	case <-time.After(30 * time.Second):
		t.Fatalf("sink has %+v; want 8 distinct deliveries", s.Stats())
	}
	if st := s.Stats(); st.Requests != 8 || st.Duplicates() != 0 {
		t.Errorf("sink saw %d requests, %d duplicates; want 8 (one an event and webhook), 0", st.Requests, st.Duplicates())
	}
	if _, code, _ := tg.do("POST", "/v1/events", []byte(`{"type":`)); code != 400 {
		t.Errorf("a body that is not JSON: status %d; want 400", code)
	}
	h.delete()
}

// Appends from many goroutines all reach the file, each whole.
func TestGroupLogConcurrent(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g := newGroupLog(f)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if err := g.append([]byte{'a' + byte(i), '\n'}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b, _ := os.ReadFile(f.Name())
	if n := bytes.Count(b, []byte("\n")); n != 320 || len(b) != 640 {
		t.Errorf("%d lines, %d bytes; want 320, 640", n, len(b))
	}
	if g.started != g.synced || g.started == 0 {
		t.Errorf("syncs begun %d, completed %d", g.started, g.synced)
	}
}
