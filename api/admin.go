package api

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"hookd/wal"
)

// backupWriteTimeout bounds each write of a backup to the client (the
// server's WriteTimeout would bound the whole response): a client that
// stops reading loses the backup after this long, and the snapshot is
// released.
const backupWriteTimeout = 30 * time.Second

// backup is GET /admin/backup (role hookd-operator): the store's online
// backup of every tenant, streamed as application/octet-stream. The
// snapshot is taken before the handler returns, so every event
// acknowledged before the request is in it. The status is 200 before the
// first byte; a backup that fails later ends without its trailer, which
// `hookd backup` and `hookd restore` refuse.
func (s *Server) backup(ctx *fasthttp.RequestCtx, _ *Principal) error {
	b, err := s.store.Backup()
	if errors.Is(err, wal.ErrBackupRunning) {
		// Not a storage failure: one backup at a time.
		return &Error{Status: 409, Code: codeConflict, Detail: "a backup is already running; retry once it ends", RetryAfter: 60}
	}
	if err != nil {
		return err
	}
	cid := correlationID(ctx)
	conn := ctx.Conn()
	shutdown := ctx.Done() // closed when the server shuts down
	ctx.SetContentType("application/octet-stream")
	ctx.Response.Header.Set("Content-Disposition", `attachment; filename="hookd-`+time.Now().UTC().Format("20060102T150405Z")+`.backup"`)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetConnectionClose()
	// Per write instead of for the whole response (see backupWriteTimeout).
	_ = ctx.SetWriteDeadline(time.Time{})
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		start := time.Now()
		dw := &deadlineWriter{w: w, conn: conn}
		stopped := make(chan struct{})
		defer close(stopped)
		go func() {
			select {
			case <-shutdown: // a backup must not hold shutdown: cut it off
				dw.cut()
			case <-stopped:
			}
		}()
		st, err := b.Stream(dw)
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
			s.log.Warn("backup failed; the client got no trailer and will refuse it", zap.String("correlationId", cid),
				zap.Int64("bytes", st.Bytes), zap.Duration("took", time.Since(start)), zap.Error(err))
			return
		}
		s.log.Info("backup written", zap.String("correlationId", cid), zap.Int64("bytes", st.Bytes),
			zap.Int64("entries", st.Entries), zap.Duration("took", time.Since(start)))
	})
	return nil
}

// deadlineWriter pushes the connection's write deadline on before each
// write of the backup stream. fasthttp copies the stream to the
// connection on its own goroutine, through a pipe of a few buffers, so
// the deadline set here bounds the write that is at most a few buffers
// behind.
type deadlineWriter struct {
	w    io.Writer
	conn net.Conn

	mu      sync.Mutex // orders a deadline push and cut
	stopped bool
}

var errBackupCut = errors.New("api: backup: the server is shutting down")

func (d *deadlineWriter) Write(p []byte) (int, error) {
	d.mu.Lock()
	stopped := d.stopped
	if !stopped && d.conn != nil {
		_ = d.conn.SetWriteDeadline(time.Now().Add(backupWriteTimeout))
	}
	d.mu.Unlock()
	if stopped {
		return 0, errBackupCut
	}
	return d.w.Write(p)
}

// cut fails the next write and the connection's write in progress.
func (d *deadlineWriter) cut() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped = true
	if d.conn != nil {
		_ = d.conn.SetWriteDeadline(time.Now())
	}
}
