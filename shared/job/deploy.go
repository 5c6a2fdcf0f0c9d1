package job

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/report"
)

// Deployment is one bundle to deploy to a manifest's targets.
type Deployment struct {
	// Sources are the bundle's parts; Keys name where they came from.
	Sources []bundle.Source
	Keys    []string
	// ObjectKey is the key that matches targets' bundle: prefixes ("" to
	// not check them).
	ObjectKey string
	Manifest  *manifest.Manifest
	// Roots are trusted in addition to the system roots.
	Roots []*x509.Certificate
	// Now is the clock for validity checks; nil means time.Now.
	Now func() time.Time
}

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

// ErrWaiting is wrapped by the error of a bundle that is not complete yet:
// only one half of a pair has arrived, or the key does not match the
// certificate because one file is renewed and the other still uploading.
// The other file's event completes it.
var ErrWaiting = errors.New("waiting for the rest of the bundle")

// isIncomplete tells a bundle that is still arriving from a broken one.
func isIncomplete(err error) bool {
	return errors.Is(err, bundle.ErrNoKey) || errors.Is(err, bundle.ErrNoCertificate) || errors.Is(err, bundle.ErrKeyMismatch)
}

// Prepare parses and validates the bundle under the manifest's defaults
// and plans its calls. A bundle still arriving fails with an error wrapping
// ErrWaiting; a broken one with the *bundle.Error.
func (d *Deployment) Prepare() (*plan.Plan, []string, error) {
	opts := d.Manifest.Defaults.BundleOptions()
	opts.Now, opts.Roots = d.Now, d.Roots
	b, err := bundle.Parse(d.Sources, opts)
	if err != nil {
		if isIncomplete(err) {
			return nil, nil, errors.Join(ErrWaiting, err)
		}
		return nil, nil, err
	}
	if err := b.Validate(opts); err != nil {
		return nil, b.Warnings, err
	}
	p, err := plan.Build(b, d.Manifest, d.ObjectKey)
	if err != nil {
		return nil, b.Warnings, err
	}
	return p, b.Warnings, nil
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
	results := fanout.Run(ctx, client, p, fo)
	return report.New(report.Meta{
		Trigger: o.Trigger, RequestID: o.RequestID, DryRun: o.DryRun, StartedAt: start, Keys: keys,
	}, p, results, time.Now())
}
