package engine

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
)

func TestForbiddenAddr(t *testing.T) {
	forbidden := []string{
		"0.1.2.3", "10.0.0.1", "100.64.0.1", "127.0.0.1", "127.1", "2130706433", "0x7f.1", "0177.0.0.1",
		"169.254.169.254", "172.16.0.1", "172.31.255.255", "192.0.0.8", "192.168.1.1", "198.18.0.1",
		"224.0.0.1", "240.0.0.1", "255.255.255.255", "::", "::1", "fe80::1", "fc00::1", "fd12::1", "ff02::1",
		"64:ff9b::a9fe:a9fe", "2002:7f00:1::", "2001:db8::1", "::ffff:10.0.0.1", "[::ffff:127.0.0.1]", "::ffff:169.254.169.254",
	}
	for _, s := range forbidden {
		ip, ok := ParseLooseIP(s)
		if !ok {
			t.Errorf("%s: not parsed", s)
			continue
		}
		if !ForbiddenAddr(ip) {
			t.Errorf("%s (%s): allowed, want forbidden", s, ip)
		}
	}
	for _, s := range []string{"93.184.216.34", "8.8.8.8", "2606:4700::1111", "172.32.0.1", "100.128.0.1"} {
		ip, _ := ParseLooseIP(s)
		if ForbiddenAddr(ip) {
			t.Errorf("%s: forbidden, want allowed", s)
		}
	}
	for _, s := range []string{"example.com", "1.2.3.4.5", "0x1ffffffff", ""} {
		if ip, ok := ParseLooseIP(s); ok {
			t.Errorf("%s parsed as %s", s, ip)
		}
	}
}

// TestGuardAtConnectTime: a name that resolves to loopback is refused when
// the dispatcher connects, whatever it looked like when it was checked.
func TestGuardAtConnectTime(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	rebind := func(ctx context.Context, host string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil // what a rebinding DNS answers
	}
	tests := []struct {
		name  string
		guard Guard
		addr  string
		ok    bool
	}{
		{"name resolving to loopback", Guard{Lookup: rebind}, "rebind.example:" + port, false},
		{"loopback literal", Guard{}, "127.0.0.1:" + port, false},
		{"decimal loopback literal", Guard{}, "2130706433:" + port, false},
		{"allowed when private is allowed", Guard{AllowPrivate: true, Lookup: rebind}, "rebind.example:" + port, true},
		{"allowed by an allowed CIDR", Guard{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Lookup: rebind}, "rebind.example:" + port, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.guard.Dial(tt.addr)
			if c != nil {
				c.Close()
			}
			if tt.ok && err != nil {
				t.Fatalf("dial = %v, want connected", err)
			}
			if !tt.ok && (!errors.Is(err, ErrForbiddenDestination) || ClassOf(err) != ClassForbidden) {
				t.Fatalf("dial = %v (class %q), want %v", err, ClassOf(err), ErrForbiddenDestination)
			}
		})
	}
	// Through the dispatcher: the attempt fails with the guard's class and
	// nothing is sent.
	d := NewDispatcher(DispatcherOptions{Dial: (&Guard{Lookup: rebind}).Dial})
	res := d.Send(context.Background(), &Request{URL: "http://rebind.example:" + port + "/hook", MsgID: "evt_x", Body: []byte(`{}`)})
	if res.Class != ClassForbidden {
		t.Errorf("send class = %q (%v), want %s", res.Class, res.Err, ClassForbidden)
	}
}
