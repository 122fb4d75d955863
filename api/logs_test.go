package api

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"hookd/config"
	"hookd/engine"
	"hookd/wal"
)

// TestNoSecretsInLogs: after creating, rotating, delivering and failing,
// no secret, token or signature appears in any log line, nor in API output
// other than where API.md §3 shows it (the create and secret answers).
func TestNoSecretsInLogs(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	cfg := config.Default()
	cfg.Storage.Dir = t.TempDir()
	cfg.Auth.Mode, cfg.Auth.JWTSecret = "jwt", "0123456789abcdef0123456789abcdef"
	cfg.Delivery.AllowPrivateDestinations = true
	store, err := wal.Open(wal.Options{Dir: cfg.Storage.Dir, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	attempts := make(chan *wal.Attempt, 100)
	eng := engine.New(engine.Options{Store: store, Logger: log,
		Dispatcher: engine.NewDispatcher(engine.DispatcherOptions{Timeout: time.Second}),
		Core:       engine.CoreOptions{Schedule: []time.Duration{0, 5 * time.Millisecond, 5 * time.Millisecond}},
		OnAttempt:  func(b *wal.Batch, a *wal.Attempt) { attempts <- a }})
	if err := eng.Start(); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Config: cfg, Store: store, Engine: eng, Logger: log, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer func() { srv.http.Shutdown(); eng.Close(context.Background()); store.Close() }()
	ts := &testServer{t: t, url: "http://" + ln.Addr().String(), store: store, eng: eng, cfg: cfg}

	var mu sync.Mutex
	var sigs []string
	fails := 1
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		sigs = append(sigs, r.Header.Get("webhook-signature"))
		fail := fails > 0
		fails--
		mu.Unlock()
		if fail {
			w.WriteHeader(500)
			return
		}
		w.WriteHeader(204)
	}))
	defer rcv.Close()
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + dead.Addr().String() + "/hook"
	dead.Close()

	tok, _ := MintToken(cfg.Auth, "acme", "", []string{RoleAdmin}, time.Hour, time.Now())
	auth := []string{"Authorization", "Bearer " + tok}
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	created := ts.do("POST", "/v1/webhooks", fmt.Sprintf(`{"url":%q,"secret":%q}`, rcv.URL+"/hook", secret), auth...)
	if created.status != 201 || !strings.Contains(string(created.body), secret) {
		t.Fatalf("create = %d %s", created.status, created.body)
	}
	id := created.json(t)["id"].(string)
	rot := ts.do("POST", "/v1/webhooks/"+id+"/secret:rotate", `{}`, auth...)
	rotated, _ := rot.json(t)["secret"].(string)
	if ts.do("POST", "/v1/webhooks", fmt.Sprintf(`{"url":%q}`, deadURL), auth...).status != 201 {
		t.Fatal("create dead webhook")
	}
	if r := ts.do("POST", "/v1/events", `{"type":"a","data":{"n":1}}`, auth...); r.status != 202 {
		t.Fatalf("publish = %d", r.status)
	}
	// Wait for: the live webhook's failure then success, and the dead
	// one's attempts until it expires (3).
	for seen, succeeded := 0, false; !succeeded || seen < 5; seen++ {
		select {
		case a := <-attempts:
			if a.Status == wal.AttemptSucceeded {
				succeeded = true
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d attempts", seen)
		}
	}
	ts.do("GET", "/v1/webhooks", nil, "Authorization", "Bearer "+tok+"tampered")
	ts.do("GET", "/v1/webhooks", nil, "Authorization", "Bearer not-a-token")

	secrets := []string{secret, strings.TrimPrefix(secret, "whsec_"), rotated, strings.TrimPrefix(rotated, "whsec_"), tok, cfg.Auth.JWTSecret}
	mu.Lock()
	for _, s := range sigs {
		for _, part := range strings.Fields(s) {
			secrets = append(secrets, strings.TrimPrefix(part, "v1,"))
		}
	}
	mu.Unlock()
	if len(sigs) < 2 || rotated == "" {
		t.Fatalf("setup: %d signatures, rotated %q", len(sigs), rotated)
	}
	if logs.Len() == 0 {
		t.Fatal("no logs captured: the test would prove nothing")
	}
	for _, e := range logs.All() {
		line := e.Message + fmt.Sprint(e.ContextMap())
		for _, s := range secrets {
			if s != "" && strings.Contains(line, s) {
				t.Errorf("log line leaks %.12s…: %s", s, line)
			}
		}
	}
	// API output other than create/secret/rotate answers.
	for _, path := range []string{"/v1/webhooks", "/v1/webhooks/" + id, "/v1/webhooks/" + id + "/batches"} {
		r := ts.do("GET", path, nil, auth...)
		body := string(r.body)
		if path == "/v1/webhooks/"+id+"/batches" {
			var page struct {
				Results []struct{ ID string }
			}
			_ = jsonUnmarshal(r.body, &page)
			for _, b := range page.Results {
				body += string(ts.do("GET", path+"/"+b.ID+"/attempts", nil, auth...).body)
			}
		}
		for _, s := range secrets {
			if s != "" && strings.Contains(body, s) {
				t.Errorf("GET %s leaks %.12s…", path, s)
			}
		}
	}
	t.Logf("%d log entries, %d signatures checked", logs.Len(), len(sigs))
}
