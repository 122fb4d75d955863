package bench

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// palette: distinguishable on white, in the order series are drawn.
var palette = []color.Color{
	color.RGBA{0x1f, 0x77, 0xb4, 0xff}, color.RGBA{0xd6, 0x27, 0x28, 0xff}, color.RGBA{0x2c, 0xa0, 0x2c, 0xff},
	color.RGBA{0xff, 0x7f, 0x0e, 0xff}, color.RGBA{0x94, 0x67, 0xbd, 0xff}, color.RGBA{0x8c, 0x56, 0x4b, 0xff},
	color.RGBA{0xe3, 0x77, 0xc2, 0xff}, color.RGBA{0x7f, 0x7f, 0x7f, 0xff}, color.RGBA{0x17, 0xbe, 0xcf, 0xff},
}

// Chart is one drawn figure of a report.
type Chart struct {
	Title string
	SVG   template.HTML
}

// Charts draws the report's charts: for each scenario, throughput, p99
// latency, RSS, RSS's anonymous and file-backed parts, and the store's
// slow writes and level-0 tables over time; and
// the latency percentiles of every distribution the run kept.
func Charts(r *Report) ([]Chart, error) {
	var out []Chart
	for _, sc := range r.Scenarios {
		for _, k := range []struct {
			kinds       []string
			title, unit string
		}{
			{[]string{"throughput"}, "throughput over time", "events/s"},
			{[]string{"latency"}, "publish → receive p99 over time", "ms"},
			{[]string{"rss"}, "hookd RSS over time", "MiB"},
			{[]string{KindRSSAnon, KindRSSFile}, "hookd RSS, anonymous and file-backed, over time", "MiB"},
			{[]string{KindSlowWrites, KindL0Tables}, "hookd's store: writes over 50 ms in each sample, level-0 tables", "count"},
		} {
			var ss []Series
			for _, s := range r.Series {
				if s.Scenario == sc && slices.Contains(k.kinds, s.Kind) {
					ss = append(ss, s)
				}
			}
			if len(ss) == 0 {
				continue
			}
			svg, err := lineChart(sc+": "+k.title, "seconds", k.unit, ss)
			if err != nil {
				return nil, err
			}
			out = append(out, Chart{Title: sc + ": " + k.title, SVG: svg})
		}
	}
	if len(r.Curves) > 0 {
		svg, err := PercentileChart("publish → receive latency by percentile", r.Curves)
		if err != nil {
			return nil, err
		}
		out = append(out, Chart{Title: "latency percentiles", SVG: svg})
	}
	return out, nil
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	return p
}

func addLine(p *plot.Plot, i int, label string, pts []Point, fx func(float64) float64, fy func(float64) float64) error {
	xys := make(plotter.XYs, 0, len(pts))
	for _, pt := range pts {
		xys = append(xys, plotter.XY{X: fx(pt.X), Y: fy(pt.Y)})
	}
	line, err := plotter.NewLine(xys)
	if err != nil {
		return err
	}
	line.Color = palette[i%len(palette)]
	line.Width = vg.Points(1.5)
	p.Add(line)
	p.Legend.Add(label, line)
	return nil
}

func same(v float64) float64 { return v }

func lineChart(title, x, y string, ss []Series) (template.HTML, error) {
	p := newPlot(title, x, y)
	p.Y.Min = 0
	top := 0.0
	for i, s := range ss {
		if err := addLine(p, i, s.Name, s.Points, same, same); err != nil {
			return "", err
		}
		top = max(top, s.peak())
	}
	p.Y.Max = top * (1.1 + 0.08*float64(len(ss))) // room for the legend above the lines
	return render(p, 8+0.4*float64(len(ss)))
}

// nines maps a percentile to how many nines it has (p50 0.3, p90 1, p99
// 2, p99.9 3), so the tail gets the room it deserves.
func nines(pct float64) float64 { return -math.Log10(1 - pct/100) }

// PercentileChart draws latency distributions: ms (log scale) against
// the percentile (nines scale).
func PercentileChart(title string, cs []Curve) (template.HTML, error) {
	p := newPlot(title, "percentile", "ms")
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	var ticks []plot.Tick
	for _, q := range []float64{50, 90, 99, 99.9, 99.99} {
		ticks = append(ticks, plot.Tick{Value: nines(q), Label: "p" + strings.TrimSuffix(fmt.Sprint(q), ".0")})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	top, bottom := 0.01, math.Inf(1)
	for i, c := range cs {
		if err := addLine(p, i, c.Name, c.Points, nines, func(v float64) float64 { return max(v, 0.01) }); err != nil {
			return "", err
		}
		for _, pt := range c.Points {
			top, bottom = max(top, pt.Y), min(bottom, max(pt.Y, 0.01))
		}
	}
	// Room for the legend above the lines.
	p.Y.Min, p.Y.Max = bottom/1.5, top*math.Pow(10, 0.35*float64(len(cs)))
	return render(p, 8+0.4*float64(len(cs)))
}

// render draws p as SVG without the XML prologue, ready to inline.
func render(p *plot.Plot, heightCm float64) (template.HTML, error) {
	w, err := p.WriterTo(16*vg.Centimeter, vg.Length(heightCm)*vg.Centimeter, "svg")
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if _, err := w.WriteTo(&b); err != nil {
		return "", err
	}
	s := b.String()
	if i := strings.Index(s, "<svg"); i > 0 {
		s = s[i:]
	}
	return template.HTML(s), nil
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"value": func(f Figure) string { return strings.TrimSpace(formatValue(f.Value) + " " + f.Unit) },
	"ceiling": func(f Figure) string {
		if f.Ceiling <= 0 {
			return ""
		}
		return strings.TrimSpace(formatValue(f.Ceiling) + " " + f.Unit)
	},
	"ratio": FormatRatio,
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hookd bench</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}tr.miss td{background:#fdd}
figure{margin:1.5em 0}figcaption{font-weight:600}svg{max-width:100%;height:auto}
</style></head><body>
<h1>hookd bench</h1>
<p>{{.R.Started.Format "2006-01-02 15:04:05 MST"}} · {{.R.Host.CPUs}} CPUs · {{.R.Host.OS}} · {{.R.Host.GoVersion}} · target: {{.R.Host.Target}} · scenarios: {{range $i, $s := .R.Scenarios}}{{if $i}}, {{end}}{{$s}}{{end}}{{if gt .R.Runs 1}} · medians of {{.R.Runs}} runs{{end}}</p>
<p>Ceiling: what this machine did at the same work with nothing of hookd in the way, measured in the same run (loopback HTTP, raw write+fdatasync). Ratio: share of the ceiling reached, or, for figures where less is better (×), how many times the floor.</p>
<table><tr><th>scenario</th><th>figure</th><th>value</th><th>ceiling</th><th>ratio</th><th>ceiling is</th></tr>
{{range .R.Figures}}<tr{{if .Missed}} class="miss"{{end}}><td>{{.Scenario}}</td><td>{{.Name}}</td><td class="n">{{value .}}</td><td class="n">{{ceiling .}}</td><td class="n">{{ratio .}}</td><td>{{if .Lower}}{{if .CeilingOf}}floor: {{end}}{{end}}{{.CeilingOf}}</td></tr>
{{end}}</table>
{{range .Charts}}<figure><figcaption>{{.Title}}</figcaption>{{.SVG}}</figure>
{{end}}</body></html>
`))

// WriteHTML writes the report page: the table and every chart, inline.
func WriteHTML(w io.Writer, r *Report) error {
	charts, err := Charts(r)
	if err != nil {
		return fmt.Errorf("bench: charts: %w", err)
	}
	return page.Execute(w, struct {
		R      *Report
		Charts []Chart
	}{r, charts})
}

// WriteReportDir writes dir/index.html and dir/results.json.
func WriteReportDir(dir string, r *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "index.html"), b.Bytes(), 0o644); err != nil {
		return err
	}
	b.Reset()
	if err := WriteJSON(&b, r); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "results.json"), b.Bytes(), 0o644)
}
