package job

import (
	"context"
	"log/slog"
	"time"

	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/report"
)

// Options tune how a deployment runs.
type Options struct {
	Trigger   string
	RequestID string
	DryRun    bool
	Force     bool
	// StopAt: no call starts after it (the function's deadline minus the
	// safety margin).
	StopAt   time.Time
	Quotas   map[string]float64
	Log      *slog.Logger
	Progress func(fanout.Progress)
	// Fanout, when set, is the base of the fan-out options: its retry,
	// pacing and concurrency settings are kept, and the fields above and
	// the manifest's canary and verify are set over it (benchmarks and
	// tests tune retries with it).
	Fanout *fanout.Options
}

// Run fans a prepared plan out through client and reports the outcome.
func Run(ctx context.Context, client fanout.Client, p *plan.Plan, m *manifest.Manifest, keys []string, o Options) *report.Report {
	start := time.Now()
	var fo fanout.Options
	if o.Fanout != nil {
		fo = *o.Fanout
	}
	fo.DryRun, fo.Force = o.DryRun, o.Force
	fo.Canary, fo.Verify = m.Defaults.Canary, m.Defaults.Verify
	fo.StopAt, fo.Logger, fo.Progress = o.StopAt, o.Log, o.Progress
	if o.Quotas != nil {
		fo.Quotas = o.Quotas
	}
	cas, _ := client.(fanout.CASClient) // delivery: cas targets reference a certificate in CAS
	results, uploads := fanout.RunCAS(ctx, client, cas, p, fo)
	rep := report.New(report.Meta{
		Trigger: o.Trigger, RequestID: o.RequestID, DryRun: o.DryRun, StartedAt: start, Keys: keys,
	}, p, results, time.Now())
	rep.CAS = report.UploadsOf(uploads)
	return rep
}
