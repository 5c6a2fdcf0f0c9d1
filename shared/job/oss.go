package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/event"
	"github.com/certdrop/certdrop/shared/report"
	"github.com/certdrop/certdrop/shared/store"
)

// HandleOSS handles an OSS trigger event: the bundles each created object
// belongs to, reading each folder once however many records name it and
// holding one folder's objects at a time. Records for another bucket than
// CERTDROP_BUCKET, and keys outside CERTDROP_TRIGGER_PREFIX, are ignored
// without a call: the event is not trusted.
func (r *Runner) HandleOSS(ctx context.Context, ev *event.OSSEvent) (res Result, err error) {
	s := r.session(ctx, report.TriggerOSS, false, false)
	cfg := r.Config
	var order []string             // folders, in the order records name them
	named := map[string][]string{} // folder -> candidate keys of its records
	var records [][]string         // each kept record's candidate keys
	for _, rec := range ev.Events {
		bucket, raw := rec.OSS.Bucket.Name, rec.OSS.Object.Key
		ignore := func(reason string) {
			s.log.Info("object ignored", "bucket", shortKey(bucket), "key", shortKey(raw), "reason", reason)
			res.Ignored = append(res.Ignored, Skipped{Unit: shortKey(raw), Reason: reason})
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
		// The key as sent and as decoded may differ; each is looked for in
		// its folder's listing.
		records = append(records, cands)
		for _, k := range cands {
			f := folderOf(k)
			if _, seen := named[f]; !seen {
				order = append(order, f)
			}
			if !slices.Contains(named[f], k) {
				named[f] = append(named[f], k)
			}
		}
	}
	if len(order) == 0 {
		return res, nil
	}
	st, err := s.begin(ctx)
	if err != nil {
		return res, err
	}
	exists := map[string]bool{}
	defer func() {
		for _, cands := range records {
			if !slices.ContainsFunc(cands, func(k string) bool { return exists[k] }) {
				res.Ignored = append(res.Ignored, Skipped{Unit: shortKey(cands[0]), Reason: "the object no longer exists"})
			}
		}
	}()
	var failed error
	for _, f := range order {
		if err := s.stopped(ctx); err != nil {
			return res, firstErr(failed, failErr("Deadline", fmt.Errorf("the event's folder %s was not read: %w", shortKey(f), err),
				"FC's retry of this event reads it"))
		}
		infos, err := st.List(ctx, f)
		if err != nil {
			res.Invalid = append(res.Invalid, unreadable(s.log, f, err))
			for _, k := range named[f] {
				exists[k] = true // not known to be gone: the failure is recorded
			}
			continue
		}
		only := present(named[f], infos)
		if len(only) == 0 {
			continue
		}
		for _, k := range only {
			exists[k] = true
		}
		loc, err := readParts(ctx, st, f, infos)
		if err != nil {
			res.Invalid = append(res.Invalid, Skipped{Unit: shortKey(f), Keys: shortKeys(only), Reason: "no bundle", Error: noBundle(err)})
			continue
		}
		done, err := s.deployUnit(ctx, loc, only)
		res.add(done)
		failed = firstErr(failed, err)
	}
	return res, failed
}

// present keeps the keys that the folder's listing holds.
func present(keys []string, infos []store.ObjectInfo) []string {
	var out []string
	for _, k := range keys {
		for _, in := range infos {
			if in.Key == k {
				out = append(out, k)
				break
			}
		}
	}
	return out
}

// unreadable is an object that could not be read: too large, denied, or
// a store that could not be reached (transient: a retry reads it).
func unreadable(log *slog.Logger, key string, err error) Skipped {
	log.Error("object unreadable", "key", shortKey(key), "error", err.Error())
	return Skipped{Unit: shortKey(key), Reason: "unreadable",
		Error: &report.Error{Code: "StoreError", Message: clip(err.Error()), Transient: transient(err)}}
}

// noBundle renders the error of a folder that could not be read as a
// bundle: a store error (transient when it is) or a bundle problem.
func noBundle(err error) *report.Error {
	if errors.Is(err, ErrFolderTooLarge) {
		return &report.Error{Code: "FolderTooLarge", Message: clip(err.Error()),
			Hint: "keep each certificate's files in a folder of their own (a lego certificates/ folder of up to 32 certificates fits)"}
	}
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
