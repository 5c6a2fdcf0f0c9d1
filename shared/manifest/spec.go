package manifest

import (
	"strings"
)

// Spec is what the manifest knows of one product: its name and what its
// targets take and refuse. Each product's package declares its own Spec
// (shared/product); Parse reads targets against the Catalog it is given,
// so that this package names no product.
type Spec struct {
	// Name is the product's value of a target's product field.
	Name Product
	// Fields are the target fields the product takes besides the ones
	// every target has (product, domain, domains, bundle, staging,
	// delivery, casRegion), in the order they are checked. A field named
	// region fills Target.Region; the others Target.Fields.
	Fields []Field
	// Address, when set, names the fields that identify what a target
	// addresses (a listener; a load balancer and a port; a site), for a
	// product whose targets are not domains: a target entry is then one
	// Target whose domain and domains are the names its certificate must
	// cover (Target.Names). When empty, every domain a target entry lists
	// is a Target of its own.
	Address []string
	// Resource names what a target's Set changes when two products change
	// the same thing ("CDN domain" for cdn and cdn-legacy): a domain
	// listed under both is a conflict, not two targets. Empty: the
	// product's own.
	Resource string
	// NoStaging says why the product's targets cannot have staging: true;
	// empty when its Set API takes Env=staging.
	NoStaging string
	// NoWildcard says why a target's domain cannot be a wildcard; empty
	// when it can.
	NoWildcard string
	// CASByName says that the product's Set API takes a certificate in
	// Certificate Management Service by its name only, which CAS looks up
	// in cn-hangzhou: casRegion ap-southeast-1 is refused for its targets.
	CASByName bool
	// Notice is what a person should know about every target of the
	// product (a deprecated API); Notices says it once per target entry.
	Notice string
	// CASOnly, when set, says why the product's targets receive their
	// certificate by reference to Certificate Management Service only
	// (its Set API takes no certificate body): their delivery is cas
	// whatever the defaults say, and delivery: upload on such a target
	// is an error.
	CASOnly string
	// CASRegionOf, when set, gives the CAS region a target's
	// certificate goes to from the target's region (a load balancer in
	// the Chinese mainland takes certificates from cn-hangzhou, one
	// elsewhere from ap-southeast-1), unless the target sets casRegion
	// itself.
	CASRegionOf func(region string) string
	// AddressOf, when set, computes a target's Address from the target
	// (its fields, region and names) in place of the address fields
	// joined by ":": a listener's default certificate and each of its
	// additional certificates are then distinct targets.
	AddressOf func(t Target) string
	// CheckTarget, when set, says what is wrong with a target whose
	// fields and names were read (a domain extension takes exactly one
	// name), at the target entry's line; "" when nothing.
	CheckTarget func(t Target) string
	// NoProbe says that the product's targets are not served over TLS
	// by their domain name (SNI), so that probing the domain would not
	// show what the target serves: they are never probed. A product whose
	// targets are not domains (Address) is never probed either.
	NoProbe bool
}

// FieldKind is the YAML type of a product's target field.
type FieldKind int

// Field kinds. A value is kept as a string whatever its kind: "443",
// "true".
const (
	// String is a YAML string.
	String FieldKind = iota
	// Integer is a YAML integer.
	Integer
	// Boolean is true or false.
	Boolean
)

// Field is one target field a product takes.
type Field struct {
	// Name is the field as a manifest spells it: "bucket".
	Name string
	// Kind is its YAML type.
	Kind FieldKind
	// Missing is the error of a target that leaves the field out; empty
	// for an optional field.
	Missing string
	// Default is the value of an optional field left out; empty for none.
	Default string
	// Check, when set, returns what is wrong with a value ("" when
	// nothing), said at the value's line and column.
	Check func(value string) string
}

// Catalog is the products a manifest may name, in the order reports and
// plans list them.
type Catalog []Spec

// spec returns the Spec of the named product.
func (c Catalog) spec(name Product) (*Spec, bool) {
	for i := range c {
		if c[i].Name == name {
			return &c[i], true
		}
	}
	return nil, false
}

// names lists the product names.
func (c Catalog) names() []string {
	out := make([]string, len(c))
	for i, s := range c {
		out[i] = string(s.Name)
	}
	return out
}

// list is "cdn, cdn-legacy, vod, live, dcdn or oss".
func (c Catalog) list() string { return join(c.names(), "or") }

// fields returns the product fields of every product, each once, in the
// order the catalog first names them.
func (c Catalog) fields() []string {
	var out []string
	for _, s := range c {
		for _, f := range s.Fields {
			if !contains(out, f.Name) {
				out = append(out, f.Name)
			}
		}
	}
	return out
}

// takers is "vod and oss": the products whose targets take field.
func (c Catalog) takers(field string) string {
	var out []string
	for _, s := range c {
		if _, ok := s.field(field); ok {
			out = append(out, string(s.Name))
		}
	}
	return join(out, "and")
}

// field returns the product's spec of a field.
func (s *Spec) field(name string) (Field, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// resource is the key under which duplicate targets are found.
func (s *Spec) resource() string {
	if s.Resource != "" {
		return s.Resource
	}
	return string(s.Name)
}

// join is "a", "a and b", "a, b and c" (with "or" in place of "and" as
// asked).
func join(words []string, and string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " " + and + " " + words[len(words)-1]
}
