package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
)

// planOutputs is what `certdrop plan --json` prints, one object whatever
// the number of bundles.
type planOutputs struct {
	// Bundles holds one plan per valid bundle the files form.
	Bundles []planOutput `json:"bundles"`
	// Warnings are about the files as a whole (a certificate ignored,
	// and why); each plan has its bundle's own.
	Warnings []string `json:"warnings"`
	// Problems say what formed no valid bundle, one line each; plan then
	// exits 2.
	Problems []string `json:"problems"`
}

// planOutput is one bundle's plan in plan's output.
type planOutput struct {
	Bundle       bundle.Identity   `json:"bundle"`
	Sources      []string          `json:"sources"`
	ObjectKey    string            `json:"objectKey,omitempty"`
	CertName     string            `json:"certName"`
	Warnings     []string          `json:"warnings"`
	Notices      []string          `json:"notices"`
	Calls        []planCall        `json:"calls"`
	NotCovered   []planTarget      `json:"notCovered"`
	LowerBoundMs int64             `json:"lowerBoundMs"`
	Quotas       map[string]string `json:"quotas"`
}

type planCall struct {
	Product  manifest.Product `json:"product"`
	Domain   string           `json:"domain"`
	Action   string           `json:"action"`
	Version  string           `json:"version"`
	Endpoint string           `json:"endpoint"`
	Params   []plan.Param     `json:"params"`
}

type planTarget struct {
	Product manifest.Product `json:"product"`
	Domain  string           `json:"domain"`
	Line    int              `json:"line"`
}

// bundleHeading names one of several bundles and the files that formed it.
func bundleHeading(i, n int, b *bundle.Bundle) string {
	return fmt.Sprintf("== bundle %d of %d: %s, from %s", i+1, n, b.Identity().CommonName, strings.Join(b.Sources, ", "))
}

func runPlan(ctx context.Context, c *cli, args []string) int {
	fs := newFlagSet("plan", "--bundle FILE|DIR... --manifest FILE [--key OBJECT-KEY] [--trust-roots FILE] [--json]",
		"Shows the API calls certdrop would make to deploy a bundle to the manifest's targets,\n"+
			"grouped by product, with secrets redacted, and the shortest time the documented quotas allow.\n"+
			"Nothing is called. Exit 0 on success, 2 for bad input.", c)
	var bundles multiFlag
	fs.Var(&bundles, "bundle", "a bundle `FILE|DIR` (repeatable; extra arguments count too)")
	manifestPath := fs.String("manifest", "", "the manifest `FILE` (YAML or JSON)")
	key := fs.String("key", "", "the OSS `OBJECT-KEY` the bundle came from, to apply targets' bundle: prefixes")
	roots := fs.String("trust-roots", "", "a PEM `FILE` of extra trusted roots (private CA)")
	asJSON := fs.Bool("json", false, "print the plan as JSON")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
	}
	bundles = append(bundles, rest...)
	if len(bundles) == 0 || *manifestPath == "" {
		return usageError(c, "plan", "--bundle and --manifest are required")
	}
	in, err := loadInput(ctx, bundles, *manifestPath, *roots)
	if err != nil {
		fmt.Fprintf(c.stderr, "certdrop plan: %v\n", err)
		return exitUsage
	}
	var plans []*plan.Plan
	var outs []planOutput
	for _, b := range in.bundles {
		p, err := plan.Build(b, in.manifest, *key, products())
		if err != nil {
			fmt.Fprintf(c.stderr, "certdrop plan: %v\n", err)
			return exitUsage
		}
		out, err := planOutputOf(p, *key, b.Warnings, c.getenv)
		if err != nil {
			fmt.Fprintf(c.stderr, "certdrop plan: %v\n", err)
			return exitUsage
		}
		out.Notices = append(out.Notices, in.manifest.Notices()...)
		plans, outs = append(plans, p), append(outs, out)
	}
	switch {
	case *asJSON:
		printJSON(c.stdout, planOutputs{Bundles: outs, Warnings: append([]string{}, in.warnings...), Problems: append([]string{}, in.problems...)})
	case len(outs) == 1:
		printPlan(c.stdout, plans[0], outs[0])
	default:
		for i, p := range plans {
			if i > 0 {
				fmt.Fprintln(c.stdout)
			}
			fmt.Fprintln(c.stdout, bundleHeading(i, len(plans), in.bundles[i]))
			printPlan(c.stdout, p, outs[i])
		}
	}
	for _, w := range in.warnings {
		fmt.Fprintf(c.stderr, "warning: %s\n", w)
	}
	for _, pr := range in.problems {
		fmt.Fprintf(c.stderr, "certdrop plan: %s\n", pr)
	}
	if len(in.problems) > 0 {
		return exitUsage
	}
	return exitOK
}

// planOutputOf describes a plan, with each call's endpoint as the
// environment's overrides make it.
func planOutputOf(p *plan.Plan, key string, warnings []string, getenv func(string) string) (planOutput, error) {
	out := planOutput{
		Bundle:       p.Bundle,
		Sources:      p.Sources,
		ObjectKey:    key,
		CertName:     p.CertName,
		Warnings:     append([]string{}, warnings...),
		Notices:      []string{},
		Calls:        []planCall{},
		NotCovered:   []planTarget{},
		LowerBoundMs: p.LowerBound().Milliseconds(),
		Quotas:       map[string]string{},
	}
	out.Notices = append(out.Notices, p.Notes...)
	for _, call := range p.Calls {
		ep, err := cloud.ResolveEndpoint(getenv, call)
		if err != nil {
			return planOutput{}, err
		}
		out.Calls = append(out.Calls, planCall{
			Product: call.Target.Product, Domain: call.DomainName, Action: call.API.Action,
			Version: call.API.Version, Endpoint: ep, Params: call.Params,
		})
		out.Quotas[call.API.Action] = quotaText(call.API.Quota)
	}
	for _, c := range p.NotCovered {
		t := c.Target
		out.NotCovered = append(out.NotCovered, planTarget{Product: t.Product, Domain: t.Where(), Line: t.Line})
	}
	return out, nil
}

func printPlan(w io.Writer, p *plan.Plan, out planOutput) {
	id := p.Bundle
	fmt.Fprintf(w, "PLAN (nothing is called): deploy %s to %d target(s)\n", id.CommonName, len(p.Calls))
	fmt.Fprintf(w, "  names     %s\n", strings.Join(id.SANs, ", "))
	fmt.Fprintf(w, "  expires   %s, issuer %s\n", id.NotAfter.Format(time.DateOnly), id.Issuer)
	fmt.Fprintf(w, "  sha256    %s\n", id.Fingerprint)
	fmt.Fprintf(w, "  certName  %s\n", p.CertName)
	for _, up := range p.CASUploads() {
		fmt.Fprintf(w, "  CAS       %s as %s: looked up, uploaded (UploadUserCertificate, the key's one trip) only when absent; %d call(s) reference its CertId\n",
			up.Region, up.Name, len(up.Calls))
	}
	for _, wn := range out.Warnings {
		fmt.Fprintf(w, "  warning   %s\n", wn)
	}
	for _, n := range out.Notices {
		fmt.Fprintf(w, "  notice    %s\n", n)
	}
	for _, prod := range products().Names() {
		var calls []planCall
		for _, c := range out.Calls {
			if c.Product == prod {
				calls = append(calls, c)
			}
		}
		if len(calls) == 0 {
			continue
		}
		var api plan.API
		for _, c := range p.Calls {
			if c.Target.Product == prod {
				api = c.API
				break
			}
		}
		version := api.Version
		if version == "" {
			version = strings.ToUpper(api.Service) + " REST" // a REST operation has no API version
		}
		fmt.Fprintf(w, "\n%s: %d call(s) to %s (%s), quota %s\n", prod, len(calls), api.Action, version, quotaText(api.Quota))
		for _, call := range calls {
			fmt.Fprintf(w, "  %-36s %s\n", call.Domain, call.Endpoint)
			fmt.Fprintf(w, "      %s\n", paramSummary(call.Params))
		}
	}
	if len(p.NotCovered) > 0 {
		fmt.Fprintln(w, "\nnot covered (bound to this bundle, but the certificate does not name them):")
		for _, c := range p.NotCovered {
			t := c.Target
			fmt.Fprintf(w, "  %-10s %-36s manifest line %d\n", t.Product, t.Where(), t.Line)
		}
	}
	if len(p.Calls) == 0 {
		fmt.Fprintln(w, "\nNo target in the manifest is covered by this certificate: nothing to deploy.")
		return
	}
	fmt.Fprintf(w, "\nLower bound at the documented quotas: %s\n", p.LowerBound().Round(time.Millisecond))
}

// paramSummary lists a call's parameters, with certificate bodies
// summarised and secrets redacted.
func paramSummary(params []plan.Param) string {
	parts := make([]string, 0, len(params))
	for _, p := range params {
		v := p.Shown()
		if p.Name == plan.ParamCertID && v == "" {
			v = "<from CAS>"
		}
		if !p.Sensitive && strings.Contains(v, "-----BEGIN") {
			v = fmt.Sprintf("<PEM, %d certificate(s), %d bytes>", strings.Count(v, "-----BEGIN CERTIFICATE"), len(v))
		}
		parts = append(parts, p.Name+"="+v)
	}
	return strings.Join(parts, " ")
}

// quotaText renders a quota in calls per second, or per minute when it is
// one a minute's count was documented in (200 a minute: "200/min", not
// "3.3333333333333335/s").
func quotaText(perSecond float64) string {
	if perMin := perSecond * 60; perSecond < 10 && math.Abs(perMin-math.Round(perMin)) < 1e-9 && perSecond != math.Trunc(perSecond) {
		return fmt.Sprintf("%g/min", math.Round(perMin))
	}
	return fmt.Sprintf("%g/s", perSecond)
}
