package job

import (
	"context"
	"fmt"
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

// OpenAccounts opens the accounts of m's targets: the function's own
// through client, the others through their roles, which client assumes
// with its credentials (a fanout.RoleAssumer: product.Client).
func OpenAccounts(client fanout.Client, m *manifest.Manifest) fanout.OpenAccount {
	return func(ctx context.Context, name string) (fanout.Client, fanout.CASClient, error) {
		c := client
		if name != "" {
			a, ok := m.Account(name)
			if !ok {
				return nil, nil, fmt.Errorf("the manifest names no account %q", name)
			}
			ra, ok := client.(fanout.RoleAssumer)
			if !ok {
				return nil, nil, fmt.Errorf("this API client cannot assume the role %s", a.RoleArn)
			}
			var err error
			if c, err = ra.AssumeRole(ctx, a.RoleArn); err != nil {
				return nil, nil, err
			}
		}
		cas, _ := c.(fanout.CASClient) // delivery: cas targets reference a certificate in CAS
		return c, cas, nil
	}
}

// Run fans a prepared plan out through client, each account's targets
// through that account's client and pacers (fanout.RunAccounts), and
// reports the outcome.
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
	results, uploads := fanout.RunAccounts(ctx, OpenAccounts(client, m), p, fo)
	rep := report.New(report.Meta{
		Trigger: o.Trigger, RequestID: o.RequestID, DryRun: o.DryRun, StartedAt: start, Keys: keys,
	}, p, results, time.Now())
	rep.CAS = report.UploadsOf(uploads)
	return rep
}
