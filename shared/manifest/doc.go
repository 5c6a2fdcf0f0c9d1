// Package manifest reads the manifest: which targets of which Alibaba Cloud
// products receive renewed certificates, and with which settings. The
// manifest names no product itself: Parse reads targets against a Catalog
// of product specs (each product's package under shared/product declares
// its own: the fields its targets take, and their checks).
//
// A manifest is YAML (and so also JSON), versioned:
//
//	version: 1
//	defaults:
//	  staging: false
//	  warnDays: 14
//	targets:
//	  - product: cdn
//	    domains: [www.example.com, "*.example.com"]
//	  - product: vod
//	    domain: vod.example.com
//	    region: ap-southeast-1
//	  - product: oss
//	    domain: static.example.com
//	    bucket: example-static
//	    region: cn-hangzhou
//
// Parse checks the whole file and reports every problem it finds, each with
// its file, line and column, so that a typo is an error rather than a
// setting silently ignored. Schema returns a JSON Schema of the same format
// for editors.
package manifest
