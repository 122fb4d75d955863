package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// backupEnv lets webhooks point at the local receiver and retries a
// failed batch every second (50 attempts), so that batches still open at
// the backup are delivered by the restored server within the test.
var backupEnv = []string{"HOOKD_DELIVERY_ALLOW_PRIVATE_DESTINATIONS=true",
	"HOOKD_DELIVERY_RETRY_SCHEDULE=0s" + strings.Repeat(",1s", 49)}

// gateReceiver answers 500 until opened, then 200, and records the event
// ids it accepted.
type gateReceiver struct {
	url  string
	open atomic.Bool
	mu   sync.Mutex
	seen map[string]bool
}

func newGateReceiver(t *testing.T) *gateReceiver {
	g := &gateReceiver{seen: map[string]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: g}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	g.url = "http://" + ln.Addr().String() + "/hook"
	return g
}

func (g *gateReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if !g.open.Load() {
		w.WriteHeader(500)
		return
	}
	ids, err := deliveryIDs(body)
	if err != nil {
		w.WriteHeader(400)
		return
	}
	g.mu.Lock()
	for _, id := range ids {
		g.seen[id] = true
	}
	g.mu.Unlock()
}

// missing returns the ids not received yet.
func (g *gateReceiver) missing(ids []string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for _, id := range ids {
		if !g.seen[id] {
			out = append(out, id)
		}
	}
	return out
}

// publishers post events of about dataBytes from n clients until stop
// is closed; every acknowledged id goes to ack.
type publishers struct {
	wg    sync.WaitGroup
	stop  chan struct{}
	acked atomic.Int64
	fails atomic.Int64
}

func startPublishers(t *testing.T, url string, n, perRequest, dataBytes int, ack func([]string)) *publishers {
	p := &publishers{stop: make(chan struct{})}
	pad := strings.Repeat("x", dataBytes)
	client := &http.Client{Timeout: 30 * time.Second}
	for c := 0; c < n; c++ {
		p.wg.Add(1)
		go func(c int) {
			defer p.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-p.stop:
					return
				default:
				}
				var sb strings.Builder
				sb.WriteString(`{"events":[`)
				for k := 0; k < perRequest; k++ {
					if k > 0 {
						sb.WriteByte(',')
					}
					fmt.Fprintf(&sb, `{"type":"backup.test","data":{"c":%d,"i":%d,"k":%d,"pad":"%s"}}`, c, i, k, pad)
				}
				sb.WriteString(`]}`)
				r, err := client.Post(url+"/v1/events", "application/json", strings.NewReader(sb.String()))
				if err != nil {
					p.fails.Add(1)
					continue
				}
				b, _ := io.ReadAll(r.Body)
				r.Body.Close()
				if r.StatusCode != 202 {
					p.fails.Add(1)
					continue
				}
				var out struct{ IDs []string }
				if err := json.Unmarshal(b, &out); err != nil || len(out.IDs) != perRequest {
					t.Errorf("bad 202 body %q", b)
					continue
				}
				p.acked.Add(int64(len(out.IDs)))
				if ack != nil {
					ack(out.IDs)
				}
			}
		}(c)
	}
	return p
}

func (p *publishers) halt() { close(p.stop); p.wg.Wait() }

// hookdCmd runs the binary with args and returns its exit code and output.
func hookdCmd(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(hookdBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

// TestBackupRestoreUnderLoad takes `hookd backup` of a server while
// publishers run, restores it with `hookd restore` into a new directory,
// starts a server there and finds every event acknowledged before the
// backup began: served by GET /v1/events/{id} and delivered to the
// webhook (whose receiver was down until then).
func TestBackupRestoreUnderLoad(t *testing.T) {
	recv := newGateReceiver(t)
	p := startHookdEnv(t, t.TempDir(), backupEnv)
	wh := postJSON(t, p.url+"/v1/webhooks", `{"url":"`+recv.url+`","events":["backup.test"],"maxBatchSize":50}`)
	if wh["id"] == nil {
		t.Fatalf("webhook: %v", wh)
	}

	var (
		mu      sync.Mutex
		before  []string // acknowledged before the backup began
		started atomic.Bool
		during  atomic.Int64
	)
	pubs := startPublishers(t, p.url, 4, 10, 300, func(ids []string) {
		if started.Load() {
			during.Add(int64(len(ids)))
			return
		}
		mu.Lock()
		before = append(before, ids...)
		mu.Unlock()
	})
	for deadline := time.Now().Add(60 * time.Second); pubs.acked.Load() < 3000; {
		if time.Now().After(deadline) {
			t.Fatalf("only %d events acknowledged", pubs.acked.Load())
		}
		time.Sleep(10 * time.Millisecond) // polling the publishers' progress
	}
	// The flag is set before the request goes out, so every id in before
	// was acknowledged before the server took its snapshot.
	mu.Lock()
	started.Store(true)
	mu.Unlock()
	file := filepath.Join(t.TempDir(), "hookd.backup")
	code, out, errOut := hookdCmd(t, nil, "backup", "--url", p.url, "--out", file)
	pubs.halt()
	if code != 0 {
		t.Fatalf("hookd backup: exit %d\n%s%s\nserver:\n%s", code, out, errOut, p.log)
	}
	t.Logf("%s%d acknowledged before the backup, %d during and after it", out, len(before), during.Load())
	if _, err := os.Stat(file + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left: %v", err)
	}
	p.kill()

	data := filepath.Join(t.TempDir(), "restored")
	if code, out, errOut := hookdCmd(t, nil, "restore", "--in", file, "--data", data); code != 0 {
		t.Fatalf("hookd restore: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := hookdCmd(t, nil, "restore", "--in", file, "--data", data); code != 1 || !strings.Contains(errOut, "not empty") {
		t.Errorf("restore into the restored dir: exit %d, %s", code, errOut)
	}

	recv.open.Store(true)
	p2 := startHookdEnv(t, data, backupEnv)
	lost := 0
	for _, id := range before {
		r, err := http.Get(p2.url + "/v1/events/" + id)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 200 {
			if lost++; lost <= 5 {
				t.Errorf("event %s acknowledged before the backup: GET = %d", id, r.StatusCode)
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d events acknowledged before the backup are not in the restored store", lost, len(before))
	}
	var missing []string
	for deadline := time.Now().Add(90 * time.Second); ; {
		if missing = recv.missing(before); len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restored server delivered all but %d of %d events (first %s)", len(missing), len(before), missing[0])
		}
		time.Sleep(50 * time.Millisecond) // polling an external receiver
	}
}

// TestBackupCLI: the CLI finds the server from the config as healthcheck
// does, mints an operator token in jwt mode, refuses a tenant-admin
// token, and leaves no file when it fails.
func TestBackupCLI(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef"
	jwtEnv := []string{"HOOKD_AUTH_MODE=jwt", "HOOKD_AUTH_JWT_SECRET=" + secret}
	p := startHookdEnv(t, t.TempDir(), jwtEnv)
	listen := strings.TrimPrefix(p.url, "http://")
	env := append([]string{"HOOKD_SERVER_LISTEN=" + listen}, jwtEnv...)
	dir := t.TempDir()
	file := filepath.Join(dir, "b.backup")

	code, out, errOut := hookdCmd(t, env, "backup", "--out", file)
	if code != 0 {
		t.Fatalf("minted operator token: exit %d %s%s", code, out, errOut)
	}
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file: %v %v", fi, err)
	}

	_, admin, _ := hookdCmd(t, env, "token", "--tenant", "acme", "--roles", "tenant-admin")
	cases := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"tenant-admin token", env, []string{"--token", strings.TrimSpace(admin)}, "hookd-operator"},
		{"apikey mode, no token", nil, []string{"--config", apikeyConfig(t), "--url", p.url}, "--token"},
		{"no server", nil, []string{"--url", "http://127.0.0.1:1"}, "127.0.0.1:1"},
		{"cut stream", env, []string{"--url", cutServer(t)}, "complete hookd backup"},
	}
	for _, c := range cases {
		out := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-"))
		code, _, errOut := hookdCmd(t, c.env, append([]string{"backup", "--out", out}, c.args...)...)
		if code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want 1 naming %q", c.name, code, errOut, c.want)
		}
		if ents, _ := filepath.Glob(out + "*"); len(ents) != 0 {
			t.Errorf("%s: left %v", c.name, ents)
		}
	}
}

// apikeyConfig writes a config file in apikey mode.
func apikeyConfig(t *testing.T) string {
	f := filepath.Join(t.TempDir(), "hookd.toml")
	toml := "[auth]\nmode = \"apikey\"\n[[auth.api_keys]]\nsha256 = \"" + strings.Repeat("ab", 32) +
		"\"\ntenant = \"ops\"\nroles = [\"hookd-operator\"]\n"
	if err := os.WriteFile(f, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// cutServer answers /admin/backup with 200 and a stream that ends
// before its trailer, as a server that failed mid-backup does.
func cutServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		io.WriteString(w, "hookd-backup 1\n"+strings.Repeat("\x00", 100))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// TestBackupMeasure (HOOKDTEST_MEASURE=1) measures, with the release
// binary: the disk used per pending event (200k events of 300 bytes
// queued for a webhook whose receiver is down), the backup's size and
// time, and the ingest rate while backups run back to back against the
// rate without.
func TestBackupMeasure(t *testing.T) {
	if os.Getenv("HOOKDTEST_MEASURE") == "" {
		t.Skip("set HOOKDTEST_MEASURE=1: a measurement, minutes long")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/hook"
	ln.Close()
	dir := t.TempDir()
	p := startHookdEnv(t, dir, backupEnv[:1])
	empty := duBytes(t, dir)
	postJSON(t, p.url+"/v1/webhooks", `{"url":"`+dead+`","maxBatchSize":100}`)
	const pending = 200_000
	pubs := startPublishers(t, p.url, 6, 100, 300, nil)
	for pubs.acked.Load() < pending {
		time.Sleep(10 * time.Millisecond) // polling the publishers' progress
	}
	pubs.halt()
	n := pubs.acked.Load()
	full := duBytes(t, dir)
	t.Logf("disk: empty store %d bytes; after %d pending events %d bytes: %.0f bytes/event",
		empty, n, full, float64(full-empty)/float64(n))

	file := filepath.Join(t.TempDir(), "m.backup")
	start := time.Now()
	if code, out, errOut := hookdCmd(t, nil, "backup", "--url", p.url, "--out", file); code != 0 {
		t.Fatalf("backup: %d %s%s", code, out, errOut)
	}
	fi, _ := os.Stat(file)
	t.Logf("backup of %d events: %d bytes in %s", n, fi.Size(), time.Since(start).Round(time.Millisecond))

	rate := func(backups bool) float64 {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var taken atomic.Int64
		if backups {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if code, _, errOut := hookdCmd(t, nil, "backup", "--url", p.url, "--out", file); code != 0 {
						t.Errorf("backup under load: %s", errOut)
						return
					}
					taken.Add(1)
				}
			}()
		}
		pubs := startPublishers(t, p.url, 6, 100, 300, nil)
		time.Sleep(5 * time.Second) // the measurement window
		pubs.halt()
		r := float64(pubs.acked.Load()) / 5
		close(stop)
		wg.Wait()
		t.Logf("ingest with backups=%v: %.0f events/s (%d backups)", backups, r, taken.Load())
		return r
	}
	var without, with []float64
	for i := 0; i < 3; i++ {
		without = append(without, rate(false))
		with = append(with, rate(true))
	}
	sort.Float64s(without)
	sort.Float64s(with)
	t.Logf("ingest medians: %.0f events/s without a backup, %.0f during back-to-back backups (%.0f%%)",
		without[1], with[1], 100*with[1]/without[1])
}

// duBytes is the disk space dir's files occupy (allocated blocks).
func duBytes(t *testing.T, dir string) int64 {
	out, err := exec.Command("du", "-s", "-B1", dir).Output()
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	fmt.Sscan(string(out), &n)
	return n
}
