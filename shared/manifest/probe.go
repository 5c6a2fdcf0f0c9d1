package manifest

import "strings"

// ServedByName reports whether the product's targets are domains served
// over TLS by name (SNI), so that probing the domain shows the certificate
// its edge serves: every product certdrop deploys to today. A product
// whose targets are not (a load balancer's listener, say) returns false
// and its targets are never probed.
func (p Product) ServedByName() bool {
	switch p {
	case CDN, CDNLegacy, VOD, Live, DCDN, OSS:
		return true
	}
	return false
}

// ProbeAt returns the name the target's edge is probed at (the SNI) and
// whether it is probed at all: not when the manifest says probe: false,
// not when its product is not served by name, and a wildcard domain only
// at its probeName.
func (t Target) ProbeAt() (string, bool) {
	if t.NoProbe || !t.Product.ServedByName() {
		return "", false
	}
	d := strings.ToLower(strings.TrimSuffix(t.Domain, "."))
	if strings.HasPrefix(d, "*.") || strings.HasPrefix(d, ".") {
		return t.ProbeName, t.ProbeName != ""
	}
	return d, true
}

// targetProbe reads a target's probe (over defaults.probe) and probeName.
func (p *parser) targetProbe(f fields, d Defaults, t *Target) {
	probe := !d.NoProbe
	p.boolean(f.value("probe"), "probe", &probe)
	t.NoProbe = !probe
	v := f.value("probeName")
	if v == nil {
		return
	}
	s, ok := p.str(v, "probeName")
	if !ok {
		return
	}
	norm, err := checkDomain(s)
	switch {
	case err != nil:
		p.errorf(v, "probeName: %v", err)
	case strings.HasPrefix(norm, "*."):
		p.errorf(v, "probeName %q is a wildcard: name one host the wildcard covers (an edge cannot be asked for a wildcard)", s)
	default:
		t.ProbeName = norm
	}
}

// checkProbeName refuses a probeName on a target entry without a wildcard
// domain, and one a wildcard domain of the entry does not cover.
func (p *parser) checkProbeName(f fields, ts []Target) {
	v := f.value("probeName")
	if v == nil || len(ts) == 0 || ts[0].ProbeName == "" {
		return
	}
	name := ts[0].ProbeName
	wild := 0
	for _, t := range ts {
		d, err := checkDomain(t.Domain)
		if err != nil || !strings.HasPrefix(d, "*.") {
			continue
		}
		wild++
		if !coversOne(d, name) {
			p.errorf(v, "probeName %q is not covered by %s (line %d): name a host one label under it", name, t.Domain, t.Line)
		}
	}
	if wild == 0 {
		p.errorf(v, "probeName is only for wildcard domains: every other domain is probed at itself")
	}
}

// coversOne reports whether the wildcard *.parent covers name: one label
// under parent.
func coversOne(wildcard, name string) bool {
	parent := strings.TrimPrefix(wildcard, "*")
	label, ok := strings.CutSuffix(name, parent)
	return ok && label != "" && !strings.Contains(label, ".")
}

// defaultsProbe reads defaults.probe.
func (p *parser) defaultsProbe(f fields, d *Defaults) {
	probe := true
	if p.boolean(f.value("probe"), "probe", &probe) {
		d.NoProbe = !probe
	}
}
