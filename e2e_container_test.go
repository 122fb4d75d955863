//go:build linux

package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runtimeUID is the distroless "nonroot" user the image runs as.
const runtimeUID = 65532

// TestContainerRuntime runs the release binary the way the image does
// (docker is not available here): as uid 65532, CMD "serve", the image's
// environment (listen on 0.0.0.0, data in a directory owned by 65532 with
// mode 0750, as the Dockerfile creates /data), jwt auth from variables.
// The HEALTHCHECK command turns 0 once it is up, the version is stamped
// into `hookd version` and the User-Agent, and SIGTERM exits 0.
func TestContainerRuntime(t *testing.T) {
	bin := hookdBinary(t)
	if os.Geteuid() != 0 {
		t.Skip("runs hookd as uid 65532: needs root (CI runs as root)")
	}
	root, err := os.MkdirTemp("", "hookd-container")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	data := filepath.Join(root, "data")
	for _, err := range []error{os.Chmod(root, 0o755), os.Mkdir(data, 0o750), os.Chown(data, runtimeUID, runtimeUID),
		os.Chmod(filepath.Dir(bin), 0o755)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	var ua string
	got := make(chan struct{}, 1)
	rcv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ua = r.UserAgent()
		w.WriteHeader(204)
		select {
		case got <- struct{}{}:
		default:
		}
	})}
	rln, _ := net.Listen("tcp", "127.0.0.1:0")
	go rcv.Serve(rln)
	t.Cleanup(func() { rcv.Close() })

	env := []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent",
		fmt.Sprintf("HOOKD_SERVER_LISTEN=0.0.0.0:%d", port), "HOOKD_STORAGE_DIR=" + data,
		"HOOKD_AUTH_MODE=jwt", "HOOKD_AUTH_JWT_SECRET=container-test-secret-0123456789",
		"HOOKD_DELIVERY_ALLOW_PRIVATE_DESTINATIONS=true", "HOOKD_LOG_LEVEL=warn"}
	asRuntimeUser := func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: runtimeUID, Gid: runtimeUID}}
		return cmd
	}
	healthy := func() bool { return asRuntimeUser("healthcheck", "--timeout", "1s").Run() == nil }
	if healthy() {
		t.Fatal("healthcheck passed before the server started")
	}

	srv := asRuntimeUser("serve")
	var logs bytes.Buffer
	srv.Stderr, srv.Stdout = &logs, io.Discard
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	t.Cleanup(func() { srv.Process.Kill() })
	deadline := time.Now().Add(30 * time.Second)
	for !healthy() {
		select {
		case err := <-exited:
			t.Fatalf("hookd exited as uid %d: %v\n%s", runtimeUID, err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthcheck never passed\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	out, err := asRuntimeUser("version").Output()
	if err != nil || !strings.Contains(string(out), e2eVersion) || !strings.Contains(string(out), e2eCommit) {
		t.Errorf("hookd version = %q, %v; want version %s and commit %s", out, err, e2eVersion, e2eCommit)
	}
	tok, err := asRuntimeUser("token", "--tenant", "acme", "--roles", "tenant-admin").Output()
	if err != nil {
		t.Fatalf("hookd token: %v", err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	call := func(method, path, body string, auth bool) int {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth {
			req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if c := call("GET", "/v1/webhooks", "", false); c != 401 {
		t.Errorf("no token = %d, want 401", c)
	}
	if c := call("POST", "/v1/webhooks", fmt.Sprintf(`{"url":"http://%s/hook"}`, rln.Addr()), true); c != 201 {
		t.Fatalf("create webhook = %d", c)
	}
	if c := call("POST", "/v1/events", `{"type":"order.created","data":{"n":1}}`, true); c != 202 {
		t.Fatalf("publish = %d", c)
	}
	select {
	case <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("no delivery")
	}
	if want := "hookd/" + e2eVersion; ua != want {
		t.Errorf("User-Agent = %q, want %q", ua, want)
	}
	filepath.Walk(data, func(path string, fi os.FileInfo, err error) error {
		if err == nil && fi.Sys().(*syscall.Stat_t).Uid != runtimeUID {
			t.Errorf("%s is owned by uid %d", path, fi.Sys().(*syscall.Stat_t).Uid)
		}
		return nil
	})

	srv.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no exit 20 s after SIGTERM")
	}
}
