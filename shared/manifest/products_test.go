package manifest

// The manifest names no product: its tests parse against the real
// products' specs (shared/product/all), which import this package, so
// that an external test file (catalog_test.go) sets TestProducts before
// the tests run.

// TestProducts is the catalog the package's tests parse against: every
// product of shared/product/all.
var TestProducts Catalog

// parseTest is Parse against TestProducts.
func parseTest(name string, data []byte) (*Manifest, error) { return Parse(name, data, TestProducts) }

// loadTest is Load against TestProducts.
func loadTest(path string) (*Manifest, error) { return Load(path, TestProducts) }

// The products' names and VOD's regions, as the tests write them.
const (
	CDN       Product = "cdn"
	CDNLegacy Product = "cdn-legacy"
	VOD       Product = "vod"
	Live      Product = "live"
	DCDN      Product = "dcdn"
	OSS       Product = "oss"

	VODRegionShanghai  = "cn-shanghai"
	VODRegionSingapore = "ap-southeast-1"
)
