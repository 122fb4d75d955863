package api

import (
	"strings"
	"sync"

	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"
)

// Admission on the headers. The server streams request bodies
// (fasthttp StreamRequestBody), and admit runs as its HeaderReceived hook,
// after the headers and before fasthttp reads a byte of the body. A body
// is read only for a known route that takes one, from a caller the route
// admits (authenticated, holding its role), when it is within
// server.max_body_bytes and fits the body budget. Any other request gets
// its body cut off: admit declares it empty and marks the connection to
// close, so fasthttp reads none of it and the unread rest is never parsed
// as a next request. The handler then answers from the headers alone:
// wrap re-derives a 401/403 (the token cache makes that a map lookup for a
// good token), and admit leaves a refusalHeader for a 413 or 503, which
// cannot be re-derived.

// refusalHeader carries admit's 413/503 verdict to wrap. A client's own
// copy is deleted first, so only admit sets it.
const refusalHeader = "X-Hookd-Refused"

const (
	refusedTooLarge = "413"
	refusedBusy     = "503"
)

// admit is the server's HeaderReceived hook: see above.
func (s *Server) admit(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	h.Del(refusalHeader)
	n := h.ContentLength() // -1 chunked, -2 no framing (no body for a request)
	if n == 0 || n == -2 {
		return fasthttp.RequestConfig{}
	}
	if ok, verdict := s.admitBody(h, n); !ok {
		h.SetContentLength(0) // drops Transfer-Encoding too: fasthttp reads nothing
		h.SetConnectionClose()
		if verdict != "" {
			h.Set(refusalHeader, verdict)
		}
	}
	return fasthttp.RequestConfig{}
}

// admitBody says whether the body of a request declaring n bytes (-1:
// chunked) may be read, and when not, the verdict wrap cannot re-derive.
func (s *Server) admitBody(h *fasthttp.RequestHeader, n int) (ok bool, verdict string) {
	need, known := s.roles.of(h)
	if !known || need == rolePublic {
		// No route, or a public one: those are all GETs that ignore any
		// body (a public route that needs one would have to be let
		// through here).
		return false, ""
	}
	p, err := s.auth.authenticate(h)
	if err != nil || !p.may(need) {
		return false, ""
	}
	switch {
	case n > s.cfg.Server.MaxBodyBytes:
		return false, refusedTooLarge
	case n > 0 && !s.budget.fits(int64(bodyBufSize(n))), n < 0 && !s.budget.fits(chunkStep):
		return false, refusedBusy
	}
	return true, ""
}

// refusal is the error for admit's verdict on this request, if any.
func refusal(ctx *fasthttp.RequestCtx) error {
	switch string(ctx.Request.Header.Peek(refusalHeader)) {
	case refusedTooLarge:
		return errBodyTooLarge
	case refusedBusy:
		return errBusy
	}
	return nil
}

// routeRoles answers which role a request's route needs, from its headers,
// with a router of the same route table, matched on the same raw path
// (PathOriginal) the serving router matches.
type routeRoles struct {
	r       *router.Router
	scratch sync.Pool // *fasthttp.RequestCtx: router.Lookup stores path parameters in one
	// static holds the routes without parameters by method, then path:
	// the router matches a path equal to one of them to it (a static
	// segment wins over a parameter), and they are the busy ones
	// (POST /v1/events), so of answers them without routing.
	static map[string]map[string]string
}

const roleKey = "hookd.role"

func newRouteRoles(routes []route) *routeRoles {
	rr := &routeRoles{r: router.New(), static: map[string]map[string]string{}}
	rr.r.RedirectTrailingSlash, rr.r.RedirectFixedPath = false, false
	for _, rt := range routes {
		role := rt.role
		rr.r.Handle(rt.method, rt.path, func(ctx *fasthttp.RequestCtx) { ctx.SetUserValue(roleKey, role) })
		if !strings.Contains(rt.path, "{") && rt.method != router.MethodWild {
			if rr.static[rt.method] == nil {
				rr.static[rt.method] = map[string]string{}
			}
			rr.static[rt.method][rt.path] = role
		}
	}
	return rr
}

// of returns the role h's route needs; known is false when no route
// matches (the request will be a 404 or 405).
func (rr *routeRoles) of(h *fasthttp.RequestHeader) (need string, known bool) {
	if p, ok := plainPath(h.RequestURI()); ok {
		if need, ok := rr.static[string(h.Method())][string(p)]; ok {
			return need, true
		}
	}
	return rr.route(h)
}

// plainPath is the path of an origin-form request URI of printable ASCII
// without a fragment, which the URI parser would take as it is; anything
// else (ok false) goes through the parser and the router.
func plainPath(uri []byte) (path []byte, ok bool) {
	if len(uri) == 0 || uri[0] != '/' {
		return nil, false
	}
	end := len(uri)
	for i, c := range uri {
		if c <= ' ' || c >= 0x7F || c == '#' {
			return nil, false
		}
		if c == '?' && end == len(uri) {
			end = i
		}
	}
	return uri[:end], true
}

// route is of by the router, for any path.
func (rr *routeRoles) route(h *fasthttp.RequestHeader) (need string, known bool) {
	u := fasthttp.AcquireURI()
	defer fasthttp.ReleaseURI(u)
	if err := u.Parse(h.Host(), h.RequestURI()); err != nil {
		return "", false
	}
	ctx, _ := rr.scratch.Get().(*fasthttp.RequestCtx)
	if ctx == nil {
		ctx = new(fasthttp.RequestCtx)
	}
	defer func() { ctx.ResetUserValues(); rr.scratch.Put(ctx) }()
	hf, _ := rr.r.Lookup(string(h.Method()), string(u.PathOriginal()), ctx)
	if hf == nil {
		return "", false
	}
	hf(ctx)
	need, known = ctx.UserValue(roleKey).(string)
	return need, known
}
