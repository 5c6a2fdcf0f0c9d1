package main

import (
	"context"
	"fmt"
	"os"

	"golang.org/x/term"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/job"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/report"
)

func runDeploy(ctx context.Context, c *cli, args []string) int {
	fs := newFlagSet("deploy", "--bundle FILE|DIR... --manifest FILE [--dry-run] [--force] [--key K] [--trust-roots FILE] [--json] [-v]",
		"Deploys a bundle to every manifest target it covers, paced to each API's quota, retrying\n"+
			"throttled calls and skipping domains that already carry the certificate, then prints the\n"+
			"report. Credentials: ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET (and _SECURITY_TOKEN), or the\n"+
			"aliyun CLI profile.\n"+
			"Exit 0 when every target ended deployed, unchanged, skipped_newer or planned; 1 when any\n"+
			"failed or was not started; 2 for bad input or a certificate that covers no target\n"+
			"(nothing is called).\n\n"+endpointHelp(), c)
	var bundles multiFlag
	fs.Var(&bundles, "bundle", "a bundle `FILE|DIR` (repeatable; extra arguments count too)")
	manifestPath := fs.String("manifest", "", "the manifest `FILE` (YAML or JSON)")
	key := fs.String("key", "", "the OSS object key `K` the bundle came from, to apply targets' bundle: prefixes")
	roots := fs.String("trust-roots", "", "a PEM `FILE` of extra trusted roots (private CA)")
	dryRun := fs.Bool("dry-run", false, "describe the targets and report what would be set, without setting anything")
	force := fs.Bool("force", false, "set targets that already carry this or a newer certificate")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	verbose := fs.Bool("v", false, "log each target and retry to stderr")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
	}
	bundles = append(bundles, rest...)
	if len(bundles) == 0 || *manifestPath == "" {
		return usageError(c, "deploy", "--bundle and --manifest are required")
	}
	in, err := loadInput(ctx, bundles, *manifestPath, *roots)
	if err != nil {
		fmt.Fprintf(c.stderr, "certdrop deploy: %v\n", err)
		return exitUsage
	}
	// Every bundle is planned before anything is called. A bundle that
	// covers no target is said to, as plan does, rather than reported as
	// success over an empty table; when none covers any, nothing is called.
	var plans []*plan.Plan
	var covering []*bundle.Bundle
	for _, b := range in.bundles {
		p, err := plan.Build(b, in.manifest, *key, products())
		if err != nil {
			fmt.Fprintf(c.stderr, "certdrop deploy: %v\n", err)
			return exitUsage
		}
		if len(p.Calls) == 0 {
			printNothingCovered(c.stderr, "deploy", p, in.manifest)
			continue
		}
		plans, covering = append(plans, p), append(covering, b)
	}
	if len(plans) == 0 {
		return exitUsage
	}
	in.bundles = covering
	cfg, err := job.ConfigFromEnv(c.getenv) // CERTDROP_QUOTAS and the webhook, as for the function
	if err != nil {
		fmt.Fprintf(c.stderr, "certdrop deploy: %v\n", err)
		return exitUsage
	}
	client, err := newAPIClient(ctx, c.getenv, nil)
	if err != nil {
		fmt.Fprintf(c.stderr, "certdrop deploy: %v\n", err)
		return exitUsage
	}
	log := cliLogger(c.stderr, *verbose)
	for _, w := range in.warnings {
		fmt.Fprintf(c.stderr, "warning: %s\n", w)
	}
	for _, pr := range in.problems {
		fmt.Fprintf(c.stderr, "certdrop deploy: %s\n", pr)
	}
	code := exitOK
	if len(in.problems) > 0 {
		code = exitFail // files that formed no valid bundle were not deployed
	}
	var reps []*report.Report
	for i, p := range plans {
		b := in.bundles[i]
		if len(plans) > 1 {
			fmt.Fprintln(c.stderr, bundleHeading(i, len(plans), b))
		}
		for _, w := range b.Warnings {
			fmt.Fprintf(c.stderr, "warning: %s\n", w)
		}
		progress := report.NewProgress(c.stderr, isTerminal(c.stderr))
		rep := job.Run(ctx, client, p, in.manifest, p.Sources, job.Options{
			Trigger: report.TriggerCLI, DryRun: *dryRun, Force: *force, Quotas: cfg.Quotas, Log: log, Progress: progress.Update,
		})
		progress.Finish()
		rep.Warnings = b.Warnings
		reps = append(reps, rep)
		if !*asJSON {
			if len(plans) > 1 {
				fmt.Fprintln(c.stdout, bundleHeading(i, len(plans), b))
			}
			_ = report.WriteTable(c.stdout, rep)
		}
		// A person runs this: every destination hears of the run's
		// failures, without the function's once-a-day state.
		for _, w := range cfg.Webhooks {
			if _, err := w.Notify(ctx, rep); err != nil {
				fmt.Fprintf(c.stderr, "warning: %v\n", err)
			}
		}
		if !rep.Summary.OK() {
			code = exitFail
		}
	}
	if *asJSON {
		printJSON(c.stdout, deployOutput{OK: code == exitOK, Bundles: reps,
			Warnings: append([]string{}, in.warnings...), Problems: append([]string{}, in.problems...)})
	}
	return code
}

// deployOutput is what `certdrop deploy --json` prints, one object
// whatever the number of bundles.
type deployOutput struct {
	// OK is true when every target of every bundle ended well and every
	// file formed a valid bundle: deploy then exits 0.
	OK bool `json:"ok"`
	// Bundles holds one report per bundle deployed (or dry-run), as
	// 'certdrop show' prints them.
	Bundles []*report.Report `json:"bundles"`
	// Warnings are about the files as a whole; each report has its
	// bundle's own.
	Warnings []string `json:"warnings"`
	// Problems say what formed no valid bundle (and was not deployed),
	// one line each.
	Problems []string `json:"problems"`
}

// isTerminal reports whether w is a terminal, for progress bars.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
