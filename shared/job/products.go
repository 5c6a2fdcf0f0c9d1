package job

import (
	"github.com/certdrop/certdrop/shared/product"
	"github.com/certdrop/certdrop/shared/product/all"
)

// products returns the products the function deploys to: every product
// certdrop has (shared/product/all). The manifest is read, and every
// plan made, against them.
func products() *product.Registry { return all.Products() }
