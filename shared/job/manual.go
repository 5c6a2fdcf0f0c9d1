package job

import (
	"context"
	"fmt"
	"strings"

	"github.com/certdrop/certdrop/shared/event"
	"github.com/certdrop/certdrop/shared/report"
	"github.com/certdrop/certdrop/shared/store"
)

// HandleManual handles the manual invocation: it re-runs one bundle, a
// folder (ending in "/") or an object, dry run and force as the event
// says. It must lie in CERTDROP_BUCKET under CERTDROP_TRIGGER_PREFIX;
// anything else is refused before any call.
func (r *Runner) HandleManual(ctx context.Context, m *event.ManualEvent) (Result, error) {
	s := r.session(ctx, report.TriggerManual, m.DryRun, m.Force)
	bucket, key, _ := m.BundleLocation()
	if err := r.Config.trusted(bucket, key); err != nil {
		return Result{}, err
	}
	st, err := s.begin(ctx)
	if err != nil {
		return Result{}, err
	}
	return s.deployKey(ctx, st, key, m.Bundle)
}

// deployKey deploys the bundles of a folder (a key ending in "/"), or
// those an object helped form, reading the folder once. A folder or
// object that cannot be read is invalid, named unit. Its error is the
// run's failure.
func (s *session) deployKey(ctx context.Context, st store.Store, key, unit string) (Result, error) {
	folder, only := key, []string(nil)
	if key != "" && !strings.HasSuffix(key, "/") {
		folder, only = folderOf(key), []string{key}
	}
	noBundleIn := func(err error) Result {
		return Result{Invalid: []Skipped{{Unit: shortKey(unit), Reason: "no bundle", Error: noBundle(err)}}}
	}
	infos, err := st.List(ctx, folder)
	if err != nil {
		return noBundleIn(err), nil
	}
	if only != nil && len(present(only, infos)) == 0 {
		return noBundleIn(fmt.Errorf("%w: %s", store.ErrNotFound, shortKey(key))), nil
	}
	loc, err := readParts(ctx, st, folder, infos)
	if err != nil {
		return noBundleIn(err), nil
	}
	return s.deployUnit(ctx, loc, only)
}

// trusted checks a bucket and key (or prefix) an event names against the
// configuration: the bucket must be CERTDROP_BUCKET and the key under
// CERTDROP_TRIGGER_PREFIX. Its error is the refusal.
func (cfg *Config) trusted(bucket, key string) error {
	if bucket != cfg.Bucket {
		return fail("ForeignBucket", fmt.Sprintf("the event names bucket %q; this function works on CERTDROP_BUCKET %q only", shortKey(bucket), cfg.Bucket),
			"name a bundle in "+cfg.Bucket+", or deploy another function for the other bucket")
	}
	if !strings.HasPrefix(key, cfg.TriggerPrefix) {
		return fail("OutsidePrefix", fmt.Sprintf("%q is not under CERTDROP_TRIGGER_PREFIX %q", shortKey(key), cfg.TriggerPrefix),
			"bundles are deployed from the watched prefix only")
	}
	return nil
}
