package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product/cdn"
)

// TestReportAccounts: targets carry their account and are grouped by it
// (the function's own first), a refused account's targets show the
// refusal's code and hint, the CAS uploads name their account, and the
// JSON only adds fields.
func TestReportAccounts(t *testing.T) {
	p, _ := testRun()
	mk := func(account, d string) plan.Call {
		tg := manifest.Target{Product: cdn.Name, Domain: d, Account: account}
		return plan.Call{Target: tg, API: targetCall(tg).API, DomainName: d}
	}
	p.NotCovered = nil
	p.Calls = []plan.Call{mk("media", "m1.example.com"), mk("", "own.example.com"), mk("games", "g1.example.com"), mk("media", "m2.example.com")}
	refused := &fanout.AccountError{Account: "games", Err: &apiErr{code: "NoPermission", msg: "You are not authorized to do this action.",
		hint: "grant the function's role sts:AssumeRole on it"}}
	rs := []fanout.Result{
		{Call: p.Calls[0], State: fanout.Deployed}, {Call: p.Calls[1], State: fanout.Deployed},
		{Call: p.Calls[2], State: fanout.Failed, Err: refused}, {Call: p.Calls[3], State: fanout.Deployed},
	}
	r := New(Meta{Trigger: TriggerCLI, StartedAt: time.Now()}, p, rs, time.Now())
	r.CAS = UploadsOf([]fanout.Upload{{Account: "media", Region: "cn-hangzhou", Name: "n", CertID: 7, Uploaded: true, Targets: 2}})
	var got []string
	for _, tg := range r.Targets {
		got = append(got, tg.Account+"/"+tg.Domain)
	}
	if want := "/own.example.com media/m1.example.com media/m2.example.com games/g1.example.com"; strings.Join(got, " ") != want {
		t.Errorf("targets in order %v, want %s", got, want)
	}
	g := r.Targets[3]
	if g.Error == nil || g.Error.Code != "NoPermission" || !strings.Contains(g.Error.Message, "account games") ||
		!strings.Contains(g.Error.Hint, "sts:AssumeRole") || g.Error.Transient {
		t.Errorf("the refused account's target: %+v", g.Error)
	}
	if r.Summary.Deployed != 3 || r.Summary.Failed != 1 {
		t.Errorf("summary %+v", r.Summary)
	}
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(`"account":"media","product":"cdn","domain":"m1.example.com"`)) ||
		!bytes.Contains(data, []byte(`{"product":"cdn","domain":"own.example.com"`)) ||
		!bytes.Contains(data, []byte(`"cas":[{"account":"media","region":"cn-hangzhou"`)) {
		t.Errorf("JSON: %s", data)
	}
	if txt := Text(r); !strings.Contains(txt, "- [games] cdn g1.example.com: failed") {
		t.Errorf("webhook text:\n%s", txt)
	}
	var tbl bytes.Buffer
	if err := WriteTableWidth(&tbl, r, 0); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tbl.String(), "media:cdn") || !strings.Contains(tbl.String(), "cn-hangzhou (account media)") {
		t.Errorf("table:\n%s", tbl.String())
	}
}
