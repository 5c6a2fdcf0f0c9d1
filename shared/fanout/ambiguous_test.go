package fanout_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/fanout"
)

// issuedLater returns seeds of a certificate for *.bench.test issued
// after the fleet's (which is issued an hour before the fleet is built).
func issuedLater(t *testing.T, domains ...string) map[string]*cloudsim.SeedCert {
	t.Helper()
	now := time.Now()
	root, err := cloudsim.NewRootCA("seed root", now.AddDate(-1, 0, 0), now.AddDate(2, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	c, err := root.Issue(cloudsim.LeafRequest{DNSNames: []string{"*.bench.test"}, NotBefore: now.Add(-10 * time.Minute), NotAfter: now.AddDate(0, 2, 0)})
	if err != nil {
		t.Fatal(err)
	}
	seeds := map[string]*cloudsim.SeedCert{}
	for _, d := range domains {
		seeds[d] = &cloudsim.SeedCert{CertName: "issued-later", Cert: string(c.CertPEM)}
	}
	return seeds
}

// TestThrottledDescribeNeverOverwritesNewer: with most calls throttled
// and a certificate issued later on most domains, `replace: older` holds:
// the emulator's journal shows no Set call for those domains, whatever
// the throttling did to their Describes. The others are deployed or, if
// their budget ran out, failed as transient.
func TestThrottledDescribeNeverOverwritesNewer(t *testing.T) {
	var newer []string
	for i := range 20 {
		newer = append(newer, fmt.Sprintf("c%05d.bench.test", i))
	}
	f := fleetSpec{CDN: 24, Quotas: quick(), Seed: issuedLater(t, newer...),
		Faults: cloudsim.Faults{Seed: 21, ThrottleRate: 0.8, ThrottleTimeLeft: -1}}.build(t, false)
	res := fanout.Run(context.Background(), f.client, f.plan, fastRetry(fanout.Options{}))
	describeThrottles := 0
	for _, e := range f.sim.Journal().Entries() {
		if strings.HasPrefix(e.API, "Describe") && e.Fault == "throttle" {
			describeThrottles++
		}
	}
	if describeThrottles < 50 {
		t.Fatalf("only %d Describe calls throttled: the storm did not happen", describeThrottles)
	}
	sets := map[string]int{}
	for _, e := range f.sim.Journal().Entries() {
		if strings.HasPrefix(e.API, "Set") {
			sets[e.Domain]++
		}
	}
	skipped := 0
	for i, r := range res {
		d := r.Call.DomainName
		if i < len(newer) {
			if sets[d] != 0 {
				t.Errorf("%s carries a newer certificate, yet got %d Set calls (%s, %d Describes, %v)", d, sets[d], r.State, r.Describes, r.Err)
			}
			switch r.State {
			case fanout.SkippedNewer:
				skipped++
			case fanout.Failed:
				if r.Err == nil || !strings.Contains(r.Err.Error(), "not set") {
					t.Errorf("%s: failed with %v", d, r.Err)
				}
			default:
				t.Errorf("%s: %s, want skipped_newer (or failed without a Set)", d, r.State)
			}
			continue
		}
		if r.State != fanout.Deployed && r.State != fanout.Failed {
			t.Errorf("%s: %s %v", d, r.State, r.Err)
		}
	}
	if skipped == 0 {
		t.Error("no target carrying a newer certificate was recognised as such")
	}
	checkJournal(t, f.sim, res)
}

// TestResetAfterApplyConverges: Set calls whose connection is reset after
// they were applied (the ambiguous failure) end deployed, never failed,
// and are not sent again: the Describe after the lost answer sees the
// certificate. Every deployed target has an applied Set in the journal.
func TestResetAfterApplyConverges(t *testing.T) {
	spec := fleetSpec{CDN: 20, VOD: 5, Live: 5, Quotas: quick(), Mutate: func(c *cloudsim.Config) {
		for _, d := range c.Domains.CDN[:10] {
			c.Faults.Scripted = append(c.Faults.Scripted, cloudsim.Script{Domain: d.Name, API: "SetCdnDomainSSLCertificate", Fault: "resetAfterApply"})
		}
		for _, d := range c.Domains.CDN[10:14] {
			c.Faults.Scripted = append(c.Faults.Scripted, cloudsim.Script{Domain: d.Name, API: "SetCdnDomainSSLCertificate", Fault: "reset"})
		}
	}, Faults: cloudsim.Faults{Seed: 22, ResetAfterApplyRate: 0.3}}
	f := spec.build(t, false)
	res := fanout.Run(context.Background(), f.client, f.plan, fastRetry(fanout.Options{}))
	if c := countStates(res); c[fanout.Deployed] != 30 {
		for _, r := range res {
			if r.State != fanout.Deployed {
				t.Logf("%s: %s %v", r.Call.DomainName, r.State, r.Err)
			}
		}
		t.Fatalf("states %v, want 30 deployed", c)
	}
	applied, lost := map[string]int{}, 0
	for _, e := range f.sim.Journal().Entries() {
		if strings.HasPrefix(e.API, "Set") && e.Outcome == "ok" {
			applied[e.Domain]++
			if e.Fault == "resetAfterApply" {
				lost++
			}
		}
	}
	if lost < 10 {
		t.Fatalf("%d Set calls reset after they were applied, want at least the 10 scripted", lost)
	}
	for i, r := range res {
		d := r.Call.DomainName
		if inst, _ := f.sim.Installed(string(r.Call.Target.Product), d); inst.CertName != f.plan.CertName {
			t.Errorf("%s carries %q, not %q", d, inst.CertName, f.plan.CertName)
		}
		if applied[d] != 1 {
			t.Errorf("%s: %d applied Set calls, want exactly 1 (no Set after one was applied)", d, applied[d])
		}
		if i < 10 && (r.Attempts != 1 || r.Note != fanout.NoteUnanswered) {
			t.Errorf("%s: %d attempts, note %q; want 1 and the lost answer noted", d, r.Attempts, r.Note)
		}
		if i >= 10 && i < 14 && r.Attempts != 2 {
			t.Errorf("%s: reset before it was applied: %d attempts, want 2", d, r.Attempts)
		}
	}
	checkJournal(t, f.sim, res)
}
