package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
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
