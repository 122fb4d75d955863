package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"hookd/config"
	"hookd/engine"
)

// Options are what New needs.
type Options struct {
	Config  config.Config
	Store   Store     // *wal.Store, or another backend
	Engine  Deliverer // *engine.Engine
	Logger  *zap.Logger
	Version string
	Commit  string           // the build's VCS commit, for hookd_build_info
	Now     func() time.Time // default time.Now
	// StoreMetrics, when set, is the wal.Observer given to the store:
	// /metrics serves its commit group and fsync histograms.
	StoreMetrics *StoreMetrics
	// Lookup resolves webhook host names at create/update; default the
	// system resolver (tests inject one).
	Lookup func(ctx context.Context, host string) ([]netip.Addr, error)
}

// Server serves the HTTP API. Create it with New, run it with Serve, stop it
// with Shutdown.
type Server struct {
	cfg     config.Config
	store   Store
	engine  Deliverer
	log     *zap.Logger
	version string
	now     func() time.Time
	auth    *authenticator
	limit   *tenantLimiter // nil: no ingest rate limit
	lookup  func(ctx context.Context, host string) ([]netip.Addr, error)
	guard   *engine.Guard // the address rules of webhook URLs, as the dispatcher applies them
	metrics *metrics
	budget  *bodyBudget // request bodies in memory, over all connections
	roles   *routeRoles // the role each route needs, for admit
	stats   *stats      // per-tenant live counts for GET /v1/stats (stats.go)
	http    *fasthttp.Server
	router  *router.Router
}

// New builds the server and its route table.
func New(o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Lookup == nil {
		o.Lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	a, err := newAuthenticator(o.Config.Auth, o.Now)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: o.Config, store: o.Store, engine: o.Engine, limit: newTenantLimiter(o.Config.Events.TenantRateLimit), lookup: o.Lookup, log: o.Logger, version: o.Version, now: o.Now, auth: a}
	s.stats = newStats(o.Now)
	s.guard = engine.NewGuard(o.Config.Delivery.AllowPrivateDestinations, o.Config.Delivery.AllowedCIDRs, 0)
	s.metrics = newMetrics(o.Store)
	s.metrics.registerOps(o, o.Now)
	s.budget = &bodyBudget{limit: o.Config.Server.BodyBudgetBytes}
	s.metrics.reg.MustRegister(s.budget.gauge())
	s.roles = newRouteRoles(s.routes())
	s.router = router.New()
	s.router.RedirectTrailingSlash = false
	s.router.RedirectFixedPath = false
	s.router.HandleMethodNotAllowed = true
	s.router.HandleOPTIONS = false // OPTIONS gets the 405 problem like any unrouted method
	for _, rt := range s.routes() {
		s.router.Handle(rt.method, rt.path, s.wrap(rt))
	}
	s.router.NotFound = func(ctx *fasthttp.RequestCtx) {
		s.begin(ctx)
		s.writeError(ctx, errNotFound("route"))
	}
	s.router.MethodNotAllowed = func(ctx *fasthttp.RequestCtx) {
		s.begin(ctx)
		s.writeError(ctx, &Error{Status: 405, Code: codeMethod, Detail: "method not allowed on this path"})
	}
	s.router.PanicHandler = func(ctx *fasthttp.RequestCtx, v any) {
		s.log.Error("panic in handler", zap.String("correlationId", correlationID(ctx)), zap.Any("panic", v), zap.Stack("stack"))
		s.writeError(ctx, errors.New("panic"))
	}
	// Bodies are streamed: fasthttp reads none before admit has seen the
	// headers, and wrap reads what admit lets through within the budget.
	s.http = &fasthttp.Server{
		Handler:               s.router.Handler,
		Name:                  "hookd",
		MaxRequestBodySize:    o.Config.Server.MaxBodyBytes,
		StreamRequestBody:     true,
		HeaderReceived:        s.admit,
		Concurrency:           o.Config.Server.Concurrency,
		MaxConnsPerIP:         o.Config.Server.MaxConnsPerIP,
		ReadTimeout:           o.Config.Server.ReadTimeout.Duration,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           90 * time.Second,
		NoDefaultServerHeader: true,
		Logger:                fasthttpLogger{o.Logger.Sugar()},
		NoDefaultContentType:  true,
		ReduceMemoryUsage:     false,
		ErrorHandler: func(ctx *fasthttp.RequestCtx, err error) {
			s.begin(ctx)
			if errors.Is(err, fasthttp.ErrBodyTooLarge) {
				s.writeError(ctx, &Error{Status: 413, Code: codeTooLarge, Detail: "request body exceeds server.max_body_bytes"})
				return
			}
			s.writeError(ctx, &Error{Status: 400, Code: codeBadRequest, Detail: "malformed HTTP request"})
		},
	}
	return s, nil
}

// Handler is the server's request handler (for in-process tests).
func (s *Server) Handler() fasthttp.RequestHandler { return s.router.Handler }

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.http.Serve(ln) }

// Shutdown stops accepting connections and waits for in-flight requests
// (and so for their commits) until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error { return s.http.ShutdownWithContext(ctx) }

// handler is what a route runs once the request is authorized.
type handler func(ctx *fasthttp.RequestCtx, p *Principal) error

// wrap applies what every route shares: correlation id, authentication,
// the route's role, the request body within its budget, error mapping and
// metrics.
func (s *Server) wrap(rt route) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		s.begin(ctx)
		if err := s.serve(ctx, rt); err != nil {
			s.writeError(ctx, err)
			if ctx.Request.IsBodyStream() && ctx.Request.Header.ContentLength() != 0 {
				// Answered before its body was read: what is left of it
				// must not be read as the next request.
				ctx.SetConnectionClose()
			}
		}
	}
}

func (s *Server) serve(ctx *fasthttp.RequestCtx, rt route) error {
	var p *Principal
	if rt.role != rolePublic {
		var err error
		if p, err = s.auth.authenticate(&ctx.Request.Header); err != nil {
			return err
		}
		if !p.may(rt.role) {
			return &Error{Status: 403, Code: codeForbidden, Detail: "this operation needs role " + rt.role}
		}
	}
	if err := refusal(ctx); err != nil {
		return err
	}
	done, err := s.readBody(ctx)
	if err != nil {
		return err
	}
	defer done()
	return rt.h(ctx, p)
}

const correlationKey = "hookd.cid"

// begin assigns the correlation id: the client's when it is sane, else a
// fresh one. It is echoed on every response.
func (s *Server) begin(ctx *fasthttp.RequestCtx) {
	if ctx.UserValue(correlationKey) != nil {
		return
	}
	cid := ctx.Request.Header.Peek("x-correlation-id")
	var id string
	if len(cid) > 0 && len(cid) <= 128 && printable(cid) {
		id = string(cid)
	} else {
		var b [12]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	ctx.SetUserValue(correlationKey, id)
	ctx.Response.Header.Set("x-correlation-id", id)
}

func correlationID(ctx *fasthttp.RequestCtx) string {
	if v, ok := ctx.UserValue(correlationKey).(string); ok {
		return v
	}
	return ""
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// fasthttpLogger sends fasthttp's own messages (malformed requests, bodies
// over the limit) to zap at debug level: the client already got its 4xx.
type fasthttpLogger struct{ s *zap.SugaredLogger }

func (l fasthttpLogger) Printf(format string, args ...any) { l.s.Debugf("fasthttp: "+format, args...) }
