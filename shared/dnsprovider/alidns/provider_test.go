package alidns_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/libdns/libdns"

	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/cloudsim/cloudsimtest"
	"github.com/certdrop/certdrop/shared/dnsprovider/alidns"
)

const (
	key    = "LTAIdnstest"
	secret = "dns-test-secret-value"
)

// provider starts the emulator with cfg's zones and faults and returns a
// provider on it.
func provider(t *testing.T, cfg cloudsim.Config) (*alidns.Provider, *cloudsim.Sim) {
	t.Helper()
	cfg.Credentials = []cloudsim.Credential{{AccessKeyID: key, AccessKeySecret: secret}}
	cfg.OSS.Disabled = true
	sim, env := cloudsimtest.StartEnv(t, cfg)
	getenv := func(k string) string { return env[k] }
	c, err := cloud.New(cloud.Options{Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	p, err := alidns.New(c, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.Endpoint(), "http://127.0.0.1:") {
		t.Fatalf("endpoint %s: CERTDROP_ALIDNS_ENDPOINT not used", p.Endpoint())
	}
	return p, sim
}

func calls(sim *cloudsim.Sim, api string) (ok, failed int) {
	for _, e := range sim.Journal().Entries() {
		if e.Service == "alidns" && e.API == api {
			if e.Outcome == "ok" {
				ok++
			} else {
				failed++
			}
		}
	}
	return ok, failed
}

func TestFindZoneLongestSuffix(t *testing.T) {
	p, sim := provider(t, cloudsim.Config{DNS: cloudsim.DNSSettings{Zones: []cloudsim.ZoneSettings{
		{Name: "example.com"}, {Name: "sub.example.com"}, {Name: "other.org"},
	}}})
	ctx := context.Background()
	for name, want := range map[string]string{
		"_acme-challenge.www.sub.example.com": "sub.example.com.",
		"_acme-challenge.example.com.":        "example.com.",
		"SUB.EXAMPLE.COM":                     "sub.example.com.",
	} {
		got, err := p.FindZone(ctx, name)
		if err != nil || got != want {
			t.Errorf("FindZone(%s) = %q, %v; want %q", name, got, err, want)
		}
	}
	if _, err := p.FindZone(ctx, "notsub-example.com"); err == nil || !strings.Contains(err.Error(), "no zone of this account") {
		t.Errorf("a name outside the zones: %v", err)
	}
	if ok, _ := calls(sim, "DescribeDomains"); ok != 1 {
		t.Errorf("DescribeDomains called %d times, want once (cached)", ok)
	}
}

func TestAppendGetDelete(t *testing.T) {
	p, sim := provider(t, cloudsim.Config{DNS: cloudsim.DNSSettings{Zones: []cloudsim.ZoneSettings{{Name: "example.com"}}}})
	ctx := context.Background()
	added, err := p.AppendRecords(ctx, "example.com.", []libdns.Record{
		libdns.TXT{Name: "_acme-challenge", Text: "value-one"},
		libdns.TXT{Name: "_acme-challenge", Text: "value-two"},
	})
	if err != nil || len(added) != 2 {
		t.Fatalf("append: %v %v", added, err)
	}
	if rr := added[0].RR(); rr.TTL != alidns.DefaultTTL || rr.Type != "TXT" || rr.Data != "value-one" {
		t.Errorf("added %+v", rr)
	}
	// The same record again counts as added (a retry of a lost answer).
	again, err := p.AppendRecords(ctx, "example.com", []libdns.Record{libdns.TXT{Name: "_acme-challenge", Text: "value-one"}})
	if err != nil || len(again) != 1 || again[0].(libdns.TXT).ProviderData != added[0].(libdns.TXT).ProviderData {
		t.Fatalf("duplicate append: %v %v", again, err)
	}
	all, err := p.GetRecords(ctx, "example.com.")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range all {
		if r.RR().Type == "TXT" && r.RR().Name == "_acme-challenge" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("GetRecords shows %d challenge records, want 2", n)
	}
	// By ID, then by name and value (no ProviderData).
	del, err := p.DeleteRecords(ctx, "example.com.", added[:1])
	if err != nil || len(del) != 1 {
		t.Fatalf("delete by id: %v %v", del, err)
	}
	del, err = p.DeleteRecords(ctx, "example.com.", []libdns.Record{libdns.TXT{Name: "_acme-challenge", Text: "value-two"}})
	if err != nil || len(del) != 1 {
		t.Fatalf("delete by value: %v %v", del, err)
	}
	// Gone already: ignored.
	if del, err = p.DeleteRecords(ctx, "example.com.", added[:1]); err != nil || len(del) != 0 {
		t.Fatalf("delete again: %v %v", del, err)
	}
	for _, r := range sim.DNSRecords("example.com") {
		if r.Type == "TXT" {
			t.Errorf("left: %+v", r)
		}
	}
}

// TestRetriesByClass: throttling and LastOperationNotFinished are retried
// until they pass; a permanent error is not retried.
func TestRetriesByClass(t *testing.T) {
	p, sim := provider(t, cloudsim.Config{
		DNS: cloudsim.DNSSettings{Zones: []cloudsim.ZoneSettings{{Name: "example.com"}, {Name: "broken.com"}}},
		Faults: cloudsim.Faults{Scripted: []cloudsim.Script{
			{Domain: "example.com", API: "AddDomainRecord", Code: "Throttling.User", Times: 2},
			{Domain: "example.com", API: "DeleteDomainRecord", Code: "LastOperationNotFinished", Times: 1},
			{Domain: "broken.com", API: "AddDomainRecord", Code: "IncorrectDomainUser", Times: 5},
		}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	added, err := p.AppendRecords(ctx, "example.com", []libdns.Record{libdns.TXT{Name: "_acme-challenge", Text: "v"}})
	if err != nil {
		t.Fatalf("append through throttling: %v", err)
	}
	if ok, failed := calls(sim, "AddDomainRecord"); ok != 1 || failed != 2 {
		t.Errorf("AddDomainRecord: %d ok, %d failed; want 1 and 2", ok, failed)
	}
	if _, err := p.DeleteRecords(ctx, "example.com", added); err != nil {
		t.Fatalf("delete through LastOperationNotFinished: %v", err)
	}
	_, err = p.AppendRecords(ctx, "broken.com", []libdns.Record{libdns.TXT{Name: "_acme-challenge", Text: "v"}})
	var ce *cloud.Error
	if !errors.As(err, &ce) || ce.Code != "IncorrectDomainUser" {
		t.Fatalf("permanent error: %v", err)
	}
	okN, failed := 0, 0
	for _, e := range sim.Journal().Entries() {
		if e.API == "AddDomainRecord" && e.Domain == "broken.com" {
			if e.Outcome == "ok" {
				okN++
			} else {
				failed++
			}
		}
	}
	if failed != 1 || okN != 0 {
		t.Errorf("a permanent error was tried %d times", failed)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error holds the secret")
	}
}

func TestEndpointOverride(t *testing.T) {
	if _, err := alidns.New(nil, func(string) string { return "http://dns.example.com" }); err == nil {
		t.Errorf("plain http to a remote host accepted")
	}
	p, err := alidns.New(nil, func(string) string { return "" })
	if err != nil || p.Endpoint() != alidns.DefaultEndpoint {
		t.Errorf("default endpoint %q %v", p.Endpoint(), err)
	}
}

// TestRefused: an append the API answered with a 4xx wrote nothing and
// says so (Refused); one that got no answer (a reset, a 5xx after the
// retries) may have been applied and does not; a name in no zone of the
// account is ErrNoZone.
func TestRefused(t *testing.T) {
	p, _ := provider(t, cloudsim.Config{
		DNS: cloudsim.DNSSettings{Zones: []cloudsim.ZoneSettings{{Name: "denied.com"}, {Name: "reset.com"}}},
		Faults: cloudsim.Faults{Scripted: []cloudsim.Script{
			{Domain: "denied.com", API: "AddDomainRecord", Code: "Forbidden.RAM", Times: 5},
			{Domain: "reset.com", API: "AddDomainRecord", Fault: "reset", Times: 100},
		}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for zone, want := range map[string]bool{"denied.com": true, "reset.com": false} {
		_, err := p.AppendRecords(ctx, zone, []libdns.Record{libdns.TXT{Name: "_acme-challenge", Text: "v"}})
		var r interface{ Refused() bool }
		if err == nil || (errors.As(err, &r) && r.Refused()) != want {
			t.Errorf("%s: %v; refused want %v", zone, err, want)
		}
	}
	if _, err := p.FindZone(ctx, "www.elsewhere.com"); !errors.Is(err, alidns.ErrNoZone) {
		t.Errorf("FindZone outside the zones: %v", err)
	}
}

// TestPaging: the SDK decodes the answer's numbers as json.Number, so
// TotalCount and TTL are read from them: every zone of an account with
// more than a page of zones is found, and the records a lookup finds carry
// their TTL.
func TestPaging(t *testing.T) {
	var zones []cloudsim.ZoneSettings
	for i := range 150 {
		zones = append(zones, cloudsim.ZoneSettings{Name: fmt.Sprintf("zone%03d.com", i)})
	}
	p, sim := provider(t, cloudsim.Config{DNS: cloudsim.DNSSettings{Zones: zones}})
	ctx := context.Background()
	for _, z := range zones {
		got, err := p.FindZone(ctx, "_acme-challenge."+z.Name)
		if err != nil || got != z.Name+"." {
			t.Errorf("FindZone(_acme-challenge.%s) = %q, %v", z.Name, got, err)
		}
	}
	if ok, _ := calls(sim, "DescribeDomains"); ok != 2 {
		t.Errorf("DescribeDomains called %d times, want 2 (two pages, cached)", ok)
	}
	// An ASCII zone, whose punycode is its name, counts once.
	if _, err := p.FindZone(ctx, "www.elsewhere.org"); !errors.Is(err, alidns.ErrNoZone) || !strings.Contains(err.Error(), "(150 zones listed)") {
		t.Errorf("a name in no zone: %v; want ErrNoZone, 150 zones listed", err)
	}
	if _, err := p.AppendRecords(ctx, "zone000.com.", []libdns.Record{libdns.TXT{Name: "_acme-challenge", Text: "v", TTL: 900 * time.Second}}); err != nil {
		t.Fatal(err)
	}
	del, err := p.DeleteRecords(ctx, "zone000.com.", []libdns.Record{libdns.TXT{Name: "_acme-challenge", Text: "v"}})
	if err != nil || len(del) != 1 {
		t.Fatalf("delete by value: %v %v", del, err)
	}
	if ttl := del[0].RR().TTL; ttl != 900*time.Second {
		t.Errorf("deleted record's TTL %v, want 15m0s (the TTL DescribeSubDomainRecords answers)", ttl)
	}
}

// TestGetRecordsPages: DescribeDomainRecords is listed in pages of 500, so
// a zone of 300 records takes one call and one of 700 takes two.
func TestGetRecordsPages(t *testing.T) {
	for _, tc := range []struct {
		records, calls int
	}{{300, 1}, {700, 2}} {
		t.Run(fmt.Sprint(tc.records), func(t *testing.T) {
			p, sim := provider(t, cloudsim.Config{DNS: cloudsim.DNSSettings{Zones: []cloudsim.ZoneSettings{{Name: "example.com"}}}})
			before := len(sim.DNSRecords("example.com"))
			for i := range tc.records {
				if _, err := sim.AddDNSRecord("example.com", fmt.Sprintf("r%03d", i), "TXT", "v", 600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := p.GetRecords(context.Background(), "example.com.")
			if err != nil {
				t.Fatal(err)
			}
			if want := before + tc.records; len(got) != want {
				t.Errorf("GetRecords returned %d records, want %d", len(got), want)
			}
			if ok, _ := calls(sim, "DescribeDomainRecords"); ok != tc.calls {
				t.Errorf("DescribeDomainRecords called %d times, want %d", ok, tc.calls)
			}
		})
	}
}
