package fanout

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/certdrop/certdrop/shared/failure"
	"github.com/certdrop/certdrop/shared/plan"
)

var (
	errRefused   = &fakeErr{class: failure.Refused, code: "InvalidCertificate.TooLong"}
	errForbidden = &fakeErr{class: failure.Forbidden, code: "Forbidden.RAM"}
)

// mixedPlan is testPlan's n CDN calls followed by m VOD calls.
func mixedPlan(n, m int) *plan.Plan {
	p := testPlan(n)
	addCalls(p, "vod", "v", m)
	return p
}

// concurrent lets several calls of an API be in flight, as in production,
// so that stopping an API's calls is not an artefact of a single worker.
func concurrent(o Options) Options {
	o = serial(o)
	o.Quotas["SetVodDomainSSLCertificate"] = 1000
	o.Quotas["DescribeVodDomainCertificateInfo"] = 1000
	o.LatencyP99 = 20e6 // 20 ms: 20 calls in flight per API
	return o
}

// TestRefusedCertificateStopsItsAPI: an answer that belongs to the
// certificate (here: too long) on the API's first Set call fails the API's
// other targets with the same error and no call; the other APIs go on.
func TestRefusedCertificateStopsItsAPI(t *testing.T) {
	p := mixedPlan(12, 3)
	f := newFake()
	for _, c := range p.Calls[:12] {
		f.setAlways[c.DomainName] = errRefused
	}
	res := Run(context.Background(), f, p, concurrent(Options{}))
	if n := f.setsByAPI["SetCdnDomainSSLCertificate"]; n != 1 {
		t.Errorf("%d CDN Set calls, want 1: the first refusal stops the API", n)
	}
	for _, r := range res[:12] {
		var fe *fakeErr
		if r.State != Failed || !errors.As(r.Err, &fe) || fe != errRefused {
			t.Errorf("%s: %s %v, want failed with the refusal", r.Call.DomainName, r.State, r.Err)
		}
	}
	sent := 0
	for _, r := range res[:12] {
		sent += r.Attempts
		if r.Attempts == 0 && !strings.Contains(r.Err.Error(), "not sent") {
			t.Errorf("%s: %v does not say the call was not sent", r.Call.DomainName, r.Err)
		}
	}
	if sent != 1 {
		t.Errorf("attempts add up to %d, want 1", sent)
	}
	for _, r := range res[12:] {
		if r.State != Deployed {
			t.Errorf("%s: %s %v, want deployed: VOD's calls are not affected", r.Call.DomainName, r.State, r.Err)
		}
	}
}

// TestForbiddenFailsOneAPI: a permission missing for one API fails that
// API's targets; the others deploy and nothing ends not_started.
func TestForbiddenFailsOneAPI(t *testing.T) {
	p := mixedPlan(6, 8)
	f := newFake()
	for _, c := range p.Calls[6:] {
		f.setAlways[c.DomainName] = errForbidden
	}
	res := Run(context.Background(), f, p, concurrent(Options{}))
	for _, r := range res[:6] {
		if r.State != Deployed {
			t.Errorf("%s: %s %v, want deployed", r.Call.DomainName, r.State, r.Err)
		}
	}
	for _, r := range res[6:] {
		var fe *fakeErr
		if r.State != Failed || !errors.As(r.Err, &fe) || fe.code != "Forbidden.RAM" {
			t.Errorf("%s: %s %v, want failed Forbidden.RAM", r.Call.DomainName, r.State, r.Err)
		}
	}
	if n := f.setsByAPI["SetVodDomainSSLCertificate"]; n != 1 {
		t.Errorf("%d VOD Set calls, want 1", n)
	}
}

// TestForbiddenDescribe: without the permission to Describe, no target is
// set without knowing what it carries (one Describe call in all, each
// target failed saying what to do) unless replace: always; verifying
// fails honestly.
func TestForbiddenDescribe(t *testing.T) {
	p := testPlan(6)
	f := newFake()
	for _, c := range p.Calls {
		f.descAlways[c.DomainName] = errForbidden
	}
	res := Run(context.Background(), f, p, concurrent(Options{}))
	for _, r := range res {
		if r.State != Failed || r.Attempts != 0 || !strings.Contains(r.Err.Error(), "Forbidden.RAM") || !strings.Contains(r.Err.Error(), "replace: always") {
			t.Errorf("%s: %s after %d attempts (%v), want failed without a Set, saying what to do", r.Call.DomainName, r.State, r.Attempts, r.Err)
		}
	}
	if f.describes != 1 || f.totalSets() != 0 {
		t.Errorf("%d Describe calls, %d Sets; want 1 and none", f.describes, f.totalSets())
	}
	// replace: always sets without comparing.
	fa := newFake()
	for _, c := range p.Calls {
		fa.descAlways[c.DomainName] = errForbidden
	}
	pa := *p
	pa.Replace = plan.ReplaceAlways
	for _, r := range Run(context.Background(), fa, &pa, concurrent(Options{})) {
		if r.State != Deployed || r.Attempts != 1 {
			t.Errorf("replace: always: %s: %s after %d attempts (%v), want deployed", r.Call.DomainName, r.State, r.Attempts, r.Err)
		}
	}
	f2 := newFake()
	for _, c := range p.Calls {
		f2.descAlways[c.DomainName] = errForbidden
	}
	for _, r := range Run(context.Background(), f2, p, concurrent(Options{Verify: true})) {
		if r.State != Failed || !strings.Contains(r.Err.Error(), "Forbidden.RAM") {
			t.Errorf("verify without the permission: %s %v", r.State, r.Err)
		}
	}
}

// TestPanicFailsOneTarget: a client that panics fails its target, with
// the report's usual error (a panicking Describe too: the target is not
// set unread), and the run goes on.
func TestPanicFailsOneTarget(t *testing.T) {
	p := testPlan(4)
	f := newFake()
	f.panics["d01.example.com"] = true
	f.panics["describe:d02.example.com"] = true
	var logs bytes.Buffer
	res := Run(context.Background(), f, p, concurrent(Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}))
	if !strings.Contains(logs.String(), "panic in a call") || !strings.Contains(logs.String(), "stack=") {
		t.Errorf("the panic was not logged with its stack:\n%s", logs.String())
	}
	want := []State{Deployed, Failed, Failed, Deployed}
	if got := states(res); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("states %v, want %v", got, want)
	}
	var pe *PanicError
	if !errors.As(res[1].Err, &pe) || !strings.Contains(pe.Error(), "blew up") {
		t.Errorf("the panicking Set: %v", res[1].Err)
	}
	if !errors.As(res[2].Err, &pe) || res[2].Attempts != 0 {
		t.Errorf("the panicking Describe: %v after %d Sets", res[2].Err, res[2].Attempts)
	}
	out := Inspect(context.Background(), f, p.Calls, concurrent(Options{}))
	if !errors.As(out[2].Err, &pe) {
		t.Errorf("the panicking Describe in Inspect: %+v", out[2])
	}
	if v := newPanicError("oops -----BEGIN RSA PRIVATE KEY-----\nMII..."); strings.Contains(v.Error(), "MII") {
		t.Errorf("a panic value quoting a key was kept: %v", v)
	}
}

// TestNewerMeansIssuedLater: a domain is skipped only when it carries a
// certificate issued after this one; a long-lived certificate issued
// before is replaced. With no issue date, the expiry decides and the note
// says so. replace: always replaces everything.
func TestNewerMeansIssuedLater(t *testing.T) {
	const (
		later   = iota // issued after ours, expires before
		longer         // issued before ours, expires a year after: replaced
		unknown        // no issue date, expires after: skipped on expiry
		older          // issued before, expires before
	)
	setup := func(f *fakeClient) {
		f.installed["d00.example.com"] = Installed{CertName: "later", NotBefore: notBefore.AddDate(0, 0, 1), NotAfter: notAfter.AddDate(0, 0, -1), HTTPS: true}
		f.installed["d01.example.com"] = Installed{CertName: "commercial", NotBefore: notBefore.AddDate(0, -9, 0), NotAfter: notAfter.AddDate(1, 0, 0), HTTPS: true}
		f.installed["d02.example.com"] = Installed{CertName: "undated", NotAfter: notAfter.AddDate(0, 1, 0), HTTPS: true}
		f.installed["d03.example.com"] = Installed{CertName: "old", NotBefore: notBefore.AddDate(0, -3, 0), NotAfter: notAfter.AddDate(0, -3, 0), HTTPS: true}
	}
	for _, tt := range []struct {
		replace string
		want    []State
	}{
		{plan.ReplaceOlder, []State{SkippedNewer, Deployed, SkippedNewer, Deployed}},
		{"", []State{SkippedNewer, Deployed, SkippedNewer, Deployed}},
		{plan.ReplaceAlways, []State{Deployed, Deployed, Deployed, Deployed}},
	} {
		t.Run("replace "+tt.replace, func(t *testing.T) {
			p := testPlan(4)
			p.Replace = tt.replace
			f := newFake()
			setup(f)
			res := Run(context.Background(), f, p, serial(Options{}))
			if got := states(res); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("states %v, want %v", got, tt.want)
			}
			if tt.replace == plan.ReplaceAlways {
				return
			}
			if n := res[later].Note; !strings.Contains(n, `"later"`) || !strings.Contains(n, "issued") {
				t.Errorf("the note of a later certificate: %q", n)
			}
			if n := res[unknown].Note; !strings.Contains(n, "expires") || !strings.Contains(n, "no issue date") {
				t.Errorf("the note of an undated certificate: %q", n)
			}
			if res[longer].Note != "" || res[older].Note != "" {
				t.Errorf("notes on replaced targets: %q %q", res[longer].Note, res[older].Note)
			}
		})
	}
}

// TestStagingIsNeverComparedWithProduction: Describe shows production, so
// a staging target is set every time, without a Describe, and never
// verified; its note says so.
func TestStagingIsNeverComparedWithProduction(t *testing.T) {
	p := testPlan(2)
	p.Calls[0].Target.Staging = true
	p.Calls[0].Params = append(p.Calls[0].Params, plan.Param{Name: "Env", Value: "staging"})
	f := newFake()
	for _, c := range p.Calls {
		// Production already carries this certificate (and, on d00, one
		// issued later): neither may stop the staging Set.
		f.installed[c.DomainName] = Installed{CertName: p.CertName, HTTPS: true}
	}
	f.ignoreSet = true // a verify would fail
	res := Run(context.Background(), f, p, serial(Options{Verify: true}))
	if res[0].State != Deployed || res[0].Note != NoteStaging || res[0].Before != nil || res[0].Describes != 0 {
		t.Errorf("staging target: %+v", res[0])
	}
	if res[1].State != Unchanged {
		t.Errorf("production target: %s, want unchanged", res[1].State)
	}
	if f.sets["d00.example.com"] != 1 || f.describes != 1 {
		t.Errorf("%d staging Sets and %d Describes in all, want 1 and 1", f.sets["d00.example.com"], f.describes)
	}
}

// TestCountsSplitDescribeAndSet: a throttled Describe counts as a throttled
// Describe, not as a throttled Set attempt.
func TestCountsSplitDescribeAndSet(t *testing.T) {
	p := testPlan(1)
	f := newFake()
	f.descErrs["d00.example.com"] = []error{errThrottled}
	f.setErrs["d00.example.com"] = []error{errThrottled, errThrottled}
	var last Progress
	res := Run(context.Background(), f, p, serial(Options{Verify: true, Progress: func(pr Progress) { last = pr }}))
	if last.Throttled != 2 {
		t.Errorf("progress counts %d throttled, want the 2 Set throttles", last.Throttled)
	}
	r := res[0]
	if r.State != Deployed || r.Attempts != 3 || r.Throttled != 2 || r.Describes != 3 || r.DescribeThrottled != 1 {
		t.Errorf("attempts %d throttled %d describes %d describeThrottled %d (%s), want 3 2 3 1",
			r.Attempts, r.Throttled, r.Describes, r.DescribeThrottled, r.State)
	}
}

// TestRetryLogDelay: a throttled call without a retry-after hint is
// retried as soon as the pacer allows, and the debug log says so (delayMs
// 0), not the distance to the zero time.
func TestRetryLogDelay(t *testing.T) {
	p := testPlan(1)
	f := newFake()
	f.setErrs["d00.example.com"] = []error{errThrottled}
	var logs bytes.Buffer
	res := Run(context.Background(), f, p, serial(Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}))
	if res[0].State != Deployed {
		t.Fatalf("%s %v", res[0].State, res[0].Err)
	}
	if !strings.Contains(logs.String(), "msg=retrying") || !strings.Contains(logs.String(), "delayMs=0 ") {
		t.Errorf("the retry's log does not say delayMs=0:\n%s", logs.String())
	}
}
