package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func sampleReport() *Report {
	r := &Report{Started: time.Unix(0, 0), Scenarios: []string{"deliver", "latency"}, Runs: 1,
		Host: Host{CPUs: 2, GoVersion: "go", OS: "linux/amd64", Target: "child"},
		Figures: []Figure{
			{Scenario: "deliver", Name: "size 1 <&>", Value: 19000, Unit: "deliveries/s", Ceiling: 60000, CeilingOf: "loopback"},
			{Scenario: "deliver", Name: "lost", Value: 1, Want: "0"},
		}}
	for i := 0; i < 2; i++ {
		var tp, rss []Point
		for s := 1; s <= 5; s++ {
			tp = append(tp, Point{float64(s), float64(1000 * s * (i + 1))})
			rss = append(rss, Point{float64(s), float64(100 + s)})
		}
		r.Series = append(r.Series, Series{Scenario: "deliver", Name: "run " + string(rune('a'+i)), Kind: "throughput", Unit: "events/s", Points: tp},
			Series{Scenario: "deliver", Name: "run", Kind: "rss", Unit: "MiB", Points: rss})
	}
	r.Series = append(r.Series,
		Series{Scenario: "deliver", Name: "run, anonymous", Kind: KindRSSAnon, Unit: "MiB", Points: []Point{{1, 70}, {2, 80}}},
		Series{Scenario: "deliver", Name: "run, file-backed", Kind: KindRSSFile, Unit: "MiB", Points: []Point{{1, 30}, {2, 25}}},
		Series{Scenario: "latency", Name: "5,000 events/s", Kind: "latency", Unit: "ms", Points: []Point{{1, 2}, {2, 3}}})
	r.Curves = []Curve{{Name: "latency 5,000 events/s", Points: []Point{{50, 1.2}, {99, 8}, {99.9, 20}, {99.99, 0}}}}
	return r
}

func TestWriteHTML(t *testing.T) {
	var b bytes.Buffer
	if err := WriteHTML(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	svgs := regexp.MustCompile(`(?s)<svg.*?</svg>`).FindAllString(page, -1)
	// deliver: throughput, RSS, and RSS's two parts; latency: p99 over
	// time; percentiles.
	if len(svgs) != 5 {
		t.Fatalf("%d inline SVG charts; want 5", len(svgs))
	}
	for i, s := range svgs {
		wellFormed(t, "chart "+string(rune('0'+i)), s)
		if !strings.Contains(s, "<path") && !strings.Contains(s, "<polyline") {
			t.Errorf("chart %d draws no line", i)
		}
	}
	for _, want := range []string{"<!doctype html>", "size 1 &lt;&amp;&gt;", "19,000 deliveries/s", "32%", `class="miss"`,
		"deliver: throughput over time", "deliver: hookd RSS over time", "latency percentiles",
		"deliver: hookd RSS, anonymous and file-backed, over time", "run, anonymous", "run, file-backed"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// The page without its SVGs is well-formed too (charts are checked above).
	rest := regexp.MustCompile(`(?s)<svg.*?</svg>`).ReplaceAllString(page, "")
	rest = strings.Replace(rest, "<!doctype html>", "", 1)
	rest = regexp.MustCompile(`<meta[^>]*>`).ReplaceAllString(rest, "")
	wellFormed(t, "the page", rest)
}

func TestWriteReportDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	if err := WriteReportDir(dir, sampleReport()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "index.html")); err != nil {
		t.Error(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Figures) != 2 || back.Figures[0].Value != 19000 || back.Figures[0].Ceiling != 60000 {
		t.Errorf("results.json figures = %+v", back.Figures)
	}
	// The whole RSS keeps its kind, "rss"; its parts come as kinds of
	// their own, so a reader of "rss" series sees what it saw before.
	kinds := map[string]int{}
	for _, s := range back.Series {
		kinds[s.Kind]++
	}
	if kinds["rss"] != 2 || kinds["rss-anon"] != 1 || kinds["rss-file"] != 1 {
		t.Errorf("results.json series kinds = %v", kinds)
	}
}
