package hub

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product/all"
)

// deployAccounts deploys b by CAS to the manifest's targets, each in its
// account, and returns the CertId of its upload by account; a target of
// an account that cannot be opened is expected to fail.
func deployAccounts(t *testing.T, f *fleet, b *bundle.Bundle) map[string]int64 {
	t.Helper()
	p, err := plan.Build(b, f.m, "", all.Products())
	if err != nil {
		t.Fatal(err)
	}
	res, ups := fanout.RunAccounts(context.Background(), f.open(), p, fanout.Options{})
	for _, r := range res {
		var ae *fanout.AccountError
		if !r.State.OK() && !errors.As(r.Err, &ae) {
			t.Fatalf("deploying to %s: %s %v", r.Call.DomainName, r.State, r.Err)
		}
	}
	ids := map[string]int64{}
	for _, u := range ups {
		ids[u.Account] = u.CertID
	}
	return ids
}

// TestRollbackAccounts deploys B, then C, to the function's own account
// and to media (games' role refuses the function) and rolls back to B:
// each reachable target is set back to B in its own account, by the
// CertId B has in that account's CAS; games' target fails with its
// account's refusal and is not touched; the report names each account's
// CAS certificate.
func TestRollbackAccounts(t *testing.T) {
	f := newFleet(t)
	s, c, m := f.sim, f.client, f.m
	now := time.Now()
	names := []string{zone, "*." + zone}
	b := issue(t, now.Add(-2*time.Hour), 90*24*time.Hour, names...)
	cNew := issue(t, now.Add(-time.Hour), 90*24*time.Hour, names...)
	ids := deployAccounts(t, f, b)
	deployAccounts(t, f, cNew)
	if ids[""] == 0 || ids["media"] == 0 {
		t.Fatalf("B's CAS uploads: %v", ids)
	}

	rep, err := Rollback(context.Background(), c, c, m, RollbackOptions{Products: all.Products(), To: plan.CASCertName(b.Identity()), Open: f.open()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sim     *cloudsim.Sim
		account string
		domain  string
	}{{s, "", "www." + zone}, {s.Account(mediaID), "media", "m00." + zone}, {s.Account(mediaID), "media", "m01." + zone}} {
		got, _ := tc.sim.Installed("cdn", tc.domain)
		if got.CertID != ids[tc.account] || got.CertType != "cas" {
			t.Errorf("%s carries CertId %d (%s); want B's %d in its own account", tc.domain, got.CertID, got.CertType, ids[tc.account])
		}
	}
	if got, _ := s.Account(gamesID).Installed("cdn", "g00."+zone); got.CertName != "" {
		t.Errorf("games' domain was set: %+v", got)
	}
	states := map[string]fanout.State{}
	for _, tg := range rep.Targets {
		states[tg.Account] = tg.State
		if tg.Account == "games" && (tg.Error == nil || tg.Error.Code != "NoPermission") {
			t.Errorf("games' target: %+v; want failed with its role's refusal", tg.Error)
		}
	}
	if states[""] != fanout.Deployed || states["media"] != fanout.Deployed || states["games"] != fanout.Failed {
		t.Errorf("states by account %v; want deployed, deployed, failed", states)
	}
	cas := map[string]int64{}
	for _, u := range rep.CAS {
		cas[u.Account] = u.CertID
	}
	if len(rep.CAS) != 2 || cas[""] != ids[""] || cas["media"] != ids["media"] {
		t.Errorf("report CAS %+v; want B in each reachable account", rep.CAS)
	}
	// The pin names B's CertId in each account.
	refs := map[string]int64{}
	for _, r := range PinOf(rep, now, "cli", "test").CAS {
		refs[r.Account] = r.CertID
	}
	if len(refs) != 2 || refs[""] != ids[""] || refs["media"] != ids["media"] {
		t.Errorf("pin CAS %v; want B's CertId in each reachable account", refs)
	}
}

// TestRollbackOtherAccountOnly: a manifest whose targets are all in
// another account finds the certificate in that account's CAS, not the
// function's own; without a way to open accounts, the rollback says why
// it could not look.
func TestRollbackOtherAccountOnly(t *testing.T) {
	f := newFleet(t)
	s, c, m := f.sim, f.client, f.m
	m.Targets = m.Targets[1:2] // media's first only
	now := time.Now()
	b := issue(t, now.Add(-2*time.Hour), 90*24*time.Hour, zone, "*."+zone)
	cNew := issue(t, now.Add(-time.Hour), 90*24*time.Hour, zone, "*."+zone)
	idB := deployAccounts(t, f, b)["media"]
	deployAccounts(t, f, cNew)
	to := plan.CASCertName(b.Identity())
	rep, err := Rollback(context.Background(), c, c, m, RollbackOptions{Products: all.Products(), To: to, Open: f.open()})
	if err != nil || rep.Summary.Deployed != 1 {
		t.Fatalf("rollback: %v %+v", err, rep)
	}
	if got, _ := s.Account(mediaID).Installed("cdn", "m00."+zone); got.CertID != idB {
		t.Errorf("media carries CertId %d; want %d", got.CertID, idB)
	}
	_, err = Rollback(context.Background(), c, c, m, RollbackOptions{Products: all.Products(), To: to})
	var ae *fanout.AccountError
	if !errors.As(err, &ae) || ae.Account != "media" {
		t.Errorf("rollback without Open: %v; want media's AccountError", err)
	}
}
