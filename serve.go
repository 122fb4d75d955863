package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"go.uber.org/zap"

	"hookd/api"
	"hookd/config"
	"hookd/engine"
	"hookd/wal"
)

// serve is `hookd serve` (and `hookd` alone): it runs the server until
// SIGTERM or SIGINT, then shuts down within server.shutdown_timeout.
func serve(args, env []string, stdout, stderr io.Writer) int {
	cfg, err := serveConfig(args, env, stderr)
	if err != nil {
		return exitCode(err, stderr)
	}
	log, err := newLogger(cfg.Log)
	if err != nil {
		return exitCode(err, stderr)
	}
	defer log.Sync()
	if err := checkAuth(cfg, log); err != nil {
		return exitCode(err, stderr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	applyProcs()
	err = runServer(ctx, stop, cfg, log, stdout)
	var se startupError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &se):
		// Like a configuration error: one plain line, before any listener.
		return exitCode(se.err, stderr)
	default:
		log.Error("exit", zap.Error(err))
		return 1
	}
}

// applyMemoryLimit sets the Go runtime's soft memory limit to
// server.memory_limit (0: none) unless the GOMEMLIMIT environment
// variable is set, which the runtime has applied already, and returns the
// limit in force (0: none), from which Badger's caches are sized.
func applyMemoryLimit(configured int64) int64 {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		if limit := debug.SetMemoryLimit(-1); limit != math.MaxInt64 { // "off" is MaxInt64
			return limit
		}
		return 0
	}
	if configured > 0 {
		debug.SetMemoryLimit(configured)
	}
	return configured
}

// applyProcs runs the server with twice as many Go processors (P) as
// the runtime chose by default (the CPUs it may use, a container's CPU
// limit included) unless the GOMAXPROCS environment variable is set, and
// returns the number in force. Badger's memtable flushes and compactions
// run for up to seconds without blocking; with as many Ps as cores, the
// Go scheduler's round robin gives each of those goroutines a full 10-ms
// slice per turn against the ~50 µs an HTTP handler takes, so on two
// cores a compaction held most of the CPU and the queue of handlers grew
// to a second. With twice the Ps, the kernel shares the cores between the
// threads instead, and favours the ones that wake briefly (bench/BASELINE.md,
// fourteenth sitting). Set this way, the runtime no longer follows a
// container's CPU limit changed while hookd runs (it reads it at start).
func applyProcs() int {
	if _, set := os.LookupEnv("GOMAXPROCS"); set {
		return runtime.GOMAXPROCS(0)
	}
	n := 2 * runtime.GOMAXPROCS(0)
	runtime.GOMAXPROCS(n)
	return n
}

// startupError is a failure before the listener is up: the store cannot
// open (a full disk, a locked directory), the address is taken. serve
// prints it as `hookd: <error>` on stderr, the one format of every error
// that stops start-up (configuration errors included); failures once
// serving go to the structured log.
type startupError struct{ err error }

func (e startupError) Error() string { return e.err.Error() }
func (e startupError) Unwrap() error { return e.err }

// checkAuth refuses an unauthenticated server on a non-loopback address
// unless auth.allow_insecure says so, and warns about auth.mode "none".
func checkAuth(cfg config.Config, log *zap.Logger) error {
	if cfg.InsecureListen() && !cfg.Auth.AllowInsecure {
		return fmt.Errorf("server.listen %q is not a loopback address and auth.mode is \"none\": "+
			"set auth.mode to jwt or apikey, or set auth.allow_insecure = true to accept unauthenticated requests from the network",
			cfg.Server.Listen)
	}
	if cfg.Auth.Mode == config.AuthNone {
		log.Warn("auth.mode is none: every request acts as tenant \"default\" with every role",
			zap.String("listen", cfg.Server.Listen), zap.Bool("allow_insecure", cfg.Auth.AllowInsecure))
	}
	return nil
}

// runServer opens the store, serves until ctx is done or Serve fails, and
// closes everything it opened. stop releases the signal handler, so that a
// second signal during shutdown kills the process.
func runServer(ctx context.Context, stop func(), cfg config.Config, log *zap.Logger, stdout io.Writer) error {
	log.Info("starting", zap.String("version", version), zap.String("dir", cfg.Storage.Dir),
		zap.String("auth_mode", cfg.Auth.Mode), zap.Strings("compat", cfg.API.Compat), zap.Int("procs", runtime.GOMAXPROCS(0)))
	cache := wal.CacheBytesFor(applyMemoryLimit(cfg.Server.MemoryLimit))
	storeMetrics := api.NewStoreMetrics()
	store, err := wal.Open(wal.Options{Dir: cfg.Storage.Dir, Retention: cfg.Storage.Retention.Duration, Logger: log, Observer: storeMetrics,
		MemTableSize: int64(cfg.Storage.MemtableBytes), NoCompression: cfg.Storage.Compression == "none",
		ValueThreshold: cfg.Storage.ValueThreshold, MinFreeBytes: cfg.Storage.MinFreeBytes,
		BlockCacheSize: cache, IndexCacheSize: cache})
	if err != nil {
		return startupError{err}
	}
	eng := newEngine(cfg, store, log)
	if err := eng.Start(); err != nil {
		return startupError{errors.Join(fmt.Errorf("engine: %w", err), store.Close())}
	}
	closeAll := func(ctx context.Context) error {
		return errors.Join(eng.Close(ctx), store.Close())
	}
	srv, err := api.New(api.Options{Config: cfg, Store: store, Engine: eng, Logger: log, Version: version, Commit: commit,
		StoreMetrics: storeMetrics})
	if err != nil {
		return startupError{errors.Join(err, closeAll(context.Background()))}
	}
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return startupError{errors.Join(fmt.Errorf("listen: %w", err), closeAll(context.Background()))}
	}
	log.Info("listening", zap.String("addr", ln.Addr().String()))
	fmt.Fprintf(stdout, "hookd listening on http://%s\n", ln.Addr())

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		if err == nil {
			err = errors.New("server stopped")
		}
		return errors.Join(fmt.Errorf("serve: %w", err), closeAll(context.Background()))
	case <-ctx.Done():
	}
	stop()
	timeout := cfg.Server.ShutdownTimeout.Duration
	log.Info("shutting down", zap.Duration("timeout", timeout))
	deadline := time.Now().Add(timeout)
	sctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	var errs []error
	if err := srv.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("shutdown: %w", err))
	}
	// Attempts in flight may finish until shortly before the deadline;
	// then the engine cuts them off (they stay open in the store and are
	// retried after restart), whatever the receivers do, and the rest of
	// the time is the store's to close.
	ectx, ecancel := context.WithDeadline(sctx, deadline.Add(-storeCloseTime(timeout)))
	defer ecancel()
	if err := eng.Close(ectx); err != nil {
		errs = append(errs, fmt.Errorf("engine: %w", err))
	}
	if err := store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close store: %w", err))
	}
	if len(errs) == 0 {
		log.Info("stopped")
	}
	return errors.Join(errs...)
}

// storeCloseTime is the part of server.shutdown_timeout kept for closing
// the store after the engine has stopped: a quarter, at most a second.
func storeCloseTime(timeout time.Duration) time.Duration { return min(timeout/4, time.Second) }

// newEngine builds the delivery engine from the config.
func newEngine(cfg config.Config, store engine.Store, log *zap.Logger) *engine.Engine {
	sched := make([]time.Duration, len(cfg.Delivery.RetrySchedule))
	for i, d := range cfg.Delivery.RetrySchedule {
		sched[i] = d.Duration
	}
	guard := engine.NewGuard(cfg.Delivery.AllowPrivateDestinations, cfg.Delivery.AllowedCIDRs, cfg.Delivery.Timeout.Duration)
	disp := engine.NewDispatcher(engine.DispatcherOptions{Timeout: cfg.Delivery.Timeout.Duration,
		MaxConnsPerHost: cfg.Delivery.MaxConnsPerHost, UserAgent: "hookd/" + version, Dial: guard.Dial})
	return engine.New(engine.Options{Store: store, Dispatcher: disp, Logger: log, Core: engine.CoreOptions{
		Schedule: sched, MaxInFlight: cfg.Delivery.MaxConnsPerHost, DisableAfter: cfg.Delivery.DisableAfter.Duration,
		Jitter: rand.Float64}})
}
