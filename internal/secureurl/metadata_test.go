package secureurl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// metadataHosts are the instance metadata and link-local addresses in the
// forms a URL's host may carry them and a resolver may read them.
var metadataHosts = []struct{ host, want string }{
	{"169.254.169.254", "169.254.169.254"},
	{"169.254.0.1", "169.254.0.1"},
	{"169.254.255.255", "169.254.255.255"},
	{"100.100.100.200", "100.100.100.200"},
	{"169.254.169.254.", "169.254.169.254"},
	// inet_aton forms: one integer, hexadecimal, octal, short dotted.
	{"2852039166", "169.254.169.254"},
	{"0xa9fea9fe", "169.254.169.254"},
	{"0XA9FEA9FE", "169.254.169.254"},
	{"025177524776", "169.254.169.254"},
	{"0251.0376.0251.0376", "169.254.169.254"},
	{"0xa9.0xfe.0xa9.0xfe", "169.254.169.254"},
	{"0xa9.254.0251.254", "169.254.169.254"},
	{"169.254.43518", "169.254.169.254"},
	{"169.16689662", "169.254.169.254"},
	{"0251.0xfe.43518", "169.254.169.254"},
	{"1684301000", "100.100.100.200"},
	{"0x646464c8", "100.100.100.200"},
	{"014431062310", "100.100.100.200"},
	{"100.100.25800", "100.100.100.200"},
	{"100.6579400", "100.100.100.200"},
	// IPv6: link-local, IPv4-mapped, IPv4-compatible, NAT64, AWS's IPv6
	// metadata address, with and without brackets and zone.
	{"fe80::1", "fe80::1"},
	{"[fe80::1]", "fe80::1"},
	{"fe80::1%eth0", "fe80::1%eth0"},
	{"FE80::A9FE:A9FE", "fe80::a9fe:a9fe"},
	{"febf:ffff::1", "febf:ffff::1"},
	{"::ffff:169.254.169.254", "::ffff:169.254.169.254"},
	{"[::ffff:169.254.169.254]", "::ffff:169.254.169.254"},
	{"::ffff:a9fe:a9fe", "::ffff:169.254.169.254"},
	{"0:0:0:0:0:ffff:a9fe:a9fe", "::ffff:169.254.169.254"},
	{"::ffff:100.100.100.200", "::ffff:100.100.100.200"},
	{"::ffff:6464:64c8", "::ffff:100.100.100.200"},
	{"::169.254.169.254", "::a9fe:a9fe"},
	{"::a9fe:a9fe", "::a9fe:a9fe"},
	{"64:ff9b::169.254.169.254", "64:ff9b::a9fe:a9fe"},
	{"64:ff9b::6464:64c8", "64:ff9b::6464:64c8"},
	{"fd00:ec2::254", "fd00:ec2::254"},
}

func TestCheckHostRefusesMetadata(t *testing.T) {
	for _, tt := range metadataHosts {
		a, ok := HostIP(tt.host)
		if !ok || a.String() != tt.want {
			t.Errorf("HostIP(%q) = %v, %v; want %s", tt.host, a, ok, tt.want)
		}
		err := CheckHost(tt.host)
		if !errors.Is(err, ErrMetadataAddress) {
			t.Errorf("CheckHost(%q) = %v; want ErrMetadataAddress", tt.host, err)
		}
		if err := DialControl("tcp", net.JoinHostPort(a.String(), "443"), nil); !errors.Is(err, ErrMetadataAddress) {
			t.Errorf("DialControl(%s) = %v; want ErrMetadataAddress", a, err)
		}
	}
}

func TestCheckHostAllows(t *testing.T) {
	for _, host := range []string{
		"acme-v02.api.letsencrypt.org", "localhost", "127.0.0.1", "::1", "[::1]", "2130706433", "0x7f000001",
		"10.0.0.1", "192.168.1.1", "100.100.100.201", "100.100.2.136", "169.253.255.255", "169.255.0.0",
		"fec0::1", "fc00::1", "2001:db8::1", "::", "0.0.0.0",
		// Not addresses inet_aton reads (8 is no octal digit, 256 is no
		// byte, five parts): names, checked at the dial.
		"00000169.254.169.254", "0251.0376.0251.0378", "256.254.169.254", "1.169.254.169.254", "169.254.169.254.x", "0x1ffffffff",
		"169.254.169.254.nip.io", "metadata.google.internal",
	} {
		if err := CheckHost(host); err != nil {
			t.Errorf("CheckHost(%q) = %v; want nil", host, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:443", "[::1]:443", "10.0.0.1:443", "[2001:db8::1]:443", "100.100.100.201:80"} {
		if err := DialControl("tcp", addr, nil); err != nil {
			t.Errorf("DialControl(%s) = %v; want nil", addr, err)
		}
	}
}

func TestIsMetadataAddr(t *testing.T) {
	for _, tt := range []struct {
		addr string
		want bool
	}{
		{"169.254.169.254", true}, {"169.254.0.0", true}, {"100.100.100.200", true}, {"fe80::", true}, {"fe80::1%2", true},
		{"::ffff:169.254.1.1", true}, {"::169.254.1.1", true}, {"64:ff9b::100.100.100.200", true}, {"fd00:ec2::254", true},
		{"169.253.0.1", false}, {"127.0.0.1", false}, {"::1", false}, {"::", false}, {"::ffff:127.0.0.1", false},
		{"64:ff9b::8.8.8.8", false}, {"fec0::1", false}, {"100.100.100.199", false},
	} {
		if got := IsMetadataAddr(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("IsMetadataAddr(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}

// TestDialControlAfterResolution: a name whose A record is the metadata
// address is refused when dialled, and a name resolving to loopback is
// not. The dialer asks a DNS server of the test's own.
func TestDialControlAfterResolution(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		ip := map[string]string{"metadata.test.": "169.254.169.254", "alibaba-metadata.test.": "100.100.100.200", "local.test.": "127.0.0.1"}[q.Name]
		if q.Qtype == dns.TypeA && ip != "" {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(ip)})
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())

	d := &net.Dialer{Timeout: 5 * time.Second, Control: DialControl, Resolver: &net.Resolver{PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "udp", pc.LocalAddr().String())
		}}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, host := range []string{"metadata.test", "alibaba-metadata.test"} {
		start := time.Now()
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, "80"))
		if err == nil {
			_ = c.Close()
		}
		if !errors.Is(err, ErrMetadataAddress) {
			t.Errorf("dial %s: %v; want ErrMetadataAddress", host, err)
		}
		if time.Since(start) > 2*time.Second {
			t.Errorf("dial %s took %s: refused only after trying", host, time.Since(start))
		}
	}
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort("local.test", port))
	if err != nil {
		t.Fatalf("dial local.test (loopback): %v", err)
	}
	_ = c.Close()
}

// TestDialControlIntegerHost: getaddrinfo (Go's cgo resolver) reads
// "2852039166" as 169.254.169.254, which Go's URL parser and
// netip.ParseAddr do not; the dial is refused all the same. Run in a
// child process, the resolver being chosen once per process; skipped where
// the cgo resolver is not available.
func TestDialControlIntegerHost(t *testing.T) {
	if os.Getenv("SECUREURL_TEST_CGO_CHILD") == "1" {
		addrs, err := net.DefaultResolver.LookupHost(context.Background(), "2852039166")
		if err != nil || len(addrs) == 0 || addrs[0] != "169.254.169.254" {
			fmt.Println("SKIP: the resolver does not read integer addresses:", addrs, err)
			return
		}
		d := &net.Dialer{Timeout: 5 * time.Second, Control: DialControl}
		c, err := d.DialContext(context.Background(), "tcp", "2852039166:80")
		if err == nil {
			_ = c.Close()
		}
		if !errors.Is(err, ErrMetadataAddress) {
			t.Fatalf("dial 2852039166:80: %v; want ErrMetadataAddress", err)
		}
		fmt.Println("REFUSED:", err)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDialControlIntegerHost$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "SECUREURL_TEST_CGO_CHILD=1", "GODEBUG=netdns=cgo")
	out, err := cmd.CombinedOutput()
	switch {
	case err != nil:
		t.Fatalf("child: %v\n%s", err, out)
	case strings.Contains(string(out), "SKIP:"):
		t.Skipf("%s", out)
	case !strings.Contains(string(out), "REFUSED:"):
		t.Fatalf("child said nothing of the dial:\n%s", out)
	}
}

func TestMetadataErrorText(t *testing.T) {
	for host, want := range map[string]string{
		"2852039166":         "2852039166 is a link-local address (169.254.169.254): certdrop sends no request there",
		"169.254.169.254":    "169.254.169.254 is a link-local address: certdrop sends no request there",
		"100.100.100.200":    "100.100.100.200 is an instance metadata address: certdrop sends no request there",
		"::ffff:a9fe:a9fe":   "::ffff:a9fe:a9fe is a link-local address (169.254.169.254): certdrop sends no request there",
		"[fe80::1]":          "[fe80::1] is a link-local address: certdrop sends no request there",
		"64:ff9b::6464:64c8": "64:ff9b::6464:64c8 is an instance metadata address (100.100.100.200): certdrop sends no request there",
	} {
		if err := CheckHost(host); err == nil || err.Error() != want {
			t.Errorf("CheckHost(%q) = %v\nwant %s", host, err, want)
		}
	}
}
