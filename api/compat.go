package api

import (
	"bytes"
	"strconv"

	"github.com/valyala/fasthttp"

	"hookd/config"
)

// Compatibility profiles (api.compat): the four seed APIs hookd was born
// from, served verbatim beside /v1. Each profile is one file,
// compat_<name>.go, holding its routes, its field names, paging and
// envelopes, and nothing else: every profile handler calls the same
// operations (service.go) as the native handlers, so an object created
// through one profile is the same object through /v1 and every other one.
// The profiles live in package api, not a package each, because they share
// everything a route gets from wrap: authentication, the role table, the
// body budget and error mapping.

// profile is one compat profile.
type profile struct {
	name string
	// prefix: requests under it answer errors in the profile's shape
	// (errorBody), 404s and 405s included. "" keeps problem+json.
	prefix string
	// errorBody renders an error the profile's way (nil: problem+json).
	errorBody func(e *Error, cid string) []byte
	routes    func(s *Server) []route
}

// profiles are the compat profiles by name (config.CompatProfiles).
var profiles = map[string]*profile{}

// register adds a profile; called from the profiles' init.
func register(p *profile) { profiles[p.name] = p }

// allRoutes is every route with every profile enabled (for tests that walk
// the route table).
func allRoutes() []route {
	s := &Server{}
	s.cfg.API.Compat = config.CompatProfiles()
	return s.routes()
}

// compatRoutes are the routes of the profiles api.compat enables.
func (s *Server) compatRoutes() []route {
	var out []route
	for _, name := range s.cfg.API.Compat {
		if p := profiles[name]; p != nil {
			out = append(out, p.routes(s)...)
		}
	}
	return out
}

// errorShape is the error renderer of the enabled profile whose prefix the
// request's path is under, or nil for problem+json.
func (s *Server) errorShape(ctx *fasthttp.RequestCtx) func(e *Error, cid string) []byte {
	path := ctx.Path()
	for _, name := range s.cfg.API.Compat {
		p := profiles[name]
		if p != nil && p.errorBody != nil && p.prefix != "" && underPrefix(path, p.prefix) {
			return p.errorBody
		}
	}
	return nil
}

// underPrefix reports whether path is prefix or a path below it (not
// merely a longer name: /api/v1/WebhooksX is not under /api/v1/Webhooks).
func underPrefix(path []byte, prefix string) bool {
	rest, ok := bytes.CutPrefix(path, []byte(prefix))
	return ok && (len(rest) == 0 || rest[0] == '/')
}

// offsetArgs reads offset paging from the query: the integer arguments
// named fromName and takeName (absent, empty or, when zeroDefault, 0: the
// defaults), with take at most maxTake.
func offsetArgs(ctx *fasthttp.RequestCtx, fromName, takeName string, defFrom, defTake, maxTake int, zeroDefault bool) (from, take int, err error) {
	read := func(name string, def, lo, hi int) (int, error) {
		v := ctx.QueryArgs().Peek(name)
		if len(v) == 0 {
			return def, nil
		}
		n, err := strconv.Atoi(string(v))
		if err != nil || n < lo || n > hi {
			return 0, errValidation(name, "must be an integer from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi))
		}
		if n == 0 && zeroDefault {
			return def, nil
		}
		return n, nil
	}
	if from, err = read(fromName, defFrom, 0, 1<<30); err != nil {
		return 0, 0, err
	}
	take, err = read(takeName, defTake, 0, maxTake)
	return from, take, err
}
