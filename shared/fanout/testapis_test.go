package fanout_test

import (
	"slices"
	"testing"

	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/product/all"
)

// TestAPIsAreTheProducts: the APIs the in-memory tests pace are the ones
// the products declare (Set as their planner plans it, Describe among
// their APIs), so that the pacing tested is the pacing of real quotas.
func TestAPIsAreTheProducts(t *testing.T) {
	reg := all.Products()
	for name, apis := range fanout.TestAPIs {
		p, ok := reg.Get(name)
		if !ok {
			t.Errorf("%s is not a product", name)
			continue
		}
		c, err := p.Target(manifest.Target{Product: name, Domain: "www.example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if c.API != apis[0] {
			t.Errorf("%s: the tests' Set API %+v, the product's %+v", name, apis[0], c.API)
		}
		if !slices.Contains(p.APIs(), apis[1]) {
			t.Errorf("%s: the tests' Describe API %+v is not among the product's %+v", name, apis[1], p.APIs())
		}
	}
}
