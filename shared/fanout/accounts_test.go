package fanout

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/failure"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
)

// accountPlan is a plan of n CDN calls in each of accounts, interleaved
// (own account "", media, games, own, media, ...).
func accountPlan(n int, accounts ...string) *plan.Plan {
	p := testPlan(0)
	for i := range n {
		for _, a := range accounts {
			d := fmt.Sprintf("%s%02d.example.com", a, i)
			if a == "" {
				d = fmt.Sprintf("own%02d.example.com", i)
			}
			p.Calls = append(p.Calls, plan.Call{
				Target: manifest.Target{Product: "cdn", Domain: d, Account: a},
				API:    TestAPIs["cdn"][0], DomainName: d,
				Params: []plan.Param{{Name: "DomainName", Value: d}, {Name: "CertName", Value: p.CertName}},
			})
		}
	}
	return p
}

// TestRunAccounts: each account's targets go through its own client; an
// account whose role is refused fails its own targets only, without a
// call; an auth failure in one account stops that account only; results
// keep the plan's order; progress counts every account's targets.
func TestRunAccounts(t *testing.T) {
	own, media := newFake(), newFake()
	media.setAlways["media00.example.com"] = errAuth
	refused := &fakeErr{class: failure.Forbidden, code: "NoPermission"}
	var mu sync.Mutex
	opened := map[string]int{}
	open := func(_ context.Context, name string) (Client, CASClient, error) {
		mu.Lock()
		opened[name]++
		mu.Unlock()
		switch name {
		case "":
			return own, nil, nil
		case "media":
			return media, nil, nil
		}
		return nil, nil, refused
	}
	p := accountPlan(5, "", "media", "games")
	var last Progress
	var pmu sync.Mutex
	o := serial(Options{})
	o.Progress = func(pr Progress) {
		pmu.Lock()
		defer pmu.Unlock()
		if pr.Done > last.Done {
			last = pr
		}
	}
	results, ups := RunAccounts(context.Background(), open, p, o)
	if len(results) != len(p.Calls) || len(ups) != 0 {
		t.Fatalf("%d results for %d calls, %d uploads", len(results), len(p.Calls), len(ups))
	}
	for i, r := range results {
		if r.Call.DomainName != p.Calls[i].DomainName {
			t.Fatalf("result %d is %s, the plan's call %d is %s", i, r.Call.DomainName, i, p.Calls[i].DomainName)
		}
		var ae *AccountError
		switch a := r.Call.Target.Account; a {
		case "":
			if r.State != Deployed {
				t.Errorf("%s: %s (%v), want deployed: the other accounts' failures are not its own", r.Call.DomainName, r.State, r.Err)
			}
		case "media":
			if r.State.OK() {
				t.Errorf("%s: %s, want failed or not started: media's credentials were refused", r.Call.DomainName, r.State)
			}
			var se *StopError
			if r.Call.DomainName != "media00.example.com" && (!errors.As(r.Err, &se) || se.Code != "AuthFailed") {
				t.Errorf("%s: %v, want media's AuthFailed stop", r.Call.DomainName, r.Err)
			}
		case "games":
			if r.State != Failed || !errors.As(r.Err, &ae) || ae.Account != "games" || !errors.Is(r.Err, refused) || r.Attempts != 0 {
				t.Errorf("%s: %s %v (%d attempts), want failed with games' AccountError and no call", r.Call.DomainName, r.State, r.Err, r.Attempts)
			}
		}
	}
	if own.totalSets() != 5 || media.totalSets() != 1 {
		t.Errorf("Sets: own %d, media %d; want 5 and 1", own.totalSets(), media.totalSets())
	}
	if opened[""] != 1 || opened["media"] != 1 || opened["games"] != 1 {
		t.Errorf("accounts opened: %v, want each once", opened)
	}
	if last.Done != len(p.Calls) || last.Total != len(p.Calls) {
		t.Errorf("last progress %+v, want %d of %d", last, len(p.Calls), len(p.Calls))
	}
}

// TestRunAccountsPacedApart: three accounts' targets at a quota of 20
// Sets a second take about one account's time, not three: each account
// has its own pacers.
func TestRunAccountsPacedApart(t *testing.T) {
	clients := map[string]*fakeClient{"": newFake(), "a": newFake(), "b": newFake()}
	open := func(_ context.Context, name string) (Client, CASClient, error) { return clients[name], nil, nil }
	p := accountPlan(20, "", "a", "b")
	o := Options{Quotas: map[string]float64{"SetCdnDomainSSLCertificate": 20, "DescribeDomainCertificateInfo": 1000}, LatencyP99: 100 * time.Millisecond}
	start := time.Now()
	results, _ := RunAccounts(context.Background(), open, p, o)
	took := time.Since(start)
	for _, r := range results {
		if r.State != Deployed {
			t.Fatalf("%s: %s (%v)", r.Call.DomainName, r.State, r.Err)
		}
	}
	// One account: 20 Sets at 20/s (97% of it) is about 1 s; the three
	// sharing one pacer would take about 3 s.
	if took > 1800*time.Millisecond {
		t.Errorf("3 accounts × 20 Sets at 20/s took %v; one account's bound is 1 s", took)
	}
}
