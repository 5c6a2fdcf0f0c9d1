package job

import (
	"context"
	"fmt"
	"strings"

	"github.com/certdrop/certdrop/shared/event"
	"github.com/certdrop/certdrop/shared/store"
)

// onManual re-runs one bundle: a folder (ending in "/") or an object. It
// must lie in CERTDROP_BUCKET under CERTDROP_TRIGGER_PREFIX; anything else
// is refused before any call.
func (inv *invocation) onManual(ctx context.Context, m *event.ManualEvent) {
	bucket, key, _ := m.BundleLocation()
	if !inv.trusted(bucket, key) {
		return
	}
	st, ok := inv.begin(ctx)
	if !ok {
		return
	}
	if err := inv.deployKey(ctx, st, key, m.DryRun, m.Force); err != nil {
		inv.out.Invalid = append(inv.out.Invalid, Skipped{Unit: shortKey(m.Bundle), Reason: "no bundle", Error: noBundle(err)})
	}
}

// deployKey deploys the bundles of a folder (a key ending in "/"), or
// those an object helped form, reading the folder once. It returns why
// nothing could be read; refusals of bundles are recorded as they are met.
func (inv *invocation) deployKey(ctx context.Context, st store.Store, key string, dryRun, force bool) error {
	folder, only := key, []string(nil)
	if key != "" && !strings.HasSuffix(key, "/") {
		folder, only = folderOf(key), []string{key}
	}
	infos, err := st.List(ctx, folder)
	if err != nil {
		return err
	}
	if only != nil && len(present(only, infos)) == 0 {
		return fmt.Errorf("%w: %s", store.ErrNotFound, shortKey(key))
	}
	loc, err := readParts(ctx, st, folder, infos)
	if err != nil {
		return err
	}
	inv.deployUnit(ctx, loc, only, dryRun, force)
	return nil
}

// trusted checks a bucket and key (or prefix) an event names against the
// configuration, recording the refusal when they do not match: the bucket
// must be CERTDROP_BUCKET and the key under CERTDROP_TRIGGER_PREFIX.
func (inv *invocation) trusted(bucket, key string) bool {
	cfg := inv.r.Config
	if bucket != cfg.Bucket {
		inv.fail("ForeignBucket", fmt.Sprintf("the event names bucket %q; this function works on CERTDROP_BUCKET %q only", shortKey(bucket), cfg.Bucket),
			"name a bundle in "+cfg.Bucket+", or deploy another function for the other bucket")
		return false
	}
	if !strings.HasPrefix(key, cfg.TriggerPrefix) {
		inv.fail("OutsidePrefix", fmt.Sprintf("%q is not under CERTDROP_TRIGGER_PREFIX %q", shortKey(key), cfg.TriggerPrefix),
			"bundles are deployed from the watched prefix only")
		return false
	}
	return true
}
