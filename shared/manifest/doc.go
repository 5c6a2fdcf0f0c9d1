// Package manifest reads the manifest: which domains of which Alibaba Cloud
// products (CDN, CDN through its legacy API, VOD, Live, DCDN, and the
// custom domains of OSS buckets) receive renewed certificates, and with
// which settings.
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
