package job

import (
	"context"
	"errors"
	"time"

	"github.com/certdrop/certdrop/shared/event"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/hub"
	"github.com/certdrop/certdrop/shared/report"
)

// onRollback handles the manual rollback: the certificate the event names,
// already in Certificate Management Service, is set by reference on every
// manifest target carrying a later one. A certificate that is gone or
// expired is refused (RollbackNotInCAS, RollbackExpired, with a hint)
// before any Set. A rollback that ran (not a dry run) writes a pin
// (pins.go): until a certificate issued after it arrives or a release
// ({"mode":"rollback","release":NAME}) lifts it, no deployment path
// redeploys a bundle for the same names issued before it.
func (inv *invocation) onRollback(ctx context.Context, ev *event.RollbackEvent) {
	if ev.Release != "" {
		inv.onRelease(ctx, ev.Release, ev.DryRun)
		return
	}
	if !inv.prepare(ctx) {
		return
	}
	client, ok := inv.apiClient(ctx)
	if !ok {
		return
	}
	cas, _ := client.(fanout.CASClient)
	rep, err := hub.Rollback(ctx, client, cas, inv.manifest, hub.RollbackOptions{
		To: ev.To, DryRun: ev.DryRun, Now: inv.r.Now, Fanout: inv.hubFanout(), Products: products(),
		Meta: report.Meta{Trigger: inv.out.Trigger, RequestID: inv.req.RequestID, StartedAt: time.Now()},
	})
	if err != nil {
		var re *hub.RefusedError
		if errors.As(err, &re) {
			inv.fail(re.Code, re.Message, re.Hint)
			return
		}
		inv.failErr("RollbackFailed", err, "the next try may get through: CAS could not be read")
		return
	}
	inv.out.Reports = append(inv.out.Reports, rep)
	if !ev.DryRun {
		inv.writePin(ctx, rep)
	}
	inv.log.Info("rolled back", "to", ev.To, "summary", report.SummaryLine(rep))
}
