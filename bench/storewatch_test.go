package bench

import (
	"bytes"
	"testing"
)

// The store's series are picked out of an exposition by their exact
// names: the stall gauge and other buckets do not pass for them.
func TestParseStoreMetrics(t *testing.T) {
	body := []byte(`# HELP hookd_wal_write_seconds Time to write one commit group.
# TYPE hookd_wal_write_seconds histogram
hookd_wal_write_seconds_bucket{le="0.025"} 90
hookd_wal_write_seconds_bucket{le="0.05"} 97
hookd_wal_write_seconds_bucket{le="0.1"} 99
hookd_wal_write_seconds_bucket{le="+Inf"} 100
hookd_wal_write_seconds_sum 1.5
hookd_wal_write_seconds_count 100
hookd_wal_fsync_seconds_count 80
# TYPE hookd_storage_l0_tables gauge
hookd_storage_l0_tables 4
hookd_storage_l0_tables_stall 15
`)
	st, ok := parseStoreMetrics(body)
	if !ok || st.SlowWrites != 3 || st.L0Tables != 4 || st.L0Stall != 15 {
		t.Fatalf("parseStoreMetrics = %+v, %v; want 3 slow writes, 4 tables, stall 15, true", st, ok)
	}
	// A server without the series (the bare relay, an older hookd).
	if _, ok := parseStoreMetrics([]byte("go_goroutines 12\nhookd_storage_l0_tables 4\n")); ok {
		t.Error("an exposition without hookd_wal_write_seconds parsed as a store's")
	}
	if _, ok := parseStoreMetrics([]byte("not found")); ok {
		t.Error("a 404 body parsed as a store's")
	}
}

// Bad seconds are put down to what the store did around them: a slow
// write in the same second or the one before, a level-0 compaction ending
// within two seconds, a flush ending within one; once each, in that order.
func TestStallCauses(t *testing.T) {
	pts := func(ys ...float64) Series {
		var s Series
		for i, y := range ys {
			s.Points = append(s.Points, Point{float64(i + 1), y})
		}
		return s
	}
	//         1  2   3  4  5  6   7   8  9   10 11  12   13 14 15
	lat := pts(5, 80, 5, 5, 5, 90, 95, 5, 70, 5, 60, 300, 5, 5, 55)
	l0 := pts(1, 1, 2, 2, 2, 2, 2, 2, 2, 3, 5, 0, 0, 0, 0)
	slow := pts(0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0)
	// Second 2: its slow write, though a flush ended in 3. 6: nothing (the
	// slow write came after it). 7: the slow write. 9: the flush that
	// ended in 10. 11: level 0 grew there, but it shrank in 12: compaction
	// first. 12: the compaction. 15: three seconds after it, nothing.
	write, comp, flush, other := stallCauses(lat, slow, l0, 50)
	if write != 2 || comp != 2 || flush != 1 || other != 2 {
		t.Errorf("stallCauses = write %d, compaction %d, flush %d, other %d; want 2, 2, 1, 2", write, comp, flush, other)
	}
	// Latency seconds the store series lack (a scrape failed) are other.
	if write, comp, flush, other := stallCauses(pts(90), Series{}, Series{}, 50); write+comp+flush != 0 || other != 1 {
		t.Errorf("without store series: %d, %d, %d, %d; want 0, 0, 0, 1", write, comp, flush, other)
	}
}

// Whatever a server answers on /metrics, the parse neither panics nor
// reports a store without all three series.
func FuzzParseStoreMetrics(f *testing.F) {
	f.Add([]byte("hookd_wal_write_seconds_bucket{le=\"0.05\"} 7\nhookd_wal_write_seconds_count 9\nhookd_storage_l0_tables 2\n"))
	f.Add([]byte("hookd_wal_write_seconds_count NaN\n# x\n \n"))
	f.Add([]byte("hookd_storage_l0_tables"))
	f.Fuzz(func(t *testing.T, body []byte) {
		st, ok := parseStoreMetrics(body)
		if ok && !bytes.Contains(body, []byte("hookd_storage_l0_tables")) {
			t.Fatalf("parsed %+v from a body without hookd_storage_l0_tables", st)
		}
	})
}
