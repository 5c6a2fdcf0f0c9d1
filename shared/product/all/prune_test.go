package all_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/cloudsim/cloudsimtest"
	"github.com/certdrop/certdrop/shared/hub"
	"github.com/certdrop/certdrop/shared/manifest"
)

// TestPruneStoresOfEveryProduct: one prune reads the stores of both
// products that keep certificates of their own, each with its own
// targets only: the ESA site's and CLB's server certificates of the
// clb target's region. certdrop's expired certificate is deleted in each,
// the hand-made ones are kept, and a site that does not exist is a
// problem of that store alone. A dry run says the same and deletes
// nothing.
func TestPruneStoresOfEveryProduct(t *testing.T) {
	now := time.Now()
	esaOld := issue(t, now.AddDate(0, -4, 0), now.AddDate(0, 0, -1), "www.example.test")
	esaHand := issue(t, now.AddDate(0, -1, 0), now.AddDate(1, 0, 0), "shop.example.test")
	clbOld := issue(t, now.AddDate(0, -4, 0), now.AddDate(0, 0, -1), "api."+testDomain)
	clbHand := issue(t, now.AddDate(0, -1, 0), now.AddDate(1, 0, 0), "api."+testDomain)
	cfg := lbAccount(t)
	cfg.ESA = cloudsim.ESASettings{Sites: []cloudsim.ESASiteSettings{{Name: "example.test", Certificates: []cloudsim.ESACertSettings{
		{Name: esaOld.certdropName(), Cert: esaOld.pem}, {Name: "manual-shop", Cert: esaHand.pem}}}}}
	cfg.LoadBalancers.ServerCertificates = []cloudsim.SeedServerCert{
		{Region: "cn-hangzhou", Name: clbOld.certdropName(), Cert: clbOld.pem},
		{Region: "cn-hangzhou", Name: "by-hand", Cert: clbHand.pem},
	}
	sim := cloudsimtest.Start(t, cfg)
	c := newClient(t, cloud.Options{Getenv: simEnv(sim)})
	m, err := manifest.Parse("m.yaml", []byte(`version: 1
targets:
  - product: clb
    region: cn-hangzhou
    loadBalancer: lb-1
    port: 443
    domain: api.certdrop.test
  - product: esa
    site: example.test
    domain: www.example.test
  - product: esa
    site: missing.test
    domain: www.missing.test
`), c.Registry().Catalog())
	if err != nil {
		t.Fatal(err)
	}
	storeNames := func(list []hub.PrunedCert) []string {
		var out []string
		for _, p := range list {
			if p.Store != "" {
				out = append(out, p.Store+" "+p.Name)
			}
		}
		slices.Sort(out)
		return out
	}
	wantDeleted := []string{"clb cn-hangzhou " + clbOld.certdropName(), "esa example.test " + esaOld.certdropName()}
	wantKept := []string{"clb cn-hangzhou by-hand", "esa example.test manual-shop"}
	for _, del := range []bool{false, true} {
		res := hub.Prune(context.Background(), c, c, m, hub.PruneOptions{Delete: del, Products: c.Registry()})
		if got := storeNames(res.Deleted); !slices.Equal(got, wantDeleted) {
			t.Errorf("delete=%v: deleted %v; want %v", del, got, wantDeleted)
		}
		if got := storeNames(res.Kept); !slices.Equal(got, wantKept) {
			t.Errorf("delete=%v: kept %v; want %v", del, got, wantKept)
		}
		if len(res.Failed) != 0 {
			t.Errorf("delete=%v: failed %+v", del, res.Failed)
		}
		var stores []string
		for _, p := range res.Problems {
			if strings.HasPrefix(p.Message, "reading the certificates of ") {
				stores = append(stores, p.Message)
			}
		}
		if len(stores) != 1 || !strings.Contains(stores[0], "esa missing.test") || !strings.Contains(stores[0], "nothing there was touched") {
			t.Errorf("delete=%v: the stores' problems %q; want the missing site's alone", del, stores)
		}
		esaLeft, _ := sim.ESACertificates("example.test")
		var clbLeft []string
		for _, sc := range sim.ServerCertificates("cn-hangzhou") {
			clbLeft = append(clbLeft, sc.Name)
		}
		if want := 2 - b2i(del); len(esaLeft) != want || len(clbLeft) != want {
			t.Errorf("delete=%v: the site has %d certificates, CLB %v; want %d each", del, len(esaLeft), clbLeft, want)
		}
		if !slices.Contains(clbLeft, "by-hand") || !slices.ContainsFunc(esaLeft, func(e cloudsim.ESACertificate) bool { return e.Name == "manual-shop" }) {
			t.Errorf("delete=%v: a hand-made certificate was deleted: CLB %v, ESA %+v", del, clbLeft, esaLeft)
		}
	}
}
