package manifest

import "gopkg.in/yaml.v3"

// Deliveries: how a target receives its certificate.
const (
	// DeliveryUpload sends the certificate and its private key with every
	// Set call (CertType=upload): nothing is kept anywhere but on the
	// domain. The default.
	DeliveryUpload = "upload"
	// DeliveryCAS uploads the certificate once per CAS region to
	// Certificate Management Service and sets each target by reference
	// (CertType=cas with CertId and CertRegion, or the name where the API
	// takes only a name): the key leaves certdrop once per region, and the
	// previous certificates stay in CAS to roll back to.
	DeliveryCAS = "cas"
)

// CAS regions: Certificate Management Service keeps certificates in the
// Chinese mainland (cn-hangzhou) or internationally (ap-southeast-1), the
// two values every Set API's CertRegion takes.
const (
	CASRegionMainland      = "cn-hangzhou"
	CASRegionInternational = "ap-southeast-1"
)

// CASRegions lists the CAS regions.
func CASRegions() []string { return []string{CASRegionMainland, CASRegionInternational} }

// delivery reads a delivery field: upload or cas.
func (p *parser) delivery(v *yaml.Node, dst *string) {
	p.either(v, "delivery", dst, DeliveryUpload, DeliveryCAS)
}

// casRegion reads a casRegion field: cn-hangzhou or ap-southeast-1.
func (p *parser) casRegion(v *yaml.Node, dst *string) {
	p.either(v, "casRegion", dst, CASRegionMainland, CASRegionInternational)
}

// defaultsDelivery reads the defaults' delivery, casRegion and prune.
func (p *parser) defaultsDelivery(f fields, d *Defaults) {
	p.delivery(f.value("delivery"), &d.Delivery)
	if d.Delivery == DeliveryUpload {
		d.Delivery = ""
	}
	p.casRegion(f.value("casRegion"), &d.CASRegion)
	if d.CASRegion == CASRegionMainland {
		d.CASRegion = ""
	}
	p.boolean(f.value("prune"), "prune", &d.Prune)
}

// targetDelivery reads a target's delivery and casRegion over the
// defaults. A CAS region other than cn-hangzhou is refused for a product
// whose API takes a CAS certificate by name only (Spec.CASByName): CAS
// would look the name up in cn-hangzhou, where the certificate is not.
func (p *parser) targetDelivery(n *yaml.Node, f fields, d Defaults, spec *Spec, t *Target) {
	t.Delivery, t.CASRegion = d.Delivery, d.CASRegion
	p.delivery(f.value("delivery"), &t.Delivery)
	p.casRegion(f.value("casRegion"), &t.CASRegion)
	// The defaults are kept as the zero values, so that a manifest
	// without these fields parses to the same Manifest as one that gives
	// the defaults.
	if t.Delivery == DeliveryUpload {
		t.Delivery = ""
	}
	if t.CASRegion == CASRegionMainland {
		t.CASRegion = ""
	}
	if spec != nil && spec.CASOnly != "" {
		if v := f.value("delivery"); v != nil && t.Delivery == "" {
			p.errorf(v, "delivery: %s is not possible for %s: %s (leave delivery out, or set it to %s)",
				DeliveryUpload, t.Product, spec.CASOnly, DeliveryCAS)
		}
		t.Delivery = DeliveryCAS
	}
	if spec != nil && spec.CASRegionOf != nil && f.value("casRegion") == nil && t.Region != "" {
		// The target's region decides, not defaults.casRegion.
		t.CASRegion = spec.CASRegionOf(t.Region)
		if t.CASRegion == CASRegionMainland {
			t.CASRegion = ""
		}
	}
	if spec != nil && t.CAS() && t.CertRegion() != CASRegionMainland && spec.CASByName {
		at := f.value("casRegion")
		if at == nil {
			at = n
		}
		p.errorf(at, "casRegion %s is not possible for %s: its API takes a CAS certificate by name only, which CAS looks up in %s (set casRegion: %s on this target, or delivery: %s)",
			t.CertRegion(), t.Product, CASRegionMainland, CASRegionMainland, DeliveryUpload)
	}
}

// CAS reports whether the target receives its certificate by reference
// from Certificate Management Service (delivery: cas).
func (t Target) CAS() bool { return t.Delivery == DeliveryCAS }

// CertRegion returns the target's CAS region: CASRegion, else
// cn-hangzhou.
func (t Target) CertRegion() string {
	if t.CASRegion == "" {
		return CASRegionMainland
	}
	return t.CASRegion
}
