package job_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/cloudsim"
)

const (
	ownAccount   = cloudsim.DefaultAccountID
	mediaAccount = "1111111111111111"
	gamesAccount = "2222222222222222"
	webAccount   = "3333333333333333"
	accountSets  = 12
)

// accountsManifest deploys to the function's own account, to media and
// web (each through a role that trusts the function's account), and to
// games (whose role trusts someone else); media's, web's and two of the
// own account's targets by reference to CAS.
func accountsManifest() string {
	var b strings.Builder
	b.WriteString(`version: 1
accounts:
  - name: media
    roleArn: acs:ram::` + mediaAccount + `:role/certdrop-deployer
  - name: games
    roleArn: acs:ram::` + gamesAccount + `:role/certdrop-deployer
  - name: web
    roleArn: acs:ram::` + webAccount + `:role/certdrop-deployer
targets:
  - product: cdn
    domains: [www.example.com, img.example.com]
    delivery: cas
  - product: cdn
    account: games
    domain: g00.example.com
`)
	for _, a := range []string{"media", "web"} {
		fmt.Fprintf(&b, "  - product: cdn\n    account: %s\n    delivery: cas\n    domains: [", a)
		for i := range accountSets {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s%02d.example.com", a[:1], i)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

func accountDomains(prefix string, n int) cloudsim.Domains {
	var d cloudsim.Domains
	for i := range n {
		d.CDN = append(d.CDN, cloudsim.Domain{Name: fmt.Sprintf("%s%02d.example.com", prefix, i)})
	}
	return d
}

// TestE2EAccounts: one run deploys to three accounts at once through STS
// AssumeRole: each account's targets in that account (its domains, its
// quotas: Sets at 4 a second in each, in parallel), one CAS upload per
// account; the role credentials, which last 2 s, are renewed during the
// run; the account whose role does not trust the function fails its own
// target and no other; the report, the alerts and the CAS uploads name
// the accounts.
func TestE2EAccounts(t *testing.T) {
	trustOwn := []string{"acs:ram::" + ownAccount + ":root"}
	h := newHarnessEnv(t, func(c *cloudsim.Config) {
		c.OSS.Triggers = nil
		quotas := map[string]float64{"SetCdnDomainSSLCertificate": 4}
		c.Quotas = quotas
		c.Accounts = []cloudsim.AccountSettings{
			{ID: mediaAccount, Roles: []cloudsim.RoleSettings{{Name: "certdrop-deployer", Trust: trustOwn}},
				Domains: accountDomains("m", accountSets), Quotas: quotas},
			{ID: gamesAccount, Roles: []cloudsim.RoleSettings{{Name: "certdrop-deployer", Trust: []string{"acs:ram::" + ownAccount + ":role/other"}}},
				Domains: accountDomains("g", 1), Quotas: quotas},
			{ID: webAccount, Roles: []cloudsim.RoleSettings{{Name: "certdrop-deployer", Trust: trustOwn}},
				Domains: accountDomains("w", accountSets), Quotas: quotas},
		}
		c.STS.TokenLifetime = 2 * time.Second
	}, map[string]string{"CERTDROP_QUOTAS": "SetCdnDomainSSLCertificate=4"})
	h.putQuiet("certdrop/manifest.yaml", []byte(accountsManifest()))
	l := h.leaf(time.Now().AddDate(0, 3, 0), "example.com", "*.example.com")
	h.putQuiet("certs/example.com/bundle.pem", append(h.fullchain(l), l.KeyPEM...))

	code, o := h.invoke(reconcileTimer)
	if code != http.StatusOK || len(o.Reports) != 1 {
		js, _ := json.MarshalIndent(o, "", " ")
		t.Fatalf("timer: HTTP %d %s", code, js)
	}
	rep := o.Reports[0]
	byAccount := map[string]int{}
	var order []string
	for _, tg := range rep.Targets {
		if len(order) == 0 || order[len(order)-1] != tg.Account {
			order = append(order, tg.Account)
		}
		switch tg.Account {
		case "games":
			if tg.State != "failed" || tg.Error == nil || tg.Error.Code != "NoPermission" || !strings.Contains(tg.Error.Hint, "trust policy") {
				t.Errorf("games' target: %s %+v; want failed, NoPermission", tg.State, tg.Error)
			}
		default:
			if tg.State != "deployed" {
				t.Errorf("%s %s: %s %+v, want deployed", tg.Account, tg.Domain, tg.State, tg.Error)
			}
			// The edge serves every account's domains: the probe sees the
			// new certificate at once, without waiting out the stale bound.
			if tg.Probe == nil || tg.Probe.Verdict != "serving" {
				t.Errorf("%s %s: probe %+v, want serving", tg.Account, tg.Domain, tg.Probe)
			}
			byAccount[tg.Account]++
		}
	}
	if fmt.Sprintf("%q", order) != `["" "games" "media" "web"]` || byAccount[""] != 2 || byAccount["media"] != accountSets || byAccount["web"] != accountSets {
		t.Errorf("report targets by account, in order %q: %v", order, byAccount)
	}
	// Each target was set in its own account.
	for _, a := range []struct{ id, prefix string }{{mediaAccount, "m"}, {webAccount, "w"}} {
		for i := range accountSets {
			d := fmt.Sprintf("%s%02d.example.com", a.prefix, i)
			if dc, ok := h.sim.Account(a.id).Installed("cdn", d); !ok || dc.CertType != "cas" || dc.Fingerprint == "" {
				t.Errorf("account %s, %s carries %+v", a.id, d, dc)
			}
		}
	}
	if dc, _ := h.sim.Account(gamesAccount).Installed("cdn", "g00.example.com"); dc.CertName != "" {
		t.Errorf("games' domain was set: %+v", dc)
	}
	// One CAS upload per account, each in its account.
	uploads := map[string]string{}
	for _, c := range rep.CAS {
		if !c.Uploaded || c.Region != "cn-hangzhou" {
			t.Errorf("CAS %+v", c)
		}
		uploads[c.Account] = c.Region
	}
	if len(uploads) != 3 {
		t.Errorf("CAS uploads by account: %v; want the own account's, media's and web's", uploads)
	}

	var firstWeb, lastMedia time.Time
	assumed := map[string]int{}
	uploadsIn := map[string]int{}
	for _, e := range h.sim.Journal().Entries() {
		switch {
		case e.Code == "InvalidSecurityToken.Expired":
			t.Errorf("a call was signed with expired credentials: %+v", e)
		case e.Account == gamesAccount:
			t.Errorf("a call was made in games' account: %+v", e)
		case e.API == "AssumeRole" && e.Outcome == "ok":
			assumed[e.Domain]++
		case e.API == "UploadUserCertificate" && e.Outcome == "ok":
			uploadsIn[e.Account]++
		case e.API == "SetCdnDomainSSLCertificate" && e.Outcome == "ok" && e.Account == webAccount && firstWeb.IsZero():
			firstWeb = e.Time
		case e.API == "SetCdnDomainSSLCertificate" && e.Outcome == "ok" && e.Account == mediaAccount:
			lastMedia = e.Time
		}
	}
	if uploadsIn[ownAccount] != 1 || uploadsIn[mediaAccount] != 1 || uploadsIn[webAccount] != 1 {
		t.Errorf("uploads by account: %v; want one in each of the three", uploadsIn)
	}
	// 12 Sets at 4 a second take about 3 s in each account: the 2 s
	// credentials are renewed at least once during the run.
	mediaArn := "acs:ram::" + mediaAccount + ":role/certdrop-deployer"
	if assumed[mediaArn] < 2 {
		t.Errorf("AssumeRole of media's role: %d; want the first and at least one renewal (%v)", assumed[mediaArn], assumed)
	}
	// The accounts ran at once: web's first Set came before media's last.
	if firstWeb.IsZero() || !firstWeb.Before(lastMedia) {
		t.Errorf("web's first Set at %v, media's last at %v: the accounts ran one after the other", firstWeb, lastMedia)
	}
	// The alert names the account of the failed target.
	found := false
	for _, body := range h.webhooks() {
		if strings.Contains(body, "[games] cdn g00.example.com") {
			found = true
		}
	}
	if !found {
		t.Errorf("no webhook names [games] cdn g00.example.com: %v", h.webhooks())
	}
}
