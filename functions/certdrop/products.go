package main

import (
	"github.com/certdrop/certdrop/shared/product"
	"github.com/certdrop/certdrop/shared/product/all"
)

// products returns the products the CLI deploys to: every product
// certdrop has (shared/product/all). Manifests are read, plans made and
// API clients built against them.
func products() *product.Registry { return all.Products() }
