package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The SSRF guard: which addresses a delivery may connect to. The API checks
// a webhook's URL when it is created; Guard.Dial checks again at connect
// time, on the address the name resolves to then, so a name that resolves
// to a private address (or is re-pointed there later: DNS rebinding) gets
// nowhere.

// ErrForbiddenDestination: the destination resolves only to addresses
// deliveries may not reach.
var ErrForbiddenDestination = errors.New("engine: destination address is not allowed (loopback, private, link-local or reserved)")

// ClassForbidden is the error class of a delivery refused by the guard.
const ClassForbidden = "forbidden_destination"

var forbiddenNets = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
		"172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
		"::/128", "::1/128", "fe80::/10", "fc00::/7", "ff00::/8", "64:ff9b::/96", "2002::/16", "2001:db8::/32"} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// ForbiddenAddr reports whether ip is loopback, private, link-local,
// CGNAT, multicast, reserved or a translation of one (IPv4-mapped forms
// are unmapped first). 255.255.255.255 falls in 240.0.0.0/4.
func ForbiddenAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range forbiddenNets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ParseLooseIP parses an IP literal, including the legacy IPv4 forms a
// resolver accepts ("2130706433", "0x7f.1", "127.1", "0177.0.0.1").
func ParseLooseIP(h string) (netip.Addr, bool) {
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.Unmap(), true
	}
	parts := strings.Split(h, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var nums []uint64
	for _, p := range parts {
		n, err := strconv.ParseUint(p, 0, 32) // decimal, 0x hex, 0 octal
		if err != nil {
			return netip.Addr{}, false
		}
		nums = append(nums, n)
	}
	var v uint64
	switch len(nums) {
	case 1:
		v = nums[0]
	case 2:
		v = nums[0]<<24 | nums[1]
	case 3:
		v = nums[0]<<24 | nums[1]<<16 | nums[2]
	case 4:
		v = nums[0]<<24 | nums[1]<<16 | nums[2]<<8 | nums[3]
	}
	if v > 0xFFFFFFFF {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// Guard dials only allowed addresses.
type Guard struct {
	AllowPrivate bool           // delivery.allow_private_destinations: no check at all
	Allowed      []netip.Prefix // delivery.allowed_cidrs: allowed even when forbidden
	// Lookup resolves a host name; default net.DefaultResolver.LookupNetIP
	// (tests inject one).
	Lookup  func(ctx context.Context, host string) ([]netip.Addr, error)
	Timeout time.Duration // bounds resolving and connecting; default 10s
}

// Allowed reports whether ip may be connected to.
func (g *Guard) allowed(ip netip.Addr) bool {
	if g.AllowPrivate || !ForbiddenAddr(ip) {
		return true
	}
	for _, p := range g.Allowed {
		if p.Contains(ip.Unmap()) {
			return true
		}
	}
	return false
}

// Dial is a fasthttp.DialFunc: it resolves host, keeps the allowed
// addresses and connects to the first that answers.
func (g *Guard) Dial(addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	timeout := g.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var ips []netip.Addr
	if ip, ok := ParseLooseIP(host); ok {
		ips = []netip.Addr{ip}
	} else {
		lookup := g.Lookup
		if lookup == nil {
			lookup = func(ctx context.Context, h string) ([]netip.Addr, error) {
				return net.DefaultResolver.LookupNetIP(ctx, "ip", h)
			}
		}
		if ips, err = lookup(ctx, host); err != nil {
			return nil, err
		}
	}
	var d net.Dialer
	var last error = ErrForbiddenDestination
	for _, ip := range ips {
		if !g.allowed(ip) {
			continue
		}
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip.Unmap().String(), port))
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, fmt.Errorf("engine: dial %s: %w", host, last)
}
