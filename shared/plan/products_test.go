package plan

import "github.com/certdrop/certdrop/shared/manifest"

// The planner plans nothing of its own: its tests plan with the real
// products (shared/product/all), which import this package, so that an
// external test file (registry_test.go) sets TestProducts before the
// tests run.

// TestProducts are the products the package's tests plan with.
var TestProducts Products

// The products' names, as the tests write them.
const (
	CDN       manifest.Product = "cdn"
	CDNLegacy manifest.Product = "cdn-legacy"
	VOD       manifest.Product = "vod"
	Live      manifest.Product = "live"
	DCDN      manifest.Product = "dcdn"
	OSS       manifest.Product = "oss"
)
