package manifest

import (
	"github.com/certdrop/certdrop/shared/bundle"
)

// Product names an Alibaba Cloud product: the value of a target's product
// field ("cdn"). What a product takes and does is its package's
// (shared/product), given to Parse as a Catalog.
type Product string

// Manifest is a parsed, validated manifest: which domains of which products
// receive certificates.
type Manifest struct {
	// Path is the file the manifest came from, for messages.
	Path     string
	Version  int
	Defaults Defaults
	// Accounts are the other Alibaba Cloud accounts the targets may name
	// (the accounts section), in file order.
	Accounts []Account
	// Targets holds one entry per (product, domain), in file order, with
	// defaults already applied.
	Targets []Target
	// Certificates are the certificates certdrop renews itself through
	// ACME (the optional certificates section), in file order.
	Certificates []Certificate

	// notices are what Notices returns.
	notices []string
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

// Target is one thing of one product that receives the certificate: a
// domain, for the products whose targets are domains; what the product's
// address fields name (a listener, a site), for the others.
type Target struct {
	// Product is the target's product.
	Product Product
	// Domain is the domain as written in the manifest, for a product whose
	// targets are domains; empty for the others (see Names).
	Domain string
	// Names are, for a product whose targets are not domains (Spec.Address),
	// the names the certificate must cover, as written; nil for the
	// others, whose certificate must cover Domain.
	Names []string
	// Address is, for a product whose targets are not domains, the values
	// of its address fields joined by ":" ("lsn-1", "lb-1:443"); empty for
	// the others, which Domain addresses.
	Address string
	// Region is the target's region where its product takes one (the
	// region field): the region of an OSS bucket, or of VOD's API; empty
	// for the other products.
	Region string
	// Fields holds the values of the product's other target fields (an
	// OSS target's bucket), by name, as written; nil when it has none.
	Fields map[string]string
	// Account names the entry of Manifest.Accounts whose account the
	// target is in; empty for the function's own account.
	Account string
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
	// NoProbe is the resolved probe: false, or a product whose targets
	// are not domains served by name: the target's edge is not probed
	// (ProbeAt).
	NoProbe bool
	// ProbeName is the host a wildcard domain is probed at (probeName);
	// a wildcard without it is not probed.
	ProbeName string
	// Line is the manifest line the domain was written on.
	Line int
}

// Field returns the value of one of the product's target fields ("" when
// the target has none).
func (t Target) Field(name string) string { return t.Fields[name] }

// Where is what the target addresses, as messages name it: Address, else
// Domain.
func (t Target) Where() string {
	if t.Address != "" {
		return t.Address
	}
	return t.Domain
}

// Covered are the names the certificate must cover to be set on the
// target: Names, else Domain.
func (t Target) Covered() []string {
	if t.Names != nil {
		return t.Names
	}
	return []string{t.Domain}
}

// String names the target as messages do: "cdn www.example.com".
func (t Target) String() string { return string(t.Product) + " " + t.Where() }

// Notices are what a person should know about a valid manifest, one line
// each, "file:line: text": a product's Spec.Notice (a deprecated API),
// once per target entry.
func (m *Manifest) Notices() []string { return append([]string(nil), m.notices...) }
