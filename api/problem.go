package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"hookd/wal"
)

// Stable error codes of API.md §1. Clients switch on these, never on text.
const (
	codeBadRequest   = "bad_request" // the HTTP request itself is malformed
	codeInvalidJSON  = "invalid_json"
	codeValidation   = "validation_failed"
	codeUnauthorized = "unauthorized"
	codeForbidden    = "forbidden"
	codeNotFound     = "not_found"
	codeMethod       = "method_not_allowed"
	codeConflict     = "conflict"
	codeTooLarge     = "payload_too_large"
	codeMediaType    = "unsupported_media_type"
	codeRateLimited  = "rate_limited"
	codeUnavailable  = "unavailable"
	codeInternal     = "internal"
)

// Error is a handler error that maps to one problem+json response.
type Error struct {
	Status     int
	Code       string
	Detail     string
	Field      string
	RetryAfter int // seconds, for 429 and 503
}

func (e *Error) Error() string { return e.Code + ": " + e.Detail }

func errValidation(field, detail string) *Error {
	return &Error{Status: 400, Code: codeValidation, Field: field, Detail: field + ": " + detail}
}

func errUnprocessable(field, detail string) *Error {
	return &Error{Status: 422, Code: codeValidation, Field: field, Detail: field + ": " + detail}
}

func errNotFound(what string) *Error {
	return &Error{Status: 404, Code: codeNotFound, Detail: what + " not found"}
}

// problem is the RFC 9457 body.
type problem struct {
	Type          string `json:"type"`
	Title         string `json:"title"`
	Status        int    `json:"status"`
	Detail        string `json:"detail,omitempty"`
	Code          string `json:"code"`
	Field         string `json:"field,omitempty"`
	CorrelationID string `json:"correlationId"`
}

// toError maps any error a handler returns to an *Error. Storage errors are
// translated here and nowhere else.
func toError(err error) *Error {
	var e *Error
	var failed *wal.FailedError
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, wal.ErrNotFound):
		return errNotFound("resource")
	case errors.Is(err, wal.ErrLimit):
		return &Error{Status: 409, Code: codeConflict, Detail: "this tenant has as many webhooks as it may have (webhooks.max_per_tenant); delete one first"}
	case errors.Is(err, wal.ErrTypeLimit):
		return &Error{Status: 409, Code: codeConflict, Detail: "this tenant has as many event types as it may have (" + strconv.Itoa(wal.MaxEventTypes()) + "); delete one first"}
	case errors.Is(err, wal.ErrConflict):
		return &Error{Status: 409, Code: codeConflict, Detail: "already exists"}
	case errors.Is(err, wal.ErrNoSpace):
		return &Error{Status: 503, Code: codeUnavailable, Detail: "storage is below its free-space reserve; retry once space is freed", RetryAfter: 10}
	case errors.Is(err, wal.ErrFull):
		return &Error{Status: 503, Code: codeUnavailable, Detail: "ingest queue is full, retry shortly", RetryAfter: 1}
	case errors.Is(err, wal.ErrTooBig):
		return &Error{Status: 413, Code: codeTooLarge, Detail: "request is too large for one commit (events × matching webhooks); send fewer events per request"}
	case errors.Is(err, wal.ErrClosed):
		return &Error{Status: 503, Code: codeUnavailable, Detail: "shutting down", RetryAfter: 5}
	case errors.As(err, &failed):
		return &Error{Status: 503, Code: codeUnavailable, Detail: "storage has failed; this node acknowledges nothing until restarted", RetryAfter: 30}
	}
	return &Error{Status: 500, Code: codeInternal, Detail: "internal error"}
}

// writeError writes err as problem+json. A 500 is a bug: it is logged with
// the correlation id and the cause (never the request body).
func (s *Server) writeError(ctx *fasthttp.RequestCtx, err error) {
	e := toError(err)
	cid := correlationID(ctx)
	if e.Status >= 500 {
		lvl := s.log.Warn
		if e.Status == 500 {
			lvl = s.log.Error
		}
		lvl("request failed", zap.String("correlationId", cid), zap.Int("status", e.Status),
			zap.ByteString("method", ctx.Method()), zap.ByteString("path", ctx.Path()), zap.Error(err))
	}
	ctx.Response.Reset()
	ctx.Response.Header.Set("x-correlation-id", cid)
	if e.RetryAfter > 0 {
		ctx.Response.Header.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	ctx.SetStatusCode(e.Status)
	if shape := s.errorShape(ctx); shape != nil { // a compat profile's own error body
		ctx.SetContentType("application/json")
		ctx.SetBody(shape(e, cid))
		return
	}
	if e.Status == 401 {
		// RFC 6750: how to authenticate (a JWT or an API key, as a bearer).
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="hookd"`)
	}
	p := problem{Type: "about:blank", Title: http.StatusText(e.Status), Status: e.Status,
		Detail: e.Detail, Code: e.Code, Field: e.Field, CorrelationID: cid}
	b, _ := json.Marshal(p)
	ctx.SetContentType("application/problem+json")
	ctx.SetBody(b)
}
