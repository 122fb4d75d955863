package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestShutdownWithHangingReceivers: SIGTERM while every attempt hangs
// (the receiver reads the request and never answers, and the delivery
// timeout is a minute) exits 0 within server.shutdown_timeout; the
// attempts cut off are not recorded, their batches stay open, and after a
// restart they are delivered to the receiver, which now answers.
func TestShutdownWithHangingReceivers(t *testing.T) {
	const hooks, events, shutdownTimeout = 3, 20, 3 * time.Second
	rc := newCounter(t, hooks, events, 0) // counts what is answered
	var hanging atomic.Bool
	hanging.Store(true)
	hung := make(chan struct{}, hooks*events)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hanging.Load() {
			hung <- struct{}{}
			<-r.Context().Done() // until hookd closes the connection
			return
		}
		rc.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	receiver := "http://" + ln.Addr().String()

	dir := t.TempDir()
	env := append([]string{"HOOKD_SERVER_SHUTDOWN_TIMEOUT=" + shutdownTimeout.String(), "HOOKD_DELIVERY_TIMEOUT=1m"}, e2eEnv...)
	p := startHookdEnv(t, dir, env)
	ids := createHooks(t, p.url, receiver, hooks, 1)
	publish(t, p.url, events)
	for i := range hooks * 5 {
		select {
		case <-hung:
		case <-time.After(30 * time.Second):
			t.Fatalf("%d attempts reached the receiver; want %d hanging", i, hooks*5)
		}
	}

	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	var werr error
	select {
	case werr = <-exited:
	case <-time.After(shutdownTimeout + 10*time.Second):
		p.kill()
		t.Fatalf("hookd still running %v after SIGTERM (shutdown_timeout %v); stderr:\n%s", time.Since(start), shutdownTimeout, p.log)
	}
	took := time.Since(start)
	code := 0
	if ee := (*exec.ExitError)(nil); errors.As(werr, &ee) {
		code = ee.ExitCode()
	} else if werr != nil {
		t.Fatal(werr)
	}
	t.Logf("SIGTERM with %d+ attempts hanging: exit %d after %v", hooks*5, code, took.Round(time.Millisecond))
	if code != 0 || took > shutdownTimeout {
		t.Fatalf("exit code %d after %v; want 0 within server.shutdown_timeout %v; stderr:\n%s", code, took, shutdownTimeout, p.log)
	}

	hanging.Store(false)
	p2 := startHookdEnv(t, dir, env)
	rc.wait(t, 60*time.Second)
	if distinct, _ := rc.stats(); distinct != hooks*events {
		t.Fatalf("delivered %d (webhook, event) pairs after restart; want %d", distinct, hooks*events)
	}
	// The attempts cut off were not recorded: every batch is delivered by
	// its first recorded attempt. (A batch's record is saved just after
	// the receiver answered: poll the other process until it is.)
	for _, id := range ids {
		for try := 0; ; try++ {
			bad := batchesNotDeliveredFirst(t, p2.url, id, events)
			if bad == "" {
				break
			}
			if try > 500 {
				t.Fatalf("webhook %s: %s", id, bad)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// batchesNotDeliveredFirst says what is wrong with a webhook's batches
// when they are not `want` batches each delivered by its first recorded
// attempt ("" when they are).
func batchesNotDeliveredFirst(t *testing.T, base, hook string, want int) string {
	t.Helper()
	r, err := http.Get(base + "/v1/webhooks/" + hook + "/batches?limit=100")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var page struct {
		Results []struct {
			Status   string
			Attempts int
		}
	}
	if err := json.NewDecoder(r.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	if len(page.Results) != want {
		return fmt.Sprintf("%d batches; want %d", len(page.Results), want)
	}
	for _, b := range page.Results {
		if b.Status != "delivered" || b.Attempts != 1 {
			return fmt.Sprintf("a batch %s after %d attempts; want delivered by the first recorded attempt", b.Status, b.Attempts)
		}
	}
	return ""
}
