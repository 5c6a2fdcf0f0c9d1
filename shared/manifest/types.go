package manifest

import (
	"fmt"

	"github.com/certdrop/certdrop/shared/bundle"
)

// Product names an Alibaba Cloud product and the API certdrop calls on it.
type Product string

// The products a target can name.
const (
	// CDN is Alibaba Cloud CDN through SetCdnDomainSSLCertificate.
	CDN Product = "cdn"
	// CDNLegacy is Alibaba Cloud CDN through the older
	// SetDomainServerCertificate (10 calls/s), which the vendor has
	// deprecated (Manifest.Notices says so): cdn is its successor.
	CDNLegacy Product = "cdn-legacy"
	// VOD is ApsaraVideo VOD through SetVodDomainSSLCertificate.
	VOD Product = "vod"
	// Live is ApsaraVideo Live through SetLiveDomainCertificate.
	Live Product = "live"
	// DCDN is Edge Security Acceleration (formerly Dynamic Route for CDN)
	// through SetDcdnDomainSSLCertificate.
	DCDN Product = "dcdn"
	// OSS is the certificate of an OSS bucket's custom domain (CNAME),
	// through PutCname with a certificate configuration. Its targets name
	// the bucket and its region.
	OSS Product = "oss"
)

// Products lists every product, in the order reports group them.
func Products() []Product { return []Product{CDN, CDNLegacy, VOD, Live, DCDN, OSS} }

// HasEnv reports whether the product's Set API documents Env=staging: vod
// only. The current references of SetCdnDomainSSLCertificate and
// SetDcdnDomainSSLCertificate have no Env parameter (their SDKs dropped
// it: CDN in v8.0.0, DCDN in v4.0.0), nor have Live's, the legacy CDN
// operation's or OSS's PutCname.
func (p Product) HasEnv() bool { return p == VOD }

// HasRegion reports whether the product's targets name a region: vod
// (optional, two regions) and oss (required: the bucket's region).
func (p Product) HasRegion() bool { return p == VOD || p == OSS }

// VOD regions a target may name.
const (
	VODRegionShanghai  = "cn-shanghai"
	VODRegionSingapore = "ap-southeast-1"
)

// Manifest is a parsed, validated manifest: which domains of which products
// receive certificates.
type Manifest struct {
	// Path is the file the manifest came from, for messages.
	Path     string
	Version  int
	Defaults Defaults
	// Targets holds one entry per (product, domain), in file order, with
	// defaults already applied.
	Targets []Target
	// Certificates are the certificates certdrop renews itself through
	// ACME (the optional certificates section), in file order.
	Certificates []Certificate
}

// Defaults apply to every target unless the target overrides them.
type Defaults struct {
	// Staging sends Env=staging where the API has it (vod).
	Staging bool `json:"staging"`
	// AllowUntrusted lets a chain that does not verify be deployed.
	AllowUntrusted bool `json:"allowUntrusted"`
	// WarnDays: warn when fewer days than this remain on the certificate.
	// A manifest that leaves it out gets DefaultWarnDays; 0 turns the
	// warning off (see BundleOptions).
	WarnDays int `json:"warnDays"`
	// Canary: deploy this many targets first and confirm them before the rest.
	Canary int `json:"canary"`
	// Verify: confirm every target by Describe after its Set.
	Verify bool `json:"verify"`
	// Replace says which certificate a domain may lose: ReplaceOlder (the
	// default) replaces one issued before the new certificate and skips a
	// domain carrying one issued later (skipped_newer, reported);
	// ReplaceAlways replaces whatever the domain carries.
	Replace string `json:"replace"`
	// Delivery is how targets receive certificates unless they say
	// otherwise: DeliveryUpload (empty, the default) or DeliveryCAS.
	Delivery string `json:"delivery"`
	// CASRegion is the Certificate Management Service region CAS delivery
	// uploads to: cn-hangzhou (empty, the default) or ap-southeast-1.
	CASRegion string `json:"casRegion"`
	// Prune lets the daily timer delete certdrop's own certificates from
	// CAS that have expired, or that no target carries and are older than
	// the newest two of the same names (as certdrop prune --yes does).
	Prune bool `json:"prune"`
	// NoProbe is probe: false: no target's edge is probed over TLS
	// unless the target says probe: true.
	NoProbe bool `json:"noProbe,omitempty"`
}

// Replace settings.
const (
	ReplaceOlder  = "older"
	ReplaceAlways = "always"
)

// BundleOptions returns the bundle validation settings the defaults ask
// for: AllowUntrusted, and WarnDays (0 and negative values both turn the
// warning off in bundle.Options, as warnDays: 0 does here). Callers add
// the clock and the roots.
func (d Defaults) BundleOptions() bundle.Options {
	o := bundle.Options{WarnDays: d.WarnDays, AllowUntrusted: d.AllowUntrusted}
	if d.WarnDays == 0 {
		o.WarnDays = -1
	}
	return o
}

// Target is one domain of one product.
type Target struct {
	Product Product
	// Domain is the domain as written in the manifest.
	Domain string
	// Region is the VOD region (cn-shanghai or ap-southeast-1), or the
	// region of an OSS target's bucket (cn-hangzhou, say); empty for the
	// other products.
	Region string
	// Bucket is the OSS bucket whose custom domain Domain is; oss only.
	Bucket string
	// Bundle, when set, restricts the target to bundles whose object key
	// starts with it.
	Bundle string
	// Staging is the resolved Env=staging setting.
	Staging bool
	// Delivery is DeliveryCAS or empty (upload), the defaults applied; see
	// CAS.
	Delivery string
	// CASRegion is the CAS region of a cas target's certificate, empty
	// for cn-hangzhou; see CertRegion.
	CASRegion string
	// NoProbe is the resolved probe: false: the target's edge is not
	// probed (ProbeAt).
	NoProbe bool
	// ProbeName is the host a wildcard domain is probed at (probeName);
	// a wildcard without it is not probed.
	ProbeName string
	// Line is the manifest line the domain was written on.
	Line int
}

// String names the target as messages do: "cdn www.example.com".
func (t Target) String() string { return string(t.Product) + " " + t.Domain }

// OSSRegionPattern is the form of an OSS region ID (cn-hangzhou,
// ap-southeast-1, eu-central-1): the manifest and the schema check it.
const OSSRegionPattern = `^[a-z]{2,4}(-[a-z0-9]{1,16}){1,4}$`

// BucketPattern is OSS's bucket naming rule: 3 to 63 lower-case letters,
// digits and hyphens, starting and ending with a letter or digit.
const BucketPattern = `^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`

// LegacyNotice says why a cdn-legacy target should move to cdn.
const LegacyNotice = "product cdn-legacy calls SetDomainServerCertificate, which the vendor has deprecated " +
	"(removed from the CDN SDK in v6.0.0; its reference page points to SetCdnDomainSSLCertificate): " +
	"certdrop still calls it as its reference documents it, but move the target to product: cdn"

// Notices are what a person should know about a valid manifest, one line
// each, "file:line: text": the deprecated cdn-legacy product, once per
// target entry.
func (m *Manifest) Notices() []string {
	var out []string
	seen := map[int]bool{}
	for _, t := range m.Targets {
		if t.Product == CDNLegacy && !seen[t.Line] {
			seen[t.Line] = true
			out = append(out, fmt.Sprintf("%s:%d: %s", m.Path, t.Line, LegacyNotice))
		}
	}
	return out
}
