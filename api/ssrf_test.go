package api

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
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
	}
	for _, h := range hosts {
		t.Run(h, func(t *testing.T) {
			wantProblem(t, ts.do("POST", "/v1/webhooks", fmt.Sprintf(`{"url":"http://%s/hook"}`, h)), 400, "validation_failed")
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
	}
}
