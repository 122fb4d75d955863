package api

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"testing"
)

// The alert rules pass promtool when it is installed.
func TestAlertRulesPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed: docs/alerts.yml not checked by it (TestDocsMetricsExist still checks its metric names)")
	}
	out, err := exec.Command(promtool, "check", "rules", "../docs/alerts.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules docs/alerts.yml: %v\n%s", err, out)
	}
}

// Every hookd_* series the alert rules and the Grafana dashboard use is on
// /metrics (with a backlog, so the per-webhook series show too).
func TestDocsMetricsExist(t *testing.T) {
	rules, err := os.ReadFile("../docs/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	dash, err := os.ReadFile("../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(dash, &d); err != nil {
		t.Fatalf("docs/grafana-dashboard.json: %v", err)
	}
	name := regexp.MustCompile(`hookd_[a-z0-9_]+`)
	used := map[string]string{}
	for _, n := range name.FindAllString(string(rules), -1) {
		used[n] = "docs/alerts.yml"
	}
	exprs := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			exprs++
			for _, n := range name.FindAllString(tg.Expr, -1) {
				used[n] = "dashboard panel " + p.Title
			}
		}
	}
	if len(used) < 10 || exprs < 10 {
		t.Fatalf("found %d metric names in %d dashboard queries: the files were not read as expected", len(used), exprs)
	}

	ds := newObservedServer(t, nil, nil)
	held := newReceiver(t, 204)
	held.hold.Store(true)
	ds.createHook(t, map[string]any{"url": held.url})
	ds.publish(t, `{"type":"a","data":1}`)
	held.next(t)
	sc := ds.waitMetric(t, "an event waiting", func(sc scrape) bool { return sc.get("hookd_events_waiting") == 1 })
	have := map[string]bool{}
	for _, s := range sc {
		have[s.name] = true
	}
	var missing []string
	for n, where := range used {
		if !have[n] {
			missing = append(missing, n+" ("+where+")")
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("not on /metrics: %s", m)
	}
}
