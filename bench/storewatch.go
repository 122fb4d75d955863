package bench

import (
	"bufio"
	"bytes"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// The kinds of the series read from hookd's /metrics while a load runs,
// drawn together on a chart of their own: the store's commit-group writes
// that took over 50 ms in each step (each holds every commit behind it:
// a memtable or value-log rotation, or Badger holding writes while level 0
// is full), and the tables in level 0.
const (
	KindSlowWrites = "store-slow-writes"
	KindL0Tables   = "store-l0-tables"
)

// slowWrite is the bound above which a store write counts as slow: the
// latency bar's 50 ms, which one such write alone breaks.
const slowWrite = "0.05"

// storeState is what one scrape of hookd's /metrics says of its store.
type storeState struct {
	SlowWrites float64 // commit-group writes so far that took over 50 ms
	L0Tables   float64
	L0Stall    float64 // the level-0 tables at which Badger holds writes
}

// scrapeStore reads the store's state from the /metrics of the hookd at
// url; false if it has none (the bare relay, or a hookd from before
// hookd_wal_write_seconds).
func scrapeStore(url string) (storeState, bool) {
	code, body, err := fasthttp.GetTimeout(nil, url+"/metrics", time.Second)
	if err != nil || code != fasthttp.StatusOK {
		return storeState{}, false
	}
	return parseStoreMetrics(body)
}

// parseStoreMetrics picks the store's series out of a Prometheus text
// exposition.
func parseStoreMetrics(body []byte) (storeState, bool) {
	var st storeState
	var count, fast float64
	var seen int
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		sp := bytes.LastIndexByte(line, ' ')
		if sp < 0 || len(line) == 0 || line[0] == '#' {
			continue
		}
		name := string(line[:sp])
		v, err := strconv.ParseFloat(string(line[sp+1:]), 64)
		if err != nil {
			continue
		}
		switch name {
		case "hookd_wal_write_seconds_count":
			count, seen = v, seen|1
		case `hookd_wal_write_seconds_bucket{le="` + slowWrite + `"}`:
			fast, seen = v, seen|2
		case "hookd_storage_l0_tables":
			st.L0Tables, seen = v, seen|4
		case "hookd_storage_l0_tables_stall":
			st.L0Stall = v
		}
	}
	st.SlowWrites = count - fast
	return st, seen == 7
}

// afterSlowWrites counts the points of lat over y (ms) that fall in a step
// in which, or in the step before which, slow counted a slow store write:
// events that waited behind such a write arrive at the sink when it ends,
// in its step or the next.
func afterSlowWrites(lat, slow Series, y float64) int {
	stalled := make(map[float64]bool, len(slow.Points))
	for i, p := range slow.Points {
		if p.Y > 0 {
			stalled[p.X] = true
			if i+1 < len(slow.Points) {
				stalled[slow.Points[i+1].X] = true
			}
		}
	}
	n := 0
	for _, p := range lat.Points {
		if p.Y > y && stalled[p.X] {
			n++
		}
	}
	return n
}
