package api

import (
	"bytes"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"hookd/engine"
)

// GET /v1/stats: the numbers behind the console's live chart, per
// 10-second step over the last 10 minutes. /metrics is process-wide
// Prometheus text; a page wants a few numbers as JSON.
//
//   - ingested: the caller's tenant's events acknowledged by POST
//     /v1/events in this process (counted by countIngest);
//   - attempts by outcome and their latency percentiles: the engine's
//     counters (engine.Counters, what /metrics serves), server-wide, as
//     the differences between snapshots taken at the first ingest or
//     stats request of each step. They are not per tenant: the engine
//     counts attempts for the whole server, and /metrics already shows
//     them to anyone, so they tell a tenant nothing it could not read.
//
// Everything is in memory and starts empty at each start; a step in
// which nobody published or looked has no attempt snapshot (null).

const (
	statsStep  = 10 * time.Second
	statsSteps = 60 // 10 minutes
)

// statsStepOf is the number of the step holding t.
func statsStepOf(t time.Time) int64 { return t.Unix() / int64(statsStep/time.Second) }

type ingestStep struct {
	at int64 // step number; 0: unused
	n  int
}

// attemptSnap is the engine's cumulative attempt counts at a step's start.
type attemptSnap struct {
	at        int64
	succeeded uint64
	failed    uint64
	hist      []uint64 // AttemptSeconds counts, per engine.AttemptBuckets and +Inf
}

// stats holds the per-tenant ingest rings and the server's attempt snapshots.
type stats struct {
	mu      sync.Mutex
	tenants map[string]*[statsSteps]ingestStep
	snaps   [statsSteps + 1]attemptSnap
	snapAt  atomic.Int64 // the step of the latest snapshot (begin's fast path)
	now     func() time.Time
}

func newStats(now func() time.Time) *stats {
	return &stats{tenants: map[string]*[statsSteps]ingestStep{}, now: now}
}

// read reads the engine's cumulative attempt counts as of step n.
func readAttempts(eng Deliverer, n int64) attemptSnap {
	k := eng.Counters()
	sn := attemptSnap{at: n, hist: k.AttemptSeconds.Counts}
	for j := range k.Attempts[0] {
		sn.succeeded += k.Attempts[0][j]
		for i := 1; i < len(k.Attempts); i++ {
			sn.failed += k.Attempts[i][j]
		}
	}
	return sn
}

// snapshot records the engine's counters for step n, once a step (s.mu
// held).
func (s *stats) snapshot(eng Deliverer, n int64) {
	if eng == nil || s.snaps[n%int64(len(s.snaps))].at == n {
		return
	}
	s.snaps[n%int64(len(s.snaps))] = readAttempts(eng, n)
	s.snapAt.Store(n)
}

// begin takes the current step's snapshot if none is taken yet, before
// a publish whose deliveries the step must count.
func (s *stats) begin(eng Deliverer) {
	n := statsStepOf(s.now())
	if eng == nil || s.snapAt.Load() == n {
		return
	}
	s.mu.Lock()
	s.snapshot(eng, n)
	s.mu.Unlock()
}

func (s *stats) ingested(eng Deliverer, tenant string, count int) {
	n := statsStepOf(s.now())
	s.mu.Lock()
	defer s.mu.Unlock()
	ring := s.tenants[tenant]
	if ring == nil {
		if len(s.tenants) >= 100_000 {
			clear(s.tenants) // bounded: a flood of tenants loses the chart, not memory
		}
		ring = new([statsSteps]ingestStep)
		s.tenants[tenant] = ring
	}
	st := &ring[n%statsSteps]
	if st.at != n {
		*st = ingestStep{at: n}
	}
	st.n += count
	s.snapshot(eng, n)
}

// countIngest wraps the publish handler: the events it acknowledged count
// in the tenant's statistics (read off its 202 body, {"accepted":n,...}).
// The step's attempt snapshot is taken before the publish, not after: its
// events may be delivered before the handler returns.
func (s *Server) countIngest(h handler) handler {
	return func(ctx *fasthttp.RequestCtx, p *Principal) error {
		s.stats.begin(s.engine)
		err := h(ctx, p)
		if err == nil && ctx.Response.StatusCode() == 202 {
			if rest, ok := bytes.CutPrefix(ctx.Response.Body(), []byte(`{"accepted":`)); ok {
				if n, perr := strconv.Atoi(string(rest[:max(bytes.IndexByte(rest, ','), 0)])); perr == nil {
					s.stats.ingested(s.engine, p.Tenant, n)
				}
			}
		}
		return err
	}
}

type statsPoint struct {
	At       string `json:"at"`
	Ingested int    `json:"ingested"`
	// Server-wide attempts in this step; null when no snapshot bounds it.
	Succeeded *uint64  `json:"succeeded"`
	Failed    *uint64  `json:"failed"`
	P50       *float64 `json:"p50Ms"`
	P95       *float64 `json:"p95Ms"`
	P99       *float64 `json:"p99Ms"`
}

type statsOut struct {
	StepSeconds int          `json:"stepSeconds"`
	Points      []statsPoint `json:"points"`
}

// getStats is GET /v1/stats: the last ten minutes, oldest first. A portal
// limited to some webhooks gets 403: the ingest counts are the tenant's.
func (s *Server) getStats(ctx *fasthttp.RequestCtx, p *Principal) error {
	if p.limited() {
		return &Error{Status: 403, Code: codeForbidden, Detail: "a portal limited to some webhooks has no tenant-wide statistics"}
	}
	st := s.stats
	now := statsStepOf(st.now())
	st.mu.Lock()
	st.snapshot(s.engine, now)
	var ring [statsSteps]ingestStep
	if r := st.tenants[p.Tenant]; r != nil {
		ring = *r
	}
	snaps := st.snaps
	st.mu.Unlock()
	var live attemptSnap // the counts now, which close the current step
	if s.engine != nil {
		live = readAttempts(s.engine, now+1)
	}

	out := statsOut{StepSeconds: int(statsStep / time.Second), Points: make([]statsPoint, 0, statsSteps)}
	for n := now - statsSteps + 1; n <= now; n++ {
		pt := statsPoint{At: timestamp(time.Unix(n*int64(statsStep/time.Second), 0))}
		if in := ring[n%statsSteps]; in.at == n {
			pt.Ingested = in.n
		}
		// Attempts of step n: from its snapshot to the next one taken.
		a := snaps[n%int64(len(snaps))]
		if a.at == n {
			b, ok := nextSnap(snaps[:], n, now)
			if !ok && s.engine != nil {
				b, ok = live, true
			}
			if ok {
				ok, failed := b.succeeded-a.succeeded, b.failed-a.failed
				pt.Succeeded, pt.Failed = &ok, &failed
				d := make([]uint64, len(b.hist))
				for i := range d {
					if i < len(a.hist) {
						d[i] = b.hist[i] - a.hist[i]
					}
				}
				pt.P50, pt.P95, pt.P99 = quantileMs(d, 0.5), quantileMs(d, 0.95), quantileMs(d, 0.99)
			}
		}
		out.Points = append(out.Points, pt)
	}
	return writeJSON(ctx, 200, out)
}

// nextSnap finds the first snapshot after step n, up to step now.
func nextSnap(snaps []attemptSnap, n, now int64) (attemptSnap, bool) {
	for m := n + 1; m <= now; m++ {
		if b := snaps[m%int64(len(snaps))]; b.at == m {
			return b, true
		}
	}
	return attemptSnap{}, false
}

// quantileMs reads the q-quantile (ms) off counts per engine.AttemptBuckets,
// as the upper bound of the bucket it falls in; nil when there are none.
func quantileMs(counts []uint64, q float64) *float64 {
	var total uint64
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return nil
	}
	bounds := engine.AttemptBuckets
	rank, seen := q*float64(total), uint64(0)
	for i, c := range counts {
		seen += c
		if float64(seen) >= rank {
			v := bounds[min(i, len(bounds)-1)] * 1000
			return &v
		}
	}
	v := bounds[len(bounds)-1] * 1000
	return &v
}
