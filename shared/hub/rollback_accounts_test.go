package hub

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/cloudsim/cloudsimtest"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product"
	"github.com/certdrop/certdrop/shared/product/all"
	"github.com/certdrop/certdrop/shared/product/cdn"
)

const (
	mediaID = "2000000000000001"
	gamesID = "2000000000000002"
)

// organisation is an emulator with the function's own account and two
// others, media (whose role trusts the function's account) and games
// (whose role does not), each with one CDN domain, and a manifest with
// one CAS-delivered target in each.
func organisation(t *testing.T) (*cloudsim.Sim, *product.Client, *manifest.Manifest) {
	t.Helper()
	trust := []string{"acs:ram::" + cloudsim.DefaultAccountID + ":root"}
	s := cloudsimtest.Start(t, cloudsim.Config{
		Credentials: []cloudsim.Credential{{AccessKeyID: "ak", AccessKeySecret: "sk"}},
		Domains:     cloudsim.Domains{CDN: []cloudsim.Domain{{Name: "www." + zone}}},
		Accounts: []cloudsim.AccountSettings{
			{ID: mediaID, Roles: []cloudsim.RoleSettings{{Name: "certdrop-deployer", Trust: trust}},
				Domains: cloudsim.Domains{CDN: []cloudsim.Domain{{Name: "media." + zone}}}},
			{ID: gamesID, Roles: []cloudsim.RoleSettings{{Name: "certdrop-deployer", Trust: []string{"acs:ram::" + cloudsim.DefaultAccountID + ":role/other"}}},
				Domains: cloudsim.Domains{CDN: []cloudsim.Domain{{Name: "games." + zone}}}},
		},
		OSS: cloudsim.OSSSettings{Disabled: true},
	})
	ep := s.Endpoints()
	vars := map[string]string{
		"ALIBABA_CLOUD_ACCESS_KEY_ID": "ak", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "sk",
		cdn.EnvEndpoint: ep.OpenAPI, cloud.EnvCASEndpoint: ep.OpenAPI, cloud.EnvCASIntlEndpoint: ep.CASIntl,
		cloud.EnvSTSEndpoint: ep.OpenAPI,
	}
	c, err := all.Products().NewClient(cloud.Options{Getenv: func(k string) string { return vars[k] }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Transport().CloseIdleConnections)
	cas := manifest.DeliveryCAS
	m := &manifest.Manifest{Version: 1,
		Accounts: []manifest.Account{
			{Name: "media", RoleArn: "acs:ram::" + mediaID + ":role/certdrop-deployer"},
			{Name: "games", RoleArn: "acs:ram::" + gamesID + ":role/certdrop-deployer"},
		},
		Targets: []manifest.Target{
			{Product: cdn.Name, Domain: "www." + zone, Delivery: cas},
			{Product: cdn.Name, Domain: "media." + zone, Delivery: cas, Account: "media"},
			{Product: cdn.Name, Domain: "games." + zone, Delivery: cas, Account: "games"},
		}}
	return s, c, m
}

// openRoles opens the manifest's accounts through their roles, as a
// deployment does.
func openRoles(c *product.Client, m *manifest.Manifest) fanout.OpenAccount {
	return func(ctx context.Context, name string) (fanout.Client, fanout.CASClient, error) {
		if name == "" {
			return c, c, nil
		}
		a, _ := m.Account(name)
		ac, err := c.AssumeRole(ctx, a.RoleArn)
		if err != nil {
			return nil, nil, err
		}
		return ac, ac.(fanout.CASClient), nil
	}
}

// deployAccounts deploys b by CAS to the manifest's targets, each in its
// account, and returns the CertId of its upload by account; a target of
// an account that cannot be opened is expected to fail.
func deployAccounts(t *testing.T, c *product.Client, b *bundle.Bundle, m *manifest.Manifest) map[string]int64 {
	t.Helper()
	p, err := plan.Build(b, m, "", all.Products())
	if err != nil {
		t.Fatal(err)
	}
	res, ups := fanout.RunAccounts(context.Background(), openRoles(c, m), p, fanout.Options{})
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
	s, c, m := organisation(t)
	now := time.Now()
	names := []string{zone, "*." + zone}
	b := issue(t, now.Add(-2*time.Hour), 90*24*time.Hour, names...)
	cNew := issue(t, now.Add(-time.Hour), 90*24*time.Hour, names...)
	ids := deployAccounts(t, c, b, m)
	deployAccounts(t, c, cNew, m)
	if ids[""] == 0 || ids["media"] == 0 {
		t.Fatalf("B's CAS uploads: %v", ids)
	}

	rep, err := Rollback(context.Background(), c, c, m, RollbackOptions{Products: all.Products(), To: plan.CASCertName(b.Identity()), Open: openRoles(c, m)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sim     *cloudsim.Sim
		account string
		domain  string
	}{{s, "", "www." + zone}, {s.Account(mediaID), "media", "media." + zone}} {
		got, _ := tc.sim.Installed("cdn", tc.domain)
		if got.CertID != ids[tc.account] || got.CertType != "cas" {
			t.Errorf("%s carries CertId %d (%s); want B's %d in its own account", tc.domain, got.CertID, got.CertType, ids[tc.account])
		}
	}
	if got, _ := s.Account(gamesID).Installed("cdn", "games."+zone); got.CertName != "" {
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
	s, c, m := organisation(t)
	m.Targets = m.Targets[1:2] // media's only
	now := time.Now()
	b := issue(t, now.Add(-2*time.Hour), 90*24*time.Hour, zone, "*."+zone)
	cNew := issue(t, now.Add(-time.Hour), 90*24*time.Hour, zone, "*."+zone)
	idB := deployAccounts(t, c, b, m)["media"]
	deployAccounts(t, c, cNew, m)
	to := plan.CASCertName(b.Identity())
	rep, err := Rollback(context.Background(), c, c, m, RollbackOptions{Products: all.Products(), To: to, Open: openRoles(c, m)})
	if err != nil || rep.Summary.Deployed != 1 {
		t.Fatalf("rollback: %v %+v", err, rep)
	}
	if got, _ := s.Account(mediaID).Installed("cdn", "media."+zone); got.CertID != idB {
		t.Errorf("media carries CertId %d; want %d", got.CertID, idB)
	}
	_, err = Rollback(context.Background(), c, c, m, RollbackOptions{Products: all.Products(), To: to})
	var ae *fanout.AccountError
	if !errors.As(err, &ae) || ae.Account != "media" {
		t.Errorf("rollback without Open: %v; want media's AccountError", err)
	}
}
