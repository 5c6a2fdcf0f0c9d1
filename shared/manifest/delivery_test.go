package manifest

import (
	"path/filepath"
	"testing"
)

// TestDeliveryCASManifest checks how testdata/manifests/cas.yaml resolves:
// the defaults' delivery and casRegion reach every target that does not
// say otherwise, and a target's own setting wins.
func TestDeliveryCASManifest(t *testing.T) {
	m, err := loadTest(filepath.Join(manifestsDir, "cas.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Defaults.Delivery != DeliveryCAS || !m.Defaults.Prune || m.Defaults.CASRegion != "" {
		t.Errorf("Defaults = %+v; want delivery cas, prune, casRegion cn-hangzhou (empty)", m.Defaults)
	}
	want := []struct {
		domain string
		cas    bool
		region string
	}{
		{"www.example.com", true, CASRegionMainland},
		{"img.example.com", true, CASRegionMainland},
		{"intl.example.com", true, CASRegionInternational},
		{"vod.example.com", true, CASRegionMainland},
		{"pull.example.com", true, CASRegionMainland},
		{"old.example.com", false, CASRegionMainland},
	}
	if len(m.Targets) != len(want) {
		t.Fatalf("%d targets; want %d", len(m.Targets), len(want))
	}
	for i, w := range want {
		got := m.Targets[i]
		if got.Domain != w.domain || got.CAS() != w.cas || got.CertRegion() != w.region {
			t.Errorf("target %d = %s cas=%t region=%s; want %s cas=%t region=%s",
				i, got.Domain, got.CAS(), got.CertRegion(), w.domain, w.cas, w.region)
		}
	}
}

// TestDeliveryDefaultsUnchanged: a manifest without the new fields parses
// to upload delivery everywhere, with the zero values it always had.
func TestDeliveryDefaultsUnchanged(t *testing.T) {
	m, err := parseTest("m.yaml", []byte("version: 1\ntargets:\n  - {product: live, domain: pull.example.com}\n"))
	if err != nil {
		t.Fatal(err)
	}
	tg := m.Targets[0]
	if tg.CAS() || tg.Delivery != "" || tg.CASRegion != "" || m.Defaults.Prune {
		t.Errorf("target = %+v, defaults = %+v; want upload, no prune", tg, m.Defaults)
	}
}
