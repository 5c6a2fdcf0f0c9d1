package job

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/certdrop/certdrop/shared/event"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/hub"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/report"
	"github.com/certdrop/certdrop/shared/store"
)

// HandleRollback handles the manual rollback: the certificate the event
// names, already in Certificate Management Service, is set by reference on
// every manifest target carrying a later one, and pinned (Rollback). With
// Release instead of To, it lifts the pins the name matches
// (ReleasePins). The command line's rollback and release run the same
// Rollback and ReleasePins.
func (r *Runner) HandleRollback(ctx context.Context, ev *event.RollbackEvent) (Result, error) {
	s := r.session(ctx, report.TriggerManual, ev.DryRun, false)
	if ev.Release != "" {
		st, err := s.store(ctx, r.Config.Bucket)
		if err != nil {
			return Result{}, failErr("StoreUnavailable", err, "")
		}
		notes, err := ReleasePins(ctx, st, ev.Release, ev.DryRun, s.log)
		return Result{Pins: notes}, err
	}
	if err := s.prepare(ctx); err != nil {
		return Result{}, err
	}
	client, err := s.apiClient(ctx)
	if err != nil {
		return Result{}, err
	}
	rb, err := Rollback(ctx, client, s.manifest, RollbackRequest{
		RollbackOptions: hub.RollbackOptions{To: ev.To, DryRun: ev.DryRun, Now: r.Now, Fanout: s.hub, Products: products(),
			Meta: report.Meta{Trigger: s.opts.Trigger, RequestID: s.req.RequestID, StartedAt: time.Now()}},
		Pins:     func(ctx context.Context) (store.Store, error) { return s.store(ctx, r.Config.Bucket) },
		PinnedBy: s.req.RequestID, Log: s.log,
	})
	if err != nil {
		var re *hub.RefusedError
		if errors.As(err, &re) {
			return Result{}, fail(re.Code, re.Message, re.Hint)
		}
		return Result{}, failErr("RollbackFailed", err, "the next try may get through: CAS could not be read")
	}
	res := Result{Reports: []*report.Report{rb.Report}}
	if rb.Pin != nil {
		res.Pins = append(res.Pins, *rb.Pin)
	}
	s.log.Info("rolled back", "to", ev.To, "summary", report.SummaryLine(rb.Report))
	return res, nil
}

// RollbackRequest is a rollback and where its pin goes.
type RollbackRequest struct {
	hub.RollbackOptions
	// Pins opens the bucket the pin is written to (certdrop/pins/); nil
	// means there is none and the rollback is not pinned.
	Pins func(context.Context) (store.Store, error)
	// PinnedBy names who rolled back, for the pin: the request id, or the
	// command line's user and host. The pin's trigger is Meta.Trigger,
	// its time RollbackOptions.Now (nil: time.Now) once the rollback ran.
	PinnedBy string
	// Log, when set, logs pin problems.
	Log *slog.Logger
}

// RollbackResult is what a rollback did.
type RollbackResult struct {
	Report *report.Report
	// Pin is the pin written or the problem writing it; nil on a dry run
	// or without Pins.
	Pin *PinNote
	// PinErr is why the pin was not written.
	PinErr error
}

// Rollback redeploys a certificate already in Certificate Management
// Service by reference (hub.Rollback) and, unless it is a dry run or
// there is no bucket for pins, pins it (WritePin): until a certificate
// issued after it arrives or a release lifts it, no deployment path
// redeploys a bundle for the same names issued before it. A pin not
// written does not undo the rollback: the result says so. The error is
// hub.Rollback's (a *hub.RefusedError when nothing was set). The calls
// are planned with rr.Products, every product when nil; the targets of
// other accounts are rolled back there (rr.Open, OpenAccounts when nil).
func Rollback(ctx context.Context, client fanout.Client, m *manifest.Manifest, rr RollbackRequest) (RollbackResult, error) {
	log := orDiscard(rr.Log)
	if rr.Products == nil {
		rr.Products = products()
	}
	cas, _ := client.(fanout.CASClient)
	if rr.Open == nil {
		rr.Open = OpenAccounts(client, m)
	}
	rep, err := hub.Rollback(ctx, client, cas, m, rr.RollbackOptions)
	if err != nil {
		return RollbackResult{}, err
	}
	res := RollbackResult{Report: rep}
	if rr.DryRun || rr.Pins == nil {
		return res, nil
	}
	now := time.Now
	if rr.Now != nil {
		now = rr.Now
	}
	p := hub.PinOf(rep, now(), rr.Meta.Trigger, rr.PinnedBy)
	var n PinNote
	st, err := rr.Pins(ctx)
	if err == nil {
		n, err = WritePin(ctx, st, p, log)
	} else {
		n = pinNotWritten(log, p, err)
	}
	res.Pin, res.PinErr = &n, err
	return res, nil
}
