package cloudsim

import (
	"context"
	"strings"
	"testing"
	"time"
)

const (
	fnRole    = "acs:ram::" + DefaultAccountID + ":role/certdrop-fc"
	mediaID   = "1111111111111111"
	gamesID   = "2222222222222222"
	mediaRole = "acs:ram::" + mediaID + ":role/certdrop-deployer"
	gamesRole = "acs:ram::" + gamesID + ":role/certdrop-deployer"
)

// stsConfig is the test account with two more: media trusts the
// function's role, games trusts only another role.
func stsConfig() Config {
	cfg := testConfig()
	cfg.Credentials = append(cfg.Credentials,
		Credential{AccessKeyID: "fnAK", AccessKeySecret: "fnSK", SecurityToken: "fnTOKEN", RoleArn: fnRole},
		Credential{AccessKeyID: "noStsAK", AccessKeySecret: "noStsSK", RoleArn: fnRole, DenyActions: []string{"AssumeRole"}})
	cfg.Accounts = []AccountSettings{
		{ID: mediaID, Roles: []RoleSettings{{Name: "certdrop-deployer", Trust: []string{fnRole}}},
			Domains: Domains{CDN: []Domain{{Name: "media.example.test"}}},
			Quotas:  map[string]float64{"SetCdnDomainSSLCertificate": 2}},
		{ID: gamesID, Roles: []RoleSettings{{Name: "certdrop-deployer", Trust: []string{"acs:ram::" + DefaultAccountID + ":role/other"}}},
			Domains: Domains{CDN: []Domain{{Name: "games.example.test"}}}},
	}
	cfg.STS.TokenLifetime = 2 * time.Second
	return cfg
}

func assume(t *testing.T, s *Sim, id, secret, token, arn string) (map[string]any, error) {
	t.Helper()
	c := newSDK(t, s.Endpoints().OpenAPI, id, secret, token)
	return c.call(context.Background(), "AssumeRole", map[string]string{
		"RoleArn": arn, "RoleSessionName": "certdrop", "DurationSeconds": "3600"})
}

// TestAssumeRole: STS answers a trusted caller with credentials that act
// in the role's account only, with that account's quotas, until they
// expire; it refuses an unknown role and an untrusted or unpermitted
// caller.
func TestAssumeRole(t *testing.T) {
	s := startSim(t, stsConfig())
	ep := s.Endpoints().OpenAPI
	p := validPair(t, "media.example.test", "www.example.test")

	body, err := assume(t, s, "fnAK", "fnSK", "fnTOKEN", mediaRole)
	if err != nil {
		t.Fatalf("AssumeRole: %v", err)
	}
	cr, _ := body["Credentials"].(map[string]any)
	id, _ := cr["AccessKeyId"].(string)
	secret, _ := cr["AccessKeySecret"].(string)
	token, _ := cr["SecurityToken"].(string)
	exp, err := time.Parse("2006-01-02T15:04:05Z", cr["Expiration"].(string))
	if id == "" || secret == "" || token == "" || err != nil {
		t.Fatalf("Credentials = %v (%v)", cr, err)
	}
	if left := time.Until(exp); left > 2*time.Second || left < 0 {
		t.Errorf("Expiration is %v away, want within the 2 s token lifetime", left)
	}
	media := newSDK(t, ep, id, secret, token)
	ctx := context.Background()

	// The role's credentials see the media account's domain, not the
	// function's account's.
	if _, err := media.call(ctx, "SetCdnDomainSSLCertificate", setForm("media.example.test", "c1", p)); err != nil {
		t.Fatalf("Set in media: %v", err)
	}
	if dc, ok := s.Account(mediaID).Installed(ProductCDN, "media.example.test"); !ok || dc.CertName != "c1" {
		t.Errorf("media.example.test carries %+v, %v", dc, ok)
	}
	_, err = media.call(ctx, "SetCdnDomainSSLCertificate", setForm("www.example.test", "c1", p))
	if code, _ := codeOf(err); code != "InvalidDomain.NotFound" {
		t.Errorf("Set of the function's account's domain with the role's credentials: %q, want InvalidDomain.NotFound", code)
	}
	own := newSDK(t, ep, "simAK", "simSK", "")
	_, err = own.call(ctx, "SetCdnDomainSSLCertificate", setForm("media.example.test", "c1", p))
	if code, _ := codeOf(err); code != "InvalidDomain.NotFound" {
		t.Errorf("Set of media's domain with the function's credentials: %q, want InvalidDomain.NotFound", code)
	}
	// Quotas are media's (2 calls/s of Set), counted apart from the
	// function's account (30 calls/s): the third Set within a second is
	// throttled in media, not in the function's account.
	_, err = media.call(ctx, "SetCdnDomainSSLCertificate", setForm("media.example.test", "c1", p))
	if code, _ := codeOf(err); code != "Throttling.User" {
		t.Errorf("third Set in media within a second: %q, want Throttling.User", code)
	}
	for range 3 {
		if _, err := own.call(ctx, "SetCdnDomainSSLCertificate", setForm("www.example.test", "c1", p)); err != nil {
			t.Errorf("Set in the function's account: %v", err)
		}
	}
	accounts := map[string]int{}
	for _, e := range s.Journal().Entries() {
		if e.API == "SetCdnDomainSSLCertificate" {
			accounts[e.Account]++
		}
	}
	if accounts[mediaID] != 3 || accounts[DefaultAccountID] != 4 {
		t.Errorf("Set calls by account = %v, want 3 in media, 4 in the function's", accounts)
	}

	// Expired: the same credentials are refused.
	time.Sleep(time.Until(exp.Add(1100 * time.Millisecond)))
	_, err = media.call(ctx, "DescribeDomainCertificateInfo", map[string]string{"DomainName": "media.example.test"})
	if code, _ := codeOf(err); code != "InvalidSecurityToken.Expired" {
		t.Errorf("a call with expired credentials: %q, want InvalidSecurityToken.Expired", code)
	}

	refusals := []struct {
		name, id, secret, token, arn, code string
	}{
		{"no such role", "fnAK", "fnSK", "fnTOKEN", "acs:ram::" + mediaID + ":role/nobody", "EntityNotExist.Role"},
		{"no such account", "fnAK", "fnSK", "fnTOKEN", "acs:ram::3333333333333333:role/certdrop-deployer", "EntityNotExist.Role"},
		{"trust names another role", "fnAK", "fnSK", "fnTOKEN", gamesRole, "NoPermission"},
		{"a RAM user the trust does not name", "simAK", "simSK", "", mediaRole, "NoPermission"},
		{"no sts:AssumeRole", "noStsAK", "noStsSK", "", mediaRole, "Forbidden.RAM"},
		{"malformed ARN", "fnAK", "fnSK", "fnTOKEN", "acs:ram::1:role/x", "InvalidParameter.RoleArn"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			_, err := assume(t, s, tt.id, tt.secret, tt.token, tt.arn)
			if code, _ := codeOf(err); code != tt.code {
				t.Errorf("AssumeRole: %q, want %s", code, tt.code)
			}
		})
	}
	for _, e := range s.Journal().Entries() {
		if e.API == "AssumeRole" && strings.Contains(e.Domain, "CAIS") {
			t.Errorf("the journal holds a token: %+v", e)
		}
	}
}

func TestAccountsConfigValidated(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"short id", func(c *Config) { c.Accounts[0].ID = "123" }, "want 16 digits"},
		{"own id", func(c *Config) { c.Accounts[0].ID = DefaultAccountID }, "configured twice"},
		{"bad trust", func(c *Config) { c.Accounts[0].Roles[0].Trust = []string{"alice"} }, "trust"},
		{"foreign role on a credential", func(c *Config) { c.Credentials[5].RoleArn = mediaRole }, "is not a role of account"},
		{"unknown quota", func(c *Config) { c.Accounts[0].Quotas = map[string]float64{"Nope": 1} }, "unknown action"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := stsConfig()
			tt.edit(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
