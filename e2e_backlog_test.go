package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestBacklogMemory checks DESIGN.md's "memory is O(subscriptions +
// in-flight work), never O(pending events)": it publishes a million
// events for one webhook whose endpoint is dead, samples hookd's RSS
// throughout, then kills it with SIGKILL, restarts it on the same data and
// checks start-up time and memory while the engine rebuilds its schedule
// and retries the endpoint. It runs for maxBatchSize 100 and 1.
//
// For local runs, HOOKDTEST_BACKLOG_EVENTS overrides the event count and
// HOOKDTEST_BACKLOG_SIZES the batch sizes ("100,1"), and
// HOOKDTEST_BACKLOG_ENV adds settings to the defaults (space-separated
// NAME=value). They do not start
// with HOOKD_ on purpose: hookd reads every HOOKD_* variable as a setting
// and refuses to start on an unknown one, and the e2e helpers pass the
// test's environment on to it.
func TestBacklogMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: a million events")
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads the server's memory from /proc/PID/status, Linux's")
	}
	events := 1_000_000
	if v := os.Getenv("HOOKDTEST_BACKLOG_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1000 {
			t.Fatalf("HOOKDTEST_BACKLOG_EVENTS=%q: want an integer >= 1000", v)
		}
		events = n
	}
	sizes := []int{100, 1}
	if v := os.Getenv("HOOKDTEST_BACKLOG_SIZES"); v != "" {
		sizes = nil
		for _, s := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 1 {
				t.Fatalf("HOOKDTEST_BACKLOG_SIZES=%q: want comma-separated batch sizes", v)
			}
			sizes = append(sizes, n)
		}
	}
	for _, size := range sizes {
		t.Run(fmt.Sprintf("maxBatchSize=%d", size), func(t *testing.T) { testBacklog(t, events, size) })
	}
}

const (
	backlogRSSLimit   = 300 << 20
	backlogReadyLimit = 5 * time.Second
	backlogClients    = 6
	backlogPerRequest = 1000
)

func testBacklog(t *testing.T, events, size int) {
	testStart := time.Now()
	// A dead endpoint: a port that was just free and is closed again.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/hook"
	ln.Close()

	dir := t.TempDir()
	env := backlogEnv()
	p := startHookdEnv(t, dir, env)
	hook := postJSON(t, p.url+"/v1/webhooks", fmt.Sprintf(`{"url":%q,"maxBatchSize":%d}`, dead, size))["id"].(string)

	rss := sampleRSS(t, p.cmd.Process.Pid)
	ingest, rejected := publishBacklog(t, p.url, events)
	if t.Failed() {
		rss.stop()
		return
	}
	time.Sleep(3 * time.Second) // keep sampling while the engine opens batches and retries
	peak, hwm := rss.stop()
	t.Logf("ingest: %d events in %s = %.0f events/s (%d requests answered 503 and were retried)",
		events, ingest.Round(time.Millisecond), float64(events)/ingest.Seconds(), rejected)
	t.Logf("RSS during and after ingest: max sampled %s, kernel peak (VmHWM) %s, max anon %s", peak, mib(hwm), mib(rss.peakAnon))
	checkRSS(t, "during ingest", rss.peakAnon, max(peak.rss, hwm))
	open, retrying, total := countOpenBatches(t, p.url, hook)
	t.Logf("after ingest: %d open batches (%d retrying; %d batches in all) for %d pending events at maxBatchSize %d",
		open, retrying, total, events, size)
	checkOpenBounded(t, open, events, size)

	p.kill()
	start := time.Now()
	p2 := startHookdEnv(t, dir, env)
	ready := time.Since(start)
	rss = sampleRSS(t, p2.cmd.Process.Pid)
	time.Sleep(5 * time.Second) // the engine rebuilds its schedule and retries the dead endpoint
	peak, hwm = rss.stop()
	t.Logf("restart after SIGKILL: ready in %s; RSS over 5 s after ready: max sampled %s, kernel peak since start (VmHWM) %s",
		ready.Round(time.Millisecond), peak, mib(hwm))
	if ready >= backlogReadyLimit {
		t.Errorf("restart to /readyz 200 took %s, want < %s", ready, backlogReadyLimit)
	}
	checkRSS(t, "after restart", rss.peakAnon, max(peak.rss, hwm))
	open, retrying, total = countOpenBatches(t, p2.url, hook)
	t.Logf("after restart: %d open batches (%d retrying; %d batches in all)", open, retrying, total)
	checkOpenBounded(t, open, events, size)
	t.Logf("subtest took %s", time.Since(testStart).Round(time.Millisecond))
}

// checkOpenBounded fails if the open batches grow with the backlog: the
// engine opens at most 4 × delivery.max_conns_per_host (64) = 256 ahead.
func checkOpenBounded(t *testing.T, open, events, size int) {
	t.Helper()
	const bound = 256
	if open > bound {
		t.Errorf("%d open batches for %d pending events at maxBatchSize %d (all of them would be %d); want at most %d",
			open, events, size, (events+size-1)/size, bound)
	}
}

// publishBacklog posts n events of about 300 bytes, 1000 a request, from
// backlogClients keep-alive connections, and returns how long it took
// and how many requests were refused with 503 (and retried).
func publishBacklog(t *testing.T, base string, n int) (time.Duration, int64) {
	t.Helper()
	client := &fasthttp.Client{MaxConnsPerHost: backlogClients, ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second}
	url := base + "/v1/events"
	pad := strings.Repeat("x", 300-len(`{"type":"order.created","data":{"n":1000000,"pad":""}},`))
	var (
		next     atomic.Int64 // next event number to send
		rejected atomic.Int64
		failed   atomic.Bool
		wg       sync.WaitGroup
	)
	start := time.Now()
	for c := 0; c < backlogClients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			var body []byte
			for !failed.Load() {
				from := int(next.Add(backlogPerRequest)) - backlogPerRequest
				if from >= n {
					return
				}
				to := min(from+backlogPerRequest, n)
				body = append(body[:0], `{"events":[`...)
				for i := from; i < to; i++ {
					if i > from {
						body = append(body, ',')
					}
					body = append(body, `{"type":"order.created","data":{"n":`...)
					body = strconv.AppendInt(body, int64(i), 10)
					body = append(body, `,"pad":"`...)
					body = append(body, pad...)
					body = append(body, `"}}`...)
				}
				body = append(body, "]}"...)
				want := []byte(`"accepted":` + strconv.Itoa(to-from) + `,`)
				for {
					req.Reset()
					req.SetRequestURI(url)
					req.Header.SetMethod("POST")
					req.Header.SetContentType("application/json")
					req.SetBodyRaw(body)
					if err := client.Do(req, resp); err != nil {
						t.Errorf("POST events %d..%d: %v", from, to, err)
						failed.Store(true)
						return
					}
					if resp.StatusCode() == 503 { // backpressure: back off, then retry
						rejected.Add(1)
						time.Sleep(50 * time.Millisecond)
						continue
					}
					if resp.StatusCode() != 202 || !bytes.Contains(resp.Body(), want) {
						t.Errorf("POST events %d..%d = %d %.300s", from, to, resp.StatusCode(), resp.Body())
						failed.Store(true)
						return
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start), rejected.Load()
}

// countOpenBatches pages through a webhook's batches and returns how many
// are open (pending or retrying), how many of those are retrying, and how
// many there are in all. It stops counting past 20,000 batches: far past
// any bound worth checking.
func countOpenBatches(t *testing.T, base, hook string) (open, retrying, total int) {
	t.Helper()
	cursor := ""
	for total < 20000 {
		u := base + "/v1/webhooks/" + hook + "/batches?limit=1000"
		if cursor != "" {
			u += "&cursor=" + cursor
		}
		r, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Results []struct {
				Status string `json:"status"`
			} `json:"results"`
			NextCursor *string `json:"nextCursor"`
		}
		err = json.NewDecoder(r.Body).Decode(&page)
		r.Body.Close()
		if r.StatusCode != 200 || err != nil {
			t.Fatalf("GET %s = %d %v", u, r.StatusCode, err)
		}
		for _, b := range page.Results {
			total++
			switch b.Status {
			case "retrying":
				retrying++
				open++
			case "pending":
				open++
			}
		}
		if page.NextCursor == nil || len(page.Results) == 0 {
			break
		}
		cursor = *page.NextCursor
	}
	return open, retrying, total
}

// memStat is a process's memory from /proc/<pid>/status, in bytes.
type memStat struct {
	rss, hwm   int64 // VmRSS, VmHWM (the kernel's peak VmRSS)
	anon, file int64 // RssAnon (Go heap, Badger's memtable arenas), RssFile (mmapped files)
}

func (m memStat) String() string {
	return fmt.Sprintf("%s (anon %s, file %s)", mib(m.rss), mib(m.anon), mib(m.file))
}

// rssSampler reads a process's memory every 200 ms and keeps the sample
// with the largest VmRSS.
type rssSampler struct {
	pid      int
	done     chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	peak     memStat
	peakAnon int64
}

func sampleRSS(t *testing.T, pid int) *rssSampler {
	s := &rssSampler{pid: pid, done: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			s.sample()
			select {
			case <-s.done:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			s.stop()
		}
	})
	return s
}

func (s *rssSampler) sample() memStat {
	m, ok := procMem(s.pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok && m.rss > s.peak.rss {
		s.peak = m
	}
	if ok && m.anon > s.peakAnon {
		s.peakAnon = m.anon
	}
	return m
}

// stop ends sampling and returns the sample with the largest VmRSS and
// the kernel's own peak (VmHWM), which also covers the moments between
// samples.
func (s *rssSampler) stop() (peak memStat, hwm int64) {
	close(s.done)
	s.wg.Wait()
	last := s.sample()
	return s.peak, last.hwm
}

// procMem reads /proc/<pid>/status.
func procMem(pid int) (m memStat, ok bool) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, false
	}
	defer f.Close()
	fields := map[string]*int64{"VmRSS:": &m.rss, "VmHWM:": &m.hwm, "RssAnon:": &m.anon, "RssFile:": &m.file}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text()) // "VmRSS:   123456 kB"
		if len(fs) < 2 {
			continue
		}
		if dst := fields[fs[0]]; dst != nil {
			kb, _ := strconv.ParseInt(fs[1], 10, 64)
			*dst = kb << 10
		}
	}
	return m, m.rss > 0
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// checkRSS holds hookd's RSS to the limit: the total (the larger of the
// sampled peak and the kernel's VmHWM), which also counts pages of
// Badger's memory-mapped tables and logs, and within it the anonymous
// pages (Go heap, memtable arenas, table builders).
func checkRSS(t *testing.T, when string, anon, total int64) {
	t.Helper()
	if total >= backlogRSSLimit {
		t.Errorf("RSS %s %s (anonymous %s), want < %s", mib(total), when, mib(anon), mib(backlogRSSLimit))
	}
}

// backlogEnv is the defaults unless HOOKDTEST_BACKLOG_ENV says otherwise
// (the low-memory profile of bench/BASELINE.md, for one:
// "HOOKD_STORAGE_MEMTABLE_BYTES=16777216 HOOKD_STORAGE_COMPRESSION=none
// HOOKD_SERVER_MEMORY_LIMIT=209715200").
func backlogEnv() []string {
	return append(strings.Fields(os.Getenv("HOOKDTEST_BACKLOG_ENV")), e2eEnv...)
}
