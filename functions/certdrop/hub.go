package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/hub"
	"github.com/certdrop/certdrop/shared/job"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/report"
)

// loadHubManifest reads the manifest a rollback or a prune works on: a
// file or oss://bucket/key, $CERTDROP_MANIFEST by default.
func loadHubManifest(ctx context.Context, c *cli, name, loc string) (*manifest.Manifest, int) {
	if loc == "" {
		return nil, usageError(c, name, "name the manifest with --manifest (or CERTDROP_MANIFEST)")
	}
	data, err := readLocation(ctx, c, loc)
	if err != nil {
		fmt.Fprintf(c.stderr, "certdrop %s: the manifest: %v\n", name, err)
		return nil, exitUsage
	}
	m, err := manifest.Parse(loc, data)
	if err != nil {
		fmt.Fprintf(c.stderr, "certdrop %s: %v\n", name, err)
		return nil, exitUsage
	}
	return m, exitOK
}

// hubClient builds the API client, which reaches CAS too.
func hubClient(ctx context.Context, c *cli, name string) (fanout.Client, fanout.CASClient, fanout.Options, int) {
	cfg, err := job.ConfigFromEnv(c.getenv)
	if err != nil {
		fmt.Fprintf(c.stderr, "certdrop %s: %v\n", name, err)
		return nil, nil, fanout.Options{}, exitUsage
	}
	client, err := newAPIClient(ctx, c.getenv, nil)
	if err != nil {
		fmt.Fprintf(c.stderr, "certdrop %s: %v\n", name, err)
		return nil, nil, fanout.Options{}, exitUsage
	}
	cas, _ := client.(fanout.CASClient)
	return client, cas, fanout.Options{Quotas: cfg.Quotas}, exitOK
}

func runRollback(ctx context.Context, c *cli, args []string) int {
	fs := newFlagSet("rollback", "--to CERTNAME [--manifest FILE|oss://B/KEY] [--dry-run] [--json] [-v]",
		"Redeploys a certificate already in Certificate Management Service (CAS) to every manifest\n"+
			"target it covers that carries a later certificate, by reference (CertType=cas): its key is\n"+
			"not needed and not sent. CERTNAME is the name in CAS, certdrop-<cn>-<yyyymmdd>-<fp8> (a\n"+
			"report's certName; 'certdrop prune' lists those kept). Refused, setting nothing, when the\n"+
			"certificate is no longer in CAS or has expired. The next reconcile deploys the newest bundle\n"+
			"in the bucket again: remove the bad bundle from the bucket first.\n"+
			"Exit 0 when every target ended deployed, unchanged or skipped; 1 when any failed; 2 for bad\n"+
			"input or a refused rollback.", c)
	to := fs.String("to", "", "the certificate's name in CAS")
	manifestLoc := fs.String("manifest", c.getenv("CERTDROP_MANIFEST"), "the manifest: a file or oss://bucket/key")
	dryRun := fs.Bool("dry-run", false, "describe the targets and report what would be set, without setting anything")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	verbose := fs.Bool("v", false, "log each target and retry to stderr")
	if _, err := parseInterleaved(fs, args); err != nil {
		return flagExit(err)
	}
	if *to == "" {
		return usageError(c, "rollback", "--to is required")
	}
	m, code := loadHubManifest(ctx, c, "rollback", *manifestLoc)
	if m == nil {
		return code
	}
	client, cas, fo, code := hubClient(ctx, c, "rollback")
	if client == nil {
		return code
	}
	fo.Logger = cliLogger(c.stderr, *verbose)
	rep, err := hub.Rollback(ctx, client, cas, m, hub.RollbackOptions{To: *to, DryRun: *dryRun, Fanout: fo,
		Meta: report.Meta{Trigger: report.TriggerCLI, StartedAt: time.Now()}})
	if err != nil {
		fmt.Fprintf(c.stderr, "certdrop rollback: %v\n", err)
		var re *hub.RefusedError
		if errors.As(err, &re) {
			return exitUsage
		}
		return exitFail
	}
	if *asJSON {
		printJSON(c.stdout, rep)
	} else {
		_ = report.WriteTable(c.stdout, rep)
	}
	if !rep.Summary.OK() {
		return exitFail
	}
	return exitOK
}

func runPrune(ctx context.Context, c *cli, args []string) int {
	fs := newFlagSet("prune", "[--manifest FILE|oss://B/KEY] [--yes] [--keep N] [--json] [-v]",
		"Deletes certdrop's own certificates (certdrop-<cn>-<yyyymmdd>-<fp8>) from Certificate\n"+
			"Management Service in both regions that have expired, or that no manifest target carries and\n"+
			"are older than the newest N (2) for the same names. A certificate certdrop did not name is\n"+
			"never touched. Without --yes nothing is deleted: it says what would be. Every certificate\n"+
			"looked at is listed, deleted or kept, with why.\n"+
			"Exit 0 when it saw everything and every deletion succeeded; 1 otherwise; 2 for bad input.", c)
	manifestLoc := fs.String("manifest", c.getenv("CERTDROP_MANIFEST"), "the manifest: a file or oss://bucket/key")
	yes := fs.Bool("yes", false, "delete (without it, a dry run)")
	keep := fs.Int("keep", hub.DefaultKeep, "keep the newest `N` certificates for the same names in each region")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	verbose := fs.Bool("v", false, "log the Describe calls and retries to stderr")
	if _, err := parseInterleaved(fs, args); err != nil {
		return flagExit(err)
	}
	if *keep < 1 {
		return usageError(c, "prune", "--keep must be at least 1")
	}
	m, code := loadHubManifest(ctx, c, "prune", *manifestLoc)
	if m == nil {
		return code
	}
	client, cas, fo, code := hubClient(ctx, c, "prune")
	if client == nil {
		return code
	}
	fo.Logger = cliLogger(c.stderr, *verbose)
	res := hub.Prune(ctx, client, cas, m, hub.PruneOptions{Delete: *yes, Keep: *keep, Fanout: fo})
	if *asJSON {
		printJSON(c.stdout, res)
	} else {
		writePrune(c.stdout, res)
	}
	if !res.OK() {
		return exitFail
	}
	return exitOK
}

// writePrune prints a prune's result for a person.
func writePrune(w io.Writer, r *hub.PruneResult) {
	verb := "deleted"
	if r.DryRun {
		verb = "would delete"
		fmt.Fprintln(w, "DRY RUN: nothing was deleted (--yes deletes)")
	}
	for _, d := range r.Deleted {
		fmt.Fprintf(w, "%s  %s  CertId %d  %s: %s\n", verb, d.Region, d.CertID, d.Name, d.Reason)
	}
	for _, k := range r.Kept {
		fmt.Fprintf(w, "kept  %s  CertId %d  %s: %s\n", k.Region, k.CertID, k.Name, k.Reason)
	}
	for _, f := range r.Failed {
		fmt.Fprintf(w, "FAILED to delete  %s  CertId %d  %s: %s\n", f.Region, f.CertID, f.Name, f.Error.Message)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "problem: %s: %s\n", p.Code, p.Message)
	}
	fmt.Fprintf(w, "%d %s, %d kept, %d failed, %d problem(s); %d target(s) described\n",
		len(r.Deleted), verb, len(r.Kept), len(r.Failed), len(r.Problems), r.Targets)
}

// cliLogger logs at debug level to w when verbose, else errors only.
func cliLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelError
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
