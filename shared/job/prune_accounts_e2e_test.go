package job_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/cloudsim"
)

// TestE2EPruneAccounts: with prune: true and a target in another account
// (media, through its role), three renewals deployed by the timer by
// reference; the third timer prunes the first certificate (carried by no
// target, older than the newest two) from the own account's CAS and from
// media's, each entry naming its account.
func TestE2EPruneAccounts(t *testing.T) {
	h := newMediaHarness(t)
	h.putQuiet("certdrop/manifest.yaml", []byte(mediaManifest))
	var names []string
	for i := 3; i >= 1; i-- {
		l := h.issued(time.Now().Add(-time.Duration(i) * time.Hour))
		h.putQuiet("certs/example.com/bundle.pem", append(h.fullchain(l), l.KeyPEM...))
		code, o := h.invoke(reconcileTimer)
		if code != http.StatusOK || len(o.Reports) != 1 || o.Status != "ok" || o.Prune == nil {
			js, _ := json.MarshalIndent(o, "", " ")
			t.Fatalf("timer %d: HTTP %d %s", 4-i, code, js)
		}
		names = append(names, o.Reports[0].CAS[0].Name)
		p := o.Prune
		if !p.OK() || p.Targets != 2 {
			t.Errorf("timer %d: prune problems %+v failed %+v, %d target(s) described; want none, 2", 4-i, p.Problems, p.Failed, p.Targets)
		}
		var deleted []string
		for _, d := range p.Deleted {
			deleted = append(deleted, d.Account+"/"+d.Name)
		}
		var want []string
		if i == 1 {
			want = []string{"/" + names[0], "media/" + names[0]}
		}
		if slices.Sort(deleted); !slices.Equal(deleted, want) {
			t.Errorf("timer %d pruned %q; want %q", 4-i, deleted, want)
		}
	}
	for _, s := range []*cloudsim.Sim{h.sim, h.sim.Account(mediaAccount)} {
		var left []string
		for _, c := range s.CASCertificates("cn-hangzhou") {
			left = append(left, c.Name)
		}
		if !slices.Equal(left, names[1:]) {
			t.Errorf("CAS holds %q; want %q", left, names[1:])
		}
	}
}

// mediaManifest deploys by reference to a CDN domain of the function's
// own account and one of media's, through its role, and prunes.
const mediaManifest = `version: 1
defaults:
  delivery: cas
  prune: true
accounts:
  - name: media
    roleArn: acs:ram::` + mediaAccount + `:role/certdrop-deployer
targets:
  - product: cdn
    domain: www.example.com
  - product: cdn
    account: media
    domain: m00.example.com
`

// newMediaHarness is a harness whose emulator has the media account,
// with a role that trusts the function's account and one CDN domain.
func newMediaHarness(t *testing.T) *harness {
	return newHarness(t, func(c *cloudsim.Config) {
		c.OSS.Triggers = nil
		c.Accounts = []cloudsim.AccountSettings{{ID: mediaAccount,
			Roles:   []cloudsim.RoleSettings{{Name: "certdrop-deployer", Trust: []string{"acs:ram::" + ownAccount + ":root"}}},
			Domains: accountDomains("m", 1)}}
	})
}
