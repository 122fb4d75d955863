package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// writeJSON writes v with status.
func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
	return nil
}

// mediaType returns the request's media type, lower-cased, without
// parameters. An absent Content-Type counts as JSON.
func mediaType(ctx *fasthttp.RequestCtx) string {
	ct := ctx.Request.Header.ContentType()
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = bytes.TrimSpace(ct)
	if len(ct) == 0 {
		return "application/json"
	}
	return string(bytes.ToLower(ct))
}

var errMediaType = &Error{Status: 415, Code: codeMediaType, Detail: "Content-Type must be application/json"}

// decodeBody decodes a JSON request body into v (unknown fields are
// ignored). An empty body decodes as {} when allowEmpty.
func decodeBody(ctx *fasthttp.RequestCtx, v any, allowEmpty bool) error {
	if mediaType(ctx) != "application/json" {
		return errMediaType
	}
	body := ctx.PostBody()
	if len(bytes.TrimSpace(body)) == 0 {
		if allowEmpty {
			return nil
		}
		return &Error{Status: 400, Code: codeInvalidJSON, Detail: "request body is empty"}
	}
	return decodeJSON(body, v)
}

// maxJSONDepth bounds the nesting of any request body (and so of any
// event's data): deep enough for real payloads, shallow enough that no
// body can make a decoder recurse without end.
const maxJSONDepth = 64

var errTooDeep = &Error{Status: 400, Code: codeInvalidJSON, Detail: fmt.Sprintf("JSON is nested deeper than %d levels", maxJSONDepth)}

// jsonDepthOK reports whether b nests objects and arrays at most max deep.
// It only counts brackets outside strings; validity is the decoder's job.
func jsonDepthOK(b []byte, max int) bool {
	depth, inStr, esc := 0, false, false
	for _, c := range b {
		switch {
		case inStr:
			if esc {
				esc = false
			} else if c == '\\' {
				esc = true
			} else if c == '"' {
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			if depth++; depth > max {
				return false
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return true
}

func decodeJSON(body []byte, v any) error {
	if !jsonDepthOK(body, maxJSONDepth) {
		return errTooDeep
	}
	if err := json.Unmarshal(body, v); err != nil {
		return jsonError(err)
	}
	return nil
}

// jsonError turns a decoding error into a 400 that names what is wrong.
func jsonError(err error) *Error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return &Error{Status: 400, Code: codeValidation, Field: te.Field,
			Detail: fmt.Sprintf("%s: must be %s, not %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)}
	}
	var fe *fieldError
	if errors.As(err, &fe) {
		if fe.field == "" {
			return &Error{Status: 400, Code: codeValidation, Detail: fe.msg}
		}
		return errValidation(fe.field, fe.msg)
	}
	return &Error{Status: 400, Code: codeInvalidJSON, Detail: "body is not valid JSON: " + err.Error()}
}

func jsonKind(k string) string {
	switch k {
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "int", "int64", "float64":
		return "a number"
	case "bool":
		return "a boolean"
	}
	return "a " + k
}

// fieldError lets custom UnmarshalJSON methods name their field.
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

// timestamp formats t as API.md §1 wants: RFC 3339 UTC with milliseconds.
func timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// optTime is a nullable timestamp for responses.
func optTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := timestamp(t)
	return &s
}

// queryInt parses an integer query argument within [lo, hi].
func queryInt(ctx *fasthttp.RequestCtx, name string, def, lo, hi int) (int, error) {
	v := ctx.QueryArgs().Peek(name)
	if len(v) == 0 {
		return def, nil
	}
	n, err := strconv.Atoi(string(v))
	if err != nil || n < lo || n > hi {
		return 0, errValidation(name, fmt.Sprintf("must be an integer from %d to %d", lo, hi))
	}
	return n, nil
}

// page is the cursor-paged list envelope of API.md §1.
type page[T any] struct {
	Results    []T     `json:"results"`
	NextCursor *string `json:"nextCursor"`
}

func newPage[T any](results []T, next string) page[T] {
	if results == nil {
		results = []T{}
	}
	p := page[T]{Results: results}
	if next != "" {
		p.NextCursor = &next
	}
	return p
}

// listLimit reads ?limit= (default 50, max 1000).
func listLimit(ctx *fasthttp.RequestCtx) (int, error) { return queryInt(ctx, "limit", 50, 1, 1000) }
