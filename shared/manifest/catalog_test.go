package manifest_test

import (
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/product/all"
)

// init gives the package's tests the real products' specs.
func init() { manifest.TestProducts = all.Products().Catalog() }
