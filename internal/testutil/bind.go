package testutil

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// BIND is a real BIND 9 (named) serving one zone on loopback and taking
// dynamic updates (RFC 2136) signed with one TSIG key.
type BIND struct {
	// Addr is host:port, UDP and TCP.
	Addr string
	// Zone is the zone served, as an FQDN ("rfc.test.").
	Zone string
	// KeyName and Secret are the TSIG key the server knows (hmac-sha256).
	KeyName, Secret string
}

// StartBIND starts named in a temporary directory, serving zone with
// updates allowed to the TSIG key keyName/secret (hmac-sha256), and stops
// it when the test ends. The test is skipped when named is not installed
// (apt-get install bind9; .ci/run does).
func StartBIND(t testing.TB, zone, keyName, secret string) *BIND {
	t.Helper()
	named, err := exec.LookPath("named")
	if err != nil {
		if named, err = exec.LookPath("/usr/sbin/named"); err != nil {
			t.Skip("skipping: BIND (named) is not installed (apt-get install bind9; .ci/run does)")
		}
	}
	zone, keyName = dns.Fqdn(zone), dns.Fqdn(keyName)
	dir := t.TempDir()
	// named writes its journal and pid file here, as whatever user runs
	// the test (it drops no privileges without -u).
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	zoneFile := fmt.Sprintf("$TTL 60\n@ IN SOA ns1.%[1]s hostmaster.%[1]s 1 60 60 600 60\n@ IN NS ns1.%[1]s\nns1 IN A 127.0.0.1\n", zone)
	conf := fmt.Sprintf(`options {
	directory "%[1]s";
	pid-file "%[1]s/named.pid";
	listen-on port %[2]d { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	dnssec-validation no;
	notify no;
};
key "%[3]s" { algorithm hmac-sha256; secret "%[4]s"; };
zone "%[5]s" { type primary; file "%[1]s/zone.db"; allow-update { key "%[3]s"; }; };
`, dir, port, keyName, secret, zone)
	for name, data := range map[string]string{"zone.db": zoneFile, "named.conf": conf} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, named, "-g", "-4", "-c", filepath.Join(dir, "named.conf"))
	log := &Buffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting named: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	b := &BIND{Addr: fmt.Sprintf("127.0.0.1:%d", port), Zone: zone, KeyName: keyName, Secret: secret}
	deadline := time.Now().Add(15 * time.Second)
	for {
		m := new(dns.Msg)
		m.SetQuestion(zone, dns.TypeSOA)
		r, err := dns.Exchange(m, b.Addr)
		if err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0 {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("named did not serve %s within 15 s: %v\n%s", zone, err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TXT returns the TXT values the server holds for name.
func (b *BIND) TXT(t testing.TB, name string) []string {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeTXT)
	r, err := dns.Exchange(m, b.Addr)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, rr := range r.Answer {
		if txt, ok := rr.(*dns.TXT); ok {
			out = append(out, strings.Join(txt.Txt, ""))
		}
	}
	return out
}

// freePort returns a port free on 127.0.0.1 for both UDP and TCP when it
// was asked (another process may take it before named does; rare).
func freePort(t testing.TB) int {
	t.Helper()
	for try := 0; try < 20; try++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		_ = pc.Close()
		if err == nil {
			_ = ln.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}
