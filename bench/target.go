package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// EventType is the type of every event the lab publishes. Bench webhooks
// subscribe to it alone; a catch-all webhook (no event filter) of the
// same tenant receives it too, which is why --url needs a tenant kept for
// benchmarking.
const EventType = "bench.hookd"

// target is the hookd under load, reached over HTTP like any client. Its
// URL can change (a restarted child listens on a new port).
type target struct {
	url    atomic.Pointer[string]
	token  string
	client *fasthttp.Client
}

func newTarget(url, token string, conns int) *target {
	t := &target{token: token, client: &fasthttp.Client{
		MaxConnsPerHost: conns + 8, ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second,
		MaxIdemponentCallAttempts: 1,
	}}
	t.setURL(url)
	return t
}

func (t *target) setURL(u string) { t.url.Store(&u) }
func (t *target) URL() string     { return *t.url.Load() }

// do sends one request and returns the answer's body and status.
func (t *target) do(method, path string, body []byte) ([]byte, int, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(t.URL() + path)
	req.Header.SetMethod(method)
	req.Header.SetContentType("application/json")
	if t.token != "" {
		req.Header.Set("Authorization", "Bearer "+t.token)
	}
	req.SetBody(body)
	if err := t.client.DoTimeout(req, resp, 60*time.Second); err != nil {
		return nil, 0, err
	}
	return append([]byte(nil), resp.Body()...), resp.StatusCode(), nil
}

// hooks are the bench webhooks a scenario created; delete removes them.
type hooks struct {
	t   *target
	mu  sync.Mutex
	ids []string
}

// hookSpec is what a scenario wants of its webhooks.
type hookSpec struct {
	MaxBatchSize int
	Retry        string // retry schedule as a JSON array of durations; "" = the server's
}

// hookDescription is the description of every webhook the lab creates.
const hookDescription = "hookd bench"

// create makes a webhook for EventType only, delivering to url, with no
// batching delay.
func (h *hooks) create(url string, spec hookSpec) error {
	body := fmt.Appendf(nil, `{"url":%q,"maxBatchSize":%d,"maxBatchTimeDelay":0,"events":[%q],"description":%q`,
		url, max(spec.MaxBatchSize, 1), EventType, hookDescription)
	if spec.Retry != "" {
		body = fmt.Appendf(body, `,"retry":{"schedule":%s}`, spec.Retry)
	}
	body = append(body, '}')
	b, code, err := h.t.do("POST", "/v1/webhooks", body)
	if err != nil || code != 201 {
		return fmt.Errorf("bench: create webhook: %d %s %v", code, b, err)
	}
	var w struct{ ID string }
	if err := json.Unmarshal(b, &w); err != nil || w.ID == "" {
		return fmt.Errorf("bench: create webhook: no id in %s", b)
	}
	h.mu.Lock()
	h.ids = append(h.ids, w.ID)
	h.mu.Unlock()
	return nil
}

// createN makes n webhooks delivering to the sink's /w/0 … /w/n-1.
func (h *hooks) createN(s *Sink, n int, spec hookSpec) error {
	for i := 0; i < n; i++ {
		if err := h.create(s.URL(i), spec); err != nil {
			return err
		}
	}
	return nil
}

// delete removes every webhook create made.
func (h *hooks) delete() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range h.ids {
		_, _, _ = h.t.do("DELETE", "/v1/webhooks/"+id, nil)
	}
	h.ids = nil
}

// sweepStale deletes the webhooks that runs against this server left
// behind when they were killed before deleting them: a lab webhook (its
// description, EventType alone) whose receiver refuses connections. A
// concurrent run's receiver is listening, so its webhooks stay. Left in
// place, stale webhooks would take a share of every later run's events
// and retry them against nothing. It returns how many it deleted.
func (t *target) sweepStale() (int, error) {
	var stale []string
	for cursor := ""; ; {
		path := "/v1/webhooks?limit=1000"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		b, code, err := t.do("GET", path, nil)
		if err != nil || code != 200 {
			return 0, fmt.Errorf("bench: list webhooks: %d %s %v", code, b, err)
		}
		var page struct {
			Results []struct {
				ID, URL, Description string
				Events               []string
			}
			NextCursor string
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return 0, fmt.Errorf("bench: list webhooks: %w", err)
		}
		for _, w := range page.Results {
			if w.Description == hookDescription && len(w.Events) == 1 && w.Events[0] == EventType && refused(w.URL) {
				stale = append(stale, w.ID)
			}
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	n := 0
	for _, id := range stale {
		if _, code, err := t.do("DELETE", "/v1/webhooks/"+id, nil); err == nil && code == 204 {
			n++
		}
	}
	return n, nil
}

// refused reports whether the host of u refuses a TCP connection: nothing
// listens there. Anything else (it answers, a timeout, a URL this
// cannot read) is not proof that the receiver is gone.
func refused(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.Hostname() == "" {
		return false
	}
	port := p.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[p.Scheme]
	}
	c, err := net.DialTimeout("tcp", net.JoinHostPort(p.Hostname(), port), time.Second)
	if err == nil {
		c.Close()
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// appendEvent appends one bench event: its data carries the publish time
// t (unix nanos) and sequence number s the sink reads back, and padding
// to about size bytes. Appended by hand: fmt would cost the load
// generator a good share of the cores it shares with hookd.
func appendEvent(b []byte, t time.Time, seq int64, pad []byte) []byte {
	b = append(b, `{"type":"`+EventType+`","data":{"t":`...)
	b = strconv.AppendInt(b, t.UnixNano(), 10)
	b = append(b, `,"s":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `,"pad":"`...)
	b = append(b, pad...)
	return append(b, `"}}`...)
}

// fastRetry is a retry schedule for scenarios that make the sink fail:
// 50 attempts, a short wait between them.
func fastRetry(wait string) string {
	b := []byte(`["0s"`)
	for i := 1; i < 50; i++ {
		b = fmt.Appendf(b, `,%q`, wait)
	}
	return string(append(b, ']'))
}

// padding is the filler that brings an event to about size bytes.
func padding(size int) []byte {
	p := make([]byte, max(size-80, 1))
	for i := range p {
		p[i] = 'a' + byte(i%26)
	}
	return p
}

// publishBody is a request of n events seq, seq+1, …: a bare event when
// n is 1, else {"events":[…]}.
func publishBody(b []byte, n int, t time.Time, seq int64, pad []byte) []byte {
	if n == 1 {
		return appendEvent(b, t, seq, pad)
	}
	b = append(b, `{"events":[`...)
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendEvent(b, t, seq+int64(i), pad)
	}
	return append(b, "]}"...)
}
