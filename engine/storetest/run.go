package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"hookd/wal"
)

// Harness is how the suite opens a backend.
type Harness struct {
	// Open opens the store whose state lives in dir, creating it when dir
	// is empty; opened again on the same dir after Close it must find
	// everything acknowledged before (a backend that keeps its state
	// elsewhere uses dir as the name of that state). The suite closes
	// every store it opens.
	Open func(t *testing.T, dir string) Store
	// Fail, when set, makes every later write of s fail as a failed disk
	// write (or a lost quorum) would, with err as the cause. The fail-stop
	// checks are skipped without it.
	Fail func(s Store, err error)
}

// Run runs the whole suite, one subtest per subject.
func Run(t *testing.T, h Harness) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, *suite)
	}{
		{"Append", testAppend},
		{"Idempotency", testIdempotency},
		{"EventTypes", testEventTypes},
		{"Webhooks", testWebhooks},
		{"FanOut", testFanOut},
		{"Queue", testQueue},
		{"OpenBatches", testOpenBatches},
		{"OpenBatchesLazy", testOpenBatchesLazy},
		{"SaveBatch", testSaveBatch},
		{"SaveResult", testSaveResult},
		{"ListBatches", testListBatches},
		{"Attempts", testAttempts},
		{"EventDeliveries", testEventDeliveries},
		{"Restart", testRestart},
		{"Closed", testClosed},
		{"FailStop", testFailStop},
		{"Versions", testVersions},
		{"Claims", testClaims},
		{"Fences", testFences},
		{"QueuedStop", testQueuedStop},
		{"Planned", testPlanned},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, &suite{h: h}) })
	}
}

// suite carries the harness into each subject's test.
type suite struct{ h Harness }

// open opens the store kept in dir ("" a new one) and closes it when the
// test ends (Close twice is allowed by the contract).
func (su *suite) open(t *testing.T, dir string) (Store, string) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s := su.h.Open(t, dir)
	t.Cleanup(func() { _ = s.Close() })
	return s, dir
}

// reopen closes s and opens the same state again.
func (su *suite) reopen(t *testing.T, s Store, dir string) Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s2, _ := su.open(t, dir)
	return s2
}

const (
	acme = "acme"
	beta = "beta"
)

func ev(typ, key, data string) wal.EventInput {
	return wal.EventInput{Type: typ, Key: key, Data: []byte(data)}
}

func mustAppend(t *testing.T, s Store, tenant string, in ...wal.EventInput) wal.AppendResult {
	t.Helper()
	res, err := s.Append(tenant, in)
	if err != nil {
		t.Fatalf("Append(%s): %v", tenant, err)
	}
	if len(res.IDs) != len(in) || len(res.Duplicate) != len(in) {
		t.Fatalf("Append(%s) of %d: %d IDs, %d flags", tenant, len(in), len(res.IDs), len(res.Duplicate))
	}
	return res
}

// hook creates an active (or not) webhook of tenant taking events (none:
// every type).
func hook(t *testing.T, s Store, tenant string, active bool, events ...string) *wal.Webhook {
	t.Helper()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	w := &wal.Webhook{
		ID: s.NewWebhookID(), Tenant: tenant, URL: "http://127.0.0.1:1/" + tenant, IsActive: active,
		Events: events, MaxBatchSize: 10, MaxBatchTimeDelay: time.Second,
		CustomHeaders: map[string]string{"X-A": "1"}, Metadata: map[string]string{"m": "v"},
		RetrySchedule: []time.Duration{time.Second, time.Minute},
		Secrets:       []wal.Secret{{Value: "whsec_c3VpdGU="}}, CreatedAt: at, UpdatedAt: at,
	}
	if err := s.CreateWebhook(w); err != nil {
		t.Fatalf("CreateWebhook: %v", err)
	}
	return w
}

// batch makes a pending batch of webhook w with events ids (type "t").
func batch(s Store, w *wal.Webhook, ids ...wal.ID) *wal.Batch {
	b := &wal.Batch{
		ID: s.NewID(), WebhookID: w.ID, Tenant: w.Tenant, Status: wal.BatchPending,
		MaxAttempts: 3, CreatedAt: time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC),
	}
	for _, id := range ids {
		b.Events = append(b.Events, wal.BatchEvent{ID: id, Type: "t"})
	}
	return b
}

func attempt(s Store, b *wal.Batch, status string, code int) *wal.Attempt {
	return &wal.Attempt{
		ID: s.NewID(), BatchID: b.ID, WebhookID: b.WebhookID, Tenant: b.Tenant,
		Status: status, Trigger: wal.TriggerAuto, ScheduledAt: time.Date(2026, 1, 2, 3, 4, 7, 0, time.UTC),
		Duration: 3 * time.Millisecond, RequestHeaders: map[string]string{"webhook-id": "msg"},
		ResponseCode: code, ResponseBody: "ok",
	}
}

// peek returns the events queued for wh (not consumed), in order.
func peek(t *testing.T, s Store, wh wal.ID) []wal.ID {
	t.Helper()
	return eventsOf(peekQ(t, s, wh))
}

// peekQ returns the entries queued for wh (not consumed), with cursors.
func peekQ(t *testing.T, s Store, wh wal.ID) []wal.Queued {
	t.Helper()
	q, err := s.PeekQueue(wh, wal.Cursor{}, 1000)
	if err != nil {
		t.Fatalf("PeekQueue: %v", err)
	}
	return q
}

func eventsOf(q []wal.Queued) []wal.ID {
	var out []wal.ID
	for _, e := range q {
		out = append(out, e.Event)
	}
	return out
}

// claims takes the claims s hands out at once (a one-node store's
// partitions: all of them), held until the test ends.
func claims(t *testing.T, s Store) []wal.Claim {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ch := s.Claims(ctx)
	var out []wal.Claim
	for {
		select {
		case c, ok := <-ch:
			if !ok {
				return out
			}
			out = append(out, c)
		default:
			if len(out) == 0 {
				t.Fatal("Claims handed out no partition at once")
			}
			return out
		}
	}
}

// fence is the fence of the claim on w's partition.
func fence(t *testing.T, s Store, w *wal.Webhook) wal.Fence {
	t.Helper()
	p := s.PartOf(w.Tenant, w.ID)
	for _, c := range claims(t, s) {
		if c.Part == p {
			return c.Fence
		}
	}
	t.Fatalf("no claim of partition %v", p)
	return nil
}

// openAll lists the open batches of every partition.
func openAll(t *testing.T, s Store) []wal.ID {
	t.Helper()
	var ids []wal.ID
	for _, c := range claims(t, s) {
		if err := s.EachOpenBatch(c.Part, func(b *wal.Batch) error { ids = append(ids, b.ID); return nil }); err != nil {
			t.Fatalf("EachOpenBatch: %v", err)
		}
	}
	slices.SortFunc(ids, cmpID)
	return ids
}

func cmpID(a, b wal.ID) int { return slices.Compare(a[:], b[:]) }

func sorted(ids ...wal.ID) []wal.ID {
	ids = slices.Clone(ids)
	slices.SortFunc(ids, cmpID)
	return ids
}

// same reports whether two records are equal as stored: their JSON form
// (times compared as instants) and the identity fields JSON leaves out.
func same(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

func sameHook(a, b *wal.Webhook) bool {
	return a != nil && b != nil && a.ID == b.ID && a.Tenant == b.Tenant && same(a, b)
}

func sameBatch(a, b *wal.Batch) bool {
	return a != nil && b != nil && a.ID == b.ID && a.WebhookID == b.WebhookID && a.Tenant == b.Tenant && same(a, b)
}

func sameAttempt(a, b *wal.Attempt) bool {
	return a != nil && b != nil && a.ID == b.ID && a.BatchID == b.BatchID && a.Tenant == b.Tenant && same(a, b)
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s = %v, want %v", what, err, want)
	}
}

// listener collects OnQueued's counts (an inbox: a map under a mutex
// and a one-slot signal), so a test waits until it was told, never
// longer than wait.
type listener struct {
	mu     sync.Mutex
	counts map[wal.ID]int
	signal chan struct{}
}

const wait = 10 * time.Second

// listen registers a listener on every partition's fan-out, stopped when
// the test ends.
func listen(t *testing.T, s Store) *listener {
	l := &listener{counts: map[wal.ID]int{}, signal: make(chan struct{}, 1)}
	for _, c := range claims(t, s) {
		t.Cleanup(s.OnQueued(c.Part, l.told))
	}
	return l
}

func (l *listener) told(c map[wal.ID]int) {
	l.mu.Lock()
	for k, v := range c {
		l.counts[k] += v
	}
	l.mu.Unlock()
	select {
	case l.signal <- struct{}{}:
	default:
	}
}

// await waits until the counts told include want (every webhook in want
// told at least that many), and returns what was told.
func (l *listener) await(t *testing.T, want map[wal.ID]int) map[wal.ID]int {
	t.Helper()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		got := maps.Clone(l.counts)
		l.mu.Unlock()
		ok := true
		for k, n := range want {
			if got[k] < n {
				ok = false
			}
		}
		if ok {
			return got
		}
		select {
		case <-l.signal:
		case <-deadline.C:
			t.Fatalf("OnQueued told %v within %v, want at least %v", got, wait, want)
		}
	}
}

// show renders IDs for failure messages.
func show(ids []wal.ID) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(id.Text(""))
	}
	b.WriteByte(']')
	return b.String()
}
