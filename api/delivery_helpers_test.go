package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hookd/config"
	"hookd/engine"
	"hookd/wal"
)

// These tests deliver for real: a local receiver (httptest, 127.0.0.1)
// and the server's engine. They never sleep to wait for a result: they
// wait on what the receiver or the engine's OnAttempt hook reports, with
// waitFor only as a guard against a hang.

const waitFor = 10 * time.Second

// hit is one request the receiver got.
type hit struct {
	header http.Header
	body   []byte
}

// receiver answers every request with status (500 instead when failIf
// matches the body) and reports each request on hits before answering.
// While hold is set, answers wait for release.
type receiver struct {
	url    string
	hits   chan hit
	status atomic.Int32
	failIf func(body []byte) bool // nil: never

	hold    atomic.Bool
	release chan struct{}
	once    sync.Once
}

func newReceiver(t *testing.T, status int, failIf ...func(body []byte) bool) *receiver {
	t.Helper()
	r := &receiver{hits: make(chan hit, 1000), release: make(chan struct{})}
	if len(failIf) > 0 {
		r.failIf = failIf[0]
	}
	r.status.Store(int32(status))
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(srv.Close)
	t.Cleanup(r.let) // runs first: no handler stays held
	r.url = srv.URL
	return r
}

func (r *receiver) let() { r.once.Do(func() { close(r.release) }) }

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	code := int(r.status.Load())
	if r.failIf != nil && r.failIf(body) {
		code = 500
	}
	select {
	case r.hits <- hit{header: req.Header.Clone(), body: body}:
	default:
	}
	if r.hold.Load() {
		<-r.release
	}
	w.WriteHeader(code)
	if code >= 300 {
		io.WriteString(w, "boom")
	}
}

// next returns the next request the receiver got.
func (r *receiver) next(t *testing.T) hit {
	t.Helper()
	select {
	case h := <-r.hits:
		return h
	case <-time.After(waitFor):
		t.Fatal("timed out waiting for a request at the receiver")
	}
	return hit{}
}

// none checks that no request is waiting to be read.
func (r *receiver) none(t *testing.T, when string) {
	t.Helper()
	select {
	case h := <-r.hits:
		t.Errorf("%s: unexpected request %s", when, h.body)
	default:
	}
}

// attemptSeen is what the engine's OnAttempt hook reported.
type attemptSeen struct {
	batchID, attemptID, batchStatus string
	status, trigger                 string
	code                            int
	events                          []string
}

// reportAttempts is an engine OnAttempt hook that sends each stored
// attempt to ch, giving up once done is closed.
func reportAttempts(ch chan<- attemptSeen, done <-chan struct{}) func(*wal.Batch, *wal.Attempt) {
	return func(b *wal.Batch, a *wal.Attempt) {
		s := attemptSeen{batchID: b.ID.Text("bat_"), attemptID: a.ID.Text("att_"), batchStatus: b.Status,
			status: a.Status, trigger: a.Trigger, code: a.ResponseCode}
		for _, e := range b.Events {
			s.events = append(s.events, e.ID.Text("evt_"))
		}
		select {
		case ch <- s:
		case <-done:
		}
	}
}

// deliveryServer is a test server that reports every stored attempt.
type deliveryServer struct {
	*testServer
	attempts chan attemptSeen
}

// newDeliveryServer starts a server that may deliver to 127.0.0.1.
func newDeliveryServer(t *testing.T, mutate func(*config.Config), engineOpts func(*engine.Options)) *deliveryServer {
	t.Helper()
	ch := make(chan attemptSeen, 1000)
	done := make(chan struct{})
	ts := newTestServerWith(t, func(c *config.Config) {
		c.Delivery.AllowPrivateDestinations = true
		if mutate != nil {
			mutate(c)
		}
	}, func(o *engine.Options) {
		o.OnAttempt = reportAttempts(ch, done)
		if engineOpts != nil {
			engineOpts(o)
		}
	})
	t.Cleanup(func() { close(done) }) // before the server's cleanup: a blocked hook lets go
	return &deliveryServer{testServer: ts, attempts: ch}
}

// waitAttempt returns the next reported attempt that matches (any when
// match is nil), skipping the others.
func (ds *deliveryServer) waitAttempt(t *testing.T, what string, match func(attemptSeen) bool) attemptSeen {
	t.Helper()
	timeout := time.After(waitFor)
	for {
		select {
		case a := <-ds.attempts:
			if match == nil || match(a) {
				return a
			}
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// quiesce waits until the engine has finished everything it started (an
// attempt's aftermath such as deactivating the webhook, or the
// cancellation after a DELETE), by closing it. The API keeps answering
// from the store; nothing is delivered afterwards.
func (ds *deliveryServer) quiesce(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := ds.eng.Close(ctx); err != nil {
		t.Fatalf("engine close: %v", err)
	}
}

// createHook creates a webhook and returns its id and secret.
func (ds *deliveryServer) createHook(t *testing.T, body map[string]any, hdr ...string) (string, string) {
	t.Helper()
	r := ds.do("POST", "/v1/webhooks", body, hdr...)
	if r.status != 201 {
		t.Fatalf("create webhook = %d %s", r.status, r.body)
	}
	m := r.json(t)
	return m["id"].(string), m["secret"].(string)
}

// publish posts events and returns their ids.
func (ds *deliveryServer) publish(t *testing.T, body string, hdr ...string) []string {
	t.Helper()
	r := ds.do("POST", "/v1/events", body, hdr...)
	if r.status != 202 {
		t.Fatalf("publish = %d %s", r.status, r.body)
	}
	var out publishResponse
	if err := json.Unmarshal(r.body, &out); err != nil || out.Accepted != len(out.IDs) || out.Accepted == 0 {
		t.Fatalf("publish = %s", r.body)
	}
	return out.IDs
}

// get is a GET that must answer 200 with a JSON object.
func (ds *deliveryServer) get(t *testing.T, path string, hdr ...string) (resp, map[string]any) {
	t.Helper()
	r := ds.do("GET", path, nil, hdr...)
	if r.status != 200 {
		t.Fatalf("GET %s = %d %s", path, r.status, r.body)
	}
	return r, r.json(t)
}

// batchIDs lists a webhook's batches with query q and returns their ids
// (the whole list must fit in one page).
func (ds *deliveryServer) batchIDs(t *testing.T, hook, q string) []string {
	t.Helper()
	_, m := ds.get(t, "/v1/webhooks/"+hook+"/batches?"+q)
	if m["nextCursor"] != nil {
		t.Errorf("?%s: nextCursor = %v, want null", q, m["nextCursor"])
	}
	ids := []string{}
	for _, b := range m["results"].([]any) {
		ids = append(ids, b.(map[string]any)["id"].(string))
	}
	return ids
}

func mustID(t *testing.T, prefix, s string) wal.ID {
	t.Helper()
	id, err := wal.ParseID(prefix, s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return id
}

var apiTimestamp = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func wantTimestamp(t *testing.T, what string, v any) {
	t.Helper()
	if s, ok := v.(string); !ok || !apiTimestamp.MatchString(s) {
		t.Errorf("%s = %v, want an RFC 3339 UTC timestamp with milliseconds", what, v)
	}
}

func wantJSONEqual(t *testing.T, what string, got any, want string) {
	t.Helper()
	g, _ := json.Marshal(got)
	var a, b any
	json.Unmarshal(g, &a)
	if err := json.Unmarshal([]byte(want), &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("%s = %s, want %s", what, g, want)
	}
}

// newJWTDeliveryServer is a delivery server in jwt mode and a maker of
// "Bearer ..." values for it, for the tests that put two tenants side by side.
func newJWTDeliveryServer(t *testing.T) (*deliveryServer, func(tenant string, roles ...string) string) {
	const secret = "0123456789abcdef0123456789abcdef"
	ts := newDeliveryServer(t, func(c *config.Config) { c.Auth.Mode = "jwt"; c.Auth.JWTSecret = secret }, nil)
	return ts, func(tenant string, roles ...string) string {
		s, err := MintToken(ts.cfg.Auth, tenant, "", roles, time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + s
	}
}
