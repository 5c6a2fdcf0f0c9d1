package fanout

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/failure"
	"github.com/certdrop/certdrop/shared/plan"
)

// CASCert is one certificate in Certificate Management Service, as its
// list or detail answer describes it. It never holds the private key.
type CASCert struct {
	// ID is the CertId every Set by reference names.
	ID int64
	// Region is the CAS region that holds it.
	Region string
	// Name is the name it was uploaded under.
	Name       string
	CommonName string
	SANs       []string
	// Fingerprint is the leaf's SHA-256, lower-case hex.
	Fingerprint         string
	NotBefore, NotAfter time.Time
	Expired             bool
}

// CASClient is Certificate Management Service (API 2020-04-07), in the
// regions certdrop uses (cn-hangzhou, ap-southeast-1). shared/cloud
// implements it next to Client. It has no way to read a private key back
// (GetUserCertificateDetail): nothing certdrop does needs one, so the
// function's role need not be allowed to.
type CASClient interface {
	// ListCAS lists the uploaded certificates matching keyword (a domain,
	// as the API matches it; "" lists all), the valid ones, or the expired
	// ones when expired is set (the API lists those only when asked for by
	// status). Every page is read, up to a bound.
	ListCAS(ctx context.Context, region, keyword string, expired bool) ([]CASCert, error)
	// UploadCAS uploads a certificate and its key under name and returns
	// its CertId and the call's RequestId.
	UploadCAS(ctx context.Context, region, name, certPEM string, key bundle.Secret) (id int64, requestID string, err error)
	// DeleteCAS deletes a certificate.
	DeleteCAS(ctx context.Context, region string, id int64) error
}

// Upload is what happened to one certificate in one CAS region.
type Upload struct {
	// Account is the manifest's name of the account it was put in; empty
	// for the function's own (RunAccounts).
	Account string
	// Region and Name say where and under which name.
	Region, Name string
	// CertID is the certificate's CertId; 0 when it is not in CAS (the
	// upload failed, or a dry run found none).
	CertID int64
	// Found: CAS already held this certificate under this name (same
	// fingerprint), so nothing was uploaded.
	Found bool
	// Uploaded: this run uploaded it.
	Uploaded bool
	// Attempts counts the UploadUserCertificate calls sent, Throttled those
	// answered with throttling.
	Attempts, Throttled int
	// RequestIDs are the RequestIds of the upload calls.
	RequestIDs []string
	// Targets counts the calls that reference it.
	Targets int
	// Err is why the certificate is not in CAS; every target referencing
	// it failed with it and no Set was sent for them.
	Err error
	// Duration is the time the lookup and upload took.
	Duration time.Duration
}

// UploadError fails a target whose certificate could not be put in CAS:
// no Set was sent for it. It unwraps to the cause, so the target reports
// the CAS answer's code and hint.
type UploadError struct {
	Region, Name string
	Err          error
}

// Error says which upload failed and that the Set was not sent.
func (e *UploadError) Error() string {
	return fmt.Sprintf("the certificate %s could not be put in CAS (%s): %v; no Set was sent", e.Name, e.Region, e.Err)
}

// Unwrap returns the cause.
func (e *UploadError) Unwrap() error { return e.Err }

// NameTakenError says that CAS holds another certificate under the name
// certdrop would upload this one under.
type NameTakenError struct {
	Region, Name string
	// ID and Fingerprint describe what CAS holds.
	ID          int64
	Fingerprint string
}

// Error names the clash.
func (e *NameTakenError) Error() string {
	return fmt.Sprintf("CAS (%s) holds CertId %d under the name %s with another certificate (SHA-256 %s…); rename or delete it", e.Region, e.ID, e.Name, short(e.Fingerprint))
}

func short(fp string) string {
	if len(fp) > 16 {
		return fp[:16]
	}
	return fp
}

// Class: a name clash does not go away by retrying.
func (e *NameTakenError) Class() failure.Class { return failure.Permanent }

// RetryAfter has no hint.
func (e *NameTakenError) RetryAfter() time.Duration { return 0 }

// RunCAS deploys p like Run, putting the certificate of its CAS calls in
// Certificate Management Service once per region: an upload of the same
// certificate (same name, same fingerprint) is reused, so a re-run uploads
// nothing; otherwise it is uploaded, with throttled and transient answers
// retried like a Set. The lookups and uploads run while the targets are
// described; each CAS call's Set waits for its region's CertId and is
// bound to it. When a region's upload fails, no Set is sent for its calls:
// those not found unchanged (or newer) end Failed with an UploadError, or
// NotStarted when the run stopped first. A dry run looks up but never
// uploads; its CAS calls end Planned like the others.
//
// The private key leaves the process only in UploadUserCertificate: at
// most once per region per run, and not at all when CAS has it already.
func RunCAS(ctx context.Context, client Client, cas CASClient, p *plan.Plan, opts Options) ([]Result, []Upload) {
	specs := p.CASUploads()
	if len(specs) == 0 {
		return Run(ctx, client, p, opts), nil
	}
	ups := make([]Upload, len(specs))
	done := map[string]chan struct{}{}
	at := map[string]int{}
	var wg sync.WaitGroup
	for i, s := range specs {
		ch := make(chan struct{})
		done[s.Region], at[s.Region] = ch, i
		wg.Go(func() {
			defer close(ch)
			ups[i] = ensureCAS(ctx, cas, s, opts)
		})
	}
	bind := func(ctx context.Context, c plan.Call) (plan.Call, error) {
		ch, ok := done[c.CASRegion]
		if !ok {
			return c, fmt.Errorf("internal error: no CAS upload for region %q", c.CASRegion)
		}
		var stop <-chan time.Time
		if !opts.StopAt.IsZero() {
			t := time.NewTimer(time.Until(opts.StopAt))
			defer t.Stop()
			stop = t.C
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return c, canceledStop(ctx.Err())
		case <-stop:
			return c, deadlineStop()
		}
		up := ups[at[c.CASRegion]]
		switch {
		case up.Err != nil && isStop(up.Err):
			return c, up.Err
		case up.Err != nil:
			return c, &UploadError{Region: up.Region, Name: up.Name, Err: up.Err}
		case up.CertID == 0:
			return c, &UploadError{Region: up.Region, Name: up.Name, Err: fmt.Errorf("CAS gave no CertId")}
		}
		return c.WithCertID(up.CertID), nil
	}
	results := runWith(ctx, client, p, opts, bind)
	wg.Wait()
	return results, ups
}

// ensureCAS finds or uploads one certificate in one region.
func ensureCAS(ctx context.Context, cas CASClient, s plan.CASUpload, opts Options) (up Upload) {
	start := time.Now()
	up = Upload{Region: s.Region, Name: s.Name, Targets: len(s.Calls)}
	defer func() { up.Duration = time.Since(start) }()
	if cas == nil {
		up.Err = fmt.Errorf("this API client cannot reach Certificate Management Service")
		return up
	}
	if done := lookupCAS(ctx, cas, s, opts, &up); done || opts.DryRun {
		return up
	}
	err := retryCAS(ctx, opts, func() (string, error) {
		up.Attempts++
		id, rid, err := cas.UploadCAS(ctx, s.Region, s.Name, s.CertPEM, s.Key)
		if err == nil {
			up.CertID = id
		}
		return rid, err
	}, &up)
	if err != nil && nameExists(err) {
		// Uploaded meanwhile under this name (a product's Set with
		// CertType=upload stores its certificate in CAS too, or another
		// run): the same certificate is as good as our own upload.
		if lookupCAS(ctx, cas, s, opts, &up) {
			return up
		}
	}
	if err != nil {
		up.Err = err
		return up
	}
	up.Uploaded = true
	return up
}

// lookupCAS looks for an upload of s's certificate (its name, confirmed by
// fingerprint) and records it in up; done reports whether the lookup
// settled the matter: found, or failed (up.Err set).
func lookupCAS(ctx context.Context, cas CASClient, s plan.CASUpload, opts Options, up *Upload) (done bool) {
	var found []CASCert
	err := retryCAS(ctx, opts, func() (string, error) {
		var err error
		found, err = cas.ListCAS(ctx, s.Region, s.Keyword, false)
		return "", err
	}, nil)
	if err != nil {
		up.Err = fmt.Errorf("looking for an earlier upload: %w", err)
		return true
	}
	for _, c := range found {
		if c.Name != s.Name {
			continue
		}
		if c.Fingerprint != s.Fingerprint {
			up.Err = &NameTakenError{Region: s.Region, Name: s.Name, ID: c.ID, Fingerprint: c.Fingerprint}
			return true
		}
		up.CertID, up.Found, up.Err = c.ID, true, nil
		return true
	}
	return false
}

// nameExists reports whether an upload was refused because the name is
// taken (CertNameAlreadyExists; the products' Certificate.Duplicated).
func nameExists(err error) bool {
	var c interface{ APICode() string }
	if !errors.As(err, &c) {
		return false
	}
	return c.APICode() == "CertNameAlreadyExists" || c.APICode() == "Certificate.Duplicated"
}

// retryCAS makes a CAS call until it succeeds or fails for good, retrying
// throttled answers (after the server's hint, else a backoff) up to the
// run's throttling budget and transient ones (5xx, network) up to its
// attempt budget, never past StopAt. CAS calls are few (one upload per
// region), so they are not paced by a lane.
func retryCAS(ctx context.Context, opts Options, call func() (string, error), up *Upload) error {
	tries, throttles := 0, 0
	for {
		if !opts.StopAt.IsZero() && !time.Now().Before(opts.StopAt) {
			return deadlineStop()
		}
		if err := ctx.Err(); err != nil {
			return canceledStop(err)
		}
		rid, err := call()
		if rid == "" {
			rid = requestIDOf(err)
		}
		if up != nil && rid != "" {
			up.RequestIDs = append(up.RequestIDs, rid)
		}
		if err == nil {
			return nil
		}
		class, hint := classify(err)
		var wait time.Duration
		switch class {
		case failure.Throttled:
			throttles++
			if up != nil {
				up.Throttled++
			}
			if throttles >= opts.maxThrottled() {
				return err
			}
			wait = hint
			if wait <= 0 {
				wait = opts.backoff(throttles)
			}
		case failure.Transient:
			tries++
			if tries >= opts.maxAttempts() {
				return err
			}
			wait = opts.backoff(tries)
		default:
			return err
		}
		wait = min(wait, opts.maxDelay())
		if !opts.StopAt.IsZero() && time.Now().Add(wait).After(opts.StopAt) {
			return fmt.Errorf("%w (then %s)", err, deadlineStop().Error())
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (then the run was canceled)", err)
		}
	}
}

// CallCAS makes one CAS call through the retry policy of uploads:
// throttled and transient answers are retried within opts' budgets, never
// past StopAt. Rollback and pruning use it for their lookups and deletes.
func CallCAS(ctx context.Context, opts Options, call func() error) error {
	return retryCAS(ctx, opts, func() (string, error) { return "", call() }, nil)
}

// notLater says why a rollback leaves a target as it is, or "" when the
// target carries another certificate issued no earlier than the plan's
// (later, or in the same second: two renewals forced back to back) and is
// to be set.
func (r *run) notLater(in Installed) string {
	if !in.HTTPS {
		return "HTTPS is off on this domain: a rollback restores an earlier certificate only where a later one is served"
	}
	ours := r.plan.Bundle
	const day = "2006-01-02 15:04 MST"
	switch {
	case !in.NotBefore.IsZero() && !ours.NotBefore.IsZero():
		if in.NotBefore.Before(ours.NotBefore) {
			return fmt.Sprintf("the domain carries %s, issued %s, earlier than %s (%s): a rollback replaces only later certificates",
				certLabel(in), in.NotBefore.UTC().Format(day), r.plan.CertName, ours.NotBefore.UTC().Format(day))
		}
	case !in.NotAfter.IsZero() && !ours.NotAfter.IsZero():
		if in.NotAfter.Before(ours.NotAfter) {
			return fmt.Sprintf("the domain carries %s, which expires %s, earlier than %s (%s): a rollback replaces only later certificates",
				certLabel(in), in.NotAfter.UTC().Format(day), r.plan.CertName, ours.NotAfter.UTC().Format(day))
		}
	}
	return ""
}
