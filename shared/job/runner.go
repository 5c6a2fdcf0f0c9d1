package job

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/event"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/report"
	"github.com/certdrop/certdrop/shared/store"
)

// Runner runs invocations. Its functions reach the cloud; tests and the
// command line give their own.
type Runner struct {
	Config *Config
	// OpenStore opens a bucket with the invocation's credentials (nil: the
	// default chain).
	OpenStore func(ctx context.Context, bucket string, creds *store.Credentials) (store.Store, error)
	// NewClient builds the API client with the invocation's credentials.
	NewClient func(ctx context.Context, creds *store.Credentials) (fanout.Client, error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Fanout, when set, replaces the fan-out options of every run.
	Fanout *fanout.Options

	// serial makes one invocation run at a time in a process, as the
	// deployment does across the account (reservedConcurrency 1): the
	// same event delivered twice at once is then deployed once, and the
	// second delivery finds every target unchanged.
	serial sync.Mutex
}

// Request is one invocation's event and context.
type Request struct {
	Event       *event.Event
	RequestID   string
	Credentials *store.Credentials
	// Deadline is when the invocation is stopped; zero means
	// Config.Timeout after the start, or no deadline.
	Deadline time.Time
	Log      *slog.Logger
}

// invocation is the state of one Run: the stores, manifest, roots and
// client, each made once and only when needed. One goroutine uses it.
type invocation struct {
	r      *Runner
	req    Request
	log    *slog.Logger
	out    *Outcome
	stopAt time.Time
	bucket string // the bucket reports go to

	stores   map[string]store.Store
	manifest *manifest.Manifest
	roots    []*x509.Certificate
	client   fanout.Client
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Run carries out one invocation and returns its outcome. It never panics
// on bad input: everything that goes wrong is in the outcome.
func (r *Runner) Run(ctx context.Context, req Request) *Outcome {
	r.serial.Lock()
	defer r.serial.Unlock()
	log := req.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	inv := &invocation{r: r, req: req, log: log, stores: map[string]store.Store{},
		out: &Outcome{RequestID: req.RequestID, Reports: []*report.Report{}}}
	start := r.now()
	deadline := req.Deadline
	if deadline.IsZero() && r.Config.Timeout > 0 {
		deadline = start.Add(r.Config.Timeout)
	}
	if !deadline.IsZero() {
		inv.stopAt = deadline.Add(-r.Config.stopMargin(deadline.Sub(start)))
	}
	switch ev := req.Event; ev.Kind {
	case event.KindOSS:
		inv.out.Trigger = report.TriggerOSS
		inv.onOSS(ctx, ev.OSS)
	case event.KindManual:
		inv.out.Trigger = report.TriggerManual
		inv.onManual(ctx, ev.Manual)
	case event.KindTimer:
		inv.out.Trigger = report.TriggerTimer
		inv.onTimer(ctx, ev.Timer)
	}
	inv.out.Bucket = inv.bucket
	return inv.out
}

// fail records why the run could not go on.
func (inv *invocation) fail(code, msg, hint string) {
	inv.log.Error("run cannot start", "code", code, "error", msg)
	if inv.out.Error == nil {
		inv.out.Error = &report.Error{Code: code, Message: msg, Hint: hint}
	}
}

// store opens (once) the store of a bucket.
func (inv *invocation) store(ctx context.Context, bucket string) (store.Store, error) {
	if st, ok := inv.stores[bucket]; ok {
		return st, nil
	}
	st, err := inv.r.OpenStore(ctx, bucket, inv.req.Credentials)
	if err != nil {
		return nil, err
	}
	inv.stores[bucket] = st
	return st, nil
}

// load reads an oss:// object or a local file (a path in the code package).
func (inv *invocation) load(ctx context.Context, location string) ([]byte, error) {
	if !strings.HasPrefix(location, "oss://") {
		return os.ReadFile(location)
	}
	bucket, key, err := event.ParseOSSURL(location)
	if err != nil {
		return nil, err
	}
	st, err := inv.store(ctx, bucket)
	if err != nil {
		return nil, err
	}
	obj, err := st.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return obj.Data, nil
}

// prepare loads the manifest and trusted roots once. bucket is the
// trigger's bucket, where the manifest is by default.
func (inv *invocation) prepare(ctx context.Context, bucket string) bool {
	if inv.manifest != nil {
		return true
	}
	if inv.out.Error != nil {
		return false
	}
	loc := inv.r.Config.Manifest
	if loc == "" {
		loc = "oss://" + bucket + "/" + DefaultManifestKey
	}
	data, err := inv.load(ctx, loc)
	if err != nil {
		inv.fail("ManifestUnreadable", fmt.Sprintf("cannot read the manifest %s: %v", loc, err),
			"upload the manifest there, or point CERTDROP_MANIFEST at it")
		return false
	}
	m, err := manifest.Parse(loc, data)
	if err != nil {
		inv.fail("ManifestInvalid", err.Error(), "fix the manifest; `certdrop plan` checks it locally")
		return false
	}
	if tr := inv.r.Config.TrustRoots; tr != "" {
		data, err := inv.load(ctx, tr)
		if err == nil {
			inv.roots, err = bundle.ParseRoots(tr, data)
		}
		if err != nil {
			inv.fail("TrustRootsUnreadable", fmt.Sprintf("CERTDROP_TRUST_ROOTS %s: %v", tr, err), "")
			return false
		}
	}
	inv.manifest = m
	return true
}

// begin readies the run for a bucket: the manifest and roots loaded, the
// bucket's store open. It reports false, the failure recorded, when the
// run cannot go on.
func (inv *invocation) begin(ctx context.Context, bucket string) (store.Store, bool) {
	if !inv.prepare(ctx, bucket) {
		return nil, false
	}
	st, err := inv.store(ctx, bucket)
	if err != nil {
		inv.fail("StoreUnavailable", err.Error(), "")
		return nil, false
	}
	return st, true
}

// apiClient builds (once) the API client. It reports false, the failure
// recorded, when there is none to be had (no credentials, a refused
// endpoint).
func (inv *invocation) apiClient(ctx context.Context) (fanout.Client, bool) {
	if inv.client == nil {
		c, err := inv.r.NewClient(ctx, inv.req.Credentials)
		if err != nil {
			inv.fail("NoClient", err.Error(), "give the function a role (s.yaml role:) or set ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET; check CERTDROP_*_ENDPOINT")
			return nil, false
		}
		inv.client = c
	}
	return inv.client, true
}

// runOptions are the options of every deployment of this invocation.
func (inv *invocation) runOptions(dryRun, force bool) Options {
	return Options{
		Trigger: inv.out.Trigger, RequestID: inv.req.RequestID, DryRun: dryRun, Force: force,
		StopAt: inv.stopAt, Quotas: inv.r.Config.Quotas, Log: inv.log, Fanout: inv.r.Fanout,
	}
}

// deploy validates, plans, fans out and reports one located bundle.
func (inv *invocation) deploy(ctx context.Context, loc *located, objectKey string, dryRun, force bool) *report.Report {
	d := &Deployment{Sources: loc.Sources, Keys: loc.Keys, ObjectKey: objectKey, Manifest: inv.manifest,
		Roots: inv.roots, Now: inv.r.Now}
	p, warnings, err := d.Prepare()
	switch {
	case errors.Is(err, ErrWaiting):
		reason := "incomplete: " + strings.TrimPrefix(err.Error(), ErrWaiting.Error()+"\n") +
			"; the event of the other file completes it"
		inv.log.Info("bundle waiting", "unit", loc.Unit, "reason", reason)
		inv.out.Waiting = append(inv.out.Waiting, Skipped{Unit: loc.Unit, Keys: loc.Keys, Reason: reason})
		return nil
	case err != nil:
		inv.log.Error("bundle invalid", "unit", loc.Unit, "error", err.Error())
		inv.out.Invalid = append(inv.out.Invalid, Skipped{Unit: loc.Unit, Keys: loc.Keys, Reason: "invalid bundle",
			Error: problem(err)})
		return nil
	}
	for _, w := range warnings {
		inv.log.Warn("bundle warning", "unit", loc.Unit, "warning", w)
	}
	client, ok := inv.apiClient(ctx)
	if !ok {
		return nil
	}
	inv.log.Info("deploying", "unit", loc.Unit, "certName", p.CertName, "targets", len(p.Calls), "notCovered", len(p.NotCovered),
		"dryRun", dryRun, "lowerBound", p.LowerBound().String())
	rep := Run(ctx, client, p, inv.manifest, loc.Keys, inv.runOptions(dryRun, force))
	rep.Warnings = warnings
	inv.out.Reports = append(inv.out.Reports, rep)
	inv.log.Info("run finished", "unit", loc.Unit, "summary", report.SummaryLine(rep))
	return rep
}

// problem renders an error for the outcome, keeping a bundle error's hint.
func problem(err error) *report.Error {
	var be *bundle.Error
	if errors.As(err, &be) {
		msg := *be
		msg.Hint = ""
		return &report.Error{Code: "InvalidBundle", Message: msg.Error(), Hint: be.Hint}
	}
	return &report.Error{Code: "InvalidBundle", Message: err.Error()}
}

// onOSS handles an OSS trigger event: each created bundle part's bundle,
// once per folder, whatever the number of events for it.
func (inv *invocation) onOSS(ctx context.Context, ev *event.OSSEvent) {
	have := map[string]*store.Object{}
	done := map[string]bool{}
	for _, rec := range ev.Events {
		bucket, raw := rec.OSS.Bucket.Name, rec.OSS.Object.Key
		ignore := func(reason string) {
			inv.log.Info("object ignored", "bucket", bucket, "key", raw, "reason", reason)
			inv.out.Ignored = append(inv.out.Ignored, Skipped{Unit: raw, Reason: reason})
		}
		if inv.bucket == "" {
			inv.bucket = bucket
		}
		if !rec.IsObjectCreated() {
			ignore(fmt.Sprintf("event %q is not an object creation", rec.EventName))
			continue
		}
		cands := rec.KeyCandidates()
		if !anyPart(cands) {
			ignore("not a bundle part (.pem, .crt, .cer or .key)")
			continue
		}
		if strings.HasPrefix(cands[0], inv.r.Config.ReportPrefix) {
			ignore("a certdrop report")
			continue
		}
		if bucket == "" {
			ignore("the event names no bucket")
			continue
		}
		st, ok := inv.begin(ctx, bucket)
		if !ok {
			return
		}
		if done[bucket+"\x00"+folderOf(cands[0])] || done[bucket+"\x00"+cands[0]] {
			inv.log.Info("bundle already handled in this invocation", "key", cands[0])
			continue
		}
		obj, err := getAny(ctx, st, cands)
		if errors.Is(err, store.ErrNotFound) {
			ignore("the object no longer exists")
			continue
		}
		if err != nil {
			inv.out.Invalid = append(inv.out.Invalid, Skipped{Unit: cands[0], Reason: "unreadable", Error: &report.Error{Code: "StoreError", Message: err.Error()}})
			continue
		}
		have[obj.Key] = obj
		loc, err := locate(ctx, st, obj, have)
		if err != nil {
			inv.out.Invalid = append(inv.out.Invalid, Skipped{Unit: folderOf(obj.Key), Reason: "no bundle", Error: problem(err)})
			continue
		}
		if done[bucket+"\x00"+loc.Unit] {
			continue
		}
		done[bucket+"\x00"+loc.Unit] = true
		inv.deploy(ctx, loc, obj.Key, false, false)
	}
}

func anyPart(keys []string) bool {
	for _, k := range keys {
		if bundle.IsPartName(k) {
			return true
		}
	}
	return false
}

// onManual re-runs one bundle: a folder (ending in "/") or an object.
func (inv *invocation) onManual(ctx context.Context, m *event.ManualEvent) {
	bucket, key, _ := m.BundleLocation()
	inv.bucket = bucket
	st, ok := inv.begin(ctx, bucket)
	if !ok {
		return
	}
	have := map[string]*store.Object{}
	var err error
	var loc *located
	objectKey := key
	if key == "" || strings.HasSuffix(key, "/") {
		loc, err = locateFolder(ctx, st, key, have)
		if err == nil && len(loc.Keys) > 0 {
			objectKey = loc.Keys[0]
		}
	} else {
		var obj *store.Object
		if obj, err = st.Get(ctx, key); err == nil {
			have[key] = obj
			loc, err = locate(ctx, st, obj, have)
		}
	}
	if err != nil {
		inv.out.Invalid = append(inv.out.Invalid, Skipped{Unit: m.Bundle, Reason: "no bundle", Error: problem(err)})
		return
	}
	inv.deploy(ctx, loc, objectKey, m.DryRun, m.Force)
}
