package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// A Figure is one measured number with, when the lab has one, the
// machine's ceiling (or floor) for it measured in the same run.
type Figure struct {
	Scenario string  `json:"scenario"`
	Name     string  `json:"figure"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	// Ceiling is the best this machine did at the same work with nothing
	// of hookd in the way (a raw loopback HTTP exchange, a raw fsync); 0
	// when the figure has none. For figures where less is better (Lower)
	// it is a floor.
	Ceiling   float64 `json:"ceiling,omitempty"`
	CeilingOf string  `json:"ceilingOf,omitempty"`
	Lower     bool    `json:"lowerIsBetter,omitempty"`
	// Want, when set, is the value the figure must have ("0" for lost
	// events); the table marks a figure that misses it.
	Want string `json:"want,omitempty"`
}

// Ratio is Value over Ceiling: the share of the ceiling reached when
// more is better, how many times the floor when less is better; 0 when
// the figure has no ceiling.
func (f Figure) Ratio() float64 {
	if f.Ceiling <= 0 {
		return 0
	}
	return f.Value / f.Ceiling
}

// Missed reports whether a figure with a Want does not have that value.
func (f Figure) Missed() bool {
	return f.Want != "" && formatValue(f.Value) != f.Want
}

// formatValue prints a number with the precision its size deserves and
// thousands separators: 23,456 / 12.3 / 0.083.
func formatValue(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Sprint(v)
	case a >= 1000 || a == math.Trunc(a):
		return thousands(int64(math.Round(v)))
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// FormatRatio prints a ratio the way the table does: a percentage of the
// ceiling when more is better, a multiple of the floor when less is.
func FormatRatio(f Figure) string {
	r := f.Ratio()
	if r == 0 {
		return ""
	}
	if f.Lower {
		return formatValue(r) + "×"
	}
	if r < 0.1 {
		return fmt.Sprintf("%.1f%%", 100*r)
	}
	return fmt.Sprintf("%.0f%%", 100*r)
}

// WriteTable prints the figures as an aligned table: scenario, figure,
// value, the ceiling (or floor) and what it is, ratio.
func WriteTable(w io.Writer, figs []Figure) error {
	t := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(t, "SCENARIO\tFIGURE\tVALUE\tCEILING\tRATIO\tCEILING IS")
	for _, f := range figs {
		val := strings.TrimSpace(formatValue(f.Value) + " " + f.Unit)
		if f.Missed() {
			val += " (want " + f.Want + ")"
		}
		ceil, of := "", ""
		if f.Ceiling > 0 {
			ceil = formatValue(f.Ceiling) + " " + f.Unit
			of = f.CeilingOf
			if f.Lower {
				of = "floor: " + of
			}
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Scenario, f.Name, strings.TrimSpace(val), strings.TrimSpace(ceil), FormatRatio(f), of)
	}
	return t.Flush()
}

// MedianFigures merges several runs of the same scenarios into one figure
// each: the median value and the median ceiling, in the order figures
// first appeared.
func MedianFigures(runs [][]Figure) []Figure {
	type key struct{ s, n string }
	var order []key
	vals := map[key][]Figure{}
	for _, run := range runs {
		for _, f := range run {
			k := key{f.Scenario, f.Name}
			if _, ok := vals[k]; !ok {
				order = append(order, k)
			}
			vals[k] = append(vals[k], f)
		}
	}
	out := make([]Figure, 0, len(order))
	for _, k := range order {
		fs := vals[k]
		m := fs[0]
		m.Value = median(fs, func(f Figure) float64 { return f.Value })
		m.Ceiling = median(fs, func(f Figure) float64 { return f.Ceiling })
		out = append(out, m)
	}
	return out
}

func median(fs []Figure, get func(Figure) float64) float64 {
	v := make([]float64, len(fs))
	for i, f := range fs {
		v[i] = get(f)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(r)
}
