package api

import (
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// docPath is where the OpenAPI document describes a route: the router
// cannot split "{id}:ping" inside one segment, so that route is registered
// as POST /v1/webhooks/{id} and documented as the action it serves (and
// the nCore profile's POST /webhooks/{id} likewise).
func docPath(rt route) string {
	if rt.method == "POST" && (rt.path == "/v1/webhooks/{id}" || rt.path == "/webhooks/{id}") {
		return rt.path + ":ping"
	}
	return rt.path
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func loadOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Fatalf("openapi = %q; want 3.1.x", v)
	}
	return doc
}

func obj(t *testing.T, v any, what string) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s is not an object", what)
	}
	return m
}

// TestOpenAPICoversRoutes: every route of the table is documented with its
// method and role, and the document promises no operation the server lacks.
func TestOpenAPICoversRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	paths := obj(t, doc["paths"], "paths")

	routed := map[string]bool{}
	for _, rt := range allRoutes() {
		p := docPath(rt)
		m := strings.ToLower(rt.method)
		routed[m+" "+p] = true
		item, ok := paths[p].(map[string]any)
		if !ok {
			t.Errorf("%s %s: path %s is not documented", rt.method, rt.path, p)
			continue
		}
		o, ok := item[m].(map[string]any)
		if !ok {
			t.Errorf("%s %s: method %s is not documented under %s", rt.method, rt.path, m, p)
			continue
		}
		role, hasRole := o["x-hookd-role"]
		// Authenticated routes: /v1 and the compat profiles (some at the
		// root, such as nCore's /webhooks).
		if strings.HasPrefix(rt.path, "/v1") || rt.role != rolePublic {
			if role != rt.role {
				t.Errorf("%s %s: x-hookd-role = %v; the route needs %q", rt.method, p, role, rt.role)
			}
			if d, _ := o["description"].(string); !strings.Contains(d, "`"+rt.role+"`") {
				t.Errorf("%s %s: description does not name the role %s", rt.method, p, rt.role)
			}
		} else {
			if rt.role != rolePublic {
				t.Errorf("%s %s: non-/v1 route with role %q; document it", rt.method, rt.path, rt.role)
			}
			if hasRole {
				t.Errorf("%s %s: public route documents x-hookd-role %v", rt.method, p, role)
			}
			if sec, ok := o["security"].([]any); !ok || len(sec) != 0 {
				t.Errorf("%s %s: public route must say security: []", rt.method, p)
			}
		}
	}

	for p, v := range paths {
		item := obj(t, v, "paths."+p)
		for _, m := range httpMethods {
			if _, ok := item[m]; ok && !routed[m+" "+p] {
				t.Errorf("%s %s is documented but not in routes()", strings.ToUpper(m), p)
			}
		}
	}
}

// TestOpenAPIOperations checks each operation's shape: a unique
// operationId, responses that carry x-correlation-id, path parameters that
// match the template.
func TestOpenAPIOperations(t *testing.T) {
	doc := loadOpenAPI(t)
	paths := obj(t, doc["paths"], "paths")
	tmpl := regexp.MustCompile(`\{([^}]+)\}`)
	ids := map[string]string{}
	for p, v := range paths {
		item := obj(t, v, "paths."+p)
		var want []string
		for _, m := range tmpl.FindAllStringSubmatch(p, -1) {
			want = append(want, m[1])
		}
		sort.Strings(want)
		for _, m := range httpMethods {
			ov, ok := item[m]
			if !ok {
				continue
			}
			name := strings.ToUpper(m) + " " + p
			o := obj(t, ov, name)
			id, _ := o["operationId"].(string)
			if id == "" {
				t.Errorf("%s: no operationId", name)
			} else if prev, dup := ids[id]; dup {
				t.Errorf("%s: operationId %s also used by %s", name, id, prev)
			}
			ids[id] = name

			var got []string
			params, _ := o["parameters"].([]any)
			for _, pv := range params {
				prm := obj(t, resolve(t, doc, pv), name+" parameter")
				if prm["in"] == "path" {
					got = append(got, prm["name"].(string))
					if prm["required"] != true {
						t.Errorf("%s: path parameter %v is not required", name, prm["name"])
					}
				}
			}
			sort.Strings(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s: path parameters %v; the template has %v", name, got, want)
			}

			resps := obj(t, o["responses"], name+" responses")
			if len(resps) == 0 {
				t.Errorf("%s: no responses", name)
			}
			for code, rv := range resps {
				r := obj(t, resolve(t, doc, rv), name+" "+code)
				h, _ := r["headers"].(map[string]any)
				if _, ok := h["x-correlation-id"]; !ok {
					t.Errorf("%s %s: response does not document x-correlation-id", name, code)
				}
				if code == "503" {
					if _, ok := h["Retry-After"]; !ok {
						t.Errorf("%s: 503 without Retry-After", name)
					}
				}
			}
			if o["x-hookd-not-implemented"] == true {
				if _, ok := resps["501"]; !ok {
					t.Errorf("%s: marked not implemented but documents no 501", name)
				}
			}
		}
	}
}

// TestOpenAPIErrorCodes: the Problem code enum is exactly the codes the
// server can send.
func TestOpenAPIErrorCodes(t *testing.T) {
	doc := loadOpenAPI(t)
	schemas := obj(t, obj(t, doc["components"], "components")["schemas"], "schemas")
	ec := obj(t, schemas["ErrorCode"], "ErrorCode")
	var got []string
	for _, c := range ec["enum"].([]any) {
		got = append(got, c.(string))
	}
	want := []string{codeInvalidJSON, codeValidation, codeUnauthorized, codeForbidden, codeNotFound,
		codeMethod, codeConflict, codeTooLarge, codeMediaType, codeRateLimited, codeUnavailable,
		codeInternal, codeBadRequest,
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("ErrorCode enum = %v; want %v", got, want)
	}
}

// TestOpenAPIRefsResolve: every local $ref points at something.
func TestOpenAPIRefsResolve(t *testing.T) {
	doc := loadOpenAPI(t)
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["$ref"].(string); ok {
				if !strings.HasPrefix(r, "#/") {
					t.Errorf("%s: non-local $ref %s", at, r)
				} else if pointer(doc, r) == nil {
					t.Errorf("%s: $ref %s does not resolve", at, r)
				}
			}
			for k, e := range x {
				walk(e, at+"/"+k)
			}
		case []any:
			for _, e := range x {
				walk(e, at+"/[]")
			}
		}
	}
	walk(doc, "#")
}

// resolve follows v's $ref, if any.
func resolve(t *testing.T, doc map[string]any, v any) any {
	t.Helper()
	for i := 0; i < 8; i++ {
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		r, ok := m["$ref"].(string)
		if !ok {
			return v
		}
		if v = pointer(doc, r); v == nil {
			t.Fatalf("$ref %s does not resolve", r)
		}
	}
	t.Fatal("$ref chain too long")
	return nil
}

// pointer evaluates a local JSON pointer ("#/a/b").
func pointer(doc map[string]any, ref string) any {
	var cur any = doc
	for _, tok := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		if cur, ok = m[tok]; !ok {
			return nil
		}
	}
	return cur
}

// TestOpenAPIArraysTyped: every schema with items says type array, so that
// generated clients keep the field (an allOf override of a list without
// it lost events[].data in generated clients), and the document names
// its license.
func TestOpenAPIArraysTyped(t *testing.T) {
	doc := loadOpenAPI(t)
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch x := v.(type) {
		case map[string]any:
			if _, ok := x["items"]; ok {
				typ, _ := x["type"].(string)
				list, _ := x["type"].([]any)
				if typ != "array" && !slices.Contains(list, any("array")) {
					t.Errorf("%s: items without type array", path)
				}
			}
			for k, e := range x {
				walk(e, path+"/"+k)
			}
		case []any:
			for i, e := range x {
				walk(e, path+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(doc, "#")
	info := obj(t, doc["info"], "info")
	if lic, _ := info["license"].(map[string]any); lic["identifier"] != "Apache-2.0" {
		t.Errorf("info.license = %v, want Apache-2.0", info["license"])
	}
}
