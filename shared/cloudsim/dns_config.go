package cloudsim

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/certdrop/certdrop/internal/secureurl"
)

// Editions of Alibaba Cloud DNS a zone can be on. They differ, for the
// emulator, only in the smallest TTL a record may have: 600 seconds on
// the free and personal editions, 1 second on the enterprise editions
// (https://www.alibabacloud.com/help/en/dns/ttl-definition).
const (
	EditionFree       = "free"
	EditionPersonal   = "personal"
	EditionEnterprise = "enterprise"
)

// DNSSettings configures the Alibaba Cloud DNS emulation: the zones of the
// account, which the alidns OpenAPI (on the OpenAPI listener) reads and
// writes and which the authoritative DNS server answers from.
type DNSSettings struct {
	// Addr is the loopback address the authoritative DNS server binds, UDP
	// and TCP on the same port; default "127.0.0.1:0". The server runs when
	// there is at least one zone or the ACME CA is enabled.
	Addr string `yaml:"addr"`
	// NameServers are the host names every zone's NS set names; default
	// ns1.cloudsim.test and ns2.cloudsim.test. The server answers their A
	// queries with its own IP address, so that a client looking for a
	// zone's authoritative servers finds the emulator.
	NameServers []string `yaml:"nameServers"`
	// Zones are the account's domains in Alibaba Cloud DNS.
	Zones []ZoneSettings `yaml:"zones"`
	// WriteSettle, when positive, answers LastOperationNotFinished to an
	// AddDomainRecord or DeleteDomainRecord that arrives within this long
	// of the previous write to the same zone, as Alibaba Cloud DNS does to
	// writes that overlap. Zero turns it off.
	WriteSettle time.Duration `yaml:"writeSettle"`
}

// ZoneSettings is one zone (an Alibaba Cloud DNS "domain") of the account.
type ZoneSettings struct {
	// Name is the zone apex, e.g. example.com.
	Name string `yaml:"name"`
	// Edition is free (the default), personal or enterprise.
	Edition string `yaml:"edition"`
	// Propagation delays, on the DNS server, every change the API makes to
	// this zone (a record added, a record deleted) by this long; the API
	// itself sees changes at once. Zero means immediately.
	Propagation time.Duration `yaml:"propagation"`
	// Unpublished makes the API's changes to this zone never reach the DNS
	// server: a record that never becomes visible.
	Unpublished bool `yaml:"unpublished"`
	// External makes the zone one hosted outside the account (another
	// account, another provider): the DNS server answers for it, the API
	// does not know it (InvalidDomainName.NoExist, absent from
	// DescribeDomains). For a CNAME delegation from a zone certdrop may
	// not write to one it may.
	External bool `yaml:"external"`
	// Records are the zone's records before any call; the SOA and NS of the
	// apex are the emulator's own and need not be listed.
	Records []RecordSettings `yaml:"records"`
}

// RecordSettings is one seeded record, in the API's terms.
type RecordSettings struct {
	// RR is the host record: "@" for the apex, "www", "_acme-challenge".
	RR string `yaml:"rr"`
	// Type is A, AAAA, CNAME, TXT, MX, NS or CAA.
	Type  string `yaml:"type"`
	Value string `yaml:"value"`
	// TTL defaults to 600.
	TTL int `yaml:"ttl"`
	// Priority is the MX priority, 1 to 50; default 10 for MX.
	Priority int `yaml:"priority"`
}

// defaultNameServers are the emulator's name servers when none are named.
func defaultNameServers() []string { return []string{"ns1.cloudsim.test", "ns2.cloudsim.test"} }

// dnsRecordTypes are the record types the emulator stores and serves.
func dnsRecordTypes() []string { return []string{"A", "AAAA", "CNAME", "TXT", "MX", "NS", "CAA"} }

// canonicalZone lower-cases a domain name and strips the trailing dot.
func canonicalZone(name string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
}

// minTTL is the smallest TTL an edition accepts.
func minTTL(edition string) int {
	if edition == EditionEnterprise {
		return 1
	}
	return 600
}

// maxTTL is the largest TTL every edition accepts.
const maxTTL = 86400

// validate checks the DNS settings for mistakes a person would make.
func (d *DNSSettings) validate() error {
	if d.Addr != "" {
		host, _, err := net.SplitHostPort(d.Addr)
		if err != nil {
			return fmt.Errorf("dns.addr: %w", err)
		}
		if !secureurl.IsLoopback(host) {
			return fmt.Errorf("dns.addr: %q is not a loopback address", d.Addr)
		}
	}
	for i, ns := range d.NameServers {
		if _, ok := dns.IsDomainName(ns); !ok || canonicalZone(ns) == "" {
			return fmt.Errorf("dns.nameServers[%d]: %q is not a domain name", i, ns)
		}
	}
	if d.WriteSettle < 0 {
		return fmt.Errorf("dns.writeSettle must not be negative")
	}
	seen := map[string]bool{}
	for i, z := range d.Zones {
		n := canonicalZone(z.Name)
		if _, ok := dns.IsDomainName(n); !ok || n == "" || !strings.Contains(n, ".") {
			return fmt.Errorf("dns.zones[%d]: %q is not a domain name with at least two labels", i, z.Name)
		}
		if seen[n] {
			return fmt.Errorf("dns.zones[%d]: duplicate zone %s", i, n)
		}
		seen[n] = true
		switch z.Edition {
		case "", EditionFree, EditionPersonal, EditionEnterprise:
		default:
			return fmt.Errorf("dns.zones[%d] %s: edition must be free, personal or enterprise, not %q", i, n, z.Edition)
		}
		if z.Propagation < 0 {
			return fmt.Errorf("dns.zones[%d] %s: propagation must not be negative", i, n)
		}
		for j, r := range z.Records {
			if _, e := newZoneRecord(n, r.RR, r.Type, r.Value, r.TTL, r.Priority, 1); e != nil {
				return fmt.Errorf("dns.zones[%d] %s: records[%d]: %s", i, n, j, e.message)
			}
		}
	}
	return nil
}
