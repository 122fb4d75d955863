package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// Child is a hookd the lab started: the same binary, `serve` on
// 127.0.0.1:0 with its data in Dir.
type Child struct {
	Bin, Dir string
	Env      []string // HOOKD_* settings on top of the lab's environment
	// Args are the arguments after Bin (default: serve on 127.0.0.1:0
	// with Dir as its data).
	Args []string
	URL  string // http://127.0.0.1:port, from its first stdout line
	// Ready is how long the last start took, from exec to /readyz 200.
	Ready time.Duration

	cmd  *exec.Cmd
	logs *tailBuffer
}

// StartChild execs bin serve on dir and waits for /readyz.
func StartChild(ctx context.Context, bin, dir string, env []string) (*Child, error) {
	c := &Child{Bin: bin, Dir: dir, Env: env}
	return c, c.Start(ctx)
}

// Start (re)starts the process on the same data dir.
func (c *Child) Start(ctx context.Context) error {
	t0 := time.Now()
	args := c.Args
	if args == nil {
		args = []string{"serve", "--listen", "127.0.0.1:0", "--data", c.Dir}
	}
	cmd := exec.Command(c.Bin, args...)
	cmd.Env = append(append(os.Environ(), "HOOKD_LOG_LEVEL=warn"), c.Env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	c.logs = &tailBuffer{max: 16 << 10}
	cmd.Stderr = c.logs
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("bench: start hookd: %w", err)
	}
	c.cmd = cmd
	addr := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(stdout)
		sent := false
		for lines.Scan() {
			if a, ok := strings.CutPrefix(lines.Text(), "hookd listening on "); ok && !sent {
				addr <- strings.TrimSpace(a)
				sent = true
			}
		}
		if !sent {
			close(addr)
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			c.Kill()
			return fmt.Errorf("bench: hookd exited before listening: %s", c.logs)
		}
		c.URL = a
	case <-time.After(60 * time.Second):
		c.Kill()
		return fmt.Errorf("bench: hookd did not report its address in 60 s: %s", c.logs)
	case <-ctx.Done():
		c.Kill()
		return ctx.Err()
	}
	for {
		code, _, err := fasthttp.GetTimeout(nil, c.URL+"/readyz", time.Second)
		if err == nil && code == 200 {
			c.Ready = time.Since(t0)
			return nil
		}
		if time.Since(t0) > 60*time.Second || ctx.Err() != nil {
			c.Kill()
			return fmt.Errorf("bench: hookd not ready after %s (status %d, %v): %s", time.Since(t0).Round(time.Millisecond), code, err, c.logs)
		}
		time.Sleep(5 * time.Millisecond) // polling a starting process: it has no way to tell us
	}
}

// Pid is the process id (0 when not running).
func (c *Child) Pid() int {
	if c.cmd == nil || c.cmd.Process == nil {
		return 0
	}
	return c.cmd.Process.Pid
}

// Kill is kill -9 and wait.
func (c *Child) Kill() {
	if c.cmd != nil && c.cmd.ProcessState == nil {
		_ = c.cmd.Process.Signal(syscall.SIGKILL)
		_ = c.cmd.Wait()
	}
}

// Stop asks hookd to shut down (SIGTERM) and kills it after 20 s.
func (c *Child) Stop() {
	if c.cmd == nil || c.cmd.ProcessState != nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	t := time.AfterFunc(20*time.Second, func() { _ = c.cmd.Process.Signal(syscall.SIGKILL) })
	_ = c.cmd.Wait()
	t.Stop()
}

// Logs is the tail of the process's stderr.
func (c *Child) Logs() string { return c.logs.String() }

// RSS is the resident set of the process in bytes, from /proc (0 when
// unknown).
func (c *Child) RSS() int64 { return procRSS(c.Pid()) }

// Mem is the resident set of the process and its two parts, from
// /proc/PID/status (zeros when unknown).
func (c *Child) Mem() Mem { return procMem(c.Pid()) }

// Mem is a process's resident set split the way a spike is attributed: Anon
// is its anonymous memory (for hookd, the Go heap, stacks and runtime);
// File its file-backed pages (Badger's memory-mapped logs and tables,
// the binary), RssFile plus RssShmem, as a data directory on tmpfs maps
// shared memory. Bytes.
type Mem struct{ RSS, Anon, File int64 }

func procMem(pid int) Mem {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Mem{}
	}
	var m Mem
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		kb, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			m.RSS = kb << 10
		case "RssAnon":
			m.Anon = kb << 10
		case "RssFile", "RssShmem":
			m.File += kb << 10
		}
	}
	return m
}

// CPU is the user+system CPU time the process has used, from /proc.
func (c *Child) CPU() time.Duration { return procCPU(c.Pid()) }

func procRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go runs on.
const clockTicks = 100

// procCPU is the CPU time process pid has used: the sum of its threads'
// run times in nanoseconds (/proc/PID/task/*/schedstat) where the kernel
// keeps them, else the 10-ms ticks of /proc/PID/stat. Ticks are too
// coarse for an idle process: 30 s at 0.1% of a core is three of them,
// and the idle bar (0.2%) sits between six and seven. A thread that has
// exited drops out of the sum; the Go runtime does not end its threads.
func procCPU(pid int) time.Duration {
	if d, ok := schedCPU(pid); ok {
		return d
	}
	return statCPU(pid)
}

func schedCPU(pid int) (time.Duration, bool) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil || len(tasks) == 0 {
		return 0, false
	}
	var sum time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if errors.Is(err, fs.ErrNotExist) {
			continue // the thread ended between the listing and the read
		}
		if err != nil {
			return 0, false
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return 0, false
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, false
		}
		sum += time.Duration(ns)
	}
	return sum, true
}

func statCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command (which may hold spaces) start at ") ".
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 { // utime and stime are fields 14 and 15 of stat, 12 and 13 here
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * time.Second / clockTicks
}

// diskBytes is the space the files under dir take on disk (allocated
// blocks, so sparse preallocation is not counted).
func diskBytes(dir string) int64 {
	var n int64
	_ = walkFiles(dir, func(fi os.FileInfo) {
		if b, ok := allocated(fi); ok {
			n += b
		} else {
			n += fi.Size()
		}
	})
	return n
}

func walkFiles(dir string, f func(os.FileInfo)) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() {
			_ = walkFiles(dir+"/"+e.Name(), f)
			continue
		}
		if fi, err := e.Info(); err == nil {
			f(fi)
		}
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	if t == nil {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}
