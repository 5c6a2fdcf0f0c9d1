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
// before any Set.
func (inv *invocation) onRollback(ctx context.Context, ev *event.RollbackEvent) {
	if !inv.prepare(ctx) {
		return
	}
	client, ok := inv.apiClient(ctx)
	if !ok {
		return
	}
	cas, _ := client.(fanout.CASClient)
	rep, err := hub.Rollback(ctx, client, cas, inv.manifest, hub.RollbackOptions{
		To: ev.To, DryRun: ev.DryRun, Now: inv.r.Now, Fanout: inv.hubFanout(),
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
	inv.log.Info("rolled back", "to", ev.To, "summary", report.SummaryLine(rep))
}
