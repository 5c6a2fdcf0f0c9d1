package hub

import (
	"context"
	"maps"
	"slices"
	"strings"
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
	mediaID = "1111111111111111"
	gamesID = "2222222222222222"
	// seeder is a role of games that trusts the function's account, so
	// the test can put certificates in games' CAS; the manifest's role
	// there (certdrop-deployer) trusts someone else.
	seeder = "acs:ram::" + gamesID + ":role/seeder"
)

// fleet is an emulator with the function's own account and two others,
// media (whose deployer role trusts the function's account) and games
// (whose deployer role does not), a client of the own account that
// reaches STS, and a manifest with a CDN target in each account, media's
// two and the own one by reference to CAS.
type fleet struct {
	sim    *cloudsim.Sim
	client *product.Client
	m      *manifest.Manifest
}

func newFleet(t *testing.T) *fleet {
	t.Helper()
	trustOwn := []string{"acs:ram::" + cloudsim.DefaultAccountID + ":root"}
	s := cloudsimtest.Start(t, cloudsim.Config{
		Credentials: []cloudsim.Credential{{AccessKeyID: "ak", AccessKeySecret: "sk"}},
		Domains:     cloudsim.Domains{CDN: []cloudsim.Domain{{Name: "www." + zone}}},
		Accounts: []cloudsim.AccountSettings{
			{ID: mediaID, Roles: []cloudsim.RoleSettings{{Name: "certdrop-deployer", Trust: trustOwn}},
				Domains: cloudsim.Domains{CDN: []cloudsim.Domain{{Name: "m00." + zone}, {Name: "m01." + zone}}}},
			{ID: gamesID, Roles: []cloudsim.RoleSettings{
				{Name: "certdrop-deployer", Trust: []string{"acs:ram::" + cloudsim.DefaultAccountID + ":role/someone-else"}},
				{Name: "seeder", Trust: trustOwn}},
				Domains: cloudsim.Domains{CDN: []cloudsim.Domain{{Name: "g00." + zone}}}},
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
			{Product: cdn.Name, Domain: "m00." + zone, Delivery: cas, Account: "media"},
			{Product: cdn.Name, Domain: "m01." + zone, Delivery: cas, Account: "media"},
			{Product: cdn.Name, Domain: "g00." + zone, Account: "games"},
		}}
	return &fleet{sim: s, client: c, m: m}
}

// open opens the manifest's accounts as a deployment does
// (job.OpenAccounts): the own through the client, the others through
// their roles, assumed with the client's credentials.
func (f *fleet) open() fanout.OpenAccount {
	return func(ctx context.Context, name string) (fanout.Client, fanout.CASClient, error) {
		if name == "" {
			return f.client, f.client, nil
		}
		a, _ := f.m.Account(name)
		c, err := f.client.AssumeRole(ctx, a.RoleArn)
		if err != nil {
			return nil, nil, err
		}
		return c, c.(fanout.CASClient), nil
	}
}

// as returns the client acting in the account of roleArn.
func (f *fleet) as(t *testing.T, roleArn string) *product.Client {
	t.Helper()
	c, err := f.client.AssumeRole(context.Background(), roleArn)
	if err != nil {
		t.Fatal(err)
	}
	return c.(*product.Client)
}

// deployTo deploys b with CAS delivery to the manifest's targets in
// account, as a deployment does (fanout.RunAccounts through the
// accounts' roles).
func (f *fleet) deployTo(t *testing.T, b *bundle.Bundle, account string) {
	t.Helper()
	sub := *f.m
	sub.Targets = nil
	for _, tg := range f.m.Targets {
		if tg.Account == account {
			sub.Targets = append(sub.Targets, tg)
		}
	}
	p, err := plan.Build(b, &sub, "", all.Products())
	if err != nil {
		t.Fatal(err)
	}
	results, _ := fanout.RunAccounts(context.Background(), f.open(), p, fanout.Options{})
	for _, r := range results {
		if !r.State.OK() {
			t.Fatalf("deploying %s to %s in account %q: %s %v", p.CASName, r.Call.DomainName, account, r.State, r.Err)
		}
	}
}

// casNames returns the names in an account's CAS, both regions.
func casNames(s *cloudsim.Sim) []string {
	var out []string
	for _, r := range manifest.CASRegions() {
		for _, c := range s.CASCertificates(r) {
			out = append(out, c.Name)
		}
	}
	slices.Sort(out)
	return out
}

// seeded is what newFleet's accounts hold once seed has run.
type seeded struct {
	a0, a, b, c, e, foreign string // certificate names
}

// seed puts, for the same names, A0 (oldest), A, B and C (newest) in the
// function's own CAS, A carried by its target; A, B and C in media's CAS,
// C carried by both media targets; an expired certdrop certificate E and
// one certdrop did not name in media's; and in games' CAS A, B and C, none
// carried. By the per-account judgment, the own account's A0 and media's
// A and E are to be deleted; games' A would be if games could be opened.
func (f *fleet) seed(t *testing.T, now time.Time) seeded {
	t.Helper()
	names := []string{zone, "*." + zone}
	a0 := issue(t, now.Add(-4*time.Hour), 90*24*time.Hour, names...)
	a := issue(t, now.Add(-3*time.Hour), 90*24*time.Hour, names...)
	b := issue(t, now.Add(-2*time.Hour), 90*24*time.Hour, names...)
	c := issue(t, now.Add(-time.Hour), 90*24*time.Hour, names...)
	e := issue(t, now.Add(-time.Hour), 2*time.Hour, "e."+zone)
	media, games := f.as(t, f.m.Accounts[0].RoleArn), f.as(t, seeder)
	upload(t, f.client, a0, "")
	f.deployTo(t, a, "")
	upload(t, f.client, b, "")
	upload(t, f.client, c, "")
	upload(t, media, a, "")
	upload(t, media, b, "")
	f.deployTo(t, c, "media")
	upload(t, media, e, "")
	upload(t, media, issue(t, now.Add(-time.Hour), 24*time.Hour, "x."+zone), "manual-upload")
	for _, x := range []*bundle.Bundle{a, b, c} {
		upload(t, games, x, "")
	}
	return seeded{a0: name(a0), a: name(a), b: name(b), c: name(c), e: name(e), foreign: "manual-upload"}
}

func name(b *bundle.Bundle) string { return plan.CASCertName(b.Identity()) }

func sorted(names ...string) []string { slices.Sort(names); return names }

// entries returns a result's entries by "account/name".
func entries(list []PrunedCert) map[string]PrunedCert {
	out := map[string]PrunedCert{}
	for _, c := range list {
		out[c.Account+"/"+c.Name] = c
	}
	return out
}

// TestPruneAccounts: a prune acts in every account the manifest's targets
// use, each through its own clients: media's certificates are judged
// against media's targets only (A, which the own account's target
// carries, is deleted from media's CAS and kept in the own one), the one
// media's targets carry and the one certdrop did not name are kept, and
// every entry names its account. A dry run deletes nothing anywhere.
func TestPruneAccounts(t *testing.T) {
	for _, dry := range []bool{false, true} {
		t.Run(map[bool]string{false: "delete", true: "dry run"}[dry], func(t *testing.T) {
			f := newFleet(t)
			now := time.Now()
			n := f.seed(t, now)
			later := func() time.Time { return now.Add(2 * time.Hour) } // E has expired by then
			f.m.Targets = f.m.Targets[:3]                               // games is TestPruneAccountUnavailable's
			own, media := casNames(f.sim), casNames(f.sim.Account(mediaID))
			del := deletes(f.sim)

			res := Prune(context.Background(), f.client, f.client, f.m, PruneOptions{
				Products: all.Products(), Delete: !dry, Now: later, Open: f.open()})
			if !res.OK() || res.DryRun != dry {
				t.Errorf("prune: dry run %v, problems %+v, failed %+v; want %v, none", res.DryRun, res.Problems, res.Failed, dry)
			}
			if res.Targets != 3 {
				t.Errorf("%d target(s) described; want 3 (the own one and media's two)", res.Targets)
			}
			deleted, kept := entries(res.Deleted), entries(res.Kept)
			wantDeleted := []string{"/" + n.a0, "media/" + n.a, "media/" + n.e}
			if got := slices.Sorted(maps.Keys(deleted)); !slices.Equal(got, sorted(wantDeleted...)) {
				t.Errorf("deleted %q; want %q", got, sorted(wantDeleted...))
			}
			for k, want := range map[string]string{
				"/" + n.a: "carried by cdn www." + zone, "/" + n.b: "newest 2", "/" + n.c: "newest 2",
				"media/" + n.b: "newest 2", "media/" + n.c: "carried by cdn m00." + zone + ", cdn m01." + zone,
				"media/" + n.foreign: "not named by certdrop",
			} {
				if !strings.Contains(kept[k].Reason, want) {
					t.Errorf("%s kept for %q; want a reason with %q", k, kept[k].Reason, want)
				}
			}
			if w := deleted["media/"+n.a].Where(); !strings.HasSuffix(w, ", cn-hangzhou, account media") {
				t.Errorf("Where() of media's A = %q; want it to name the account", w)
			}
			if w := deleted["/"+n.a0].Where(); strings.Contains(w, "account") {
				t.Errorf("Where() of the own account's A0 = %q; want no account", w)
			}

			wantOwn, wantMedia := own, media
			if !dry {
				wantOwn = slices.DeleteFunc(slices.Clone(own), func(s string) bool { return s == n.a0 })
				wantMedia = slices.DeleteFunc(slices.Clone(media), func(s string) bool { return s == n.a || s == n.e })
			}
			if got := casNames(f.sim); !slices.Equal(got, wantOwn) {
				t.Errorf("the own CAS holds %q; want %q", got, wantOwn)
			}
			if got := casNames(f.sim.Account(mediaID)); !slices.Equal(got, wantMedia) {
				t.Errorf("media's CAS holds %q; want %q", got, wantMedia)
			}
			if d := deletes(f.sim) - del; (dry && d != 0) || (!dry && d != 3) {
				t.Errorf("%d DeleteUserCertificate calls; want %d", d, map[bool]int{true: 0, false: 3}[dry])
			}
		})
	}
}

// TestPruneAccountUnavailable: an account that cannot be opened (its role
// does not trust the function, or the prune was given no way to open
// other accounts) is a problem naming it, with the cause's code, and
// nothing in it is touched; the own account and media are pruned.
func TestPruneAccountUnavailable(t *testing.T) {
	for _, tt := range []struct {
		name      string
		open      bool
		code      string
		hint      string
		unopened  []string // accounts named in problems
		deletions int
	}{
		{"role not trusted", true, "NoPermission", "trust policy", []string{"games"}, 3},
		{"no opener", false, "AccountUnavailable", "", []string{"media", "games"}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFleet(t)
			now := time.Now()
			n := f.seed(t, now)
			later := func() time.Time { return now.Add(2 * time.Hour) }
			games, media := casNames(f.sim.Account(gamesID)), casNames(f.sim.Account(mediaID))
			o := PruneOptions{Products: all.Products(), Delete: true, Now: later}
			if tt.open {
				o.Open = f.open()
			}

			res := Prune(context.Background(), f.client, f.client, f.m, o)
			if res.OK() || len(res.Problems) != len(tt.unopened) {
				t.Fatalf("problems %+v; want one for each of %q", res.Problems, tt.unopened)
			}
			for i, p := range res.Problems {
				if p.Code != tt.code || !strings.Contains(p.Message, "account "+tt.unopened[i]) ||
					!strings.Contains(p.Message, "nothing in it was touched") || !strings.Contains(p.Hint, tt.hint) {
					t.Errorf("problem %+v; want %s naming account %s, hint with %q", p, tt.code, tt.unopened[i], tt.hint)
				}
			}
			for _, c := range append(append(res.Deleted, res.Kept...), res.Failed...) {
				if slices.Contains(tt.unopened, c.Account) {
					t.Errorf("an entry in an account that was not opened: %+v", c)
				}
			}
			if got := casNames(f.sim.Account(gamesID)); !slices.Equal(got, games) {
				t.Errorf("games' CAS holds %q; want it untouched %q", got, games)
			}
			if !tt.open {
				if got := casNames(f.sim.Account(mediaID)); !slices.Equal(got, media) {
					t.Errorf("media's CAS holds %q; want it untouched %q", got, media)
				}
			}
			if slices.Contains(casNames(f.sim), n.a0) {
				t.Error("the own account's A0 was not pruned")
			}
			if d := deletes(f.sim); d != tt.deletions {
				t.Errorf("%d DeleteUserCertificate calls; want %d", d, tt.deletions)
			}
		})
	}
}

// TestPruneStopped: a prune whose context has ended touches no account:
// one problem says so, and no call is made.
func TestPruneStopped(t *testing.T) {
	f := newFleet(t)
	f.seed(t, time.Now())
	calls := len(f.sim.Journal().Entries())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := Prune(ctx, f.client, f.client, f.m, PruneOptions{Products: all.Products(), Delete: true, Open: f.open()})
	if len(res.Problems) != 1 || res.Problems[0].Code != "Stopped" || len(res.Deleted)+len(res.Kept)+len(res.Failed) != 0 {
		t.Errorf("problems %+v, %d deleted, %d kept; want one Stopped and nothing looked at", res.Problems, len(res.Deleted), len(res.Kept))
	}
	if n := len(f.sim.Journal().Entries()) - calls; n != 0 {
		t.Errorf("%d calls after the context ended; want 0", n)
	}
}
