package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/valyala/fasthttp"
)

// FloorServerArg is the hidden argument of `hookd bench` that runs the
// floor server instead of the lab: `hookd bench -floor-server DIR`. The
// lab starts it as a child, as it starts hookd, so that its CPU is read
// from /proc the same way and no load generator shares its process.
const FloorServerArg = "-floor-server"

// ServeFloor is the least a durable-ingest server costs on this machine:
// fasthttp on 127.0.0.1:0, and for every POST the body appended to one
// file in dir with write(2) and fdatasync'ed before the 202, under a lock
// (one writer, as the raw fsync ceiling). No authentication, no JSON, no
// store, no webhook: what is left is the HTTP exchange, the sync and a Go
// process waking for each request. GET /readyz answers 200. It prints
// "hookd listening on http://ADDR" to stdout as `hookd serve` does, and
// serves until the process is signalled.
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
	srv := &fasthttp.Server{Handler: floorHandler(f), MaxRequestBodySize: 8 << 20}
	fmt.Fprintf(stdout, "hookd listening on http://%s\n", ln.Addr())
	go func() {
		<-ctx.Done()
		_ = srv.Shutdown()
	}()
	return srv.Serve(ln)
}

// floorHandler appends each POST's body to f and syncs it before the 202,
// answering as hookd's publish does (an id list the publisher ignores).
func floorHandler(f *os.File) fasthttp.RequestHandler {
	answer := []byte(`{"ids":["evt_00000000000000000000000000"]}`)
	var mu sync.Mutex
	return func(ctx *fasthttp.RequestCtx) {
		if !ctx.IsPost() {
			ctx.SetStatusCode(200) // /readyz, and anything else that asks
			return
		}
		mu.Lock()
		_, err := f.Write(ctx.PostBody())
		if err == nil {
			err = fdatasync(f)
		}
		mu.Unlock()
		if err != nil {
			ctx.Error(err.Error(), 500)
			return
		}
		ctx.SetStatusCode(202)
		ctx.SetContentType("application/json")
		ctx.SetBody(answer)
	}
}

// StartFloor starts the floor server as a child on dir (bin: this hookd
// binary) and waits until it answers.
func StartFloor(ctx context.Context, bin, dir string) (*Child, error) {
	c := &Child{Bin: bin, Dir: dir, Args: []string{"bench", FloorServerArg, dir}}
	return c, c.Start(ctx)
}
