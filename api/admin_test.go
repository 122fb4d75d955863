package api

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"hookd/config"
	"hookd/wal"
)

// checkBackup fails unless body is one complete backup file.
func checkBackup(t *testing.T, body []byte) int64 {
	t.Helper()
	c := wal.NewBackupChecker()
	c.Write(body)
	n, err := c.Check()
	if err != nil {
		t.Fatalf("backup of %d bytes: %v", len(body), err)
	}
	return n
}

// TestBackupNeedsOperator: GET /admin/backup is the operator's, not any
// tenant's: no token 401, every tenant role (tenant-admin included) 403,
// hookd-operator 200 with the whole backup.
func TestBackupNeedsOperator(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef"
	ts := newTestServer(t, func(c *config.Config) { c.Auth.Mode = "jwt"; c.Auth.JWTSecret = secret })
	if _, err := ts.store.Append("acme", []wal.EventInput{{Type: "a.b", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, ts.do("GET", "/admin/backup", nil), 401, codeUnauthorized)
	for _, roles := range [][]string{{RoleAdmin}, {RoleRead, RoleWrite, RolePublish, RoleAdmin}, {config.RoleWriteAlias}} {
		r := ts.do("GET", "/admin/backup", nil, "Authorization", ts.bearer(roles...))
		wantProblem(t, r, 403, codeForbidden)
	}
	r := ts.do("GET", "/admin/backup", nil, "Authorization", ts.bearer(RoleOperator))
	if r.status != 200 || r.header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("operator: %d %s %.200s", r.status, r.header.Get("Content-Type"), r.body)
	}
	if n := checkBackup(t, r.body); n < 1 {
		t.Errorf("backup holds %d entries", n)
	}
	if !strings.HasPrefix(r.header.Get("Content-Disposition"), "attachment; filename=\"hookd-") {
		t.Errorf("Content-Disposition = %q", r.header.Get("Content-Disposition"))
	}
}

// TestBackupAPIKey: an API key is granted hookd-operator in the config
// like any role; a tenant-admin key is refused.
func TestBackupAPIKey(t *testing.T) {
	key := func(k string) string { h := sha256.Sum256([]byte(k)); return hex.EncodeToString(h[:]) }
	ts := newTestServer(t, func(c *config.Config) {
		c.Auth.Mode = "apikey"
		c.Auth.APIKeys = []config.APIKey{
			{SHA256: key("ops-key"), Tenant: "ops", Roles: []string{"hookd-operator"}},
			{SHA256: key("admin-key"), Tenant: "acme", Roles: []string{"tenant-admin"}},
		}
	})
	if err := ts.cfg.Validate(); err != nil {
		t.Fatalf("config with a hookd-operator key: %v", err)
	}
	wantProblem(t, ts.do("GET", "/admin/backup", nil, "Authorization", "Bearer admin-key"), 403, codeForbidden)
	r := ts.do("GET", "/admin/backup", nil, "Authorization", "Bearer ops-key")
	if r.status != 200 {
		t.Fatalf("operator key: %d %s", r.status, r.body)
	}
	checkBackup(t, r.body)
}

// TestBackupModeNone: auth.mode none (loopback only) allows it like
// everything else.
func TestBackupModeNone(t *testing.T) {
	ts := newTestServer(t, nil)
	r := ts.do("GET", "/admin/backup", nil)
	if r.status != 200 {
		t.Fatalf("mode none: %d %s", r.status, r.body)
	}
	checkBackup(t, r.body)
}

// TestBackupOneAtATime: a second backup while one runs is a 409.
func TestBackupOneAtATime(t *testing.T) {
	ts := newTestServer(t, nil)
	b, err := ts.store.Backup()
	if err != nil {
		t.Fatal(err)
	}
	r := ts.do("GET", "/admin/backup", nil)
	wantProblem(t, r, 409, codeConflict)
	b.Close()
	if r := ts.do("GET", "/admin/backup", nil); r.status != 200 {
		t.Fatalf("after the first ended: %d %s", r.status, r.body)
	}
}

// TestBackupCutOnShutdown: a client that stops reading does not hold
// shutdown; the backup is cut (no trailer) and its snapshot released.
func TestBackupCutOnShutdown(t *testing.T) {
	ts := newTestServer(t, nil)
	data := make([]byte, 8<<10)
	for i := 0; i < 60; i++ { // ~48 MB: more than the pipe and socket buffers hold
		evs := make([]wal.EventInput, 50)
		for k := range evs {
			rand.Read(data)
			evs[k] = wal.EventInput{Type: "a.b", Data: []byte(fmt.Sprintf(`{"r":"%x"}`, data))}
		}
		if _, err := ts.store.Append("default", evs); err != nil {
			t.Fatal(err)
		}
	}
	c, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second)) // a guard against a hang
	fmt.Fprintf(c, "GET /admin/backup HTTP/1.1\r\nHost: x\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("backup: %v %v", res, err)
	}
	// The client reads no more. Shutdown must not wait for it.
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("shutdown took %s with a backup held", took)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		b, err := ts.store.Backup()
		if err == nil {
			b.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cut backup still holds its snapshot: %v", err)
		}
		time.Sleep(10 * time.Millisecond) // polling for the stream goroutine's exit
	}
}
