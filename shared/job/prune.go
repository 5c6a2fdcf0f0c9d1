package job

import (
	"context"
	"fmt"

	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/hub"
	"github.com/certdrop/certdrop/shared/report"
)

// prune runs after the timer's reconcile when the manifest says
// defaults.prune: true, and deletes certdrop's own certificates from CAS
// that have expired or that no target carries and are older than the
// newest two for the same names, in the function's own account and in
// every account a target names (through its role, as a deployment). A dry-run reconcile prunes as a dry run.
// It returns nil when the manifest does not prune.
func (s *session) prune(ctx context.Context, client fanout.Client) *hub.PruneResult {
	if s.manifest == nil || !s.manifest.Defaults.Prune {
		return nil
	}
	dryRun := s.opts.DryRun
	if err := s.stopped(ctx); err != nil {
		return &hub.PruneResult{DryRun: dryRun, Deleted: []hub.PrunedCert{}, Kept: []hub.PrunedCert{},
			Problems: []report.Error{{Code: "Deadline", Message: "the reconcile left no time to prune; the next timer run prunes", Transient: true}}}
	}
	cas, _ := client.(fanout.CASClient)
	res := hub.Prune(ctx, client, cas, s.manifest, hub.PruneOptions{Delete: !dryRun, Now: s.r.Now, Fanout: s.hub, Products: products(),
		Open: OpenAccounts(client, s.manifest)})
	s.log.Info("pruned", "deleted", len(res.Deleted), "kept", len(res.Kept), "failed", len(res.Failed), "problems", len(res.Problems))
	return res
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
		n.Lines = append(n.Lines, fmt.Sprintf("prune: %s %s (%s): %s", verb, d.Name, d.Where(), d.Reason))
	}
	for _, f := range p.Failed {
		n.Lines = append(n.Lines, fmt.Sprintf("prune: could not delete %s (%s): %s%s", f.Name, f.Where(), f.Error.Message, hintOf(f.Error)))
	}
	for _, e := range p.Problems {
		n.Lines = append(n.Lines, fmt.Sprintf("prune: %s: %s%s", e.Code, e.Message, hintOf(&e)))
	}
	if p.OK() {
		return nil
	}
	return []string{fmt.Sprintf("prune: %d deletion(s) failed, %d problem(s)", len(p.Failed), len(p.Problems))}
}
