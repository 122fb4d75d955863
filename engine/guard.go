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

// forbiddenNets are the ranges no delivery may reach unless
// delivery.allowed_cidrs opens them. Translation ranges that embed an IPv4
// address (NAT64, 6to4, Teredo, IPv4-compatible, SIIT) are refused whole:
// a public destination has no reason to use them, and whatever they embed
// would otherwise have to be decoded and checked form by form.
var forbiddenNets = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		// IPv4 (RFC 6890 special-purpose registry)
		"0.0.0.0/8",       // "this network"
		"10.0.0.0/8",      // private
		"100.64.0.0/10",   // CGNAT
		"127.0.0.0/8",     // loopback
		"169.254.0.0/16",  // link-local, cloud metadata
		"172.16.0.0/12",   // private
		"192.0.0.0/24",    // IETF protocol assignments
		"192.0.2.0/24",    // documentation (TEST-NET-1)
		"192.88.99.0/24",  // 6to4 relay anycast
		"192.168.0.0/16",  // private
		"198.18.0.0/15",   // benchmarking
		"198.51.100.0/24", // documentation (TEST-NET-2)
		"203.0.113.0/24",  // documentation (TEST-NET-3)
		"224.0.0.0/4",     // multicast
		"240.0.0.0/4",     // reserved, broadcast
		// IPv6
		"::/96",           // unspecified, loopback, IPv4-compatible (deprecated)
		"::ffff:0:0/96",   // IPv4-mapped (unmapped before the check; kept for safety)
		"::ffff:0:0:0/96", // SIIT IPv4-translated
		"64:ff9b::/96",    // NAT64
		"64:ff9b:1::/48",  // local-use NAT64
		"100::/64",        // discard-only
		"2001::/32",       // Teredo
		"2001:2::/48",     // benchmarking
		"2001:10::/28",    // ORCHID
		"2001:20::/28",    // ORCHIDv2
		"2001:db8::/32",   // documentation
		"2002::/16",       // 6to4
		"3fff::/20",       // documentation
		"5f00::/16",       // SRv6 SIDs
		"fc00::/7",        // unique local (includes the fd00:ec2::254 metadata address)
		"fe80::/10",       // link-local
		"fec0::/10",       // site-local (deprecated)
		"ff00::/8",        // multicast
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// Canonical is the one normalisation every address check goes through (the
// create-time check, delivery.allowed_cidrs and the connect-time check):
// IPv4-mapped addresses become IPv4. A zoned IPv6 address (fe80::1%eth0,
// ::1%lo) is not ok: a zone names a local interface, which no delivery
// may choose, and netip.Prefix.Contains is false for every zoned address.
func Canonical(ip netip.Addr) (netip.Addr, bool) {
	if !ip.IsValid() || ip.Zone() != "" {
		return netip.Addr{}, false
	}
	return ip.Unmap(), true
}

// ForbiddenAddr reports whether ip is loopback, private, link-local,
// CGNAT, multicast, reserved, documentation, a translation range, or not
// a plain address at all (zoned or invalid). 255.255.255.255 falls in
// 240.0.0.0/4.
func ForbiddenAddr(ip netip.Addr) bool {
	ip, ok := Canonical(ip)
	if !ok {
		return true
	}
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
		return ip, true // a zone, if any, is kept: Canonical refuses it
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

// NewGuard is the guard of delivery.allow_private_destinations and
// delivery.allowed_cidrs (validated by config; a prefix that does not parse
// is skipped). The API's create-time check and the dispatcher's dialer are
// both built with it, so they cannot disagree.
func NewGuard(allowPrivate bool, allowedCIDRs []string, timeout time.Duration) *Guard {
	g := &Guard{AllowPrivate: allowPrivate, Timeout: timeout}
	for _, c := range allowedCIDRs {
		if p, err := netip.ParsePrefix(c); err == nil {
			g.Allowed = append(g.Allowed, p.Masked())
		}
	}
	return g
}

// Permits reports whether a delivery may connect to ip: never to a zoned
// address; to any other when AllowPrivate is set; else to an address that
// is not forbidden or lies in one of Allowed.
func (g *Guard) Permits(ip netip.Addr) bool {
	ip, ok := Canonical(ip)
	if !ok {
		return false
	}
	if g.AllowPrivate || !ForbiddenAddr(ip) {
		return true
	}
	for _, p := range g.Allowed {
		if p.Contains(ip) {
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
	if host == "" { // ":80" would dial the local host
		return nil, fmt.Errorf("engine: dial %q: %w", addr, ErrForbiddenDestination)
	}
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
		if !g.Permits(ip) {
			continue
		}
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip.Unmap().String(), port)) // Permits: no zone
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, fmt.Errorf("engine: dial %s: %w", host, last)
}
