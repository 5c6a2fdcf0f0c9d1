package manifest

import "strings"

// ProbeAt returns the name the target's edge is probed at (the SNI) and
// whether it is probed at all: not when the manifest says probe: false,
// not when its product's targets are not domains served by name
// (Spec.NoProbe, Spec.Address), and a wildcard domain only at its
// probeName.
func (t Target) ProbeAt() (string, bool) {
	if t.NoProbe || t.Domain == "" {
		return "", false
	}
	d := strings.ToLower(strings.TrimSuffix(t.Domain, "."))
	if strings.HasPrefix(d, "*.") || strings.HasPrefix(d, ".") {
		return t.ProbeName, t.ProbeName != ""
	}
	return d, true
}

// targetProbe reads a target's probe (over defaults.probe) and probeName.
// A product whose targets are not domains served over TLS by name is
// never probed: probe: true is refused for it.
func (p *parser) targetProbe(f fields, d Defaults, spec *Spec, t *Target) {
	probe := !d.NoProbe
	set := p.boolean(f.value("probe"), "probe", &probe)
	byName := spec != nil && !spec.NoProbe && len(spec.Address) == 0
	if set && probe && spec != nil && !byName {
		p.errorf(f.value("probe"), "probe: true is not possible for %s: its targets are not domains served over TLS by name", spec.Name)
	}
	t.NoProbe = !probe || !byName
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
