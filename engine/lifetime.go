package engine

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// The engine's goroutines and its start and stop. The engine owns every
// goroutine it starts: the loop, each action (open, send, a deleted
// webhook's cleanup), and each timer's callback (the loop's wake, an open's
// retry) are counted in one WaitGroup from the moment they are started or
// scheduled, and refused once Close has begun; the operational-events
// publisher is started by Start and stopped by Close (observe_publish.go).
// Close returns only after all of them have ended. No engine code runs on
// another package's goroutine: the store's fan-out notifications only go
// into the engine's inbox (inbox.go), which the loop drains.

// Start takes the partitions the store hands out (claims.go) — for each,
// its webhooks, what waits in their queues, its open batches — and starts
// delivering. The claims available at once are loaded before it returns
// (their errors are its error); later ones are taken as they come. It
// reads the store without holding the engine's lock.
func (e *Engine) Start() error {
	e.runMu.Lock()
	if e.closing || e.cancel != nil {
		e.runMu.Unlock()
		return nil // closed before it started, or started already
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.runMu.Unlock()
	claims := e.store.Claims(ctx)
	for now := true; now; {
		select {
		case c, ok := <-claims:
			if !ok {
				claims, now = nil, false
				break
			}
			if err := e.claim(c); err != nil {
				return err
			}
		default:
			now = false
		}
	}
	e.pub.start()
	e.goDo(func() { e.loop(ctx) })
	if claims != nil {
		e.goDo(func() {
			for {
				select {
				case c, ok := <-claims:
					if !ok {
						return
					}
					if err := e.claim(c); err != nil {
						e.log.Error("engine: load a claimed partition", zap.Uint16("shard", c.Part.Shard),
							zap.Uint16("slot", c.Part.Slot), zap.Error(err))
					}
				case <-e.stopped:
					return
				}
			}
		})
	}
	e.kick()
	return nil
}

// Close stops starting work and waits for attempts in flight until ctx
// ends; then it cuts them off: the dispatcher closes their connections
// (Abort), their results are not recorded, and their batches stay open in
// the store as they were, to be retried after restart. It returns when
// every goroutine the engine started has ended, so the engine no longer
// touches the store; nil even when it cut attempts off, as that is what
// shutting down within a deadline means.
func (e *Engine) Close(ctx context.Context) error {
	e.runMu.Lock()
	if e.closing {
		e.runMu.Unlock()
		return nil
	}
	e.closing = true
	close(e.stopped)
	timers, cancel := e.timers, e.cancel
	e.timers = nil
	e.runMu.Unlock()
	if cancel == nil {
		cancel = func() {}
	}
	for t := range timers {
		t.stop() // a callback already running is waited for below
	}
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
		cancel()
		e.pub.stop(true) // what the last attempts caused is appended
		return nil
	case <-ctx.Done():
	}
	// Out of time: operational events still queued are dropped.
	defer e.pub.stop(false)
	cancel() // sends not begun yet: canceled
	if e.disp != nil {
		e.disp.Abort() // sends in flight: return now
	}
	<-done
	if n := e.cutOff.Load(); n > 0 {
		e.log.Info("engine: attempts in flight cut off at shutdown; their batches stay open and are retried after restart",
			zap.Int64("attempts", n))
	}
	return nil
}

func (e *Engine) kick() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// goDo runs f as tracked work unless the engine is closing.
func (e *Engine) goDo(f func()) {
	e.runMu.Lock()
	defer e.runMu.Unlock()
	if e.closing {
		return
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		f()
	}()
}

// goSend runs f as tracked work, like goDo, on a send worker: a goroutine
// that waits up to sendWorkerIdle for another send once one has ended. A
// send goes through the HTTP client's deep call chain, so a fresh
// goroutine grows its stack (copying it) on every delivery: at 5,000
// deliveries/s runtime.morestack was 2.4% of hookd's CPU, 1.1% with
// workers (bench/BASELINE.md). f goes to a worker only if one is
// waiting at that moment (the channel is unbuffered); otherwise a new
// worker starts with it, so sends never queue behind each other and as
// many run at once as before. Workers are counted in wg like any other
// goroutine of the engine and end when Close begins; once it has begun, a
// send is refused here as goDo refuses it.
func (e *Engine) goSend(f func()) {
	select {
	case <-e.stopped:
		return
	case e.sends <- f:
	default:
		e.goDo(func() {
			f()
			e.sendWorker()
		})
	}
}

// sendWorkerIdle is how long a send worker waits for the next send
// (Engine.sendIdle; tests set their own).
const sendWorkerIdle = 5 * time.Second

func (e *Engine) sendWorker() {
	idle := time.NewTimer(e.sendIdle)
	defer idle.Stop()
	for {
		select {
		case f := <-e.sends:
			f()
			idle.Reset(e.sendIdle)
		case <-idle.C:
			return
		case <-e.stopped:
			return
		}
	}
}

// ownedTimer is a clock timer the engine owns: counted in e.wg from when
// it is scheduled until its callback has returned or it is stopped.
type ownedTimer struct {
	e *Engine
	t Timer
}

// after calls f on the clock's goroutine once d has passed, as tracked
// work: Close stops the timer, or waits for its callback if it has begun.
// It returns nil (and never calls f) when the engine is closing.
func (e *Engine) after(d time.Duration, f func()) *ownedTimer {
	e.runMu.Lock()
	defer e.runMu.Unlock()
	if e.closing {
		return nil
	}
	ot := &ownedTimer{e: e}
	e.wg.Add(1)
	e.timers[ot] = struct{}{}
	ot.t = e.clock.AfterFunc(d, func() {
		defer e.wg.Done()
		e.runMu.Lock()
		closing := e.closing
		delete(e.timers, ot)
		e.runMu.Unlock()
		if !closing {
			f()
		}
	})
	return ot
}

// stop prevents the callback if it has not begun (nil: nothing to stop).
func (ot *ownedTimer) stop() {
	if ot == nil || !ot.t.Stop() {
		return // fired: its callback counts itself done
	}
	e := ot.e
	e.runMu.Lock()
	if e.timers != nil {
		delete(e.timers, ot)
	}
	e.runMu.Unlock()
	e.wg.Done()
}

// loop is the engine's one scheduling goroutine: it takes in what the
// inbox holds, steps the core, keeps one timer for the core's next wake,
// and starts the actions the core returns. ctx is handed to the sends.
func (e *Engine) loop(ctx context.Context) {
	var notes []queuedNote
	var opens []Action // decided, waiting for one of the maxOpening places
	for {
		select {
		case <-e.stopped:
			return
		case <-e.wake:
		case <-e.inbox.signal():
		}
		notes = e.inbox.drain(notes)
		now := e.clock.Now()
		e.mu.Lock()
		for _, n := range notes {
			e.core.Queued(n.at, n.hook, n.n, time.Time{})
		}
		acts := e.core.Step(now)
		next, ok := e.core.NextWake()
		if ok && !next.IsZero() && (e.timer == nil || !next.Equal(e.timerAt)) {
			e.timer.stop()
			e.timerAt = next
			e.timer = e.after(max(next.Sub(now), 0), e.kick)
		} else if ok && next.IsZero() {
			e.kick() // more is dirty
		}
		e.mu.Unlock()
		for _, a := range acts {
			switch a.Kind {
			case ActOpen:
				opens = append(opens, a)
			case ActSend:
				e.goSend(func() { e.send(ctx, a) })
			}
		}
		// At most maxOpening opens run at once; the core issues one per
		// webhook at a time, so the line is bounded by the webhooks.
		for len(opens) > 0 && e.opening.Load() < maxOpening {
			a := opens[0]
			opens = opens[1:]
			e.opening.Add(1)
			e.goDo(func() {
				defer func() { e.opening.Add(-1); e.kick() }()
				e.open(a)
			})
		}
	}
}
