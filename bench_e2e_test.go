package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"hookd/bench"
)

// TestBenchSelfContained runs `hookd bench` as a user would, on a small
// scale: it starts its own hookd and receiver, measures the ceilings, runs
// ingest and deliver, and prints the table. The figures themselves are not
// checked (they live in bench/BASELINE.md); that they are there, with
// ceilings and ratios, that nothing was lost, and that the report page
// holds charts, is.
func TestBenchSelfContained(t *testing.T) {
	bin := hookdBinary(t)
	report := filepath.Join(t.TempDir(), "report")
	cmd := exec.Command(bin, "bench", "ingest", "deliver", "--ceiling-time", "100ms", "--duration", "1s",
		"--events", "1000", "--webhooks", "1", "--timeout", "60s", "--dir", t.TempDir(), "--report", report)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("hookd bench: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	table := stdout.String()
	t.Logf("\n%s", table)
	rows := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(table), "\n")[1:] {
		f := regexp.MustCompile(`\s{2,}`).Split(l, -1)
		if len(f) < 3 {
			t.Fatalf("short row %q", l)
		}
		rows[f[0]+" / "+f[1]] = l
	}
	ratio := regexp.MustCompile(`\s[0-9.]+%\s+loopback HTTP`)
	for _, want := range []string{
		"ingest / 1/request, 64 clients",
		"ingest / 100/request, 64 clients",
		"deliver / size 1, 1 hook(s), burst 1,000 (32×1)",
		"deliver / size 100, 1 hook(s), steady 1,000 (8×100)",
	} {
		row, ok := rows[want]
		if !ok {
			t.Errorf("no row %q", want)
			continue
		}
		if !regexp.MustCompile(`[1-9][0-9,]* (events|deliveries)/s`).MatchString(row) || !ratio.MatchString(row) {
			t.Errorf("row %q: want a rate, its ceiling and a ratio", row)
		}
	}
	if row := rows["deliver / lost (all configurations)"]; !regexp.MustCompile(`configurations\)\s+0\s*$`).MatchString(row) {
		t.Errorf("lost row = %q; want 0", row)
	}
	if !strings.Contains(stderr.String(), "run 1/1: deliver") {
		t.Errorf("no progress on stderr:\n%s", stderr.String())
	}
	page, err := os.ReadFile(filepath.Join(report, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(page), "<svg"); n < 3 {
		t.Errorf("report has %d charts; want throughput, latency and RSS at least", n)
	}
}

// TestBenchLatencyReadsTheStore: latency reads hookd's store from its
// /metrics while it runs, and prints what it found beside the bad seconds;
// the bare relay, which has no /metrics, gets none of those rows.
func TestBenchLatencyReadsTheStore(t *testing.T) {
	bin := hookdBinary(t)
	cmd := exec.Command(bin, "bench", "latency", "--rate", "200", "--duration", "3s", "--ceiling-time", "100ms",
		"--timeout", "60s", "--dir", t.TempDir(), "--json")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("hookd bench latency: %v\nstderr:\n%s", err, stderr.String())
	}
	var r struct {
		Figures []struct {
			Figure string
			Value  float64
			Unit   string
		}
		Series []struct{ Name, Kind string }
	}
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("--json: %v\n%s", err, stdout.String())
	}
	got := map[string]string{}
	val := map[string]float64{}
	for _, f := range r.Figures {
		got[f.Figure] = f.Unit
		val[f.Figure] = f.Value
	}
	// The publish responses' tail beside the deliveries': every publish
	// took some time, and the slowest at least as long as the p99.
	for _, prefix := range []string{"200 events/s", "200 events/s, bare relay"} {
		p99, top := val[prefix+", ack p99"], val[prefix+", ack max"]
		if got[prefix+", ack p99"] != "ms" || p99 <= 0 || top < p99 {
			t.Errorf("%s: ack p99 %v %q, max %v; want both in ms, 0 < p99 <= max", prefix, p99, got[prefix+", ack p99"], top)
		}
	}
	for _, want := range []string{
		"200 events/s, of those, after a store write over 50 ms", "200 events/s, of those, beside a level-0 compaction",
		"200 events/s, of those, beside a memtable flush", "200 events/s, of those, none of these",
		"200 events/s, store writes over 50 ms", "200 events/s, level-0 tables, most",
	} {
		if _, ok := got[want]; !ok {
			t.Errorf("no figure %q", want)
		}
	}
	if u := got["200 events/s, level-0 tables, most"]; u != "tables (writes held at 15)" {
		t.Errorf("level-0 tables' unit = %q; want the stall read from /metrics", u)
	}
	for f := range got {
		if strings.Contains(f, "bare relay, of those") || strings.Contains(f, "bare relay, store") {
			t.Errorf("relay figure %q: the relay has no store", f)
		}
	}
	kinds := map[string]bool{}
	for _, s := range r.Series {
		kinds[s.Kind] = true
	}
	if !kinds[bench.KindSlowWrites] || !kinds[bench.KindL0Tables] {
		t.Errorf("series kinds %v; want the store's too", kinds)
	}
}

// TestBenchHelp: every scenario and flag is in --help, on stdout, exit 0.
func TestBenchHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"bench", "--help"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d; stderr %s", code, stderr.String())
	}
	for _, want := range []string{"limits", "ingest", "deliver", "latency", "fanout", "faults", "backlog", "crash", "soak",
		"-url", "-token", "-runs", "-json", "-report", "bench.hookd", "tenant kept for benchmarking"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	if code := run([]string{"bench", "nope", "--runs", "1"}, nil, &stdout, &stderr); code == 0 {
		t.Error("unknown scenario: exit 0")
	}
}

// TestBenchURLDeletesStaleWebhooks: a `hookd bench --url` run killed
// before its cleanup leaves its webhooks behind, pointing to a receiver
// that is gone; the next run deletes those, and only those: not a
// concurrent run's (its receiver listens), not anyone else's.
func TestBenchURLDeletesStaleWebhooks(t *testing.T) {
	bin := hookdBinary(t)
	p := startHookdEnv(t, t.TempDir(), []string{"HOOKD_DELIVERY_ALLOW_PRIVATE_DESTINATIONS=true"})
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	goneURL := "http://" + gone.Addr().String()
	gone.Close()
	live, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	create := func(url, description string) string {
		t.Helper()
		body := fmt.Sprintf(`{"url":%q,"description":%q,"events":["bench.hookd"]}`, url, description)
		return postJSON(t, p.url+"/v1/webhooks", body)["id"].(string)
	}
	stale := create(goneURL+"/w/0", "hookd bench")
	concurrent := create("http://"+live.Addr().String()+"/w/0", "hookd bench")
	someoneElses := create(goneURL+"/x", "orders to ERP")

	cmd := exec.Command(bin, "bench", "ingest", "--url", p.url, "--ceiling-time", "100ms", "--duration", "1s",
		"--timeout", "60s", "--dir", t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("hookd bench: %v\nstderr:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "deleted 1 webhook(s) an earlier hookd bench run left behind") {
		t.Errorf("stderr does not say what it deleted:\n%s", stderr.String())
	}
	r, err := http.Get(p.url + "/v1/webhooks?limit=1000")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var list struct{ Results []struct{ ID string } }
	if err := json.NewDecoder(r.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	left := map[string]bool{}
	for _, w := range list.Results {
		left[w.ID] = true
	}
	if left[stale] {
		t.Errorf("the stale bench webhook %s is still there", stale)
	}
	if !left[concurrent] || !left[someoneElses] {
		t.Errorf("deleted more than the stale one: left %v; want %s and %s", left, concurrent, someoneElses)
	}
}

// TestBenchFloorServer: the trickle's bare server, started as the lab
// starts it (this binary, `bench -floor-server DIR`), answers a publish
// with 202 only once the body is in its file, and is ready on /readyz.
func TestBenchFloorServer(t *testing.T) {
	bin := hookdBinary(t)
	dir := t.TempDir()
	c, err := bench.StartFloor(context.Background(), bin, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	body := `{"type":"bench.hookd","data":{"n":1}}`
	for i := range 3 {
		resp, err := http.Post(c.URL+"/v1/events", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 202 {
			t.Fatalf("publish %d: status %d; want 202", i, resp.StatusCode)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "floor.log")); err != nil || len(b) != (i+1)*len(body) {
			t.Fatalf("after publish %d the file holds %d bytes (%v); want %d", i, len(b), err, (i+1)*len(body))
		}
	}
	if runtime.GOOS == "linux" && c.CPU() <= 0 {
		t.Errorf("CPU of the floor server = %s; want it read from /proc", c.CPU())
	}
}
