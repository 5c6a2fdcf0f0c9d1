package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/event"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/hub"
	"github.com/certdrop/certdrop/shared/job"
	"github.com/certdrop/certdrop/shared/pin"
	"github.com/certdrop/certdrop/shared/report"
	"github.com/certdrop/certdrop/shared/store"
)

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
	fs := newFlagSet("rollback", "--to CERTNAME | --release NAME [--manifest FILE|oss://B/KEY] [--bucket B] [--region R] [--dry-run] [--json] [-v]",
		"Redeploys a certificate already in Certificate Management Service (CAS) to every manifest\n"+
			"target it covers that carries a later certificate, by reference (CertType=cas): its key is\n"+
			"not needed and not sent. CERTNAME is the name in CAS, certdrop-<cn>-<yyyymmdd>-<fp8> (a\n"+
			"report's certName; 'certdrop prune' lists those kept). Refused, setting nothing, when the\n"+
			"certificate is no longer in CAS or has expired.\n"+
			"The rollback is pinned: a pin written to the bucket (certdrop/pins/) keeps the function's\n"+
			"reconcile and upload events from redeploying bundles for the same names issued before it,\n"+
			"until a certificate issued after it arrives or --release NAME (the certificate rolled back\n"+
			"to, or one of its names) lifts it. The bucket is --bucket, else CERTDROP_BUCKET, else the\n"+
			"manifest's when it is oss://; without one the rollback is not pinned, and says so.\n"+
			"Exit 0 when every target ended deployed, unchanged or skipped (and the pin, when there is a\n"+
			"bucket, was written; or released); 1 when any failed; 2 for bad input, a refused rollback, or\n"+
			"a release that matches no pin.", c)
	to := fs.String("to", "", "the certificate's name in CAS")
	release := fs.String("release", "", "lift the pin of a rollback: the certificate rolled back to, or one of its `NAME`s")
	manifestLoc := fs.String("manifest", c.getenv(config.Manifest), "the manifest: a file or oss://bucket/key")
	bucket := fs.String("bucket", c.getenv(config.Bucket), "the function's bucket `B`, where the pin is kept")
	region := fs.String("region", "", "the bucket's OSS region `R` (default FC_REGION)")
	dryRun := fs.Bool("dry-run", false, "describe the targets and report what would be set, without setting anything or pinning")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	verbose := fs.Bool("v", false, "log each target and retry to stderr")
	if _, err := parseInterleaved(fs, args); err != nil {
		return flagExit(err)
	}
	if (*to == "") == (*release == "") {
		return usageError(c, "rollback", "name --to CERTNAME (roll back) or --release NAME (lift a rollback's pin)")
	}
	pinBucket := *bucket
	if pinBucket == "" && strings.HasPrefix(*manifestLoc, "oss://") {
		pinBucket, _, _ = event.ParseOSSURL(*manifestLoc)
	}
	if *release != "" {
		if pinBucket == "" {
			return usageError(c, "rollback", "--release needs the bucket: --bucket, CERTDROP_BUCKET, or an oss:// manifest")
		}
		return releasePin(ctx, c, pinBucket, *region, *release, *dryRun)
	}
	m, code := loadManifest(ctx, c, "rollback", *manifestLoc)
	if m == nil {
		return code
	}
	client, _, fo, code := hubClient(ctx, c, "rollback")
	if client == nil {
		return code
	}
	fo.Logger = cliLogger(c.stderr, *verbose)
	// The function's rollback: the same rollback and the same pin.
	rr := job.RollbackRequest{
		RollbackOptions: hub.RollbackOptions{To: *to, DryRun: *dryRun, Fanout: fo, Products: products(),
			Meta: report.Meta{Trigger: report.TriggerCLI, StartedAt: time.Now()}},
		PinnedBy: cliWho(c),
	}
	if pinBucket != "" {
		rr.Pins = func(ctx context.Context) (store.Store, error) { return openPins(ctx, c, pinBucket, *region) }
	}
	rb, err := job.Rollback(ctx, client, m, rr)
	if err != nil {
		fmt.Fprintf(c.stderr, "certdrop rollback: %v\n", err)
		var re *hub.RefusedError
		if errors.As(err, &re) {
			return exitUsage
		}
		return exitFail
	}
	rep := rb.Report
	if *asJSON {
		printJSON(c.stdout, rep)
	} else {
		_ = report.WriteTable(c.stdout, rep)
	}
	code = exitOK
	if !rep.Summary.OK() {
		code = exitFail
	}
	switch {
	case *dryRun:
		fmt.Fprintln(c.stderr, "dry run: no pin written")
	case pinBucket == "":
		// Not an error: without the function (deploys from a workstation
		// or CI only) nothing redeploys the newer bundle.
		fmt.Fprintf(c.stderr, "not pinned: no bucket (--bucket, CERTDROP_BUCKET, or an oss:// manifest); if the function watches a bucket, "+
			"its next reconcile or upload event redeploys the newest bundle for %s: roll back again with --bucket\n",
			strings.Join(rep.Bundle.SANs, ", "))
	case rb.PinErr != nil:
		fmt.Fprintf(c.stderr, "NOT PINNED: %v: the function's next reconcile redeploys the newest bundle; roll back again once the bucket can be written\n", regionHint(rb.PinErr))
		code = exitFail
	default:
		p := rb.Pin
		fmt.Fprintf(c.stderr, "pinned: oss://%s/%s: bundles for %s issued before %s are not deployed until a newer certificate "+
			"arrives or 'certdrop rollback --release %s'\n", pinBucket, p.Key, strings.Join(p.Names, ", "), p.PinnedAt.Format(time.RFC3339), p.CertName)
	}
	return code
}

// cliWho names who rolled back from the command line, for the pin.
func cliWho(c *cli) string {
	host, _ := os.Hostname()
	who := c.getenv("USER")
	if who == "" {
		who = "unknown"
	}
	return fmt.Sprintf("cli-%s@%s-%d", who, host, time.Now().Unix())
}

// openPins opens the bucket where rollback pins are kept.
func openPins(ctx context.Context, c *cli, bucket, region string) (store.Store, error) {
	return store.Open(ctx, "oss://"+bucket+"/", store.Options{Getenv: c.getenv, Region: region})
}

// releasePin lifts the pins a name matches, as the function's release
// does (job.ReleasePins): every matched pin is deleted, a deletion that
// fails is reported and the others are still deleted; exit 1 when any
// failed.
func releasePin(ctx context.Context, c *cli, bucket, region, name string, dryRun bool) int {
	st, err := openPins(ctx, c, bucket, region)
	if err != nil {
		fmt.Fprintf(c.stderr, "certdrop rollback: %v\n", regionHint(err))
		return exitUsage
	}
	notes, err := job.ReleasePins(ctx, st, name, dryRun, nil)
	code := exitOK
	unlisted := ""
	for _, n := range notes {
		switch {
		case n.State == job.PinProblem && n.Error != nil && n.Error.Code == job.CodePinsUnlisted:
			unlisted = n.Message
		case n.State == job.PinProblem && n.Failed():
			fmt.Fprintf(c.stderr, "certdrop rollback: %s\n", n.Message)
			code = exitFail
		case n.State == job.PinProblem:
			fmt.Fprintf(c.stderr, "warning: pin %s: %s\n", n.Key, n.Message)
		case dryRun:
			fmt.Fprintf(c.stdout, "would release the rollback to %s (%s), pinned %s by %s\n", n.CertName, strings.Join(n.Names, ", "),
				n.PinnedAt.Format(time.RFC3339), n.PinnedBy)
		default:
			fmt.Fprintf(c.stdout, "released the rollback to %s (%s), pinned %s by %s: the next reconcile or upload deploys the newest bundle\n",
				n.CertName, strings.Join(n.Names, ", "), n.PinnedAt.Format(time.RFC3339), n.PinnedBy)
		}
	}
	var f *job.Failure
	switch {
	case err == nil:
		return code
	case errors.As(err, &f) && f.Err.Code == job.CodePinsUnlisted:
		fmt.Fprintf(c.stderr, "certdrop rollback: listing the pins: %s\n", unlisted)
		return exitFail
	case errors.As(err, &f) && f.Err.Code == job.CodeNoPin:
		fmt.Fprintf(c.stderr, "certdrop rollback: %s (in oss://%s/%s)\n", f.Err.Message, bucket, pin.Prefix)
		return exitUsage
	}
	fmt.Fprintf(c.stderr, "certdrop rollback: %v\n", err)
	return exitFail
}

func runPrune(ctx context.Context, c *cli, args []string) int {
	fs := newFlagSet("prune", "[--manifest FILE|oss://B/KEY] [--yes] [--keep N] [--json] [-v]",
		"Deletes certdrop's own certificates (certdrop-<cn>-<yyyymmdd>-<fp8>) from Certificate\n"+
			"Management Service in both regions that have expired, or that no manifest target carries and\n"+
			"are older than the newest N (2) for the same names, in this account and in every account a\n"+
			"target names (through its role). A certificate certdrop did not name is never touched.\n"+
			"Without --yes nothing is deleted: it says what would be. Every certificate looked at is\n"+
			"listed, deleted or kept (with its account when not this one), with why.\n"+
			"Exit 0 when it saw everything and every deletion succeeded; 1 otherwise; 2 for bad input.", c)
	manifestLoc := fs.String("manifest", c.getenv(config.Manifest), "the manifest: a file or oss://bucket/key")
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
	m, code := loadManifest(ctx, c, "prune", *manifestLoc)
	if m == nil {
		return code
	}
	client, cas, fo, code := hubClient(ctx, c, "prune")
	if client == nil {
		return code
	}
	fo.Logger = cliLogger(c.stderr, *verbose)
	res := hub.Prune(ctx, client, cas, m, hub.PruneOptions{Delete: *yes, Keep: *keep, Fanout: fo, Products: products(),
		Open: job.OpenAccounts(client, m)})
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
	where := func(c hub.PrunedCert) string {
		w := fmt.Sprintf("%s  CertId %d", c.Region, c.CertID)
		if c.Store != "" {
			w = fmt.Sprintf("%s  Id %s", c.Store, c.ID)
		}
		if c.Account != "" {
			w = "account " + c.Account + "  " + w
		}
		return w
	}
	for _, d := range r.Deleted {
		fmt.Fprintf(w, "%s  %s  %s: %s\n", verb, where(d), d.Name, d.Reason)
	}
	for _, k := range r.Kept {
		fmt.Fprintf(w, "kept  %s  %s: %s\n", where(k), k.Name, k.Reason)
	}
	for _, f := range r.Failed {
		fmt.Fprintf(w, "FAILED to delete  %s  %s: %s\n", where(f), f.Name, f.Error.Message)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "problem: %s: %s\n", p.Code, p.Message)
	}
	fmt.Fprintf(w, "%d %s, %d kept, %d failed, %d problem(s); %d target(s) described\n",
		len(r.Deleted), verb, len(r.Kept), len(r.Failed), len(r.Problems), r.Targets)
}
