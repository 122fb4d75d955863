package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The version and commit the end-to-end binary is stamped with.
const e2eVersion, e2eCommit = "e2e-test", "e2e0000"

// These tests build and run the real binary, as a user would.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func hookdBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the binary")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hookd-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "hookd")
		// The release build, exactly as the Dockerfile makes it.
		build := exec.Command("sh", ".ci/build.sh")
		build.Env = append(os.Environ(), "OUT="+binPath, "VERSION="+e2eVersion, "COMMIT="+e2eCommit)
		out, err := build.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf(".ci/build.sh: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is a running hookd.
type proc struct {
	cmd *exec.Cmd
	url string
	log *bytes.Buffer
}

// startHookd starts the binary on 127.0.0.1:0 with data in dir, reads the
// bound address from its first stdout line and waits for /readyz.
func startHookd(t *testing.T, dir string) *proc { return startHookdEnv(t, dir, nil) }

// startHookdEnv is startHookd with extra HOOKD_* settings.
func startHookdEnv(t *testing.T, dir string, env []string) *proc {
	t.Helper()
	bin := hookdBinary(t)
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--data", dir)
	cmd.Env = append(append(os.Environ(), "HOOKD_LOG_LEVEL=warn"), env...)
	stdout, _ := cmd.StdoutPipe()
	logs := &bytes.Buffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, log: logs}
	t.Cleanup(func() { p.kill() })
	lines := bufio.NewScanner(stdout)
	deadline := time.AfterFunc(30*time.Second, p.kill)
	defer deadline.Stop()
	for lines.Scan() {
		if addr, ok := strings.CutPrefix(lines.Text(), "hookd listening on "); ok {
			p.url = strings.TrimSpace(addr)
			break
		}
	}
	if p.url == "" {
		t.Fatalf("hookd did not report its address; stderr:\n%s", logs)
	}
	go io.Copy(io.Discard, stdout)
	for i := 0; ; i++ {
		r, err := http.Get(p.url + "/readyz")
		if err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return p
			}
		}
		if i > 300 {
			t.Fatalf("hookd not ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // polling a starting process; nothing to be told by
	}
}

func (p *proc) kill() {
	if p.cmd.ProcessState == nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
	}
}

// TestKill9DuringIngest publishes from 8 concurrent clients, kills hookd
// with SIGKILL mid-stream, restarts it on the same data and finds every
// acknowledged event.
func TestKill9DuringIngest(t *testing.T) {
	dir := t.TempDir()
	p := startHookd(t, dir)

	const clients, killAfter = 8, 3000
	var (
		mu     sync.Mutex
		acked  []string
		count  atomic.Int64
		killed = make(chan struct{})
		once   sync.Once
		wg     sync.WaitGroup
	)
	client := &http.Client{Timeout: 10 * time.Second}
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-killed:
					return
				default:
				}
				n := 1 + (c+i)%5 // 1..5 events a request
				var evs []string
				for k := 0; k < n; k++ {
					evs = append(evs, fmt.Sprintf(`{"type":"crash.test","data":{"client":%d,"i":%d,"k":%d}}`, c, i, k))
				}
				body := `{"events":[` + strings.Join(evs, ",") + `]}`
				r, err := client.Post(p.url+"/v1/events", "application/json", strings.NewReader(body))
				if err != nil {
					continue // the server died: this request was not acknowledged
				}
				b, _ := io.ReadAll(r.Body)
				r.Body.Close()
				if r.StatusCode != 202 {
					continue
				}
				var out struct{ IDs []string }
				if err := json.Unmarshal(b, &out); err != nil || len(out.IDs) != n {
					t.Errorf("bad 202 body %q", b)
					continue
				}
				mu.Lock()
				acked = append(acked, out.IDs...)
				mu.Unlock()
				if count.Add(int64(n)) >= killAfter {
					once.Do(func() { p.kill(); close(killed) })
				}
			}
		}(c)
	}
	wg.Wait()

	p2 := startHookd(t, dir)
	found, lost := 0, 0
	for _, id := range acked {
		r, err := http.Get(p2.url + "/v1/events/" + id)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode == 200 {
			found++
		} else {
			lost++
			if lost < 5 {
				t.Errorf("acknowledged event %s: GET = %d", id, r.StatusCode)
			}
		}
	}
	t.Logf("acked %d, found %d, lost %d", len(acked), found, lost)
	if lost != 0 || len(acked) < killAfter {
		t.Fatalf("acked %d, found %d, lost %d", len(acked), found, lost)
	}
}

// TestWalkthrough runs README's curl walk-through steps against a fresh
// server: create a webhook, publish an event, read it back.
func TestWalkthrough(t *testing.T) {
	p := startHookd(t, t.TempDir())
	post := func(path, body string) map[string]any { return postJSON(t, p.url+path, body) }
	wh := post("/v1/webhooks", `{"url":"https://example.com/hook","events":["order.created"]}`)
	ev := post("/v1/events", `{"type":"order.created","id":"order-1","data":{"orderId":"A1"}}`)
	id := ev["ids"].([]any)[0].(string)
	r, err := http.Get(p.url + "/v1/events/" + id)
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("GET event: %v %v", r, err)
	}
	r.Body.Close()
	r, _ = http.Get(p.url + "/v1/webhooks/" + wh["id"].(string))
	if r.StatusCode != 200 {
		t.Fatalf("GET webhook = %d", r.StatusCode)
	}
	r.Body.Close()
	// SIGTERM: graceful, exit 0.
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v; stderr:\n%s", err, p.log)
	}
}
