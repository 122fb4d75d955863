package api

import (
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// roleOfBoth answers of and the router alone for one request line.
func roleOfBoth(rr *routeRoles, method, uri string) (fast, routed string, fastOK, routedOK bool) {
	var h fasthttp.RequestHeader
	h.SetMethod(method)
	h.SetRequestURI(uri)
	h.SetHost("127.0.0.1")
	fast, fastOK = rr.of(&h)
	routed, routedOK = rr.route(&h)
	return
}

// The static routes' shortcut answers what the router answers: for every
// route (its own path, and with a query, a fragment, a trailing slash,
// another case, an escape, an absolute form) under every method.
func TestRouteRolesStatic(t *testing.T) {
	routes := allRoutes()
	rr := newRouteRoles(routes)
	if len(rr.static["POST"]) == 0 || rr.static["POST"]["/v1/events"] == "" {
		t.Fatalf("POST /v1/events is not a static route: %v", rr.static["POST"])
	}
	methods := []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
	for _, rt := range routes {
		p := strings.NewReplacer("{", "", "}", "").Replace(rt.path)
		for _, uri := range []string{rt.path, p, p + "?a=1", p + "#f", p + "/", strings.ToUpper(p), p + "%2F",
			strings.Replace(p, "/", "//", 1), "http://127.0.0.1" + p, "*", p + "?"} {
			for _, m := range methods {
				fast, routed, fastOK, routedOK := roleOfBoth(rr, m, uri)
				if fast != routed || fastOK != routedOK {
					t.Errorf("%s %s: of = %q %v, router = %q %v", m, uri, fast, fastOK, routed, routedOK)
				}
			}
		}
	}
}

func FuzzRouteRoles(f *testing.F) {
	rr := newRouteRoles(allRoutes())
	f.Add("POST", "/v1/events")
	f.Add("POST", "/v1/events?x=1")
	f.Add("GET", "/v1/webhooks/wh_1")
	f.Add("POST", "/v1/%65vents")
	f.Fuzz(func(t *testing.T, method, uri string) {
		fast, routed, fastOK, routedOK := roleOfBoth(rr, method, uri)
		if fast != routed || fastOK != routedOK {
			t.Fatalf("%q %q: of = %q %v, router = %q %v", method, uri, fast, fastOK, routed, routedOK)
		}
	})
}

// The role of a publish, asked before its body is read: the shortcut
// against the router.
func BenchmarkRouteRoles(b *testing.B) {
	rr := newRouteRoles(allRoutes())
	var h fasthttp.RequestHeader
	h.SetMethod("POST")
	h.SetRequestURI("/v1/events")
	h.SetHost("127.0.0.1")
	for _, c := range []struct {
		name string
		of   func(*fasthttp.RequestHeader) (string, bool)
	}{{"static", rr.of}, {"router", rr.route}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := c.of(&h); !ok {
					b.Fatal("no route")
				}
			}
		})
	}
}
