//go:build linux

package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestDiskFull fills the filesystem under a running hookd (README: "a
// full disk is refused, not a crash"). On a small filesystem it mounts
// (tmpfs, and a loop-mounted ext4 image), a ballast file leaves a little
// more than storage.min_free_bytes free, and hookd ingests until it
// reaches the reserve. It must then answer publishes 503 with
// Retry-After and /readyz 503, stay up, deliver every event it
// acknowledged, and take events again once the ballast is deleted. On a
// filesystem below half the reserve it must refuse to start: exit 1 with
// a message naming the space needed, not SIGBUS during replay. Each
// filesystem runs with events kept in Badger's LSM tree and with events
// above storage.value_threshold (the value log).
func TestDiskFull(t *testing.T) {
	hookdBinary(t) // skips under -short
	if os.Geteuid() != 0 {
		t.Skip("disk-full test mounts a small filesystem (tmpfs, loop ext4): needs root")
	}
	for _, fs := range []string{"tmpfs", "ext4"} {
		for _, big := range []bool{false, true} {
			name := fs + "/lsm"
			if big {
				name = fs + "/vlog"
			}
			t.Run(name, func(t *testing.T) { testDiskFull(t, fs, big) })
		}
	}
}

const (
	fullFSBytes  = 640 << 20
	fullReserve  = 384 << 20 // the least allowed with 4 MiB memtables: 10 x 4 + 320 MiB
	fullHeadroom = 24 << 20  // free above the reserve once the ballast is in
)

func testDiskFull(t *testing.T, fs string, big bool) {
	start := time.Now()
	mnt := mountSmallFS(t, fs, fullFSBytes)
	dir := filepath.Join(mnt, "data")
	rcv := newIDReceiver(t)
	env := []string{
		"HOOKD_DELIVERY_ALLOW_PRIVATE_DESTINATIONS=true",
		"HOOKD_STORAGE_MEMTABLE_BYTES=4194304",
		fmt.Sprintf("HOOKD_STORAGE_MIN_FREE_BYTES=%d", fullReserve),
		"HOOKD_STORAGE_VALUE_THRESHOLD=1024", // small events stay in the LSM tree
	}
	event := func(n int) string {
		return fmt.Sprintf(`{"type":"disk.fill","data":{"n":%d,"pad":"%s"}}`, n, randomHex(200))
	}
	perRequest := 500
	if big {
		env[3] = "HOOKD_STORAGE_VALUE_THRESHOLD=256"
		event = func(n int) string {
			return fmt.Sprintf(`{"type":"disk.fill","data":{"n":%d,"pad":"%s"}}`, n, randomHex(2048))
		}
		perRequest = 50
	}
	p := startHookdEnv(t, dir, env)
	postJSON(t, p.url+"/v1/webhooks", fmt.Sprintf(`{"url":"%s/hook","maxBatchSize":100}`, rcv.url))

	// Leave fullHeadroom above the reserve.
	ballast := filepath.Join(mnt, "ballast")
	fillTo(t, mnt, ballast, fullReserve+fullHeadroom)

	// Publish until refused.
	var acked []string
	n := 0
	var refused *http.Response
	var refusedBody []byte
	for refused == nil {
		if n > 400_000 {
			t.Fatalf("%d events published on a disk with %d MiB above the reserve, none refused", n, fullHeadroom>>20)
		}
		var evs []string
		for k := 0; k < perRequest; k++ {
			evs = append(evs, event(n))
			n++
		}
		r, err := http.Post(p.url+"/v1/events", "application/json", strings.NewReader(`{"events":[`+strings.Join(evs, ",")+`]}`))
		if err != nil {
			t.Fatalf("publish after %d acknowledged events: %v (hookd died?)\n%s", len(acked), err, p.log)
		}
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		switch r.StatusCode {
		case 202:
			var m struct{ IDs []string }
			if err := json.Unmarshal(body, &m); err != nil || len(m.IDs) != perRequest {
				t.Fatalf("202 body %s: %v", body, err)
			}
			acked = append(acked, m.IDs...)
		case 503:
			refused, refusedBody = r, body
		default:
			t.Fatalf("publish = %d %s", r.StatusCode, body)
		}
	}
	t.Logf("%s: %d events acknowledged, then 503 after %s: %s", fs, len(acked), time.Since(start).Round(time.Millisecond), refusedBody)
	var prob struct{ Code string }
	json.Unmarshal(refusedBody, &prob)
	if prob.Code != "unavailable" || refused.Header.Get("Retry-After") == "" {
		t.Errorf("refusal: code %q, Retry-After %q; want unavailable with Retry-After", prob.Code, refused.Header.Get("Retry-After"))
	}
	// Badger may free a file right after the refusal (a flushed memtable's
	// log): hookd then rightly takes writes again. Hold the disk well below
	// the reserve (and above half of it, where deliveries still write) for
	// the checks that follow.
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err == nil && int64(st.Bavail)*int64(st.Bsize) > fullReserve*3/4 {
		fillTo(t, mnt, ballast, fullReserve*3/4)
	}
	readyDeadline := time.Now().Add(5 * time.Second) // the store measures every 250 ms
	for code, _ := getStatus(t, p.url+"/readyz"); code != 503 && time.Now().Before(readyDeadline); code, _ = getStatus(t, p.url+"/readyz") {
		time.Sleep(50 * time.Millisecond)
	}
	if code, body := getStatus(t, p.url+"/readyz"); code != 503 {
		t.Errorf("/readyz below the reserve = %d %s, want 503", code, body)
	}
	// Still refused, still alive, and what was acknowledged goes out.
	if r, err := http.Post(p.url+"/v1/events", "application/json", strings.NewReader(event(-1))); err != nil || r.StatusCode != 503 {
		t.Errorf("publish below the reserve = %v %v, want 503", r, err)
	} else {
		r.Body.Close()
	}
	rcv.waitAll(t, acked, 30*time.Second)
	if code, _ := getStatus(t, p.url+"/healthz"); code != 200 || p.cmd.ProcessState != nil {
		t.Fatalf("hookd not alive below the reserve:\n%s", p.log)
	}

	// Space returns: hookd comes back by itself.
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p.url+"/readyz", 200, 5*time.Second)
	more := publish(t, p.url, 1000)
	acked = append(acked, more...)
	rcv.waitAll(t, acked, 30*time.Second)
	if strings.Contains(p.log.String(), "SIGBUS") || strings.Contains(p.log.String(), "panic") {
		t.Errorf("hookd log:\n%s", p.log)
	}

	// A disk below half the reserve: hookd refuses to start, exit 1.
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("hookd after SIGTERM: %v\n%s", err, p.log)
	}
	fillTo(t, mnt, ballast, fullReserve/2-16<<20)
	cmd := exec.Command(hookdBinary(t), "serve", "--listen", "127.0.0.1:0", "--data", dir)
	cmd.Env = append(append(os.Environ(), "HOOKD_LOG_LEVEL=warn"), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	timer := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	err := cmd.Run()
	timer.Stop()
	code := cmd.ProcessState.ExitCode()
	msg := stderr.String()
	t.Logf("start on a full disk: exit %d: %s", code, strings.TrimSpace(msg))
	if code != 1 || !strings.Contains(msg, "not enough free space") || !strings.Contains(msg, "needs at least") || !strings.Contains(msg, dir) {
		t.Errorf("start below half the reserve: %v, exit %d; want exit 1 naming the space needed and %s:\n%s", err, code, dir, msg)
	}
	// And starts once there is room, with everything still there.
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	p = startHookdEnv(t, dir, env)
	if m := postJSON(t, p.url+"/v1/events", event(-2)); m["ids"] == nil {
		t.Errorf("publish after restart: %v", m)
	}
	t.Logf("%s done in %s", t.Name(), time.Since(start).Round(time.Millisecond))
}

// mountSmallFS mounts a filesystem of size bytes (tmpfs, or ext4 on a
// loop device backed by a file) and unmounts it when the test ends.
func mountSmallFS(t *testing.T, fs string, size int64) string {
	t.Helper()
	mnt := t.TempDir()
	var args []string
	switch fs {
	case "tmpfs":
		args = []string{"-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", mnt}
	case "ext4":
		img := filepath.Join(t.TempDir(), "fs.img")
		f, err := os.Create(img)
		if err != nil {
			t.Fatal(err)
		}
		f.Truncate(size)
		f.Close()
		// -m 0: no blocks reserved for root, so free space is the same
		// for hookd (statfs f_bavail) and the test.
		if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-m", "0", img).CombinedOutput(); err != nil {
			t.Skipf("cannot make an ext4 image (mkfs.ext4): %v %s", err, out)
		}
		args = []string{"-o", "loop", img, mnt}
	}
	if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a %s (mount %s): %v %s", fs, strings.Join(args, " "), err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", mnt, err, out)
			exec.Command("umount", "-l", mnt).Run()
		}
	})
	return mnt
}

// fillTo sizes the ballast file so that free bytes are left on the
// filesystem at mnt.
func fillTo(t *testing.T, mnt, ballast string, free int64) {
	t.Helper()
	f, err := os.OpenFile(ballast, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	avail := int64(st.Bavail) * int64(st.Bsize)
	size := fi.Size() + avail - free
	if size < fi.Size() {
		t.Fatalf("only %d MiB free on %s, want %d MiB left", avail>>20, mnt, free>>20)
	}
	if err := syscall.Fallocate(int(f.Fd()), 0, 0, size); err != nil {
		t.Fatalf("ballast of %d MiB: %v", size>>20, err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n/2)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func getStatus(t *testing.T, url string) (int, string) {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return r.StatusCode, string(b)
}

// waitStatus polls url until it answers want; hookd measures free space
// every 250 ms and has no way to tell the test.
func waitStatus(t *testing.T, url string, want int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		code, body := getStatus(t, url)
		if code == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s = %d %s after %s, want %d", url, code, body, limit, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// idReceiver records the event ids delivered to it and tells waiters.
type idReceiver struct {
	url    string
	mu     sync.Mutex
	seen   map[string]bool
	signal chan struct{} // 1-slot: something arrived
}

func newIDReceiver(t *testing.T) *idReceiver {
	rc := &idReceiver{seen: map[string]bool{}, signal: make(chan struct{}, 1)}
	srv := &http.Server{Handler: rc}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	rc.url = "http://" + ln.Addr().String()
	return rc
}

func (rc *idReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ids, err := deliveryIDs(body)
	if err != nil {
		w.WriteHeader(400)
		return
	}
	rc.mu.Lock()
	for _, id := range ids {
		rc.seen[id] = true
	}
	rc.mu.Unlock()
	select {
	case rc.signal <- struct{}{}:
	default:
	}
	w.WriteHeader(204)
}

// waitAll returns once every id in ids was delivered, or fails after limit.
func (rc *idReceiver) waitAll(t *testing.T, ids []string, limit time.Duration) {
	t.Helper()
	deadline := time.After(limit)
	for {
		rc.mu.Lock()
		missing := 0
		for _, id := range ids {
			if !rc.seen[id] {
				missing++
			}
		}
		rc.mu.Unlock()
		if missing == 0 {
			return
		}
		select {
		case <-rc.signal:
		case <-deadline:
			t.Fatalf("%d of %d acknowledged events not delivered within %s", missing, len(ids), limit)
		}
	}
}
