package api

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Helpers the four profiles' tests share: the seeds' bodies and examples
// (testdata/compat/<profile>/) and a check of a response against an
// example's shape.

// compatFile reads api/testdata/compat/<profile>/<name>, a body or an
// example copied from a seed document, with each {{key}} of set replaced.
func compatFile(t *testing.T, profile, name string, set ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "compat", profile, name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(set); i += 2 {
		if !strings.Contains(s, "{{"+set[i]+"}}") {
			t.Fatalf("%s/%s has no {{%s}}", profile, name, set[i])
		}
		s = strings.ReplaceAll(s, "{{"+set[i]+"}}", set[i+1])
	}
	return s
}

// shapeRules loosen compatShape at given paths ("response.webhookId",
// "results[].error").
type shapeRules struct {
	nullable []string // may be null
	extra    []string // objects that may carry fields the example lacks
	anyType  []string // any JSON type (the seed's own type is not hookd's)
	free     []string // objects whose content is the caller's (a payload): any keys
}

// compatShape checks body against a seed's response example: the same
// keys in every object, every value of the example's JSON type (a number
// an integer; an example's null allows anything), every element of an
// array like the example's first.
func compatShape(t *testing.T, what string, body []byte, profile, example string, r shapeRules) {
	t.Helper()
	var got, want any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("%s: not JSON: %s", what, body)
	}
	if err := json.Unmarshal([]byte(compatFile(t, profile, example)), &want); err != nil {
		t.Fatal(err)
	}
	var walk func(at string, got, want any)
	walk = func(at string, got, want any) {
		if want == nil || got == nil && slices.Contains(r.nullable, at) || slices.Contains(r.anyType, at) {
			return
		}
		switch w := want.(type) {
		case map[string]any:
			g, ok := got.(map[string]any)
			if !ok {
				t.Errorf("%s: %s = %v, want an object", what, at, got)
				return
			}
			if slices.Contains(r.free, at) {
				return
			}
			for k, v := range w {
				if gv, ok := g[k]; !ok {
					t.Errorf("%s: %s lacks %q", what, at, k)
				} else {
					walk(strings.TrimPrefix(at+"."+k, "."), gv, v)
				}
			}
			for k := range g {
				if _, ok := w[k]; !ok && !slices.Contains(r.extra, at) {
					t.Errorf("%s: %s has %q, which the seed does not show", what, at, k)
				}
			}
		case []any:
			g, ok := got.([]any)
			if !ok {
				t.Errorf("%s: %s = %v, want an array", what, at, got)
				return
			}
			for _, e := range g {
				if len(w) > 0 {
					walk(at+"[]", e, w[0])
				}
			}
		case float64:
			if n, ok := got.(float64); !ok || n != math.Trunc(n) {
				t.Errorf("%s: %s = %v, want an integer", what, at, got)
			}
		default:
			if reflect.TypeOf(got) != reflect.TypeOf(want) {
				t.Errorf("%s: %s = %v (%T), want a %T", what, at, got, got, want)
			}
		}
	}
	walk("", got, want)
}
