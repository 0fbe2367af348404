package checker

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"
)

// DefaultDenyPrefixes are the address ranges ProbeOptions.DenyPrivate refuses
// by default: every range that is not the public Internet, where a checker
// reachable by anyone who can add a website must not be made to look
// (cloud metadata at 169.254.169.254, services on loopback or the private
// network).
var DefaultDenyPrefixes = []netip.Prefix{
	// IPv4
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network", 0.0.0.0 unspecified
	netip.MustParsePrefix("10.0.0.0/8"),      // private (RFC 1918)
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT (RFC 6598)
	netip.MustParsePrefix("127.0.0.0/8"),     // loopback
	netip.MustParsePrefix("169.254.0.0/16"),  // link-local, cloud metadata
	netip.MustParsePrefix("172.16.0.0/12"),   // private (RFC 1918)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("192.168.0.0/16"),  // private (RFC 1918)
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("224.0.0.0/4"),     // multicast
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, 255.255.255.255 broadcast
	// IPv6 (IPv4-mapped ::ffff:a.b.c.d is checked as IPv4)
	netip.MustParsePrefix("::/96"),          // unspecified ::, loopback ::1, IPv4-compatible
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("100::/64"),       // discard
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("fc00::/7"),       // unique local (ULA)
	netip.MustParsePrefix("fe80::/10"),      // link-local
	netip.MustParsePrefix("fec0::/10"),      // site-local (deprecated)
	netip.MustParsePrefix("ff00::/8"),       // multicast
}

// nat64 is the well-known NAT64 prefix: its addresses reach the IPv4 address
// in their last 32 bits, which is checked as well.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// errBlocked is wrapped by the error of a dial DenyPrivate refused.
var errBlocked = errors.New("blocked")

// denied reports whether addr falls in one of prefixes. The zone of an IPv6
// address (fe80::1%eth0) is dropped first: netip.Prefix.Contains is false for
// any address with a zone.
func denied(addr netip.Addr, prefixes []netip.Prefix) bool {
	addr = addr.Unmap().WithZone("")
	if nat64.Contains(addr) {
		b := addr.As16()
		if denied(netip.AddrFrom4([4]byte(b[12:])), prefixes) {
			return true
		}
	}
	for _, p := range prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// denyControl returns a net.Dialer.Control that refuses the addresses of
// prefixes. It runs after DNS, on the address about to be connected to, so
// neither a name resolving to a denied address nor a redirect gets through.
func denyControl(prefixes []netip.Prefix) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: cannot tell whether %q is allowed: %v", errBlocked, address, err)
		}
		if denied(ap.Addr(), prefixes) {
			return fmt.Errorf("%w: %s is a private or special-use address (deny private is on)", errBlocked, ap.Addr().Unmap())
		}
		return nil
	}
}
