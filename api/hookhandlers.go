package api

import (
	"github.com/valyala/fasthttp"

	"hookd/wal"
)

// Handlers that /v1 and the compat profiles shape the same way: read the
// webhook id the path names, run one operation, render the result in the
// route's own fields. What differs (the path parameter, the body's fields,
// the rendering, the answer to a delete) is passed in.

// hookIDParam returns a reader of the webhook id in path parameter name;
// a malformed id is a 404, like a missing webhook.
func hookIDParam(name string) func(*fasthttp.RequestCtx) (wal.ID, error) {
	return func(ctx *fasthttp.RequestCtx) (wal.ID, error) {
		id, err := wal.ParseID("wh_", pathParam(ctx, name))
		if err != nil {
			return id, errNotFound("webhook")
		}
		return id, nil
	}
}

// getHook answers 200 with the webhook the path names, as render shows it.
func (s *Server) getHook(idOf func(*fasthttp.RequestCtx) (wal.ID, error), render func(*wal.Webhook) any) handler {
	return func(ctx *fasthttp.RequestCtx, p *Principal) error {
		id, err := idOf(ctx)
		if err != nil {
			return err
		}
		w, err := s.opGetWebhook(p, id)
		if err != nil {
			return err
		}
		return writeJSON(ctx, 200, render(w))
	}
}

// updateHook decodes a body of type In, translates it with native and
// applies it (fields present replace, absent ones stay); 200 with render.
func updateHook[In any](s *Server, idOf func(*fasthttp.RequestCtx) (wal.ID, error), native func(*In) *webhookIn, render func(*wal.Webhook) any) handler {
	return func(ctx *fasthttp.RequestCtx, p *Principal) error {
		id, err := idOf(ctx)
		if err != nil {
			return err
		}
		in := new(In)
		if err := decodeBody(ctx, in, false); err != nil {
			return err
		}
		w, err := s.opUpdateWebhook(p, id, native(in))
		if err != nil {
			return err
		}
		return writeJSON(ctx, 200, render(w))
	}
}

// deleteHook deletes the webhook the path names and answers with answer,
// or 204 when answer is nil.
func (s *Server) deleteHook(idOf func(*fasthttp.RequestCtx) (wal.ID, error), answer func(ctx *fasthttp.RequestCtx, id wal.ID) error) handler {
	return func(ctx *fasthttp.RequestCtx, p *Principal) error {
		id, err := idOf(ctx)
		if err != nil {
			return err
		}
		if err := s.opDeleteWebhook(p, id); err != nil {
			return err
		}
		if answer != nil {
			return answer(ctx, id)
		}
		ctx.SetStatusCode(204)
		return nil
	}
}

// asIs is the identity translation of a native body.
func asIs(in *webhookIn) *webhookIn { return in }
