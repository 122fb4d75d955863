package bench

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSinkCountsAndLatency(t *testing.T) {
	s := newSink(SinkOptions{})
	pub := time.Unix(1000, 0)
	pad := padding(120)
	// Webhook 0 gets events 0..2 in one batch body, then event 1 again;
	// webhook 1 gets event 0.
	batch := `{"batchId":"bat_x","events":[` +
		`{"id":"evt_a","type":"bench.hookd","timestamp":"t","data":` + strings.TrimPrefix(string(appendEvent(nil, pub, 0, pad)), `{"type":"bench.hookd","data":`) + `,` +
		`{"id":"evt_b","data":{"t":` + itoa(pub.UnixNano()) + `,"s":1,"pad":"x"}},` +
		`{"id":"evt_c","data":{"t":` + itoa(pub.UnixNano()) + `,"s":2,"pad":"x"}}]}`
	s.record(0, []byte(batch), pub.Add(2*time.Millisecond))
	s.record(0, publishBody(nil, 1, pub, 1, pad), pub.Add(10*time.Millisecond))
	s.record(1, publishBody(nil, 1, pub, 0, pad), pub.Add(4*time.Millisecond))

	st := s.Stats()
	if st.Deliveries != 5 || st.Unique != 4 || st.Duplicates() != 1 {
		t.Errorf("deliveries %d unique %d duplicates %d; want 5, 4, 1", st.Deliveries, st.Unique, st.Duplicates())
	}
	lat := s.Latency()
	if got, want := hq(lat, 50), 2*time.Millisecond; got != want {
		t.Errorf("p50 = %s; want %s", got, want)
	}
	if got, want := hq(lat, 100), 10*time.Millisecond; got < want || got > want+want/100 {
		t.Errorf("max = %s; want %s (within HDR precision)", got, want)
	}
	if !s.Received(1, 0) || s.Received(1, 1) {
		t.Errorf("Received(1, 0), Received(1, 1) = %v, %v; want true, false", s.Received(1, 0), s.Received(1, 1))
	}
	if got := s.Missing(0, []bool{true, true, true, true}); got != 1 {
		t.Errorf("Missing(0, 0..3) = %d; want 1 (event 3)", got)
	}
	select {
	case <-s.Until(4):
	default:
		t.Error("Until(4) not closed with 4 distinct deliveries")
	}
	ch := s.Until(5)
	select {
	case <-ch:
		t.Error("Until(5) closed with 4 distinct deliveries")
	default:
	}
	s.record(1, publishBody(nil, 1, pub, 7, pad), pub.Add(time.Millisecond))
	select {
	case <-ch:
	default:
		t.Error("Until(5) not closed by the fifth distinct delivery")
	}
	if w := s.Window(); w.TotalCount() != 6 {
		t.Errorf("window count = %d; want 6", w.TotalCount())
	}
	if w := s.Window(); w.TotalCount() != 0 {
		t.Errorf("second window count = %d; want 0", w.TotalCount())
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestEvery(t *testing.T) {
	for _, c := range []struct {
		share float64
		off   int64
		want  int
	}{{0, 0, 0}, {0.1, 0, 10}, {0.1, 1, 10}, {0.5, 0, 50}, {1, 0, 100}} {
		n := 0
		for i := int64(1); i <= 100; i++ {
			if every(c.share, i, c.off) {
				n++
			}
		}
		if n != c.want {
			t.Errorf("every(%v, 1..100, %d) picked %d; want %d", c.share, c.off, n, c.want)
		}
	}
}

func TestHookIndex(t *testing.T) {
	for path, want := range map[string]int{"/w/0": 0, "/w/17": 17, "/hook": 0, "/w/-1": 0, "/w/x": 0} {
		if got := hookIndex([]byte(path)); got != want {
			t.Errorf("hookIndex(%q) = %d; want %d", path, got, want)
		}
	}
}
