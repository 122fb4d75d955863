package engine

import (
	"fmt"
	"testing"

	"github.com/valyala/fasthttp"
)

// The dispatcher does not keep a client for every destination it was ever
// asked about: past minSweep, those without a connection are dropped.
func TestHostClientsSwept(t *testing.T) {
	d := NewDispatcher(DispatcherOptions{})
	var u fasthttp.URI
	for i := range 5 * minSweep {
		u.Parse(nil, fmt.Appendf(nil, "https://h%d.example/hook", i))
		if _, err := d.hostClient(&u); err != nil {
			t.Fatal(err)
		}
	}
	d.mu.RLock()
	n := len(d.clients)
	d.mu.RUnlock()
	if n > minSweep {
		t.Errorf("%d clients kept for %d destinations without a connection, want at most %d", n, 5*minSweep, minSweep)
	}
}
