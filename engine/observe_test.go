package engine

import (
	"testing"
	"time"

	"hookd/wal"
)

func TestReserved(t *testing.T) {
	for typ, want := range map[string]bool{"hookd.webhook.disabled": true, "HOOKD.x": true, "Hookd.": true,
		"hookd": false, "hookdx.y": false, "order.created": false, "": false, "my.hookd.x": false} {
		if got := Reserved(typ); got != want {
			t.Errorf("Reserved(%q) = %v, want %v", typ, got, want)
		}
	}
}

func TestStatusClass(t *testing.T) {
	for code, want := range map[int]string{0: "none", 200: "2xx", 204: "2xx", 302: "3xx", 410: "4xx", 503: "5xx", 99: "none", 700: "none"} {
		if got := StatusClasses[statusClass(code)]; got != want {
			t.Errorf("statusClass(%d) = %s, want %s", code, got, want)
		}
	}
}

func TestHistBuckets(t *testing.T) {
	h := newHist([]float64{.1, 1})
	for _, d := range []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 500 * time.Millisecond, 2 * time.Second, -time.Second} {
		h.observe(d)
	}
	s := h.snapshot()
	if got, want := s.Counts, []uint64{3, 1, 1}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("counts = %v, want %v", got, want)
	}
	if s.Count() != 5 || s.Sum < 2.649 || s.Sum > 2.651 {
		t.Errorf("count %d sum %v, want 5, 2.65", s.Count(), s.Sum)
	}
}

// One failed-attempt line per webhook per failLogEvery; the next says how
// many were left out.
func TestFailLogRateLimit(t *testing.T) {
	var f failLog
	a, b := wal.ID{1}, wal.ID{2}
	t0 := time.Unix(1000, 0)
	steps := []struct {
		id         wal.ID
		at         time.Duration
		ok         bool
		suppressed int
	}{
		{a, 0, true, 0}, {a, time.Second, false, 0}, {b, time.Second, true, 0}, {a, 9 * time.Second, false, 0},
		{a, 10 * time.Second, true, 2}, {a, 11 * time.Second, false, 0}, {a, 30 * time.Second, true, 1},
	}
	for i, s := range steps {
		ok, n := f.allow(s.id, t0.Add(s.at))
		if ok != s.ok || n != s.suppressed {
			t.Errorf("step %d: allow = %v, %d; want %v, %d", i, ok, n, s.ok, s.suppressed)
		}
	}
}

func TestInsertTop(t *testing.T) {
	var top []HookBacklog
	for i, n := range []int{5, 1, 9, 3, 9, 7} {
		top = insertTop(top, HookBacklog{Webhook: wal.ID{byte(i)}, Events: n}, 3)
	}
	got := []int{}
	for _, h := range top {
		got = append(got, h.Events)
	}
	if len(got) != 3 || got[0] != 9 || got[1] != 9 || got[2] != 7 || top[0].Webhook != (wal.ID{2}) {
		t.Errorf("top = %v, want 9 (wh 2), 9, 7", top)
	}
}

func TestOnlyReserved(t *testing.T) {
	mk := func(types ...string) *wal.Batch {
		b := &wal.Batch{}
		for _, ty := range types {
			b.Events = append(b.Events, wal.BatchEvent{Type: ty})
		}
		return b
	}
	if !onlyReserved(mk(TypeBatchExpired, TypeWebhookDisabled)) || onlyReserved(mk(TypeBatchExpired, "order.created")) || onlyReserved(mk()) {
		t.Error("onlyReserved: want true only for a batch of reserved types")
	}
}
