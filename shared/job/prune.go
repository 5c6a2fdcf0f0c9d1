package job

import (
	"context"
	"fmt"

	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/hub"
	"github.com/certdrop/certdrop/shared/report"
)

// hubFanout is the base of the fan-out options of a rollback or a prune:
// the runner's, with the invocation's deadline, quotas and logger.
func (inv *invocation) hubFanout() fanout.Options {
	var fo fanout.Options
	if inv.r.Fanout != nil {
		fo = *inv.r.Fanout
	}
	fo.StopAt, fo.Logger = inv.stopAt, inv.log
	if inv.r.Config.Quotas != nil {
		fo.Quotas = inv.r.Config.Quotas
	}
	return fo
}

// prune runs, after the timer's reconcile, when the manifest says
// defaults.prune: true, and deletes certdrop's own certificates from CAS
// that have expired or that no target carries and are older than the
// newest two for the same names. A dry-run reconcile prunes as a dry run.
func (inv *invocation) prune(ctx context.Context, client fanout.Client, dryRun bool) {
	if inv.manifest == nil || !inv.manifest.Defaults.Prune {
		return
	}
	if err := inv.stopped(ctx); err != nil {
		inv.out.Prune = &hub.PruneResult{DryRun: dryRun, Deleted: []hub.PrunedCert{}, Kept: []hub.PrunedCert{},
			Problems: []report.Error{{Code: "Deadline", Message: "the reconcile left no time to prune; the next timer run prunes", Transient: true}}}
		return
	}
	cas, _ := client.(fanout.CASClient)
	res := hub.Prune(ctx, client, cas, inv.manifest, hub.PruneOptions{Delete: !dryRun, Now: inv.r.Now, Fanout: inv.hubFanout(), Products: products()})
	inv.out.Prune = res
	inv.log.Info("pruned", "deleted", len(res.Deleted), "kept", len(res.Kept), "failed", len(res.Failed), "problems", len(res.Problems))
}

// pruneNotice adds the prune's deletions, failures and problems to a
// webhook message; it returns what to put in the title when something
// failed.
func pruneNotice(out *Outcome, n *report.Notice) []string {
	p := out.Prune
	if p == nil {
		return nil
	}
	verb := "deleted"
	if p.DryRun {
		verb = "would delete"
	}
	for _, d := range p.Deleted {
		n.Lines = append(n.Lines, fmt.Sprintf("prune: %s %s (CertId %d, %s): %s", verb, d.Name, d.CertID, d.Region, d.Reason))
	}
	for _, f := range p.Failed {
		n.Lines = append(n.Lines, fmt.Sprintf("prune: could not delete %s (CertId %d, %s): %s%s", f.Name, f.CertID, f.Region, f.Error.Message, hintOf(f.Error)))
	}
	for _, e := range p.Problems {
		n.Lines = append(n.Lines, fmt.Sprintf("prune: %s: %s%s", e.Code, e.Message, hintOf(&e)))
	}
	if p.OK() {
		return nil
	}
	return []string{fmt.Sprintf("prune: %d deletion(s) failed, %d problem(s)", len(p.Failed), len(p.Problems))}
}
