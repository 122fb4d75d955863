package engine

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"hookd/wal"
)

// These tests check hookd's real deliveries — the runner, the core and the
// dispatcher over a real store — against the independent Standard Webhooks
// reference library: what a subscriber using it would accept.

// swRequest is one delivery as a net/http subscriber saw it.
type swRequest struct {
	header http.Header
	raw    []byte // the body as received
	body   []byte // the body after Content-Encoding is undone
	gzErr  error
	at     time.Time
}

// newSWReceiver starts a subscriber that records every request and answers
// statuses[i] to the i-th request (the last one from then on).
func newSWReceiver(t *testing.T, statuses ...int) (*httptest.Server, <-chan swRequest) {
	t.Helper()
	got := make(chan swRequest, 1000)
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		raw, _ := io.ReadAll(r.Body)
		req := swRequest{header: r.Header.Clone(), raw: raw, body: raw, at: at}
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(raw))
			if err == nil {
				req.body, err = io.ReadAll(zr)
			}
			req.gzErr = err
		}
		i := int(n.Add(1)) - 1
		w.WriteHeader(statuses[min(i, len(statuses)-1)])
		got <- req
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// addHook stores w (ID and tenant filled in) and tells the engine.
func (r *rig) addHook(t *testing.T, w *wal.Webhook) *wal.Webhook {
	t.Helper()
	w.ID, w.Tenant, w.IsActive = r.store.NewWebhookID(), "acme", true
	if err := r.store.CreateWebhook(w); err != nil {
		t.Fatal(err)
	}
	r.eng.WebhookChanged(w)
	return w
}

func recvSW(t *testing.T, got <-chan swRequest, what string) swRequest {
	t.Helper()
	select {
	case req := <-got:
		return req
	case <-time.After(10 * time.Second):
		t.Fatalf("no request for %s", what)
		return swRequest{}
	}
}

// verifySW checks the request with the library for every secret that must
// verify it, and that an unrelated secret does not.
func verifySW(t *testing.T, req swRequest, secrets ...string) {
	t.Helper()
	for i, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			t.Fatalf("NewWebhook(secret %d): %v", i, err)
		}
		if err := wh.Verify(req.body, req.header); err != nil {
			t.Errorf("secret %d alone: Verify: %v (webhook-signature %q)", i, err, req.header.Get("webhook-signature"))
		}
	}
	other, err := standardwebhooks.NewWebhook(GenerateSecret())
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Verify(req.body, req.header); !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) {
		t.Errorf("an unrelated secret: Verify = %v, want ErrNoMatchingSignature", err)
	}
}

// checkCommonHeaders checks what every delivery carries besides the
// signature: a fresh timestamp, the user agent, the content type.
func checkCommonHeaders(t *testing.T, req swRequest, published time.Time) int64 {
	t.Helper()
	ts, err := strconv.ParseInt(req.header.Get("webhook-timestamp"), 10, 64)
	if err != nil {
		t.Fatalf("webhook-timestamp %q: %v", req.header.Get("webhook-timestamp"), err)
	}
	// Stamped when the attempt starts: after the events were published,
	// before the request arrived (both Unix seconds, wall clock).
	if ts < published.Unix() || ts > req.at.Unix() {
		t.Errorf("webhook-timestamp %d not within [%d, %d] (publish, receipt)", ts, published.Unix(), req.at.Unix())
	}
	if ua := req.header.Get("User-Agent"); !strings.HasPrefix(ua, "hookd") {
		t.Errorf("User-Agent = %q, want hookd…", ua)
	}
	if ct := req.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	return ts
}

// sigHeader is a webhook-signature value: "v1," + base64 of a 32-byte
// HMAC, several joined by single spaces.
var sigHeader = regexp.MustCompile(`^v1,[A-Za-z0-9+/]{43}=( v1,[A-Za-z0-9+/]{43}=)*$`)

type swEvent struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

type swBatch struct {
	BatchID string    `json:"batchId"`
	Events  []swEvent `json:"events"`
}

func TestSignatureCompatStandardWebhooks(t *testing.T) {
	secretA, secretB := GenerateSecret(), GenerateSecret()
	cases := []struct {
		name      string
		size      int
		gzip      bool
		secrets   []wal.Secret
		verifying []string // secrets each of which alone must verify
		rejected  []string // secrets that must not verify (expired)
		sigs      int      // signatures in webhook-signature
	}{
		{name: "single", size: 1, secrets: []wal.Secret{{Value: secretA}}, verifying: []string{secretA}, sigs: 1},
		{name: "batch", size: 10, secrets: []wal.Secret{{Value: secretA}}, verifying: []string{secretA}, sigs: 1},
		{name: "gzip", size: 1, gzip: true, secrets: []wal.Secret{{Value: secretA}}, verifying: []string{secretA}, sigs: 1},
		{name: "gzip-batch", size: 10, gzip: true, secrets: []wal.Secret{{Value: secretA}}, verifying: []string{secretA}, sigs: 1},
		{name: "two-live-secrets", size: 1,
			secrets:   []wal.Secret{{Value: secretA}, {Value: secretB, ExpiresAt: time.Now().Add(time.Hour)}},
			verifying: []string{secretA, secretB}, sigs: 2},
		{name: "expired-second-secret", size: 1,
			secrets:   []wal.Secret{{Value: secretA}, {Value: secretB, ExpiresAt: time.Now().Add(-time.Second)}},
			verifying: []string{secretA}, rejected: []string{secretB}, sigs: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, got := newSWReceiver(t, 200)
			r := newRig(t, "", CoreOptions{})
			w := &wal.Webhook{URL: srv.URL + "/hook", MaxBatchSize: tc.size, Secrets: tc.secrets}
			if tc.gzip {
				w.Compression = "gzip"
			}
			r.addHook(t, w)

			const n = 3
			var in []wal.EventInput
			for i := 0; i < n; i++ {
				in = append(in, wal.EventInput{Type: "order.created", Data: []byte(`{"order":` + strconv.Itoa(i) + `,"note":"ünïcode \u00e9 \"q\""}`)})
			}
			published := time.Now()
			res, err := r.store.Append("acme", in)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]bool{}
			for _, id := range res.IDs {
				want[id.Text("evt_")] = true
			}

			requests := 0
			for seen := 0; seen < n; {
				req := recvSW(t, got, "the events")
				requests++
				if tc.gzip {
					if ce := req.header.Get("Content-Encoding"); ce != "gzip" {
						t.Errorf("Content-Encoding = %q, want gzip", ce)
					}
					if req.gzErr != nil {
						t.Fatalf("gunzip: %v", req.gzErr)
					}
					if bytes.Equal(req.raw, req.body) {
						t.Errorf("gzip webhook sent an uncompressed body")
					}
					// The signature covers the uncompressed body only.
					wh, _ := standardwebhooks.NewWebhook(tc.verifying[0])
					if err := wh.Verify(req.raw, req.header); err == nil {
						t.Errorf("the compressed bytes verify; the signature must cover the uncompressed body")
					}
				} else if ce := req.header.Get("Content-Encoding"); ce != "" {
					t.Errorf("Content-Encoding = %q, want none", ce)
				}
				checkCommonHeaders(t, req, published)
				if sig := req.header.Get("webhook-signature"); !sigHeader.MatchString(sig) || strings.Count(sig, "v1,") != tc.sigs {
					t.Errorf("webhook-signature %q: want %d single-space-separated v1,<base64 HMAC-SHA256>", sig, tc.sigs)
				}
				verifySW(t, req, tc.verifying...)
				for _, s := range tc.rejected {
					wh, _ := standardwebhooks.NewWebhook(s)
					if err := wh.Verify(req.body, req.header); err == nil {
						t.Errorf("an expired secret still verifies")
					}
				}

				msgID := req.header.Get("webhook-id")
				var evs []swEvent
				if tc.size == 1 {
					var ev swEvent
					if err := json.Unmarshal(req.body, &ev); err != nil {
						t.Fatalf("body %s: %v", req.body, err)
					}
					if !strings.HasPrefix(msgID, "evt_") || ev.ID != msgID {
						t.Errorf("webhook-id %q, body id %q: want the same evt_ id", msgID, ev.ID)
					}
					evs = []swEvent{ev}
				} else {
					var b swBatch
					if err := json.Unmarshal(req.body, &b); err != nil {
						t.Fatalf("body %s: %v", req.body, err)
					}
					if !strings.HasPrefix(msgID, "bat_") || b.BatchID != msgID {
						t.Errorf("webhook-id %q, batchId %q: want the same bat_ id", msgID, b.BatchID)
					}
					if len(b.Events) == 0 {
						t.Errorf("batch body without events: %s", req.body)
					}
					evs = b.Events
				}
				for _, ev := range evs {
					if !want[ev.ID] {
						t.Errorf("unexpected or repeated event %q", ev.ID)
					}
					delete(want, ev.ID)
					if ev.Type != "order.created" || ev.Timestamp == "" || !json.Valid(ev.Data) {
						t.Errorf("event %+v", ev)
					}
					seen++
				}
			}
			// One stored attempt per request, each a success whose record
			// does not show the signature.
			for i := 0; i < requests; i++ {
				select {
				case a := <-r.attempts:
					if a.Status != wal.AttemptSucceeded {
						t.Errorf("attempt %+v", a)
					}
					if sig := a.RequestHeaders["webhook-signature"]; !strings.Contains(sig, "<redacted>") || strings.Contains(sig, "=") {
						t.Errorf("attempt record's webhook-signature %q: want it redacted", sig)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("attempt %d of %d not recorded", i, requests)
				}
			}
		})
	}
}

// A retry is the same message: webhook-id stays, while the timestamp and
// so the signature are new, and both verify.
func TestSignatureCompatRetryKeepsID(t *testing.T) {
	for _, size := range []int{1, 10} {
		t.Run("maxBatchSize="+strconv.Itoa(size), func(t *testing.T) {
			t.Parallel()
			secret := GenerateSecret()
			srv, got := newSWReceiver(t, 500, 200)
			r := newRig(t, "", CoreOptions{})
			// A retry a second later: webhook-timestamp (Unix seconds) must
			// differ, so the signature must too.
			r.addHook(t, &wal.Webhook{URL: srv.URL, MaxBatchSize: size, Secrets: []wal.Secret{{Value: secret}},
				RetrySchedule: []time.Duration{0, time.Second + 50*time.Millisecond}})
			published := time.Now()
			if _, err := r.store.Append("acme", []wal.EventInput{{Type: "order.created", Data: []byte(`{"n":1}`)}}); err != nil {
				t.Fatal(err)
			}
			first := recvSW(t, got, "the first attempt")
			second := recvSW(t, got, "the retry")
			ts1 := checkCommonHeaders(t, first, published)
			ts2 := checkCommonHeaders(t, second, published)
			verifySW(t, first, secret)
			verifySW(t, second, secret)
			if id1, id2 := first.header.Get("webhook-id"), second.header.Get("webhook-id"); id1 == "" || id1 != id2 {
				t.Errorf("webhook-id %q then %q: a retry must keep it", id1, id2)
			}
			if !bytes.Equal(first.body, second.body) {
				t.Errorf("retry body differs:\n%s\n%s", first.body, second.body)
			}
			if ts2 <= ts1 {
				t.Errorf("webhook-timestamp %d then %d: want a later one on the retry", ts1, ts2)
			}
			if s1, s2 := first.header.Get("webhook-signature"), second.header.Get("webhook-signature"); s1 == s2 {
				t.Errorf("retry reused the signature %q", s1)
			}
			for i, want := range []string{wal.AttemptFailed, wal.AttemptSucceeded} {
				select {
				case a := <-r.attempts:
					if a.Status != want {
						t.Errorf("attempt %d: %s (%d), want %s", i, a.Status, a.ResponseCode, want)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("attempt %d not recorded", i)
				}
			}
		})
	}
}
