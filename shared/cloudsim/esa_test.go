package cloudsim

import (
	"net/url"
	"strconv"
	"testing"
)

// TestESASetCertificateCASName: a cas certificate set with or without a
// Name carries the given Name, or else the CAS certificate's.
func TestESASetCertificateCASName(t *testing.T) {
	cfg := testConfig()
	cfg.CAS.Certificates = []SeedCASCert{{Name: "cas-shop", Cert: validPair(t, "shop.example.test").cert}}
	cfg.ESA.Sites = []ESASiteSettings{{Name: "example.test", AccessType: "CNAME", CertificateQuota: 5}}
	s := startSim(t, cfg)
	cas := s.CASCertificates(CASRegionHangzhou)
	site, ok := s.ESASiteID("example.test")
	if len(cas) != 1 || !ok {
		t.Fatalf("seeded CAS %v, site %v", cas, ok)
	}
	for _, tt := range []struct{ name, want string }{
		{"", "cas-shop"},
		{"on-site", "on-site"},
	} {
		p := url.Values{"SiteId": {strconv.FormatInt(site, 10)}, "Type": {"cas"}, "CasId": {strconv.FormatInt(cas[0].ID, 10)},
			"Region": {CASRegionHangzhou}, "Name": {tt.name}}
		out, e := s.esaSetCertificate(&call{entry: Entry{RequestID: "R"}}, p)
		if e != nil {
			t.Fatalf("Name %q: %v", tt.name, e)
		}
		id := out.(map[string]any)["Id"]
		certs, _ := s.ESACertificates("example.test")
		var got string
		for _, c := range certs {
			if c.ID == id {
				got = c.Name
			}
		}
		if got != tt.want {
			t.Errorf("Name %q: the site's certificate %v is named %q, want %q", tt.name, id, got, tt.want)
		}
		// The same certificate again is a duplicate: remove it for the next case.
		if _, e := s.esaDeleteCertificate(&call{entry: Entry{RequestID: "R"}}, url.Values{"SiteId": p["SiteId"], "Id": {id.(string)}}); e != nil {
			t.Fatal(e)
		}
	}
}
