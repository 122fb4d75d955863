package api

import (
	"bytes"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"hookd/wal"
)

// GET /v1/stats: a tenant's ingest and delivery over the last minutes, in
// 10-second steps, for the console's live chart. /metrics is process-wide
// Prometheus text; a page wants its own tenant's few numbers as JSON.
// The counts are kept in memory from what passes through this process
// (events acknowledged by POST /v1/events, attempts told by ObserveAttempt)
// and start empty at each start.

const (
	statsStep  = 10 * time.Second
	statsSteps = 60 // 10 minutes
)

// latencyBounds are the upper bounds (ms) of the latency histogram the
// percentiles are read from.
var latencyBounds = []float64{5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000}

type statsStepData struct {
	at        int64 // step number (unix seconds / 10); 0: unused
	ingested  int
	succeeded int
	failed    int
	latency   [13]int // per latencyBounds, and one past the last
}

type tenantStats struct {
	steps [statsSteps]statsStepData
	hooks map[wal.ID]bool // webhooks seen, for limited portals
}

// stats is every tenant's ring of steps.
type stats struct {
	mu      sync.Mutex
	tenants map[string]*tenantStats
	now     func() time.Time
}

func newStats(now func() time.Time) *stats {
	return &stats{tenants: map[string]*tenantStats{}, now: now}
}

// step returns the current step of tenant's ring (s.mu held).
func (s *stats) step(tenant string) *statsStepData {
	t := s.tenants[tenant]
	if t == nil {
		if len(s.tenants) >= 100_000 {
			clear(s.tenants) // bounded: a flood of tenants loses the chart, not memory
		}
		t = &tenantStats{}
		s.tenants[tenant] = t
	}
	n := s.now().Unix() / int64(statsStep/time.Second)
	st := &t.steps[n%statsSteps]
	if st.at != n {
		*st = statsStepData{at: n}
	}
	return st
}

func (s *stats) ingested(tenant string, n int) {
	s.mu.Lock()
	s.step(tenant).ingested += n
	s.mu.Unlock()
}

// ObserveAttempt counts one finished delivery attempt in its tenant's
// live statistics. The engine's OnAttempt option may call it.
func (s *Server) ObserveAttempt(b *wal.Batch, a *wal.Attempt) {
	if a == nil || a.Status == wal.AttemptScheduled {
		return
	}
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	st := s.stats.step(b.Tenant)
	if a.Status == wal.AttemptSucceeded {
		st.succeeded++
	} else {
		st.failed++
	}
	ms := float64(a.Duration) / float64(time.Millisecond)
	i, _ := slices.BinarySearch(latencyBounds, ms)
	st.latency[i]++
}

// countIngest wraps the publish handler: the events it acknowledged count
// in the tenant's statistics (read off its 202 body, {"accepted":n,...}).
func (s *Server) countIngest(h handler) handler {
	return func(ctx *fasthttp.RequestCtx, p *Principal) error {
		err := h(ctx, p)
		if err == nil && ctx.Response.StatusCode() == 202 {
			body := ctx.Response.Body()
			if rest, ok := bytes.CutPrefix(body, []byte(`{"accepted":`)); ok {
				end := bytes.IndexByte(rest, ',')
				if n, perr := strconv.Atoi(string(rest[:max(end, 0)])); perr == nil {
					s.stats.ingested(p.Tenant, n)
				}
			}
		}
		return err
	}
}

type statsPoint struct {
	At        string   `json:"at"`
	Ingested  int      `json:"ingested"`
	Succeeded int      `json:"succeeded"`
	Failed    int      `json:"failed"`
	P50       *float64 `json:"p50Ms"`
	P95       *float64 `json:"p95Ms"`
	P99       *float64 `json:"p99Ms"`
}

type statsOut struct {
	StepSeconds int          `json:"stepSeconds"`
	Points      []statsPoint `json:"points"`
}

// getStats is GET /v1/stats: the tenant's last ten minutes, oldest first.
// A portal limited to some webhooks gets 403: the counts are the tenant's.
func (s *Server) getStats(ctx *fasthttp.RequestCtx, p *Principal) error {
	if p.limited() {
		return &Error{Status: 403, Code: codeForbidden, Detail: "a portal limited to some webhooks has no tenant-wide statistics"}
	}
	s.stats.mu.Lock()
	t := s.stats.tenants[p.Tenant]
	var steps [statsSteps]statsStepData
	if t != nil {
		steps = t.steps
	}
	s.stats.mu.Unlock()
	now := s.now().Unix() / int64(statsStep/time.Second)
	out := statsOut{StepSeconds: int(statsStep / time.Second), Points: make([]statsPoint, 0, statsSteps)}
	for n := now - statsSteps + 1; n <= now; n++ {
		st := steps[n%statsSteps]
		pt := statsPoint{At: timestamp(time.Unix(n*int64(statsStep/time.Second), 0))}
		if st.at == n {
			pt.Ingested, pt.Succeeded, pt.Failed = st.ingested, st.succeeded, st.failed
			pt.P50, pt.P95, pt.P99 = quantile(st.latency[:], 0.5), quantile(st.latency[:], 0.95), quantile(st.latency[:], 0.99)
		}
		out.Points = append(out.Points, pt)
	}
	return writeJSON(ctx, 200, out)
}

// quantile reads the q-quantile off a latency histogram, as the upper
// bound of the bucket it falls in (nil when the histogram is empty).
func quantile(h []int, q float64) *float64 {
	total := 0
	for _, c := range h {
		total += c
	}
	if total == 0 {
		return nil
	}
	rank, seen := q*float64(total), 0
	for i, c := range h {
		seen += c
		if float64(seen) >= rank {
			v := latencyBounds[min(i, len(latencyBounds)-1)]
			return &v
		}
	}
	v := latencyBounds[len(latencyBounds)-1]
	return &v
}
