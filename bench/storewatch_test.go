package bench

import "testing"

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

// A bad second is put down to a slow store write in the same second or
// the one before, not to one further back or later.
func TestAfterSlowWrites(t *testing.T) {
	pts := func(ys ...float64) Series {
		var s Series
		for i, y := range ys {
			s.Points = append(s.Points, Point{float64(i + 1), y})
		}
		return s
	}
	lat := pts(5, 80, 90, 5, 70, 60, 5, 300)
	slow := pts(0, 1, 0, 0, 0, 2, 0, 0)
	// Over 50: seconds 2, 3, 5, 6, 8. A slow write in 2 explains 2 and 3;
	// one in 6 explains 6 (and 7, which was fine); 5 came before it and 8
	// long after.
	if got := afterSlowWrites(lat, slow, 50); got != 3 {
		t.Errorf("afterSlowWrites = %d, want 3", got)
	}
	if got := afterSlowWrites(lat, Series{}, 50); got != 0 {
		t.Errorf("with no slow writes: %d, want 0", got)
	}
}
