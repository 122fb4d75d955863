package wal

import (
	"sync"
	"testing"
	"time"
)

type countingObserver struct {
	mu             sync.Mutex
	groups, weight int
	ops            int
	syncs          int
	wrote          time.Duration
}

func (o *countingObserver) Committed(ops, weight int, d time.Duration) {
	o.mu.Lock()
	o.groups++
	o.wrote += d
	o.ops += ops
	o.weight += weight
	o.mu.Unlock()
}

func (o *countingObserver) Synced(d time.Duration) {
	o.mu.Lock()
	o.syncs++
	o.mu.Unlock()
}

// The observer sees every written group and the fsync each synced one took.
func TestObserverSeesCommitsAndSyncs(t *testing.T) {
	obs := &countingObserver{}
	s, err := Open(Options{Dir: t.TempDir(), Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Append("acme", []EventInput{ev("a", "", `1`), ev("a", "", `2`), ev("a", "", `3`)}); err != nil {
		t.Fatal(err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	// The append is acknowledged after its sync: both were observed.
	if obs.groups < 1 || obs.ops < 1 || obs.weight < 3 || obs.syncs < 1 {
		t.Errorf("observed groups=%d ops=%d weight=%d syncs=%d; want ≥1, ≥1, ≥3, ≥1", obs.groups, obs.ops, obs.weight, obs.syncs)
	}
	if obs.wrote <= 0 {
		t.Errorf("observed writes took %v in all; want their time", obs.wrote)
	}
}

// hookd's reserved types go only to webhooks that name them.
func TestMatchesReservedOnlyByName(t *testing.T) {
	for _, c := range []struct {
		events []string
		typ    string
		want   bool
	}{
		{nil, "order.created", true},
		{nil, "hookd.batch.expired", false},
		{[]string{"*"}, "hookd.batch.expired", false},
		{[]string{"order.created", "*"}, "HOOKD.batch.expired", false},
		{[]string{"hookd.batch.expired"}, "hookd.batch.expired", true},
		{[]string{"hookd.batch.expired"}, "hookd.webhook.disabled", false},
		{[]string{"*"}, "order.created", true},
	} {
		w := &Webhook{Events: c.events}
		if got := w.Matches(c.typ); got != c.want {
			t.Errorf("%v.Matches(%q) = %v, want %v", c.events, c.typ, got, c.want)
		}
	}
}
