package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocsStandAlone: the repository's documents link only to files inside
// it, and every relative link resolves. A user who clones hookd has
// nothing beside it.
func TestDocsStandAlone(t *testing.T) {
	docs, _ := filepath.Glob("docs/*.md")
	docs = append(docs, "README.md", "SECURITY.md", "bench/BASELINE.md", "config.example.toml")
	link := regexp.MustCompile(`\]\(([^)#\s]+)[^)]*\)`)
	for _, doc := range docs {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		// Any path that climbs above the repository's root, in a link or in
		// plain text: one "../" more than the document's depth.
		// ("GET .../secret" is an ellipsis, not a path.)
		up := strings.Repeat("../", strings.Count(filepath.ToSlash(filepath.Clean(doc)), "/")+1)
		if m := regexp.MustCompile(`(^|[^.])` + regexp.QuoteMeta(up) + `\w`).Find(b); m != nil {
			t.Errorf("%s names a path outside the repository: %q", doc, m)
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			p := filepath.Join(filepath.Dir(doc), target)
			if rel, err := filepath.Rel(".", p); err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("%s links outside the repository: %s", doc, target)
				continue
			}
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s links to %s, which does not exist", doc, target)
			}
		}
	}
}
