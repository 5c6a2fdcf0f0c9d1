package secureurl

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
)

// ErrMetadataAddress matches the errors of CheckHost and DialControl
// (errors.Is): the destination is link-local or a cloud instance metadata
// service, which hands out the credentials of the machine (on Function
// Compute, of the function's role) to whoever asks from inside.
var ErrMetadataAddress = errors.New("link-local or instance metadata address")

// MetadataError is a refused destination.
type MetadataError struct {
	// Host is the host as written; Addr the address it is.
	Host string
	Addr netip.Addr
}

// Error says what the host is: "2852039166 is a link-local address
// (169.254.169.254): certdrop sends no request there".
func (e *MetadataError) Error() string {
	eff := effective(e.Addr)
	what := "an instance metadata address"
	if eff.IsLinkLocalUnicast() {
		what = "a link-local address"
	}
	if s := eff.String(); s != strings.Trim(e.Host, "[]") {
		what += " (" + s + ")"
	}
	return e.Host + " is " + what + ": certdrop sends no request there"
}

// Is reports ErrMetadataAddress.
func (e *MetadataError) Is(target error) bool { return target == ErrMetadataAddress }

// metadataAddrs are instance metadata services outside the link-local
// ranges: Alibaba Cloud's, and AWS's IPv6 one.
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("100.100.100.200"),
	netip.MustParseAddr("fd00:ec2::254"),
}

// nat64 is the well-known NAT64 prefix (RFC 6052): 64:ff9b::a.b.c.d reaches
// a.b.c.d through a NAT64 gateway.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// IsMetadataAddr reports whether a is link-local (169.254.0.0/16,
// fe80::/10) or an instance metadata address (100.100.100.200,
// fd00:ec2::254), also when an IPv6 address carries one of those IPv4
// addresses (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, NAT64
// 64:ff9b::a.b.c.d).
func IsMetadataAddr(a netip.Addr) bool {
	a = effective(a)
	if a.IsLinkLocalUnicast() {
		return true
	}
	for _, m := range metadataAddrs {
		if a == m {
			return true
		}
	}
	return false
}

// effective is the address a reaches: without zone, and the IPv4 address
// an IPv4-mapped, IPv4-compatible or NAT64 address carries.
func effective(a netip.Addr) netip.Addr {
	a = a.WithZone("").Unmap()
	if !a.Is6() {
		return a
	}
	b := a.As16()
	compat := [12]byte(b[:12]) == [12]byte{} && !a.IsLoopback() && !a.IsUnspecified()
	if compat || nat64.Contains(a) {
		return netip.AddrFrom4([4]byte(b[12:]))
	}
	return a
}

// HostIP reads host as an IP address written in any form a resolver may
// take as one: IPv6 (with or without brackets and zone), and IPv4 as
// inet_aton reads it (getaddrinfo, and so Go's cgo resolver, accept it):
// one to four parts, each decimal, octal (a leading 0) or hexadecimal
// (0x), the last filling the remaining bytes, so that 2852039166,
// 0xa9fea9fe, 0251.0376.0251.0376 and 169.254.43518 are all
// 169.254.169.254. A trailing dot is ignored. ok is false for a name.
func HostIP(host string) (netip.Addr, bool) {
	h := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSuffix(host, "]"), "["), ".")
	if a, err := netip.ParseAddr(h); err == nil {
		return a, true
	}
	return parseInetAton(h)
}

// parseInetAton reads the IPv4 forms inet_aton accepts.
func parseInetAton(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		v, ok := atonPart(p)
		if !ok {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var ip uint64
	last := len(vals) - 1
	for i, v := range vals[:last] {
		if v > 0xff {
			return netip.Addr{}, false
		}
		ip |= v << (8 * (3 - i))
	}
	if vals[last] >= 1<<(8*(4-last)) {
		return netip.Addr{}, false
	}
	ip |= vals[last]
	return netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)}), true
}

// atonPart reads one part of an inet_aton address: decimal, 0-prefixed
// octal or 0x-prefixed hexadecimal ("0x" alone is 0, as inet_aton has
// it).
func atonPart(p string) (uint64, bool) {
	base := 10
	switch {
	case p == "":
		return 0, false
	case len(p) >= 2 && (p[:2] == "0x" || p[:2] == "0X"):
		base, p = 16, p[2:]
		if p == "" {
			return 0, true
		}
	case len(p) > 1 && p[0] == '0':
		base, p = 8, p[1:]
	}
	if p[0] == '+' || p[0] == '-' {
		return 0, false
	}
	v, err := strconv.ParseUint(p, base, 64)
	if err != nil || v > 0xffffffff {
		return 0, false
	}
	return v, true
}

// CheckHost refuses a host (a URL's host name, without the port) that is
// an IP address, written in any form HostIP reads, that IsMetadataAddr
// reports. A name passes: what it resolves to is checked at the dial
// (DialControl).
func CheckHost(host string) error {
	if a, ok := HostIP(host); ok && IsMetadataAddr(a) {
		return &MetadataError{Host: host, Addr: a}
	}
	return nil
}

// DialControl is a net.Dialer Control function that refuses to connect to
// an address IsMetadataAddr reports. It runs after name resolution, on the
// address actually dialled, so a name that resolves to such an address,
// or an integer form a resolver turns into one, is refused as well.
// Loopback stays allowed (local emulators and test CAs).
func DialControl(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		host = address
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("dialling %s: not an IP address after resolution", address)
	}
	if IsMetadataAddr(a) {
		return &MetadataError{Host: host, Addr: a}
	}
	return nil
}
