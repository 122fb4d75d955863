package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"hookd/config"
	"hookd/engine"
)

// TestCreateRefusesEveryForbiddenClass: a webhook URL naming any forbidden
// address class, in any spelling, or a name resolving to one, is a 400
// at create and at update; nothing is stored.
func TestCreateRefusesEveryForbiddenClass(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.srv.lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
		switch host {
		case "rebind.example":
			return []netip.Addr{netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("127.0.0.1")}, nil
		case "metadata.example":
			return []netip.Addr{netip.MustParseAddr("::ffff:169.254.169.254")}, nil
		case "public.example":
			return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
		}
		return nil, errors.New("no such host")
	}
	hosts := []string{
		"0.0.0.1", "10.1.2.3", "100.64.0.1", "127.0.0.1", "169.254.169.254", "172.16.0.1", "192.0.0.1",
		"192.168.0.1", "198.18.0.1", "224.0.0.1", "240.0.0.1", "255.255.255.255",
		"[::]", "[::1]", "[fe80::1]", "[fc00::1]", "[ff02::1]", "[64:ff9b::a9fe:a9fe]", "[2002::1]", "[2001:db8::1]",
		"[::ffff:10.0.0.1]", "[::ffff:127.0.0.1]", "2130706433", "0x7f.1", "127.1", "0177.0.0.1",
		"localhost", "a.localhost", "rebind.example", "metadata.example",
		// issue 8: zone ids, as a URL spells them (%25) and raw
		"[::1%25lo]", "[::1%25eth0]", "[::1%251]", "[::%25lo]", "[0:0:0:0:0:0:0:1%25lo]", "[fd00:ec2::254%25eth0]",
		"[fe80::a9fe:a9fe%25eth0]", "[fc00::1%25lo]", "[64:ff9b::a9fe:a9fe%25lo]", "[2606:4700::1111%25eth0]",
		// issue 8: gaps in the ranges, and the empty host
		"[::127.0.0.1]", "[::ffff:0:127.0.0.1]", "192.0.2.1", "198.51.100.1", "203.0.113.1", "192.88.99.1",
		"[100::1]", "[2001::1]", "[fec0::1]", "[fd00:ec2::254]", "",
	}
	for _, h := range hosts {
		t.Run(h, func(t *testing.T) {
			r := ts.do("POST", "/v1/webhooks", fmt.Sprintf(`{"url":"http://%s/hook"}`, h))
			wantProblem(t, r, 400, "validation_failed")
			if strings.Contains(string(r.body), "169.254.169.254") && h == "metadata.example" {
				t.Errorf("the answer names the address the name resolves to: %s", r.body)
			}
		})
	}
	if hooks, _, _ := ts.store.ListWebhooks("default", [16]byte{}, 100); len(hooks) != 0 {
		t.Fatalf("%d webhooks stored", len(hooks))
	}
	for _, ok := range []string{"public.example", "unresolvable.example", "93.184.216.34"} {
		r := ts.do("POST", "/v1/webhooks", fmt.Sprintf(`{"url":"https://%s/hook"}`, ok))
		if r.status != 201 {
			t.Errorf("%s = %d %s", ok, r.status, r.body)
			continue
		}
		id := r.json(t)["id"].(string)
		wantProblem(t, ts.do("PUT", "/v1/webhooks/"+id, `{"url":"http://rebind.example/"}`), 400, "validation_failed")
		for _, h := range []string{"[::1%25lo]:9000", "[fe80::a9fe:a9fe%25eth0]", "[::ffff:0:127.0.0.1]", "192.0.2.1", ":19500"} {
			wantProblem(t, ts.do("PUT", "/v1/webhooks/"+id, fmt.Sprintf(`{"url":"http://%s/"}`, h)), 400, "validation_failed")
			wantProblem(t, ts.do("PATCH", "/v1/webhooks/"+id, fmt.Sprintf(`{"url":"http://%s/"}`, h)), 400, "validation_failed")
		}
		if got := ts.do("GET", "/v1/webhooks/"+id, "").json(t)["url"]; got != fmt.Sprintf("https://%s/hook", ok) {
			t.Errorf("url after refused updates = %v", got)
		}
	}
}

// TestZonesRefusedEvenWhenPrivateIsAllowed: a zone id names a local
// interface; no setting makes it a destination.
func TestZonesRefusedEvenWhenPrivateIsAllowed(t *testing.T) {
	ts := newTestServer(t, func(c *config.Config) { c.Delivery.AllowPrivateDestinations = true })
	for _, h := range []string{"[::1%25lo]:9000", "[fe80::1%25eth0]", "[::ffff:127.0.0.1%25lo]"} {
		wantProblem(t, ts.do("POST", "/v1/webhooks", fmt.Sprintf(`{"url":"http://%s/"}`, h)), 400, "validation_failed")
	}
	if r := ts.do("POST", "/v1/webhooks", `{"url":"http://[::1]:9000/"}`); r.status != 201 {
		t.Errorf("[::1] with private allowed = %d %s", r.status, r.body)
	}
}

// FuzzWebhookURL: a URL that passes the create-time check never names a
// forbidden address, as Go's url package reads it or as fasthttp (the
// dispatcher's parser) reads it. The dialer checks again at connect time;
// this keeps the two parsers from disagreeing silently.
func FuzzWebhookURL(f *testing.F) {
	for _, s := range []string{"http://[::1%25lo]:9000/", "http://127.0.0.1/", "https://93.184.216.34/hook",
		"http://0x7f.1/", "http://[::ffff:0:127.0.0.1]/", "http://:19500/", "http://a@127.0.0.1/",
		"http://93.184.216.34\\@127.0.0.1/", "http://[fe80::1%25eth0]/", "http://127.0.0.1%2f/"} {
		f.Add(s)
	}
	srv := &Server{guard: engine.NewGuard(false, nil, 0), lookup: func(context.Context, string) ([]netip.Addr, error) {
		return nil, errors.New("no such host")
	}}
	f.Fuzz(func(t *testing.T, raw string) {
		if srv.validURL(raw) != nil {
			return
		}
		var hosts []string
		if u, err := url.Parse(raw); err == nil {
			hosts = append(hosts, u.Hostname())
		}
		var fu fasthttp.URI
		if fu.Parse(nil, []byte(raw)) == nil {
			h := string(fu.Host())
			if hh, _, err := net.SplitHostPort(h); err == nil {
				h = hh
			}
			hosts = append(hosts, strings.Trim(h, "[]"))
		}
		for _, h := range hosts {
			if ip, ok := engine.ParseLooseIP(strings.TrimSuffix(h, ".")); ok && forbiddenByStdlib(ip) {
				t.Fatalf("%q accepted; host %q is %s", raw, h, ip)
			}
		}
	})
}

// forbiddenByStdlib is the fuzz oracle: the standard library's view of the
// address, independent of the guard's table.
func forbiddenByStdlib(ip netip.Addr) bool {
	if ip.Zone() != "" {
		return true
	}
	ip = ip.Unmap()
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsMulticast() ||
		ip.IsUnspecified() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast()
}
