package renew_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/renew"
)

// TestRenewalThroughESA: a certificate with dns: esa for an ESA site whose
// DNS ESA hosts is issued by the CA, which finds the challenge records the
// ESA record API wrote on the emulator's authoritative DNS server; the
// preflight writes and removes its own record first, every record written
// is deleted again, and the calls are ESA's (none to Alibaba Cloud DNS).
// A name on a site connected by CNAME fails before any order (NoDNSZone),
// saying that its DNS is hosted elsewhere, and writes nothing.
func TestRenewalThroughESA(t *testing.T) {
	h := newHarness(t, harnessOpts{
		// cname.test: a site connected by CNAME, its DNS in Alibaba Cloud DNS.
		zones: []cloudsim.ZoneSettings{{Name: "alidns.test"}, {Name: "cname.test"}},
		esaSites: []cloudsim.ESASiteSettings{
			{Name: "esa.test"},
			{Name: "cname.test", AccessType: "CNAME"},
		},
	})
	e := h.engine(nil)
	ok := h.cert("esa.test", "esa.test", "*.esa.test")
	ok.DNS = manifest.DNS{Provider: manifest.DNSESA}
	cname := h.cert("cname.test", "www.cname.test")
	cname.DNS = manifest.DNS{Provider: manifest.DNSESA}

	res := h.run(h.ctx, e, []manifest.Certificate{ok, cname}, renew.RunOptions{})
	slices.SortFunc(res, func(a, b renew.Result) int { return strings.Compare(a.Name, b.Name) })
	if r := res[1]; !r.Renewed || r.Error != nil {
		t.Fatalf("esa.test: %+v", r)
	}
	leaf, _ := h.bundle("esa.test")
	if !slices.Equal(leaf.DNSNames, []string{"esa.test", "*.esa.test"}) {
		t.Errorf("issued for %v", leaf.DNSNames)
	}
	if r := res[0]; r.Renewed || r.Error == nil || r.Error.Code != "NoDNSZone" ||
		!strings.Contains(r.Error.Message, "connected to ESA by CNAME") {
		t.Errorf("cname.test: %+v", r)
	}
	if orders, _ := h.acme("newOrder"); orders != 1 {
		t.Errorf("%d orders, want 1 (cname.test is refused before ordering)", orders)
	}

	created, deleted := map[string]bool{}, map[string]bool{}
	var values []string
	for _, en := range h.sim.Journal().Entries() {
		if en.Service == "alidns" {
			t.Errorf("an Alibaba Cloud DNS call for dns: esa: %s", en.API)
		}
		if en.Service != cloudsim.ProductESA || en.Outcome != "ok" {
			continue
		}
		switch en.API {
		case "CreateRecord":
			created[en.RecordID] = true
			values = append(values, en.Value)
			if en.Domain != "esa.test" || en.RR != "_acme-challenge" || en.RecordType != "TXT" {
				t.Errorf("record written at %s %s %s", en.Domain, en.RR, en.RecordType)
			}
		case "DeleteRecord":
			deleted[en.RecordID] = true
		}
	}
	// One challenge name (the apex and the wildcard share it): the
	// preflight's record and the two challenges'.
	if len(created) != 3 || !strings.HasPrefix(values[0], "certdrop-preflight-") {
		t.Errorf("records written: %d (%v), want 3, the preflight's first", len(created), values)
	}
	for id := range created {
		if !deleted[id] {
			t.Errorf("record %s written and never deleted", id)
		}
	}
	for _, r := range h.sim.DNSRecords("esa.test") {
		if r.Type == "TXT" {
			t.Errorf("TXT record %s left on the site", r.Name())
		}
	}
}

// TestRenewalThroughFlakyESA: throttling and 5xx from ESA's record API are
// retried, a record that reaches the site's name servers only after a
// delay is waited for, and nothing is left behind.
func TestRenewalThroughFlakyESA(t *testing.T) {
	h := newHarness(t, harnessOpts{
		zones:    []cloudsim.ZoneSettings{{Name: "alidns.test"}},
		esaSites: []cloudsim.ESASiteSettings{{Name: "esa.test", Propagation: 300 * time.Millisecond}},
		faults:   cloudsim.Faults{Seed: 11, ThrottleRate: 0.3, ErrorRate: 0.1},
	})
	c := h.cert("flaky", "esa.test", "*.esa.test")
	c.DNS = manifest.DNS{Provider: manifest.DNSESA}
	if r := h.run(h.ctx, h.engine(nil), []manifest.Certificate{c}, renew.RunOptions{})[0]; !r.Renewed {
		t.Fatalf("%+v", r)
	}
	faults := 0
	for _, e := range h.sim.Journal().Entries() {
		if e.Service == cloudsim.ProductESA && e.Fault != "" {
			faults++
		}
	}
	if faults == 0 {
		t.Errorf("no fault was injected: the test proves nothing")
	}
	for _, r := range h.sim.DNSRecords("esa.test") {
		if r.Type == "TXT" {
			t.Errorf("TXT record %s left on the site", r.Name())
		}
	}
}
