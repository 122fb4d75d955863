package engine

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The scenario interpreter's expectations and argument parsing; the
// language is described in core_scenario_test.go.

func (s *scenario) expect(a *args) {
	switch what := a.pos(0); what {
	case "open", "send":
		h := s.hook(a.pos(1))
		act := s.unchecked(h)
		if len(act) == 0 {
			s.fatalf("expect %s %s: no action", what, h.name)
		}
		s.checkAction(what, act[0], a)
	case "sends":
		h, n := s.hook(a.pos(1)), a.posInt(2)
		at := a.str("at", "")
		got := 0
		for _, act := range s.unchecked(h) {
			if act.Kind != ActSend {
				break
			}
			act.checked = true
			got++
			if at != "" {
				s.checkTime(fmt.Sprintf("send of batch %d", act.batch.n), act.at, at)
			}
		}
		if got != n {
			s.fatalf("expect sends %s: got %d sends; want %d", h.name, got, n)
		}
	case "nothing":
		var h *simHook
		if len(a.positional) > 1 {
			h = s.hook(a.pos(1))
		}
		if rest := s.unchecked(h); len(rest) > 0 {
			s.fatalf("expect nothing: got\n%s", s.describe(rest))
		}
	case "status":
		s.checkOutcome(s.batch(a.pos(1)), a)
	case "batch":
		b := s.batch(a.pos(1))
		r := b.rec
		s.checkStr("status", r.Status, a.str("status", r.Status))
		s.checkInt("events", b.events, a.int("events", b.events))
		s.checkInt("attempts", r.Attempts, a.int("attempts", r.Attempts))
		s.checkInt("max", r.MaxAttempts, a.int("max", r.MaxAttempts))
		s.checkStr("inflight", strconv.FormatBool(b.inFlight), a.str("inflight", strconv.FormatBool(b.inFlight)))
	case "health":
		h := s.hook(a.pos(1))
		hl, ok := s.core.Health(h.cfg.ID)
		if !ok {
			hl.Status = "unknown"
		}
		s.checkStr("health of "+h.name, hl.Status, a.pos(2))
		s.checkInt("consecutive failures", hl.ConsecutiveFailures, a.int("failures", hl.ConsecutiveFailures))
	case "inflight":
		h := s.hook(a.pos(1))
		s.checkInt("in flight for "+h.name, s.inFlight(h), a.posInt(2))
	case "queue":
		h := s.hook(a.pos(1))
		s.checkInt("queue of "+h.name, len(h.queue), a.posInt(2))
	case "open-batches":
		h := s.hook(a.pos(1))
		s.checkInt("open batches of "+h.name, s.core.OpenBatches(h.cfg.ID), a.posInt(2))
	case "cancelled":
		got := fmt.Sprint(s.cancelled)
		want := "[" + strings.ReplaceAll(a.pos(1), ",", " ") + "]"
		if a.pos(1) == "none" {
			want = "[]"
		}
		s.checkStr("cancelled batches", got, want)
	case "wake":
		w, ok := s.core.NextWake()
		switch {
		case a.pos(1) == "none" && ok:
			s.fatalf("expect wake none: got %s", s.elapsed(w))
		case a.pos(1) != "none" && !ok:
			s.fatalf("expect wake %s: got none", a.pos(1))
		case ok:
			s.checkTime("next wake", w, a.pos(1))
		}
	default:
		s.fatalf("unknown expectation %q", what)
	}
}

func (s *scenario) checkAction(what string, act *simAction, a *args) {
	act.checked = true
	got := s.describe([]*simAction{act})
	bad := func(field string) { s.fatalf("expect %s (%s): got %s", what, field, strings.TrimSpace(got)) }
	if (what == "open") != (act.Kind == ActOpen) {
		bad("kind")
	}
	if at := a.str("at", ""); at != "" {
		s.checkTime(what+" time", act.at, at)
	}
	if what == "open" {
		if c := a.int("count", act.Count); c != act.Count {
			bad("count")
		}
		if n := a.int("size", act.Size); n != act.Size {
			bad("size")
		}
		return
	}
	if n := a.int("batch", act.batch.n); n != act.batch.n {
		bad("batch")
	}
	if tr := a.str("trigger", act.Trigger); tr != act.Trigger {
		bad("trigger")
	}
	switch a.str("attempt", "") {
	case "":
	case "none":
		if !act.AttemptID.IsZero() {
			bad("attempt")
		}
	case "manual":
		if act.AttemptID.IsZero() || act.AttemptID != act.manual {
			bad("attempt")
		}
	default:
		s.fatalf("attempt= is none or manual")
	}
}

func (s *scenario) checkOutcome(b *simBatch, a *args) {
	if b.out == nil {
		s.fatalf("batch %d: no result yet", b.n)
	}
	out := *b.out
	if a.pos(2) == "none" {
		if out != (Outcome{}) {
			s.fatalf("batch %d: got outcome %+v; want none", b.n, out)
		}
		return
	}
	if !out.Counted {
		s.fatalf("batch %d: got an uncounted outcome; want %s", b.n, a.pos(2))
	}
	s.checkStr(fmt.Sprintf("batch %d status", b.n), out.Status, a.pos(2))
	s.checkInt("attempts", out.Attempts, a.int("attempts", out.Attempts))
	s.checkInt("max attempts", out.MaxAttempts, a.int("max", out.MaxAttempts))
	if next := a.str("next", ""); next != "" {
		s.checkTime(fmt.Sprintf("batch %d next attempt", b.n), out.Next, next)
	}
	s.checkStr("deactivate", strconv.FormatBool(out.Deactivate), a.str("deactivate", strconv.FormatBool(out.Deactivate)))
}

func (s *scenario) checkInt(what string, got, want int) {
	if got != want {
		s.fatalf("%s: got %d; want %d", what, got, want)
	}
}

func (s *scenario) checkStr(what, got, want string) {
	if got != want {
		s.fatalf("%s: got %s; want %s", what, got, want)
	}
}

// unchecked lists the actions no expect has matched yet, of h or of all.
func (s *scenario) unchecked(h *simHook) []*simAction {
	var out []*simAction
	for _, act := range s.log {
		if !act.checked && (h == nil || act.hook == h) {
			out = append(out, act)
		}
	}
	return out
}

func (s *scenario) describe(acts []*simAction) string {
	var b strings.Builder
	for _, act := range acts {
		if act.Kind == ActOpen {
			fmt.Fprintf(&b, "\topen %s count=%d size=%d at=%s\n", act.hook.name, act.Count, act.Size, s.elapsed(act.at))
		} else {
			fmt.Fprintf(&b, "\tsend %s batch=%d trigger=%s at=%s\n", act.hook.name, act.batch.n, act.Trigger, s.elapsed(act.at))
		}
	}
	return b.String()
}

// args are a command's words: positional ones and key=value ones. Every
// key must be read, so a misspelt one fails the script.
type args struct {
	s          *scenario
	positional []string
	kv         map[string]string
	used       map[string]bool
}

func (s *scenario) parseArgs(words []string) *args {
	a := &args{s: s, kv: map[string]string{}, used: map[string]bool{}}
	for _, w := range words {
		if k, v, ok := strings.Cut(w, "="); ok {
			a.kv[k] = v
		} else {
			a.positional = append(a.positional, w)
		}
	}
	return a
}

func (a *args) done() {
	var extra []string
	for k := range a.kv {
		if !a.used[k] {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		a.s.fatalf("unknown keys %v", extra)
	}
}

func (a *args) pos(i int) string {
	if i >= len(a.positional) {
		a.s.fatalf("missing argument %d", i+1)
	}
	return a.positional[i]
}

func (a *args) posInt(i int) int {
	n, err := strconv.Atoi(a.pos(i))
	if err != nil {
		a.s.fatalf("argument %d: %v", i+1, err)
	}
	return n
}

func (a *args) posDur(i int) time.Duration {
	d, err := time.ParseDuration(a.pos(i))
	if err != nil {
		a.s.fatalf("argument %d: %v", i+1, err)
	}
	return d
}

func (a *args) str(k, def string) string {
	a.used[k] = true
	if v, ok := a.kv[k]; ok {
		return v
	}
	return def
}

func (a *args) int(k string, def int) int {
	v := a.str(k, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		a.s.fatalf("%s: %v", k, err)
	}
	return n
}

func (a *args) bool(k string, def bool) bool {
	v := a.str(k, "")
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		a.s.fatalf("%s: %v", k, err)
	}
	return b
}

func (a *args) dur(k string, def time.Duration) time.Duration {
	v := a.str(k, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		a.s.fatalf("%s: %v", k, err)
	}
	return d
}

func (a *args) sched(k string, def []time.Duration) []time.Duration {
	v := a.str(k, "")
	if v == "" {
		return def
	}
	var out []time.Duration
	for _, f := range strings.Split(v, ",") {
		d, err := time.ParseDuration(f)
		if err != nil {
			a.s.fatalf("%s: %v", k, err)
		}
		out = append(out, d)
	}
	return out
}
