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

// stallCauses sorts the points of lat over y (ms) by what the store was
// doing around them, each counted once, in this order:
//   - write: a commit-group write took over 50 ms in this step or the one
//     before (every commit behind it waited: at a memtable rotation,
//     Badger makes the next memtable inside the write that filled it);
//   - compaction: level 0 shrank within two steps either side (a level-0
//     compaction, which wants a core or two for a second or more, ended
//     there; the stall runs while it does and a little after);
//   - flush: level 0 grew in the step before, this one or the next (a
//     memtable was written out as a table: its builder's CPU, and the
//     collections its buffers start);
//   - other: none of these.
//
// lat, slow and l0 come from the same watch, so their points share X.
func stallCauses(lat, slow, l0 Series, y float64) (write, compaction, flush, other int) {
	at := make(map[float64]int, len(l0.Points))
	for i, p := range l0.Points {
		at[p.X] = i
	}
	// change reports whether l0 moved (up, or down) between steps i-1 and
	// i, for any i in [from, to] of the step of x.
	change := func(x float64, from, to int, up bool) bool {
		i, ok := at[x]
		if !ok {
			return false
		}
		for j := max(i+from, 1); j <= i+to && j < len(l0.Points); j++ {
			d := l0.Points[j].Y - l0.Points[j-1].Y
			if up && d > 0 || !up && d < 0 {
				return true
			}
		}
		return false
	}
	slowAt := func(x float64) bool {
		i, ok := at[x]
		return ok && i < len(slow.Points) && (slow.Points[i].Y > 0 || i > 0 && slow.Points[i-1].Y > 0)
	}
	for _, p := range lat.Points {
		switch {
		case p.Y <= y:
		case slowAt(p.X):
			write++
		case change(p.X, -2, 2, false):
			compaction++
		case change(p.X, -1, 1, true):
			flush++
		default:
			other++
		}
	}
	return
}
