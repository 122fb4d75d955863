package bench

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progress is the one status line on stderr: rewritten in place on a
// terminal, else printed at most once every few seconds.
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	terminal bool
	every    time.Duration
	last     time.Time
	shown    bool
}

func newProgress(w io.Writer, terminal bool) *progress {
	return &progress{w: w, terminal: terminal, every: 5 * time.Second}
}

// set shows line now on a terminal, or if the last line printed is old.
func (p *progress) set(format string, a ...any) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	line := fmt.Sprintf(format, a...)
	if p.terminal {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.shown = true
		return
	}
	if now := time.Now(); now.Sub(p.last) >= p.every {
		p.last = now
		fmt.Fprintln(p.w, line)
	}
}

// note prints a line that stays (a scenario starting, a warning).
func (p *progress) note(format string, a ...any) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.terminal && p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
	fmt.Fprintf(p.w, format+"\n", a...)
	p.last = time.Now()
}

// done clears the status line.
func (p *progress) done() {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.terminal && p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}
