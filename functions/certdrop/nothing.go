package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
)

// maxListed is the most manifest targets a message lists.
const maxListed = 10

// printNothingCovered says, as plan does, why a plan has no call: the
// certificate's names, the targets bound to the bundle that it does not
// cover, and (some of) the manifest's targets, which it does not cover
// either.
func printNothingCovered(w io.Writer, cmd string, p *plan.Plan, m *manifest.Manifest) {
	fmt.Fprintf(w, "certdrop %s: no target in the manifest is covered by this certificate: nothing to deploy.\n", cmd)
	fmt.Fprintf(w, "  the certificate names: %s\n", strings.Join(p.Bundle.SANs, ", "))
	if len(p.NotCovered) > 0 {
		fmt.Fprintln(w, "  not covered (bound to this bundle, but the certificate does not name them):")
		for _, c := range p.NotCovered {
			t := c.Target
			fmt.Fprintf(w, "    %-10s %s (manifest line %d)\n", t.Product, t.Where(), t.Line)
		}
		return
	}
	fmt.Fprintf(w, "  the manifest %s has %d target(s):", m.Path, len(m.Targets))
	var names []string
	for i, t := range m.Targets {
		if i == maxListed {
			names = append(names, fmt.Sprintf("and %d more", len(m.Targets)-maxListed))
			break
		}
		names = append(names, string(t.Product)+" "+t.Domain)
	}
	fmt.Fprintf(w, " %s\n", strings.Join(names, ", "))
}
