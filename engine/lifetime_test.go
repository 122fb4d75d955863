package engine

import (
	"bytes"
	"context"
	"errors"
	"net"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"hookd/engine/clocktest"
	"hookd/wal"
)

// engineGoroutines returns the stacks of the goroutines running engine
// code (the loop, actions, timer callbacks, the publisher).
func engineGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if s := string(g); strings.Contains(s, "hookd/engine.(*Engine)") || strings.Contains(s, "hookd/engine.(*publisher)") {
			if !returning(s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// returning reports whether a goroutine's only engine frame is goDo's
// wrapper: the work it ran has returned and its deferred wg.Done has run
// or is running, so Close may already have seen the count reach zero
// while the goroutine has yet to exit (CI caught one at the wrapper's
// closing brace under -race). Such a goroutine runs no engine code any
// more; the goroutine count checked after Close still sees it leave.
func returning(stack string) bool {
	var frames []string
	for _, line := range strings.Split(stack, "\n") {
		if strings.HasPrefix(line, "hookd/engine.") {
			frames = append(frames, line)
		}
	}
	return len(frames) == 1 && strings.HasPrefix(frames[0], "hookd/engine.(*Engine).goDo.func1(")
}

// Close returns only after every goroutine the engine started has ended:
// the loop, sends, opens, a deleted webhook's cleanup, the
// operational-events publisher, the loop's wake timer and an open's retry
// timer (both pending here), and no timer of the engine's is left to fire.
func TestCloseWaitsForEveryGoroutine(t *testing.T) {
	t.Run("wall clock", func(t *testing.T) { closeWaits(t, nil) })
	t.Run("fake clock", func(t *testing.T) { closeWaits(t, clocktest.New(time.Now())) })
}

func closeWaits(t *testing.T, fake *clocktest.FakeClock) {
	var clock Clock = RealClock{}
	if fake != nil {
		clock = fake
	}
	st, err := wal.Open(wal.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	fs := &failingOpens{Store: st, failed: make(chan struct{}, 10)}
	fs.n.Store(1) // one of the two webhooks' opens fails: its retry waits openRetry
	attempts := make(chan *wal.Attempt, 10)
	refused := func(string) (net.Conn, error) { return nil, syscall.ECONNREFUSED }
	eng := New(Options{Store: fs, Dispatcher: NewDispatcher(DispatcherOptions{Dial: refused}), Clock: clock,
		Core:      CoreOptions{Schedule: []time.Duration{0, time.Hour}}, // a failed attempt's retry waits an hour
		OnAttempt: func(_ *wal.Batch, a *wal.Attempt) { attempts <- a }})
	before := runtime.NumGoroutine()
	if err := eng.Start(); err != nil {
		t.Fatal(err)
	}
	var hooks []*wal.Webhook
	for _, typ := range []string{"a", "b"} {
		w := &wal.Webhook{ID: st.NewWebhookID(), Tenant: "acme", URL: "http://127.0.0.1:9/" + typ, IsActive: true,
			MaxBatchSize: 1, Events: []string{typ}, Secrets: []wal.Secret{{Value: GenerateSecret()}}}
		if err := st.CreateWebhook(w); err != nil {
			t.Fatal(err)
		}
		eng.WebhookChanged(w)
		hooks = append(hooks, w)
	}
	if _, err := st.Append("acme", []wal.EventInput{{Type: "a", Data: []byte(`1`)}, {Type: "b", Data: []byte(`2`)}}); err != nil {
		t.Fatal(err)
	}
	recv(t, fs.failed, "the failed open")
	if a := recv(t, attempts, "the other webhook's attempt"); a.Status != wal.AttemptFailed {
		t.Fatalf("attempt %+v; want failed (connection refused)", a)
	}
	if len(engineGoroutines()) == 0 {
		t.Fatal("no engine goroutine found while running: the stack filter is wrong")
	}
	eng.WebhookDeleted("acme", hooks[0].ID)

	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := eng.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if left := engineGoroutines(); len(left) > 0 {
		t.Fatalf("Close returned with %d engine goroutines running:\n%s", len(left), strings.Join(left, "\n\n"))
	}
	if fake != nil && fake.Pending() > 0 {
		t.Errorf("%d timers still scheduled after Close; want every one stopped", fake.Pending())
	}
	// Nothing else the engine started lingers either (the dispatcher's
	// dials, the Close helper): the count comes back to what it was. A
	// goroutine that has returned may take a moment to leave the count.
	deadline := time.Now().Add(waitLimit)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Close, %d before Start:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

// noticeDuringStart appends an event from inside Start's first store read,
// and waits (bounded) for the append to return, which it does only after
// the store's committer has told the listener Start registered before
// reading.
type noticeDuringStart struct {
	*wal.Store
	once     sync.Once
	appended chan error
}

func (s *noticeDuringStart) PeekQueue(webhook wal.ID, after wal.Cursor, max int) ([]wal.Queued, error) {
	s.once.Do(func() {
		done := make(chan error, 1)
		go func() {
			_, err := s.Store.Append("acme", []wal.EventInput{{Type: "t", Data: []byte(`"during start"`)}})
			done <- err
		}()
		select {
		case err := <-done:
			s.appended <- err
		case <-time.After(waitLimit):
			s.appended <- errors.New("the append did not return: the store's notification waits for Start")
		}
	})
	return s.Store.PeekQueue(webhook, after, max)
}

// A store notification that arrives while Start reads the store cannot
// deadlock (the listener only fills the engine's inbox), and is not lost:
// the event is delivered, once.
func TestNotificationDuringStart(t *testing.T) {
	rc := newSink(t)
	st, err := wal.Open(wal.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w := &wal.Webhook{ID: st.NewWebhookID(), Tenant: "acme", URL: rc.srv.URL, IsActive: true, MaxBatchSize: 1,
		Secrets: []wal.Secret{{Value: GenerateSecret()}}}
	if err := st.CreateWebhook(w); err != nil {
		t.Fatal(err)
	}
	ns := &noticeDuringStart{Store: st, appended: make(chan error, 1)}
	attempts := make(chan *wal.Attempt, 10)
	eng := New(Options{Store: ns, Dispatcher: NewDispatcher(DispatcherOptions{}), Clock: clocktest.New(time.Now()),
		OnAttempt: func(_ *wal.Batch, a *wal.Attempt) { attempts <- a }})
	started := make(chan error, 1)
	go func() { started <- eng.Start() }()
	if err := recv(t, ns.appended, "the append made during Start"); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, started, "Start"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(context.Background()) })
	if body := recv(t, rc.got, "the event appended during Start"); !strings.Contains(string(body), "during start") {
		t.Errorf("delivered %s", body)
	}
	if a := recv(t, attempts, "the attempt"); a.Status != wal.AttemptSucceeded {
		t.Errorf("attempt %+v", a)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	eng.Close(ctx) // all it started has ended: nothing more can come
	select {
	case body := <-rc.got:
		t.Errorf("delivered twice: %s", body)
	default:
	}
}

// A send worker takes the next send once its own has ended, a send that
// finds no worker waiting starts one (none waits behind another), and
// Close ends the waiting workers and refuses sends from then on.
func TestSendWorkers(t *testing.T) {
	e := New(Options{NoOperationalEvents: true})
	e.sendIdle = time.Hour // Close, not the idle timer, must end them
	release := make(chan struct{})
	running := make(chan int, 3)
	e.goSend(func() { running <- 1; <-release })
	<-running
	// The first send still runs: the second must not wait for it.
	e.goSend(func() { running <- 2 })
	if got := <-running; got != 2 {
		t.Fatalf("second send: got %d", got)
	}
	close(release)
	// Sends one after another: each finds a worker waiting (or, having
	// come before it was back, starts one), so a few workers serve them all.
	const sends = 100
	done := make(chan struct{})
	for range sends {
		e.goSend(func() { done <- struct{}{} })
		<-done
	}
	if n := len(engineGoroutines()); n == 0 || n >= sends {
		t.Fatalf("%d sends one after another left %d send workers; want them reused", sends, n)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if g := engineGoroutines(); len(g) > 0 {
		t.Fatalf("goroutines left after Close:\n%s", strings.Join(g, "\n\n"))
	}
	e.goSend(func() { t.Error("a send ran after Close") })
	if g := engineGoroutines(); len(g) > 0 {
		t.Fatalf("goroutines started after Close:\n%s", strings.Join(g, "\n\n"))
	}
}

// returning tells a goroutine past its work (the stack CI printed) from
// one still in it or in a send worker.
func TestReturningStack(t *testing.T) {
	const created = "created by hookd/engine.(*Engine).goDo in goroutine 1\n\t/w/engine/lifetime.go:135 +0x15d"
	for _, c := range []struct {
		frames []string
		want   bool
	}{
		{[]string{"goroutine 7130 [runnable]:",
			"hookd/engine.(*Engine).goDo.func1()", "\t/check/work/main/engine/lifetime.go:138 +0x94",
			"created by hookd/engine.(*Engine).goDo in goroutine 7053", "\t/check/work/main/engine/lifetime.go:135 +0x15d"}, true},
		{[]string{"goroutine 9 [runnable]:",
			"sync.(*WaitGroup).Done(...)", "\t/usr/lib/go/src/sync/waitgroup.go:110",
			"hookd/engine.(*Engine).goDo.func1()", "\t/w/engine/lifetime.go:138 +0x94", created}, true},
		{[]string{"goroutine 9 [select]:",
			"hookd/engine.(*Engine).sendWorker(0xc000)", "\t/w/engine/lifetime.go:170 +0x94",
			"hookd/engine.(*Engine).goSend.func1()", "\t/w/engine/lifetime.go:155 +0x1d",
			"hookd/engine.(*Engine).goDo.func1()", "\t/w/engine/lifetime.go:137 +0x5a", created}, false},
		{[]string{"goroutine 9 [chan receive]:",
			"hookd/engine.(*Engine).loop(0xc000)", "\t/w/engine/engine.go:300 +0x94",
			"created by hookd/engine.(*Engine).Start in goroutine 1", "\t/w/engine/engine.go:200 +0x15d"}, false},
	} {
		stack := strings.Join(c.frames, "\n")
		if got := returning(stack); got != c.want {
			t.Errorf("returning = %v, want %v:\n%s", got, c.want, stack)
		}
	}
}
