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
		// issue 8: zone ids (netip.Prefix.Contains is false for every zoned address)
		"::1%lo", "::1%25lo", "::1%eth0", "::1%1", "::%lo", "0:0:0:0:0:0:0:1%lo", "fd00:ec2::254%eth0",
		"fe80::a9fe:a9fe%eth0", "fc00::1%lo", "64:ff9b::a9fe:a9fe%lo", "::ffff:127.0.0.1%lo", "2606:4700::1111%eth0",
		// issue 8: gaps in the ranges
		"::127.0.0.1", "::ffff:0:127.0.0.1", "192.0.2.1", "198.51.100.7", "203.0.113.9", "192.88.99.1",
		"100::1", "2001::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "fec0::1", "fd00:ec2::254",
		"64:ff9b:1::1", "2001:2::1", "3fff::1", "5f00::1", "2001:10::1", "2001:20::1",
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
	for _, s := range []string{"93.184.216.34", "8.8.8.8", "2606:4700::1111", "172.32.0.1", "100.128.0.1",
		"2001:4860:4860::8888", "2a00:1450:4001::1", "192.0.1.1", "203.0.114.1"} {
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

// TestGuardRefusesZones: a zoned address is refused at connect time, in
// every spelling and whatever the settings (allow_private_destinations
// and allowed_cidrs included), and a listener bound to [::1] only receives
// nothing. So is an empty host, which would dial the local host.
func TestGuardRefusesZones(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 100)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	zoned := func(ctx context.Context, host string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("::1%lo")}, nil // a resolver may answer zoned link-local addresses
	}
	guards := map[string]*Guard{
		"default":       {},
		"allow private": {AllowPrivate: true},
		"allowed cidrs": NewGuard(false, []string{"::/0", "0.0.0.0/0"}, 0),
	}
	for gname, g := range guards {
		g.Lookup = zoned
		for _, host := range []string{"[::1%lo]", "[::1%25lo]", "[::1%1]", "[::%lo]", "[0:0:0:0:0:0:0:1%lo]",
			"[::ffff:127.0.0.1%lo]", "zoned.example", ""} {
			c, err := g.Dial(host + ":" + port)
			if c != nil {
				c.Close()
			}
			if !errors.Is(err, ErrForbiddenDestination) {
				t.Errorf("%s: dial %s = %v, want %v", gname, host, err, ErrForbiddenDestination)
			}
		}
	}
	// Through the dispatcher, as a webhook URL would reach it.
	d := NewDispatcher(DispatcherOptions{Dial: (&Guard{AllowPrivate: true}).Dial})
	for _, u := range []string{"http://[::1%25lo]:" + port + "/", "http://[::1%lo]:" + port + "/"} {
		res := d.Send(context.Background(), &Request{URL: u, MsgID: "evt_x", Body: []byte(`{}`)})
		if res.Err == nil || res.StatusCode != 0 {
			t.Errorf("send %s = %d %v, want refused", u, res.StatusCode, res.Err)
		}
	}
	// The control: the same listener is reachable without a zone, so the
	// refusals above are the guard's doing.
	c, err := (&Guard{AllowPrivate: true}).Dial("[::1]:" + port)
	if err != nil {
		t.Fatalf("control dial: %v", err)
	}
	c.Close()
	<-accepted
	select {
	case <-accepted:
		t.Fatal("the [::1] listener accepted a zoned connection")
	default:
	}
}

// FuzzGuard: any input that parses, in any spelling the guard accepts, to
// an address that is loopback, private, link-local, multicast, unspecified
// or zoned (after normalisation), or that embeds one of those in a
// translation range, is refused. The oracle is the standard library's
// classification, not the guard's own table.
func FuzzGuard(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "::1%lo", "[::1%25lo]", "::ffff:127.0.0.1", "::127.0.0.1",
		"::ffff:0:127.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::", "2001:0:4136:e378:8000:63bf:80ff:fffe",
		"0x7f.1", "2130706433", "0177.0.0.1", "fe80::1%eth0", "fd00:ec2::254", "93.184.216.34", "", "1.1"} {
		f.Add(s)
	}
	g := &Guard{}
	f.Fuzz(func(t *testing.T, s string) {
		ip, ok := ParseLooseIP(s)
		if !ok {
			return
		}
		if g.Permits(ip) && mustRefuse(ip) {
			t.Fatalf("%q parses to %s, which the guard permits", s, ip)
		}
	})
}

// mustRefuse is the fuzz oracle: the standard library's view of the
// address and of every IPv4 address a translation range may embed in it.
func mustRefuse(ip netip.Addr) bool {
	if ip.Zone() != "" {
		return true
	}
	bad := func(a netip.Addr) bool {
		return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
			a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified()
	}
	ip = ip.Unmap()
	if bad(ip) {
		return true
	}
	if ip.Is6() {
		b := ip.As16()
		for _, at := range []int{12, 2} { // last 32 bits (::a.b.c.d, SIIT, NAT64), 6to4's bits 16..47
			if bad(netip.AddrFrom4([4]byte(b[at:at+4]))) && embedsIPv4(b) {
				return true
			}
		}
		var v4 [4]byte // Teredo: the client address, inverted, in the last 32 bits
		for i := range v4 {
			v4[i] = ^b[12+i]
		}
		if b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0 && bad(netip.AddrFrom4(v4)) {
			return true
		}
	}
	return false
}

// embedsIPv4 reports whether b lies in a range that carries an IPv4
// address: ::/96, ::ffff:0:0:0/96, 64:ff9b::/96, 64:ff9b:1::/48, 2002::/16.
func embedsIPv4(b [16]byte) bool {
	zero := func(bs []byte) bool {
		for _, x := range bs {
			if x != 0 {
				return false
			}
		}
		return true
	}
	switch {
	case zero(b[:12]), zero(b[:8]) && b[8] == 0xff && b[9] == 0xff && zero(b[10:12]):
		return true
	case b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b:
		return true
	case b[0] == 0x20 && b[1] == 0x02:
		return true
	}
	return false
}
