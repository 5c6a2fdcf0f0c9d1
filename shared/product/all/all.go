// Package all is the one place that lists certdrop's products: the top of
// the program (the function, the CLI, tests) builds its registry here. A
// new product is a package under shared/product and one line below.
package all

import (
	"github.com/certdrop/certdrop/shared/product"
	"github.com/certdrop/certdrop/shared/product/alb"
	"github.com/certdrop/certdrop/shared/product/cdn"
	"github.com/certdrop/certdrop/shared/product/clb"
	"github.com/certdrop/certdrop/shared/product/dcdn"
	"github.com/certdrop/certdrop/shared/product/esa"
	"github.com/certdrop/certdrop/shared/product/fc"
	"github.com/certdrop/certdrop/shared/product/live"
	"github.com/certdrop/certdrop/shared/product/nlb"
	"github.com/certdrop/certdrop/shared/product/oss"
	"github.com/certdrop/certdrop/shared/product/vod"
)

// Products returns a registry of every product, in the order reports and
// plans list them.
func Products() *product.Registry {
	return product.New(
		cdn.New(),
		cdn.NewLegacy(),
		vod.New(),
		live.New(),
		dcdn.New(),
		oss.New(),
		alb.New(),
		nlb.New(),
		clb.New(),
		esa.New(),
		fc.New(),
	)
}
