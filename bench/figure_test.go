package bench

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"
)

func TestFormatValue(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{{0, "0"}, {7, "7"}, {23456.4, "23,456"}, {1234567, "1,234,567"}, {-2500, "-2,500"}, {123.4, "123"}, {12.34, "12.3"}, {1.234, "1.23"}, {0.0834, "0.083"}} {
		if got := formatValue(c.v); got != c.want {
			t.Errorf("formatValue(%v) = %q; want %q", c.v, got, c.want)
		}
	}
}

func TestRatio(t *testing.T) {
	for _, c := range []struct {
		f    Figure
		want string
	}{
		{Figure{Value: 8000, Ceiling: 32000}, "25%"},
		{Figure{Value: 300, Ceiling: 1e6}, "0.0%"},
		{Figure{Value: 3000, Ceiling: 1e6}, "0.3%"},
		{Figure{Value: 4.2, Ceiling: 0.5, Lower: true}, "8.40×"},
		{Figure{Value: 42, Ceiling: 0.4, Lower: true}, "105×"},
		{Figure{Value: 42}, ""},
	} {
		if got := FormatRatio(c.f); got != c.want {
			t.Errorf("FormatRatio(%+v) = %q; want %q", c.f, got, c.want)
		}
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	err := WriteTable(&b, []Figure{
		{Scenario: "ingest", Name: "1/request", Value: 24900, Unit: "events/s", Ceiling: 99600, CeilingOf: "loopback HTTP"},
		{Scenario: "latency", Name: "p99", Value: 4.5, Unit: "ms", Lower: true, Ceiling: 0.5, CeilingOf: "fsync"},
		{Scenario: "crash", Name: "lost", Value: 2, Want: "0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines; want a header and 3:\n%s", len(lines), b.String())
	}
	for i, want := range [][]string{
		{"SCENARIO", "FIGURE", "VALUE", "CEILING", "RATIO"},
		{"ingest", "24,900 events/s", "99,600 events/s", "25%", "loopback HTTP"},
		{"latency", "4.50 ms", "0.500 ms", "9×", "floor: fsync"},
		{"crash", "2 (want 0)"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d = %q; want it to contain %q", i, lines[i], w)
			}
		}
	}
	// Columns line up: every row's value starts where the header's does.
	col := strings.Index(lines[0], "VALUE")
	for _, l := range lines[1:] {
		if l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("value column not at %d in %q", col, l)
		}
	}
}

func TestMedianFigures(t *testing.T) {
	run := func(v, c float64) []Figure {
		return []Figure{{Scenario: "s", Name: "a", Value: v, Ceiling: c}, {Scenario: "s", Name: "b", Value: -v}}
	}
	got := MedianFigures([][]Figure{run(3, 30), run(1, 10), run(2, 40)})
	if len(got) != 2 || got[0].Name != "a" || got[0].Value != 2 || got[0].Ceiling != 30 || got[1].Value != -2 {
		t.Errorf("MedianFigures = %+v; want a: 2 (ceiling 30), b: -2", got)
	}
	if got := MedianFigures([][]Figure{run(1, 10), run(4, 20)}); got[0].Value != 2.5 {
		t.Errorf("median of two = %v; want 2.5", got[0].Value)
	}
}

func TestMissed(t *testing.T) {
	if (Figure{Value: 0, Want: "0"}).Missed() || !(Figure{Value: 1, Want: "0"}).Missed() || (Figure{Value: 5}).Missed() {
		t.Error("Missed: want false for 0 of want 0, true for 1 of want 0, false without want")
	}
}

func TestResolve(t *testing.T) {
	names := func(ss []scenario) string {
		var n []string
		for _, s := range ss {
			n = append(n, s.name)
		}
		return strings.Join(n, " ")
	}
	for _, c := range []struct {
		in   []string
		want string
	}{
		{nil, "limits ingest deliver latency fanout faults"},
		{[]string{"all"}, "limits ingest deliver latency fanout faults"},
		{[]string{"crash", "ingest"}, "ingest crash"},
		{[]string{"all,soak"}, "limits ingest deliver latency fanout faults soak"},
	} {
		got, err := resolve(c.in)
		if err != nil || names(got) != c.want {
			t.Errorf("resolve(%q) = %q, %v; want %q", c.in, names(got), err, c.want)
		}
	}
	if _, err := resolve([]string{"ingest", "nope"}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("resolve(nope) = %v; want an error naming it", err)
	}
}

func TestPublishBody(t *testing.T) {
	due := time.Unix(5, 6)
	one := string(publishBody(nil, 1, due, 9, []byte("xy")))
	if want := `{"type":"bench.hookd","data":{"t":5000000006,"s":9,"pad":"xy"}}`; one != want {
		t.Errorf("one event = %s; want %s", one, want)
	}
	two := string(publishBody(nil, 2, due, 9, []byte("xy")))
	if !strings.HasPrefix(two, `{"events":[`) || !strings.Contains(two, `"s":10,`) || !strings.HasSuffix(two, "]}") {
		t.Errorf("two events = %s", two)
	}
}

func TestAckSet(t *testing.T) {
	var a ackSet
	a.add(3, 2)
	a.add(0, 1)
	a.add(4, 3)
	seqs, n := a.list()
	if n != 5 || !seqs[0] || seqs[1] || seqs[2] || !seqs[3] || !seqs[6] {
		t.Errorf("list = %v, %d; want 0, 3..6 (5)", seqs, n)
	}
}

// wellFormed fails unless s parses as XML to its end.
func wellFormed(t *testing.T, what, s string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = true
	for {
		if _, err := d.Token(); err == io.EOF {
			return
		} else if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", what, err)
		}
	}
}
