//go:build unix

package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestREADMEWalkthrough runs every ```bash block of README.md verbatim, in
// order, as one script, the way a new user would type them: in a directory
// holding the release build as ./hookd and the repository's docs/. The
// blocks start hookd, a receiver that verifies signatures with the official
// Standard Webhooks library (npm), create a webhook, publish, wait for the
// verified delivery, inspect and replay it, batch, authenticate with a
// minted token, and stop everything with SIGTERM (which must exit 0).
func TestREADMEWalkthrough(t *testing.T) {
	bin := hookdBinary(t)
	for _, tool := range []string{"bash", "curl", "jq", "node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the walk-through needs %s (.ci/run installs it): %v", tool, err)
		}
	}
	for _, port := range []string{"8080", "8081", "9000"} { // the README's ports
		ln, err := net.Listen("tcp", "127.0.0.1:"+port)
		if err != nil {
			t.Fatalf("port %s is taken; the README's walk-through uses it: %v", port, err)
		}
		ln.Close()
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	for _, m := range regexp.MustCompile("(?s)```bash\n(.*?)```").FindAllStringSubmatch(string(readme), -1) {
		script.WriteString(m[1])
	}
	if n := strings.Count(script.String(), "\n"); n < 30 {
		t.Fatalf("only %d lines of bash in README.md", n)
	}

	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "docs"), os.DirFS("docs")); err != nil {
		t.Fatal(err)
	}
	exe, _ := os.ReadFile(bin)
	if err := os.WriteFile(filepath.Join(dir, "hookd"), exe, 0o755); err != nil {
		t.Fatal(err)
	}
	// Twice in the same directory: a user who runs it again must get the
	// same (nothing of the first run may be in the way).
	for round := 1; round <= 2; round++ {
		walkthrough(t, dir, script.String(), round)
	}
}

func walkthrough(t *testing.T, dir, script string, round int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOOKD_LOG_LEVEL=info")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the background jobs too
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	defer func() {
		if cmd.Process != nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	}()
	out, err := cmd.CombinedOutput()
	logs := func() string {
		var b strings.Builder
		for _, f := range []string{"receiver.log", "hookd.log", "hookd-jwt.log"} {
			l, _ := os.ReadFile(filepath.Join(dir, f))
			b.WriteString("--- " + f + "\n" + string(l))
		}
		return b.String()
	}
	if err != nil {
		t.Fatalf("the README's walk-through failed (run %d): %v\n%s\n%s", round, err, out, logs())
	}
	for _, want := range []string{"verified evt_", `"duplicates":1`, `"orderId":"B2"`, "401", `{"results":[],"nextCursor":null}`, `"success":true`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("walk-through output (run %d) lacks %q:\n%s\n%s", round, want, out, logs())
		}
	}
	if strings.Contains(string(out), "REJECTED") {
		t.Errorf("the receiver rejected a signature (run %d):\n%s", round, out)
	}
}
