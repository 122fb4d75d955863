package engine

import (
	"sync"
	"time"

	"go.uber.org/zap"

	"hookd/wal"
)

// Failed attempts are logged at warn, at most one line per webhook per
// failLogEvery; the next line says how many were left out meanwhile. A
// line names the webhook, batch and attempt, the status code and the
// error class: never the URL, headers, body or error text, which may carry
// secrets or payload.

// failLogEvery is the per-webhook interval between failed-attempt lines.
const failLogEvery = 10 * time.Second

// failLogMax bounds the webhooks remembered; past it, those quiet for
// failLogEvery are forgotten.
const failLogMax = 4096

type failLog struct {
	mu   sync.Mutex
	seen map[wal.ID]*failLogEntry
}

type failLogEntry struct {
	at         time.Time // of the last line
	suppressed int
}

// allow reports whether a line for webhook may be written at now, and how
// many were suppressed since the last one.
func (f *failLog) allow(webhook wal.ID, now time.Time) (bool, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen == nil {
		f.seen = map[wal.ID]*failLogEntry{}
	}
	en := f.seen[webhook]
	if en != nil && now.Sub(en.at) < failLogEvery {
		en.suppressed++
		return false, 0
	}
	if en == nil {
		if len(f.seen) >= failLogMax {
			for id, x := range f.seen {
				if now.Sub(x.at) >= failLogEvery {
					delete(f.seen, id)
				}
			}
		}
		en = &failLogEntry{}
		f.seen[webhook] = en
	}
	n := en.suppressed
	en.at, en.suppressed = now, 0
	return true, n
}

// logFailure writes the warn line for a failed attempt, rate-limited.
func (e *Engine) logFailure(now time.Time, b *wal.Batch, att *wal.Attempt, res Result, out Outcome) {
	ok, suppressed := e.failLog.allow(b.WebhookID, now)
	if !ok {
		e.stats.logsDropped.Add(1)
		return
	}
	class := res.Class
	if class == "" {
		class = "status"
	}
	fields := []zap.Field{zap.String("tenant", b.Tenant), zap.String("webhookId", b.WebhookID.Text("wh_")),
		zap.String("batchId", b.ID.Text("bat_")), zap.String("attemptId", att.ID.Text("att_")),
		zap.Int("attempt", out.Attempts), zap.Int("status", res.StatusCode), zap.String("class", class),
		zap.String("batchStatus", out.Status), zap.Duration("duration", res.Duration)}
	if !out.Next.IsZero() {
		fields = append(fields, zap.Time("nextAttemptAt", out.Next))
	}
	if suppressed > 0 {
		fields = append(fields, zap.Int("suppressed", suppressed))
	}
	e.log.Warn("delivery attempt failed", fields...)
}
