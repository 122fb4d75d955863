package api

import (
	"errors"

	"github.com/valyala/fasthttp"

	"hookd/wal"
)

type eventTypeOut struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	CreatedAt   string `json:"createdAt"`
}

func (s *Server) listEventTypes(ctx *fasthttp.RequestCtx, p *Principal) error {
	limit, err := listLimit(ctx)
	if err != nil {
		return err
	}
	types, more, err := s.opListEventTypes(p, string(ctx.QueryArgs().Peek("cursor")), limit)
	if err != nil {
		return err
	}
	out := make([]eventTypeOut, len(types))
	for i, t := range types {
		out[i] = eventTypeOut{Name: t.Name, Description: t.Description, CreatedAt: timestamp(t.CreatedAt)}
	}
	next := ""
	if more {
		next = out[len(out)-1].Name
	}
	return writeJSON(ctx, 200, newPage(out, next))
}

func (s *Server) createEventType(ctx *fasthttp.RequestCtx, p *Principal) error {
	var in struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	if err := decodeBody(ctx, &in, false); err != nil {
		return err
	}
	if !validType(in.Name) {
		return errValidation("name", "required, 1..128 characters of [A-Za-z0-9._:-]")
	}
	if len(in.Description) > 1024 {
		return errValidation("description", "at most 1024 bytes")
	}
	t, err := s.store.CreateEventType(p.Tenant, wal.EventType{Name: in.Name, Description: in.Description})
	if err != nil {
		if errors.Is(err, wal.ErrConflict) {
			return &Error{Status: 409, Code: codeConflict, Field: "name", Detail: "event type " + in.Name + " already exists"}
		}
		return err
	}
	return writeJSON(ctx, 201, eventTypeOut{Name: t.Name, Description: t.Description, CreatedAt: timestamp(t.CreatedAt)})
}

func (s *Server) deleteEventType(ctx *fasthttp.RequestCtx, p *Principal) error {
	name := pathParam(ctx, "name")
	if !validType(name) {
		return errNotFound("event type")
	}
	if err := s.store.DeleteEventType(p.Tenant, name); err != nil {
		return notFoundAs(err, "event type")
	}
	ctx.SetStatusCode(204)
	return nil
}
