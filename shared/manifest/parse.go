package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/certdrop/certdrop/shared/bundle"
)

// Version is the only manifest version this package reads.
const Version = 1

// DefaultWarnDays is the warnDays of a manifest that does not set it.
const DefaultWarnDays = bundle.DefaultWarnDays

// MaxSize caps a manifest's size in bytes. A manifest lists domains: a
// megabyte of them is a mistake, not a configuration.
const MaxSize = 1 << 20

// MaxTargets caps the domains a manifest may list (after expanding domains
// lists and YAML aliases), which also bounds the work Parse does on hostile
// input.
const MaxTargets = 10000

// maxInt caps warnDays and canary so that every consumer can do arithmetic
// on them without overflow; the schema states the same maximum.
const maxInt = math.MaxInt32

// Field names, as a manifest spells them.
var (
	manifestFields = []string{"version", "defaults", "accounts", "targets", "certificates"}
	defaultsFields = []string{"staging", "allowUntrusted", "warnDays", "canary", "verify", "replace", "delivery", "casRegion", "prune", "probe"}
	// targetHead and targetTail are the fields every target has; the
	// products' own fields go between them.
	targetHead = []string{"product", "domain", "domains"}
	targetTail = []string{"account", "bundle", "staging", "delivery", "casRegion", "probe", "probeName"}
)

// Load reads and parses the manifest at path against products. Problems
// with the content are reported as Errors naming path; a file that cannot
// be read gives the os error, wrapped.
func Load(path string, products Catalog) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return Parse(path, data, products)
}

// Parse parses and validates a manifest; name is the file it came from and
// is used in messages; products are the products its targets may name. It
// returns either a valid Manifest or an error that is Errors: every
// problem found, each with name, line and column.
func Parse(name string, data []byte, products Catalog) (*Manifest, error) {
	p := &parser{file: name, seen: map[Error]bool{}, products: products, noticed: map[int]bool{}}
	p.extra = products.fields()
	p.targetFields = append(append(append([]string{}, targetHead...), p.extra...), targetTail...)
	if len(data) > MaxSize {
		p.add(0, 0, "manifest is larger than %d bytes", MaxSize)
		return nil, p.errs
	}
	m := p.parse(data)
	if len(p.errs) > 0 {
		return nil, p.errs.sorted()
	}
	m.notices = p.notices
	return m, nil
}

// parser collects the errors of one Parse.
type parser struct {
	file string
	errs Errors
	// products are the products targets may name; extra their own target
	// fields, and targetFields every field a target may have.
	products     Catalog
	extra        []string
	targetFields []string
	// notices are the manifest's Notices, one per line of the targets of
	// a product with a Spec.Notice (noticed).
	notices []string
	noticed map[int]bool
	seen    map[Error]bool // errors already reported, so an alias reports once
	// targets maps each (resource, normalised domain) to its first target,
	// to find duplicates.
	targets map[string]Target
	// visited is the domains read so far, against MaxTargets.
	visited int
	// full is set once visited passes MaxTargets: Parse stops expanding.
	full bool
	// targetNodes remembers the target mappings already read, with their
	// line, so a target repeated through an alias is reported, not
	// expanded again.
	targetNodes map[*yaml.Node]int
	// stagingLine is the line of defaults.staging, for the message of a
	// target that inherits staging: true and cannot have it.
	stagingLine int
	// accountNames are the names the accounts section gives, for the
	// targets' account fields.
	accountNames []string
}

// errorf records an error at n's position.
func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	p.add(n.Line, n.Column, format, args...)
}

// add records an error at line and column (0 for unknown), once.
func (p *parser) add(line, col int, format string, args ...any) {
	e := Error{File: p.file, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
	if p.seen[e] {
		return
	}
	p.seen[e] = true
	p.errs = append(p.errs, &e)
}

// syntaxLine matches the position yaml.v3 puts in its syntax errors.
var syntaxLine = regexp.MustCompile(`^yaml: line (\d+): `)

// syntaxError turns a yaml.v3 error into an Error, keeping its line.
func (p *parser) syntaxError(err error) {
	msg := err.Error()
	line := 1 // yaml.v3 leaves the line out when it is the first one
	if m := syntaxLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	p.add(line, 0, "invalid YAML: %s", strings.TrimPrefix(msg, "yaml: "))
}

// parse reads the one YAML document in data as a manifest.
func (p *parser) parse(data []byte) *Manifest {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.add(0, 0, "manifest is empty")
		} else {
			p.syntaxError(err)
		}
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		p.errorf(&next, "a manifest is one YAML document; this is a second one")
	case !errors.Is(err, io.EOF):
		p.syntaxError(err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			p.add(0, 0, "manifest is empty")
			return nil
		}
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" && root.Value == "" {
		// A lone "---": a document with nothing in it.
		p.add(0, 0, "manifest is empty")
		return nil
	}
	return p.manifest(root)
}

// manifest reads the top-level mapping.
func (p *parser) manifest(n *yaml.Node) *Manifest {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "manifest must be a mapping with version and targets, not %s", describe(n))
		return nil
	}
	f := p.fields(n, "manifest", manifestFields)
	m := &Manifest{Path: p.file, Defaults: Defaults{WarnDays: DefaultWarnDays, Replace: ReplaceOlder}}

	if v := f.value("version"); v == nil {
		p.errorf(n, "missing version (this certdrop reads \"version: %d\")", Version)
	} else if ver, ok := p.integer(v, "version"); ok {
		if ver != Version {
			p.errorf(v, "unsupported version %d (this certdrop reads version %d)", ver, Version)
		}
		m.Version = int(ver)
	}

	if v := f.value("defaults"); v != nil {
		p.defaults(v, &m.Defaults)
	}

	if v := f.value("accounts"); v != nil {
		m.Accounts = p.accounts(v)
	}

	if v := f.value("certificates"); v != nil {
		m.Certificates = p.certificates(v)
	}

	v := f.value("targets")
	if v == nil {
		p.errorf(n, "missing targets")
		return m
	}
	list := resolve(v)
	switch {
	case isNull(list) || list.Kind == yaml.SequenceNode && len(list.Content) == 0:
		p.errorf(v, "no targets")
	case list.Kind != yaml.SequenceNode:
		p.errorf(v, "targets must be a list, not %s", describe(list))
	default:
		for _, t := range list.Content {
			m.Targets = append(m.Targets, p.target(t, m.Defaults)...)
			if p.full {
				break
			}
		}
	}
	return m
}

// defaults reads the defaults mapping into d.
func (p *parser) defaults(raw *yaml.Node, d *Defaults) {
	n := resolve(raw)
	if n.Kind != yaml.MappingNode {
		p.errorf(raw, "defaults must be a mapping, not %s", describe(n))
		return
	}
	f := p.fields(n, "defaults", defaultsFields)
	if v := f.value("staging"); v != nil {
		p.boolean(v, "staging", &d.Staging)
		p.stagingLine = v.Line
	}
	p.boolean(f.value("allowUntrusted"), "allowUntrusted", &d.AllowUntrusted)
	p.boolean(f.value("verify"), "verify", &d.Verify)
	p.count(f.value("warnDays"), "warnDays", &d.WarnDays)
	p.count(f.value("canary"), "canary", &d.Canary)
	p.either(f.value("replace"), "replace", &d.Replace, ReplaceOlder, ReplaceAlways)
	p.defaultsDelivery(f, d)
	p.defaultsProbe(f, d)
}

// target reads one entry of targets: one Target per domain it lists.
func (p *parser) target(raw *yaml.Node, d Defaults) []Target {
	n := resolve(raw)
	if n.Kind != yaml.MappingNode {
		p.errorf(raw, "target must be a mapping, not %s", describe(n))
		return nil
	}
	if line, ok := p.targetNodes[n]; ok {
		p.errorf(raw, "this alias repeats the target on line %d, listing its domains twice", line)
		return nil
	}
	if p.targetNodes == nil {
		p.targetNodes = map[*yaml.Node]int{}
	}
	p.targetNodes[n] = n.Line

	f := p.fields(n, "target", p.targetFields)
	t, spec := p.settings(n, f, d)
	out := p.expand(n, t, spec, p.domainNodes(n, f))
	if spec != nil && spec.Notice != "" {
		for _, t := range out {
			if !p.noticed[t.Line] {
				p.noticed[t.Line] = true
				p.notices = append(p.notices, fmt.Sprintf("%s:%d: %s", p.file, t.Line, spec.Notice))
			}
		}
	}
	p.checkProbeName(f, out)
	return out
}

// settings reads everything of a target but its domains; spec is its
// product's, nil when the product is not one of the catalog's.
func (p *parser) settings(n *yaml.Node, f fields, d Defaults) (t Target, spec *Spec) {
	if v := f.value("product"); v == nil {
		p.errorf(n, "target has no product (want %s)", p.products.list())
	} else if s, ok := p.str(v, "product"); ok {
		t.Product = Product(s)
		spec, _ = p.products.spec(t.Product)
		switch names := p.products.names(); {
		case spec != nil:
		case suggest(s, names) != "":
			p.errorf(v, "unknown product %q%s", s, suggest(s, names))
		default:
			p.errorf(v, "unknown product %q (want %s)", s, p.products.list())
		}
	}
	if spec != nil {
		p.productFields(n, f, spec, &t)
	}

	p.targetAccount(f, &t)

	if v := f.value("bundle"); v != nil {
		if s, ok := p.str(v, "bundle"); ok {
			if s == "" {
				p.errorf(v, "bundle must not be empty (leave it out to match every bundle)")
			}
			t.Bundle = s
		}
	}

	// Staging: the target's own setting, else the default. Only a product
	// whose Set API documents Env (Spec.NoStaging empty) can have it; true
	// elsewhere, set on the target or inherited from defaults, is an
	// error: the call would release to production, or be refused. An
	// explicit false is allowed: it states what happens.
	staging := d.Staging
	noEnv := spec != nil && spec.NoStaging != ""
	if v := f.value("staging"); v != nil {
		if p.boolean(v, "staging", &staging) && staging && noEnv {
			p.errorf(v, "staging: true is not possible for %s: %s", t.Product, spec.NoStaging)
		}
	} else if staging && noEnv {
		p.errorf(n, "staging: true (from defaults.staging, line %d) is not possible for %s: %s; set staging: false on this target",
			p.stagingLine, t.Product, spec.NoStaging)
	}
	t.Staging = staging && spec != nil && spec.NoStaging == ""
	p.targetDelivery(n, f, d, spec, &t)
	p.targetProbe(f, d, spec, &t)
	return t, spec
}

// productFields reads the fields a product takes into t (region into
// Region, the others into Fields), and reports the fields of other
// products that t has.
func (p *parser) productFields(n *yaml.Node, f fields, spec *Spec, t *Target) {
	set := func(name, value string) {
		if name == "region" {
			t.Region = value
			return
		}
		if t.Fields == nil {
			t.Fields = map[string]string{}
		}
		t.Fields[name] = value
	}
	for _, name := range p.extra {
		v := f.value(name)
		field, takes := spec.field(name)
		switch {
		case !takes:
			if v != nil {
				p.errorf(f.key(name), "%s is only for %s targets, not %s", name, p.products.takers(name), spec.Name)
			}
		case v == nil:
			if field.Missing != "" {
				p.errorf(n, "%s", field.Missing)
			} else if field.Default != "" {
				set(name, field.Default)
			}
		default:
			s, ok := p.scalar(v, field)
			if !ok {
				continue
			}
			if field.Check != nil {
				if msg := field.Check(s); msg != "" {
					p.errorf(v, "%s", msg)
				}
			}
			set(name, s)
		}
	}
}

// scalar reads a product field's value as its Kind says, as a string.
func (p *parser) scalar(v *yaml.Node, field Field) (string, bool) {
	switch field.Kind {
	case Integer:
		i, ok := p.integer(v, field.Name)
		return strconv.FormatInt(i, 10), ok
	case Boolean:
		var b bool
		ok := p.boolean(v, field.Name, &b)
		return strconv.FormatBool(b), ok
	}
	return p.str(v, field.Name)
}

// domainNodes returns the nodes of a target's domain and domains fields,
// in file order.
func (p *parser) domainNodes(n *yaml.Node, f fields) []*yaml.Node {
	if f.value("domain") == nil && f.value("domains") == nil {
		p.errorf(n, "target has no domain or domains")
	}
	var nodes []*yaml.Node
	for _, e := range f.list {
		switch e.name {
		case "domain":
			nodes = append(nodes, e.value)
		case "domains":
			list := resolve(e.value)
			switch {
			case list.Kind != yaml.SequenceNode:
				p.errorf(e.value, "domains must be a list, not %s", describe(list))
			case len(list.Content) == 0:
				p.errorf(e.value, "domains is empty")
			default:
				nodes = append(nodes, list.Content...)
			}
		}
	}
	return nodes
}

// expand returns the targets of one target entry: for a product whose
// targets are domains, one copy of t per valid domain node; for the
// others, t itself with the valid domains as its Names. Each domain is
// checked and, when the product is known, the targets are checked
// against the earlier ones.
func (p *parser) expand(n *yaml.Node, t Target, spec *Spec, nodes []*yaml.Node) []Target {
	var out []Target
	var names []string
	for _, dn := range nodes {
		if p.visited++; p.visited > MaxTargets {
			p.errorf(dn, "too many domains: a manifest lists at most %d", MaxTargets)
			p.full = true
			break
		}
		s, ok := p.str(dn, "domain")
		if !ok {
			continue
		}
		norm, err := checkDomain(s)
		if err != nil {
			p.errorf(dn, "%v", err)
			continue
		}
		if spec != nil && spec.NoWildcard != "" && strings.HasPrefix(norm, "*.") {
			p.errorf(dn, "%q: %s", s, spec.NoWildcard)
			continue
		}
		if spec != nil && len(spec.Address) > 0 {
			names = append(names, s)
			continue
		}
		t.Domain, t.Line = s, dn.Line
		if spec != nil {
			p.unique(dn, t, spec, norm)
		}
		out = append(out, t)
	}
	if spec == nil || len(spec.Address) == 0 || len(names) == 0 {
		return out
	}
	var addr []string
	for _, name := range spec.Address {
		if v, ok := t.Fields[name]; ok {
			addr = append(addr, v)
		} else if name == "region" {
			addr = append(addr, t.Region)
		}
	}
	t.Names, t.Address, t.Line = names, strings.Join(addr, ":"), n.Line
	if spec.AddressOf != nil {
		t.Address = spec.AddressOf(t)
	}
	if spec.CheckTarget != nil {
		if msg := spec.CheckTarget(t); msg != "" {
			p.errorf(n, "%s", msg)
		}
	}
	p.unique(n, t, spec, t.Address)
	return []Target{t}
}

// unique reports a target whose (product, domain) or (product, address)
// an earlier target already has.
func (p *parser) unique(n *yaml.Node, t Target, spec *Spec, norm string) {
	key := spec.resource() + " " + norm
	first, dup := p.targets[key]
	switch {
	case !dup:
		if p.targets == nil {
			p.targets = map[string]Target{}
		}
		p.targets[key] = t
	case first.Product == t.Product:
		p.errorf(n, "duplicate target: %s %s is already listed on line %d", t.Product, t.Where(), first.Line)
	default:
		p.errorf(n, "%s %s is already a %s target on line %d: both set the certificate of the same %s",
			t.Product, t.Where(), first.Product, first.Line, spec.Resource)
	}
}

// field is one key and its value in a mapping.
type field struct {
	name       string
	key, value *yaml.Node
}

// fields is a mapping's known fields, in file order.
type fields struct{ list []field }

func (f fields) get(name string) (field, bool) {
	for _, e := range f.list {
		if e.name == name {
			return e, true
		}
	}
	return field{}, false
}

// value returns the value of a field, nil when absent.
func (f fields) value(name string) *yaml.Node {
	e, _ := f.get(name)
	return e.value
}

// key returns the key node of a field, nil when absent.
func (f fields) key(name string) *yaml.Node {
	e, _ := f.get(name)
	return e.key
}

// fields reads mapping n (called what in messages), reporting keys that
// are not in allowed, keys set twice, and YAML merge keys.
func (p *parser) fields(n *yaml.Node, what string, allowed []string) fields {
	var f fields
	for i := 0; i+1 < len(n.Content); i += 2 {
		rawKey, value := n.Content[i], n.Content[i+1]
		k := resolve(rawKey)
		switch {
		case k.Kind != yaml.ScalarNode:
			p.errorf(rawKey, "field name must be a string, not %s", describe(k))
			continue
		case k.ShortTag() == "!!merge":
			p.errorf(rawKey, "YAML merge keys (<<) are not supported: write the fields out")
			continue
		}
		name := k.Value
		if !contains(allowed, name) {
			p.errorf(rawKey, "unknown field %q in %s%s", name, what, p.hint(name, what, allowed))
			continue
		}
		if prev, dup := f.get(name); dup {
			p.errorf(rawKey, "field %q is already set on line %d", name, prev.key.Line)
			continue
		}
		f.list = append(f.list, field{name: name, key: rawKey, value: value})
	}
	return f
}

// hint suggests what an unknown field was meant to be.
func (p *parser) hint(name, what string, allowed []string) string {
	if s := suggest(name, allowed); s != "" {
		return s
	}
	if what == "manifest" && contains(defaultsFields, name) {
		return " (it belongs under defaults)"
	}
	if what == "manifest" && (contains(targetHead, name) || contains(targetTail, name) || contains(p.extra, name)) {
		return " (it belongs to an entry of targets)"
	}
	return ""
}

// str reads a string scalar.
func (p *parser) str(raw *yaml.Node, name string) (string, bool) {
	n := resolve(raw)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		p.errorf(raw, "%s must be a string, not %s", name, describe(n))
		return "", false
	}
	return n.Value, true
}

// boolean reads a true/false scalar into dst, if raw is present; it reports
// whether dst was set.
func (p *parser) boolean(raw *yaml.Node, name string, dst *bool) bool {
	if raw == nil {
		return false
	}
	n := resolve(raw)
	var b bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		p.errorf(raw, "%s must be true or false, not %s", name, describe(n))
		return false
	}
	*dst = b
	return true
}

// either reads a string that must be a or b into dst, if raw is present
// (replace, delivery, casRegion).
func (p *parser) either(raw *yaml.Node, name string, dst *string, a, b string) {
	if raw == nil {
		return
	}
	if s, ok := p.str(raw, name); ok {
		if s != a && s != b {
			p.errorf(raw, "%s must be %s or %s, not %q", name, a, b, s)
			return
		}
		*dst = s
	}
}

// count reads a non-negative integer no larger than maxInt into dst, if
// raw is present.
func (p *parser) count(raw *yaml.Node, name string, dst *int) {
	if raw == nil {
		return
	}
	v, ok := p.integer(raw, name)
	switch {
	case !ok:
	case v < 0:
		p.errorf(raw, "%s must not be negative", name)
	case v > maxInt:
		p.errorf(raw, "%s is too large (at most %d)", name, maxInt)
	default:
		*dst = int(v)
	}
}

// integer reads an integer scalar. A number with no fractional part
// ("14.0") counts as an integer, as it does in JSON Schema.
func (p *parser) integer(raw *yaml.Node, name string) (int64, bool) {
	n := resolve(raw)
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!int":
			var v int64
			if n.Decode(&v) == nil {
				return v, true
			}
			p.errorf(raw, "%s is too large", name)
			return 0, false
		case "!!float":
			var f float64
			if n.Decode(&f) == nil && f == math.Trunc(f) && !math.IsInf(f, 0) {
				if math.Abs(f) >= 1<<63 {
					p.errorf(raw, "%s is too large", name)
					return 0, false
				}
				return int64(f), true
			}
			p.errorf(raw, "%s must be an integer, not %s", name, n.Value)
			return 0, false
		}
	}
	p.errorf(raw, "%s must be an integer, not %s", name, describe(n))
	return 0, false
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 10; i++ {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is a YAML null (~, null, or nothing).
func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// describe names the kind of a node for "must be X, not Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch tag := n.ShortTag(); tag {
		case "!!str":
			return "a string"
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "null"
		case "!!timestamp":
			return "a timestamp"
		case "!!binary":
			return "binary data"
		default:
			return "a value tagged " + tag
		}
	}
	return "an unresolved alias"
}

func contains[T comparable](list []T, v T) bool {
	for _, e := range list {
		if e == v {
			return true
		}
	}
	return false
}

// suggest returns ` (did you mean "x"?)` for the candidate closest to word
// when it is close enough to be a typo, or "".
func suggest(word string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		d := distance(strings.ToLower(word), strings.ToLower(c))
		if d < bestDist && d < len(c) {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// distance is the optimal string alignment distance between a and b (the
// Levenshtein distance with a swap of two adjacent letters counted as one
// edit, the commonest typo: "vdo" is one edit from vod, two from cdn),
// counted in bytes; words longer than 64 bytes are never typos of a field
// name.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return math.MaxInt
	}
	prev2 := make([]int, len(b)+1) // row i-2
	prev := make([]int, len(b)+1)  // row i-1
	cur := make([]int, len(b)+1)   // row i
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
