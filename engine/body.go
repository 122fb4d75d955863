package engine

import (
	"time"

	"hookd/wal"
)

// The two body shapes of API.md §7. Types, IDs and timestamps are made of
// JSON-safe characters (validated at ingest) and data is stored JSON, so
// the body is assembled without re-encoding.

func appendEvent(b []byte, e *wal.Event) []byte {
	b = append(b, `{"id":"`...)
	b = append(b, e.ID.Text("evt_")...)
	b = append(b, `","type":"`...)
	b = append(b, e.Type...)
	b = append(b, `","timestamp":"`...)
	b = e.CreatedAt.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, `","data":`...)
	b = append(b, e.Data...)
	return append(b, '}')
}

// buildBody returns the request body and its webhook-id: the event itself
// (and its id) when maxBatchSize is 1, else the batch envelope (and the
// batch id).
func buildBody(maxBatchSize int, batch wal.ID, events []*wal.Event) ([]byte, string) {
	if maxBatchSize <= 1 && len(events) == 1 {
		return appendEvent(make([]byte, 0, 128+len(events[0].Data)), events[0]), events[0].ID.Text("evt_")
	}
	n := 64
	for _, e := range events {
		n += 128 + len(e.Data)
	}
	b := make([]byte, 0, n)
	b = append(b, `{"batchId":"`...)
	b = append(b, batch.Text("bat_")...)
	b = append(b, `","events":[`...)
	for i, e := range events {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendEvent(b, e)
	}
	return append(b, "]}"...), batch.Text("bat_")
}

// liveSecrets decodes the webhook's secrets still valid at now: the
// current one and any rotated one within its grace period.
func liveSecrets(w *wal.Webhook, now time.Time) [][]byte {
	var out [][]byte
	for i, s := range w.Secrets {
		if i > 0 && !s.ExpiresAt.After(now) {
			continue
		}
		if k, err := ParseSecret(s.Value); err == nil {
			out = append(out, k)
		}
	}
	return out
}
