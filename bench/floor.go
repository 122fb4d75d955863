package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// FloorServerArg is the hidden argument of `hookd bench` that runs the
// floor server instead of the lab: `hookd bench -floor-server DIR`. The
// lab starts it as a child, as it starts hookd, so that its CPU is read
// from /proc the same way and no load generator shares its process.
const FloorServerArg = "-floor-server"

// ServeFloor is the least a durable webhook relay costs on this machine,
// the floor hookd's figures are set against: fasthttp on 127.0.0.1:0;
// every POST /v1/events has its body appended to one file in dir with
// write(2) and fdatasync'ed (a group commit: one request syncs for all
// that arrived while the previous sync ran) before its 202; then each of
// its events is POSTed, one request an event, to every webhook's URL by
// 64 senders through one fasthttp client, until answered 2xx. Webhooks
// are made with POST /v1/webhooks {"url":...} and removed with DELETE
// /v1/webhooks/ID, as the lab does with hookd. Nothing else: no
// authentication, no store, no batches, no retry schedule, nothing kept
// of a delivery, so a crash loses what was acknowledged and not yet
// sent. GET /readyz answers 200. It prints "hookd listening on
// http://ADDR" to stdout as `hookd serve` does, and serves until ctx
// ends.
func ServeFloor(ctx context.Context, dir string, stdout io.Writer) error {
	f, err := os.OpenFile(filepath.Join(dir, "floor.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("bench: floor server: %w", err)
	}
	defer f.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("bench: floor server: %w", err)
	}
	fl := newFloor(f)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fl.startSenders(ctx, floorSenders)
	srv := &fasthttp.Server{Handler: fl.handle, MaxRequestBodySize: 8 << 20}
	fmt.Fprintf(stdout, "hookd listening on http://%s\n", ln.Addr())
	go func() {
		<-ctx.Done()
		_ = srv.Shutdown()
	}()
	return srv.Serve(ln)
}

// floorSenders is how many deliveries the floor server has in flight, as
// hookd's delivery.max_conns_per_host.
const floorSenders = 64

type floor struct {
	log    *groupLog
	client *fasthttp.Client
	queue  chan []byte // events to send, one body each; bounded: a full queue holds publishers up

	mu    sync.Mutex
	hooks map[string]string // id → URL
	next  int
}

func newFloor(f *os.File) *floor {
	return &floor{log: newGroupLog(f), queue: make(chan []byte, 1<<16), hooks: map[string]string{},
		client: &fasthttp.Client{MaxConnsPerHost: floorSenders, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}}
}

func (fl *floor) handle(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	switch {
	case ctx.IsPost() && path == "/v1/events":
		body := ctx.PostBody()
		events, err := splitEvents(body)
		if err != nil {
			ctx.Error(err.Error(), 400)
			return
		}
		if err := fl.log.append(body); err != nil {
			ctx.Error(err.Error(), 500)
			return
		}
		fl.mu.Lock()
		hooks := len(fl.hooks)
		fl.mu.Unlock()
		if hooks > 0 {
			for _, e := range events {
				fl.queue <- append([]byte(nil), e...)
			}
		}
		ctx.SetStatusCode(202)
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"ids":["evt_00000000000000000000000000"]}`)
	case ctx.IsPost() && path == "/v1/webhooks":
		var in struct{ URL string }
		if err := json.Unmarshal(ctx.PostBody(), &in); err != nil || in.URL == "" {
			ctx.Error("want {\"url\":...}", 400)
			return
		}
		fl.mu.Lock()
		fl.next++
		id := "wh_" + strconv.Itoa(fl.next)
		fl.hooks[id] = in.URL
		fl.mu.Unlock()
		ctx.SetStatusCode(201)
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"id":"` + id + `"}`)
	case string(ctx.Method()) == "DELETE" && strings.HasPrefix(path, "/v1/webhooks/"):
		fl.mu.Lock()
		delete(fl.hooks, strings.TrimPrefix(path, "/v1/webhooks/"))
		fl.mu.Unlock()
		ctx.SetStatusCode(204)
	default:
		ctx.SetStatusCode(200) // /readyz, and anything else that asks
	}
}

// splitEvents is the events of a publish body, as hookd reads it: the
// elements of {"events":[...]}, or else the body itself, one event.
func splitEvents(body []byte) ([][]byte, error) {
	var env struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, err
	}
	if env.Events == nil {
		return [][]byte{body}, nil
	}
	out := make([][]byte, len(env.Events))
	for i, r := range env.Events {
		out[i] = r
	}
	return out, nil
}

// startSenders starts n goroutines that send each queued event to every
// webhook, again after 10 ms until answered 2xx or ctx ends.
func (fl *floor) startSenders(ctx context.Context, n int) {
	for range n {
		go func() {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			var urls []string
			for {
				var ev []byte
				select {
				case <-ctx.Done():
					return
				case ev = <-fl.queue:
				}
				urls = urls[:0]
				fl.mu.Lock()
				for _, u := range fl.hooks {
					urls = append(urls, u)
				}
				fl.mu.Unlock()
				for _, u := range urls {
					for ctx.Err() == nil {
						req.Reset()
						req.SetRequestURI(u)
						req.Header.SetMethod("POST")
						req.Header.SetContentType("application/json")
						req.SetBody(ev)
						if err := fl.client.Do(req, resp); err == nil && resp.StatusCode()/100 == 2 {
							break
						}
						time.Sleep(10 * time.Millisecond) // a failed send: try again shortly, as a relay would
					}
				}
			}
		}()
	}
}

// groupLog appends to a file and syncs in groups: the first writer to
// find no sync running writes and syncs everything appended so far, on
// its own goroutine; the others wait for the sync that covers them.
type groupLog struct {
	f               *os.File
	mu              sync.Mutex
	cond            *sync.Cond
	buf             []byte
	started, synced uint64 // syncs begun and completed
	syncing         bool
	err             error
}

func newGroupLog(f *os.File) *groupLog {
	g := &groupLog{f: f}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// append returns once b is on disk.
func (g *groupLog) append(b []byte) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.buf = append(g.buf, b...)
	mine := g.started + 1 // the first sync to begin after this append
	for g.synced < mine {
		if g.syncing {
			g.cond.Wait()
			continue
		}
		g.syncing = true
		g.started++
		buf := g.buf
		g.buf = nil
		g.mu.Unlock()
		_, err := g.f.Write(buf)
		if err == nil {
			err = fdatasync(g.f)
		}
		g.mu.Lock()
		g.syncing = false
		g.synced = g.started
		if err != nil {
			g.err = err
		}
		g.cond.Broadcast()
	}
	return g.err
}

// StartFloor starts the floor server as a child on dir (bin: this hookd
// binary) and waits until it answers.
func StartFloor(ctx context.Context, bin, dir string) (*Child, error) {
	c := &Child{Bin: bin, Dir: dir, Args: []string{"bench", FloorServerArg, dir}}
	return c, c.Start(ctx)
}
