package plan_test

import (
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product/all"
)

// init gives the package's tests the real products.
func init() { plan.TestProducts = all.Products() }
