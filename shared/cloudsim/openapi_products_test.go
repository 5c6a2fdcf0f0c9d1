package cloudsim

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestProductsRegistry checks what every registered product must declare
// for the gateway to serve it: a name, error answers that name it, an
// endpoint variable, actions with a version, a quota and a handler, and,
// for a product whose targets are domains, what its Set and Describe
// need. buildCatalog panics on a duplicate.
func TestProductsRegistry(t *testing.T) {
	envName := regexp.MustCompile(`^CERTDROP_[A-Z0-9_]+_ENDPOINT$`)
	seenEnv := map[string]string{}
	ci := buildCatalog()
	if len(ci.products) != len(products()) {
		t.Fatalf("catalog holds %d products, products() %d", len(ci.products), len(products()))
	}
	for _, p := range ci.products {
		t.Run(p.name, func(t *testing.T) {
			if p.code == "" || !strings.HasSuffix(p.host, ".aliyuncs.com") {
				t.Errorf("code %q, host %q: error answers would not name the product", p.code, p.host)
			}
			if len(p.env) == 0 {
				t.Error("no endpoint variable: Sim.Env would not point certdrop at it")
			}
			for _, v := range p.env {
				if !envName.MatchString(v) || seenEnv[v] != "" {
					t.Errorf("endpoint variable %q malformed or also %s's", v, seenEnv[v])
				}
				seenEnv[v] = p.name
			}
			if len(p.actions) == 0 {
				t.Fatal("no actions")
			}
			for _, a := range p.actions {
				got, ok, _ := lookupVersion(a.action, a.version)
				if !ok || got.product != p.name || got.version == "" || got.handle == nil {
					t.Errorf("%s: lookup %v, product %q, version %q, handler %v", a.action, ok, got.product, got.version, got.handle != nil)
				}
				if a.quota <= 0 {
					t.Errorf("%s: default quota %v", a.action, a.quota)
				}
			}
			for code, k := range p.errors {
				if k.status < 400 || k.message == "" {
					t.Errorf("code %s: status %d, message %q", code, k.status, k.message)
				}
			}
			for code := range p.messages {
				if _, ok := ci.errors[code]; !ok {
					t.Errorf("message for %s, a code no product defines", code)
				}
			}
			if d := p.domains; d != nil {
				if d.configured == nil || d.describe == nil {
					t.Fatal("domain product without configured or describe")
				}
				if e := newAPIError(p.name, d.offline); e.status != http.StatusBadRequest || e.message == d.offline {
					t.Errorf("offline code %q is not a defined code: %v", d.offline, e)
				}
			}
		})
	}
}

// TestErrorAnswerNamesTheProduct: an error answer's HostId and Recommend
// name the product called, the CAS region's host on its endpoint, and
// the CDN's host when no product is known.
func TestErrorAnswerNamesTheProduct(t *testing.T) {
	s := &Sim{}
	for _, tt := range []struct {
		product, region, host, code string
	}{
		{ProductCDN, CASRegionHangzhou, "cdn.aliyuncs.com", "Cdn"},
		{ProductVOD, CASRegionHangzhou, "vod.cn-shanghai.aliyuncs.com", "vod"},
		{ProductLive, CASRegionHangzhou, "live.aliyuncs.com", "live"},
		{ProductDCDN, CASRegionHangzhou, "dcdn.aliyuncs.com", "dcdn"},
		{ProductDNS, CASRegionHangzhou, "alidns.aliyuncs.com", "Alidns"},
		{ProductCAS, CASRegionHangzhou, "cas.aliyuncs.com", "cas"},
		{ProductCAS, CASRegionSingapore, "cas.ap-southeast-1.aliyuncs.com", "cas"},
		{"", CASRegionSingapore, gatewayHostID, ""},
	} {
		c := &call{product: tt.product, region: tt.region, entry: Entry{RequestID: "R"}}
		b := s.errorBody(c, newAPIError(tt.product, "InvalidVersion"))
		if b["HostId"] != tt.host || !strings.HasSuffix(b["Recommend"], "&product="+tt.code+"&requestId=R") {
			t.Errorf("%s in %s: HostId %s, Recommend %s", tt.product, tt.region, b["HostId"], b["Recommend"])
		}
	}
}
