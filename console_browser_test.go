package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"hookd/api"
	"hookd/config"
)

// The console in a real headless Chromium (Debian's chromium package)
// against the release binary and a local receiver. Screenshots of each
// screen go to a temp dir (HOOKDTEST_CONSOLE_SHOTS=dir keeps them, as
// docs/console-*.png were made).

const browserSecret = "console-browser-test-secret-0123456789"

// chromiumPath finds Debian's chromium (or HOOKDTEST_CHROMIUM).
func chromiumPath(t *testing.T) string {
	if p := os.Getenv("HOOKDTEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("console browser tests: no chromium on PATH (apt-get install chromium, or set HOOKDTEST_CHROMIUM); .ci/run installs it")
	return ""
}

// receiver records what hookd delivers: /ok answers 200, /fail 500.
type receiver struct {
	*httptest.Server
	got chan []byte // every body delivered to /ok
	bad chan []byte // every body delivered to /fail
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{got: make(chan []byte, 16), bad: make(chan []byte, 16)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		if strings.HasSuffix(req.URL.Path, "/fail") {
			r.bad <- b
			w.WriteHeader(500)
			io.WriteString(w, "receiver is down")
			return
		}
		r.got <- b
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) wait(t *testing.T, ch chan []byte, what string) []byte {
	t.Helper()
	select {
	case b := <-ch:
		return b
	case <-time.After(15 * time.Second):
		t.Fatalf("the receiver got no %s", what)
		return nil
	}
}

// browserAPI calls hookd's API with a token.
type browserAPI struct {
	t     *testing.T
	url   string
	token string
}

func (a browserAPI) call(method, path, body string) (int, map[string]any) {
	a.t.Helper()
	req, _ := http.NewRequest(method, a.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(res.Body)
	json.Unmarshal(b, &m)
	return res.StatusCode, m
}

// batchStatus polls the API until webhook hook has a batch in status
// want (the API has no push; the engine records an attempt just after the
// receiver answers), and returns its id.
func (a browserAPI) batchStatus(hook, want string) string {
	a.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, m := a.call("GET", "/v1/webhooks/"+hook+"/batches?status="+want, "")
		if rs, _ := m["results"].([]any); len(rs) > 0 {
			return rs[len(rs)-1].(map[string]any)["id"].(string)
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("webhook %s: no %s batch", hook, want)
		}
		time.Sleep(25 * time.Millisecond) // polling the store: nothing tells the API
	}
}

func mint(t *testing.T, roles ...string) string {
	t.Helper()
	s, err := api.MintToken(config.Auth{JWTSecret: browserSecret}, "acme", "", roles, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConsoleInBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	p := startHookdEnv(t, t.TempDir(), []string{"HOOKD_AUTH_MODE=jwt", "HOOKD_AUTH_JWT_SECRET=" + browserSecret,
		"HOOKD_DELIVERY_ALLOW_PRIVATE_DESTINATIONS=true"})
	rcv := newReceiver(t)
	admin := browserAPI{t, p.url, mint(t, api.RoleAdmin)}

	shots := os.Getenv("HOOKDTEST_CONSOLE_SHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	t.Logf("screenshots in %s", shots)

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1360, 900),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	browser, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	if err := chromedp.Do(browser); err != nil {
		t.Skipf("console browser tests: chromium at %s does not start: %v", chromium, err)
	}
	// A guard against a hang, not a speed check: 8 s alone here, 92 s once
	// beside the other packages' tests in CI, where 90 s cut it off.
	deadline, cancelD := context.WithTimeout(browser, 5*time.Minute)
	defer cancelD()

	// tab opens a new tab (its own sessionStorage) in the browser.
	tab := func() context.Context {
		ctx, cancel := chromedp.NewContext(deadline)
		t.Cleanup(cancel)
		return ctx
	}
	failed := func(ctx context.Context, what string, err error) {
		t.Helper()
		if buf, serr := chromedp.Run(ctx, chromedp.FullScreenshot(100)); serr == nil {
			_ = os.WriteFile(filepath.Join(shots, "failed.png"), buf, 0o644)
		}
		t.Fatalf("%s: %v", what, err)
	}
	run := func(ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			failed(ctx, what, err)
		}
	}
	str := func(ctx context.Context, what string, a chromedp.Action[string]) string {
		t.Helper()
		v, err := chromedp.Run(ctx, a)
		if err != nil {
			failed(ctx, what, err)
		}
		return v
	}
	truth := func(ctx context.Context, what, expr string) bool {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err != nil {
			failed(ctx, what, err)
		}
		return v
	}
	shot := func(ctx context.Context, name string) {
		t.Helper()
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			failed(ctx, "screenshot "+name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, "console-"+name+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	signIn := func(ctx context.Context, token string) {
		t.Helper()
		run(ctx, "sign in", chromedp.Navigate(p.url+"/console"), chromedp.WaitVisible(chromedp.ID("token")),
			chromedp.SendKeys(chromedp.ID("token"), token), chromedp.Click(chromedp.ID("signin")),
			chromedp.WaitVisible(chromedp.ID("webhooks")))
	}
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	// press clicks the element through the DOM (element.click()) rather
	// than with the mouse at its coordinates: a webhook row's health and
	// last delivery load after the row does and change its height, so a
	// mouse click aimed at a row's button could land on what moved there
	// (CI hung, 1 run in 3 to 6, waiting for a view the click never opened).
	press := func(sel string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(chromedp.WaitVisible(css(sel)), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			found, err := chromedp.Evaluate[bool](`(() => { const e = document.querySelector(`+strconv.Quote(sel)+`); if (e) e.click(); return !!e; })()`)(ctx, tg)
			if err == nil && !found {
				err = fmt.Errorf("%s: gone before the click", sel)
			}
			return err
		}))
	}

	// An admin creates a webhook through the UI.
	ui := tab()
	run(ui, "login page", chromedp.Navigate(p.url+"/console"), chromedp.WaitVisible(chromedp.ID("token")))
	shot(ui, "login")
	signIn(ui, admin.token)
	run(ui, "create a webhook", chromedp.Click(chromedp.ID("new-webhook")), chromedp.WaitVisible(chromedp.ID("wh-url")),
		chromedp.SendKeys(chromedp.ID("wh-url"), rcv.URL+"/ok"), chromedp.SendKeys(chromedp.ID("wh-events"), "order.created"),
		chromedp.SendKeys(chromedp.ID("wh-description"), "orders to ERP"), chromedp.Click(chromedp.ID("wh-save")),
		chromedp.WaitVisible(`//td/a[text()="`+rcv.URL+`/ok"]`))
	attr, err := chromedp.Run(ui, chromedp.AttributeValue(css(`tr[data-webhook]`), "data-webhook"))
	hook := attr.Value
	if err != nil || !strings.HasPrefix(hook, "wh_") {
		t.Fatalf("webhook row id = %q: %v", hook, err)
	}

	// An event published through the API, whose payload holds markup.
	const evil = `<script>window.__xss=1</script><img src=x onerror="window.__xss=2">`
	st, m := admin.call("POST", "/v1/events", `{"type":"order.created","id":"order-42","data":{"note":`+fmt.Sprintf("%q", evil)+`}}`)
	if st != 202 {
		t.Fatalf("publish = %d %v", st, m)
	}
	evID := m["ids"].([]any)[0].(string)
	if first := rcv.wait(t, rcv.got, "first delivery"); !bytes.Contains(first, []byte(evID)) {
		t.Fatalf("delivered %s, want event %s", first, evID)
	}
	batch := admin.batchStatus(hook, "delivered")

	// Its batch appears delivered; the attempt and the payload show as text.
	row := `tr[data-batch="` + batch + `"]`
	run(ui, "deliveries", press(`tr[data-webhook="`+hook+`"] button.deliveries`),
		chromedp.WaitVisible(css(row+` [data-status="delivered"]`)),
		chromedp.Click(css(row+` button.show-attempts`)),
		chromedp.WaitVisible(css(`#batch-detail .attempt [data-status="succeeded"]`)),
		chromedp.WaitVisible(css(`#batch-detail pre.payload`)))
	payload := str(ui, "payload", chromedp.Text(css(`#batch-detail pre.payload`)))
	injected := truth(ui, "no markup", `window.__xss !== undefined || document.querySelectorAll('#app script, #app img').length > 0`)
	if !strings.Contains(payload, "<script>window.__xss=1</script>") || injected {
		t.Errorf("payload shown as %q; markup ran or was inserted: %v", payload, injected)
	}
	shot(ui, "deliveries")

	// Replay from the UI: the receiver gets the event a second time.
	run(ui, "replay", chromedp.Click(`//tr[@data-batch="`+batch+`"]//button[text()="Replay"]`))
	if again := rcv.wait(t, rcv.got, "replayed delivery"); !bytes.Contains(again, []byte(evID)) {
		t.Errorf("replayed %s, want event %s", again, evID)
	}
	run(ui, "replay attempt listed", chromedp.Click(css(row+` button.show-attempts`)),
		chromedp.WaitNotPresent(chromedp.ID("batch-detail")),
		chromedp.Click(css(row+` button.show-attempts`)),
		chromedp.WaitVisible(`//div[@id="batch-detail"]//span[text()="manual"]`))

	// A failing receiver: the batch shows retrying with the status code.
	st, m = admin.call("POST", "/v1/webhooks", `{"url":"`+rcv.URL+`/fail","events":["order.failed"],"description":"a receiver that is down"}`)
	if st != 201 {
		t.Fatalf("create = %d %v", st, m)
	}
	failing := m["id"].(string)
	admin.call("POST", "/v1/events", `{"type":"order.failed","data":{"n":1}}`)
	rcv.wait(t, rcv.bad, "failing delivery")
	fbatch := admin.batchStatus(failing, "retrying")
	frow := `tr[data-batch="` + fbatch + `"]`
	run(ui, "retrying batch", press("#tab-webhooks"),
		press(`tr[data-webhook="`+failing+`"] button.deliveries`),
		chromedp.WaitVisible(css(frow+` [data-status="retrying"]`)))
	if code := str(ui, "status code", chromedp.Text(css(frow+` td.last-status`))); strings.TrimSpace(code) != "500" {
		t.Errorf("retrying batch shows status %q, want 500", code)
	}
	run(ui, "failed attempt", chromedp.Click(css(frow+` button.show-attempts`)),
		chromedp.WaitVisible(css(`#batch-detail pre.response-body`)))
	shot(ui, "retrying")

	// Event lookup by idempotency key, event types, live chart.
	run(ui, "event lookup", chromedp.Click(chromedp.ID("tab-events")), chromedp.SendKeys(chromedp.ID("event-ref"), "order-42"),
		chromedp.Click(chromedp.ID("event-find")), chromedp.WaitVisible(css(`#event-detail [data-status="delivered"]`)))
	shot(ui, "events")
	run(ui, "event types", chromedp.Click(chromedp.ID("tab-types")), chromedp.SendKeys(chromedp.ID("et-name"), "order.refunded"),
		chromedp.Click(chromedp.ID("et-add")), chromedp.WaitVisible(`//td[text()="order.refunded"]`))
	shot(ui, "event-types")
	run(ui, "live", chromedp.Click(chromedp.ID("tab-live")), chromedp.WaitVisible(chromedp.ID("live-ingested")))
	if in := str(ui, "live count", chromedp.Text(chromedp.ID("live-ingested"))); in != "2" {
		t.Errorf("live: %s events in, want 2", in)
	}
	if ok := str(ui, "live attempts", chromedp.Text(chromedp.ID("live-succeeded"))); ok == "0" {
		t.Errorf("live: %s attempts succeeded, want the delivery and its replay", ok)
	}
	shot(ui, "live")

	// The list, with both webhooks' health and last delivery.
	run(ui, "webhooks", chromedp.Click(chromedp.ID("tab-webhooks")),
		chromedp.WaitVisible(css(`tr[data-webhook="`+hook+`"] .last-delivery [data-status="delivered"]`)),
		chromedp.WaitVisible(css(`tr[data-webhook="`+failing+`"] .last-delivery [data-status="retrying"]`)))
	shot(ui, "webhooks")

	// A portal for the first webhook only, made in the UI.
	run(ui, "portal link", chromedp.Click(chromedp.ID("new-portal")),
		chromedp.WaitVisible(chromedp.ID("portal-form")),
		chromedp.Click(`//div[@id="portal-form"]//label[span[text()="`+hook+`"]]/input`),
		chromedp.Click(`//div[@id="portal-form"]//button[text()="Create link"]`),
		chromedp.WaitVisible(chromedp.ID("portal-url")))
	portalURL := str(ui, "portal url", chromedp.Value(chromedp.ID("portal-url")))
	shot(ui, "portal-link")
	_, portalToken, found := strings.Cut(portalURL, "#portal=")
	if !found || !strings.HasPrefix(portalURL, p.url+"/console#portal=") {
		t.Fatalf("portal url = %q", portalURL)
	}

	t.Run("portal", func(t *testing.T) {
		pt := tab()
		run(pt, "portal", chromedp.Navigate(portalURL), chromedp.WaitVisible(css(`tr[data-webhook="`+hook+`"]`)))
		href := str(pt, "location", chromedp.Evaluate[string](`location.href`))
		who := str(pt, "who", chromedp.Text(chromedp.ID("who")))
		if !truth(pt, "rows", `document.querySelectorAll('tr[data-webhook]').length === 1`) ||
			strings.Contains(href, "#") || strings.Contains(href, portalToken) || !strings.Contains(who, "portal") {
			t.Errorf("portal: rows != 1, or url %q still has the token, or who %q", href, who)
		}
		if truth(pt, "controls", `!!(document.getElementById('tab-live') || document.getElementById('new-webhook') || document.getElementById('new-portal'))`) {
			t.Error("portal shows Live, New webhook or Customer portal")
		}
		shot(pt, "portal")
		portal := browserAPI{t, p.url, portalToken}
		for _, c := range []struct {
			method, path, body string
			want               int
		}{
			{"GET", "/v1/webhooks/" + hook, "", 200},
			{"GET", "/v1/webhooks/" + failing, "", 404},
			{"GET", "/v1/webhooks/" + failing + "/batches", "", 404},
			{"POST", "/v1/webhooks/" + failing + "/batches/" + fbatch + "/attempts", "", 404},
			{"GET", "/v1/events/" + evID, "", 200},
			{"POST", "/v1/events", `{"type":"order.created","data":{}}`, 403},
			{"GET", "/v1/webhooks/" + hook + "/secret", "", 403},
			{"POST", "/v1/event-types", `{"name":"x.y"}`, 403},
			{"POST", "/v1/webhooks", `{"url":"` + rcv.URL + `/ok"}`, 403},
			{"POST", "/v1/portal-sessions", `{}`, 403},
		} {
			if st, _ := portal.call(c.method, c.path, c.body); st != c.want {
				t.Errorf("portal %s %s = %d, want %d", c.method, c.path, st, c.want)
			}
		}
	})

	t.Run("read-only", func(t *testing.T) {
		ro := tab()
		signIn(ro, mint(t, api.RoleRead))
		run(ro, "read-only webhooks", chromedp.WaitVisible(css(`tr[data-webhook="`+hook+`"]`)))
		if truth(ro, "write controls", `document.querySelectorAll('#new-webhook, #new-portal, button.edit, .danger').length +
			[...document.querySelectorAll('button')].filter(b => /^(Ping|Deactivate|Activate|Delete|Reveal secret|Rotate)$/.test(b.textContent)).length > 0`) {
			t.Error("a read-only token sees write controls on webhooks")
		}
		run(ro, "read-only deliveries", press(`tr[data-webhook="`+hook+`"] button.deliveries`),
			chromedp.WaitVisible(css(row)))
		if truth(ro, "write controls", `document.querySelectorAll('#send-expired').length +
			[...document.querySelectorAll('button')].filter(b => b.textContent === 'Replay').length > 0`) {
			t.Error("a read-only token sees write controls on deliveries")
		}
		shot(ro, "read-only")
	})
}
