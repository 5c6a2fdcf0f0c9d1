package job

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/event"
	"github.com/certdrop/certdrop/shared/report"
	"github.com/certdrop/certdrop/shared/store"
)

// onOSS handles an OSS trigger event: each created bundle part's bundle,
// once per folder, whatever the number of records for it, holding one
// bundle's objects at a time. Records for
// another bucket than CERTDROP_BUCKET, and keys outside
// CERTDROP_TRIGGER_PREFIX, are ignored without a call: the event is not
// trusted.
func (inv *invocation) onOSS(ctx context.Context, ev *event.OSSEvent) {
	cfg := inv.r.Config
	done := map[string]bool{}
	for _, rec := range ev.Events {
		bucket, raw := rec.OSS.Bucket.Name, rec.OSS.Object.Key
		ignore := func(reason string) {
			inv.log.Info("object ignored", "bucket", shortKey(bucket), "key", shortKey(raw), "reason", reason)
			inv.out.Ignored = append(inv.out.Ignored, Skipped{Unit: shortKey(raw), Reason: reason})
		}
		if bucket != cfg.Bucket {
			ignore(fmt.Sprintf("bucket %q is not CERTDROP_BUCKET %q", shortKey(bucket), cfg.Bucket))
			continue
		}
		if !rec.IsObjectCreated() {
			ignore(fmt.Sprintf("event %q is not an object creation", shortKey(rec.EventName)))
			continue
		}
		cands := underPrefix(rec.KeyCandidates(), cfg.TriggerPrefix)
		if len(cands) == 0 {
			ignore(fmt.Sprintf("outside CERTDROP_TRIGGER_PREFIX %q", cfg.TriggerPrefix))
			continue
		}
		if !anyPart(cands) {
			ignore("not a bundle part (.pem, .crt, .cer or .key)")
			continue
		}
		if strings.HasPrefix(cands[0], cfg.ReportPrefix) {
			ignore("a certdrop report")
			continue
		}
		st, ok := inv.begin(ctx)
		if !ok {
			return
		}
		if done[folderOf(cands[0])] || done[cands[0]] {
			inv.log.Info("bundle already handled in this invocation", "key", shortKey(cands[0]))
			continue
		}
		obj, err := getAny(ctx, st, cands)
		if errors.Is(err, store.ErrNotFound) {
			ignore("the object no longer exists")
			continue
		}
		if err != nil {
			inv.unreadable(cands[0], err)
			continue
		}
		// Objects are kept for one record's bundle only, so an event naming
		// many folders holds one folder at a time.
		have := map[string]*store.Object{obj.Key: obj}
		loc, err := locate(ctx, st, obj, have)
		if err != nil {
			inv.out.Invalid = append(inv.out.Invalid, Skipped{Unit: shortKey(folderOf(obj.Key)), Reason: "no bundle", Error: noBundle(err)})
			continue
		}
		if done[loc.Unit] {
			continue
		}
		done[loc.Unit] = true
		inv.deploy(ctx, loc, obj.Key, false, false)
	}
}

// unreadable records an object that could not be read: too large, denied,
// or a store that could not be reached (transient: a retry reads it).
func (inv *invocation) unreadable(key string, err error) {
	inv.log.Error("object unreadable", "key", shortKey(key), "error", err.Error())
	inv.out.Invalid = append(inv.out.Invalid, Skipped{Unit: shortKey(key), Reason: "unreadable",
		Error: &report.Error{Code: "StoreError", Message: clip(err.Error()), Transient: transient(err)}})
}

// noBundle renders the error of a folder that could not be read as a
// bundle: a store error (transient when it is) or a bundle problem.
func noBundle(err error) *report.Error {
	var se *store.Error
	if errors.As(err, &se) {
		return &report.Error{Code: "StoreError", Message: clip(err.Error()), Transient: transient(err)}
	}
	return problem(err)
}

// underPrefix keeps the keys under prefix.
func underPrefix(keys []string, prefix string) []string {
	var out []string
	for _, k := range keys {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out
}

func anyPart(keys []string) bool {
	for _, k := range keys {
		if bundle.IsPartName(k) {
			return true
		}
	}
	return false
}
