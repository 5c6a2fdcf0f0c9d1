package cloud

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certdrop/certdrop/internal/credchain"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/cloudsim/cloudsimtest"
	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/failure"
)

const (
	stsOwnID  = cloudsim.DefaultAccountID
	stsFnRole = "acs:ram::" + stsOwnID + ":role/certdrop-fc"
	mediaID   = "1111111111111111"
	gamesID   = "2222222222222222"
	mediaRole = "acs:ram::" + mediaID + ":role/certdrop-deployer"
	gamesRole = "acs:ram::" + gamesID + ":role/certdrop-deployer"
)

// stsSim starts an emulator whose function role may assume media's
// deployer role (not games'), and whose STS credentials last lifetime.
func stsSim(t *testing.T, lifetime time.Duration) (*cloudsim.Sim, func(string) string) {
	t.Helper()
	sim, env := cloudsimtest.StartEnv(t, cloudsim.Config{
		Credentials: []cloudsim.Credential{{AccessKeyID: testSTSAK, AccessKeySecret: testSTSSK, SecurityToken: testToken, RoleArn: stsFnRole}},
		Domains:     cloudsim.Domains{CDN: []cloudsim.Domain{{Name: "own." + testDomain}}},
		Accounts: []cloudsim.AccountSettings{
			{ID: mediaID, Roles: []cloudsim.RoleSettings{{Name: "certdrop-deployer", Trust: []string{stsFnRole}}},
				Domains: cloudsim.Domains{CDN: []cloudsim.Domain{{Name: "media." + testDomain}}}},
			{ID: gamesID, Roles: []cloudsim.RoleSettings{{Name: "certdrop-deployer", Trust: []string{"acs:ram::" + stsOwnID + ":role/someone-else"}}}},
		},
		STS: cloudsim.STSSettings{TokenLifetime: lifetime},
		OSS: cloudsim.OSSSettings{Disabled: true},
	})
	return sim, func(k string) string { return env[k] }
}

func stsClient(t *testing.T, getenv func(string) string) *Client {
	return newClient(t, Options{Getenv: getenv, Credentials: &credchain.Credentials{
		AccessKeyID: testSTSAK, AccessKeySecret: testSTSSK, SecurityToken: testToken}})
}

// describe asks the CDN what a domain carries, through c.
func describe(ctx context.Context, c *Client, domain string) error {
	_, err := c.Call(ctx, Request{EndpointVar: config.CDNEndpoint, Host: "cdn.aliyuncs.com", Pool: "cdn",
		Action: "DescribeDomainCertificateInfo", Version: "2018-05-10",
		Params: map[string]string{"DomainName": domain}, Subject: domain})
	leaks.Seen(err)
	return err
}

// registerRole registers the role credentials a client handed out as
// secrets: no error or log may hold them.
func registerRole(c *Client) { leaks.Secret(c.creds.secretValues()...) }

// TestAssumeRole: the role's client acts in the role's account (the
// function's own account's domain is not found there, and the other way
// round), AssumeRole is signed with the function's credentials, and the
// client is built once per role.
func TestAssumeRole(t *testing.T) {
	sim, getenv := stsSim(t, 0)
	ctx := context.Background()
	c := stsClient(t, getenv)
	media, err := c.AssumeRole(ctx, mediaRole)
	if err != nil {
		t.Fatalf("AssumeRole: %v", err)
	}
	t.Cleanup(func() { registerRole(media) })
	if err := describe(ctx, media, "media."+testDomain); err != nil {
		t.Errorf("media's domain through media's role: %v", err)
	}
	var e *Error
	if err := describe(ctx, media, "own."+testDomain); !errors.As(err, &e) || e.Code != "InvalidDomain.NotFound" {
		t.Errorf("the function's domain through media's role: %v, want InvalidDomain.NotFound", err)
	}
	if err := describe(ctx, c, "own."+testDomain); err != nil {
		t.Errorf("the function's domain through its own credentials: %v", err)
	}
	again, err := c.AssumeRole(ctx, mediaRole)
	if err != nil || again != media {
		t.Errorf("a second AssumeRole of the same role: %p, %v; want the first client %p", again, err, media)
	}
	got := map[string][]string{}
	for _, en := range sim.Journal().Entries() {
		got[en.API] = append(got[en.API], en.Account)
	}
	if a := got["AssumeRole"]; len(a) != 1 || a[0] != stsOwnID {
		t.Errorf("AssumeRole calls, by the account they were signed in: %v; want one, in %s", a, stsOwnID)
	}
	if d := got["DescribeDomainCertificateInfo"]; len(d) != 3 || d[0] != mediaID || d[1] != mediaID || d[2] != stsOwnID {
		t.Errorf("Describe calls by account: %v; want media's two, then the function's", d)
	}
}

// TestAssumeRoleRefused: a role whose trust policy does not name the
// function's role, and a role that does not exist, fail AssumeRole with
// a *RoleError carrying STS's code and class.
func TestAssumeRoleRefused(t *testing.T) {
	_, getenv := stsSim(t, 0)
	c := stsClient(t, getenv)
	tests := []struct {
		arn   string
		code  string
		class failure.Class
	}{
		{gamesRole, "NoPermission", failure.Forbidden},
		{"acs:ram::" + mediaID + ":role/nobody", "EntityNotExist.Role", failure.Permanent},
		{"acs:ram::" + mediaID + ":user/alice", "", failure.Permanent},
	}
	for _, tt := range tests {
		t.Run(tt.arn, func(t *testing.T) {
			_, err := c.AssumeRole(context.Background(), tt.arn)
			leaks.Seen(err)
			var re *RoleError
			var e *Error
			if !errors.As(err, &re) || !errors.As(err, &e) {
				t.Fatalf("AssumeRole: %v (%T), want a *RoleError over an *Error", err, err)
			}
			if e.Code != tt.code || e.Class() != tt.class || re.RoleArn != tt.arn {
				t.Errorf("AssumeRole: code %q class %v role %s; want %q %v %s", e.Code, e.Class(), re.RoleArn, tt.code, tt.class, tt.arn)
			}
			if !strings.Contains(err.Error(), tt.arn) {
				t.Errorf("the error does not name the role: %v", err)
			}
		})
	}
}

// TestRoleCredentialsRenewed: with credentials that last 2 s, calls made
// over 5 s, 4 at a time, all succeed: the credentials are renewed before
// they expire, once per renewal however many calls wait for it.
func TestRoleCredentialsRenewed(t *testing.T) {
	sim, getenv := stsSim(t, 2*time.Second)
	ctx := context.Background()
	c := stsClient(t, getenv)
	media, err := c.AssumeRole(ctx, mediaRole)
	if err != nil {
		t.Fatal(err)
	}
	defer registerRole(media)
	stop := time.Now().Add(5 * time.Second)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []error
	calls := 0
	for range 4 {
		wg.Go(func() {
			for time.Now().Before(stop) {
				err := describe(ctx, media, "media."+testDomain)
				mu.Lock()
				calls++
				if err != nil {
					failed = append(failed, err)
				}
				mu.Unlock()
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d of %d calls failed; the first: %v", len(failed), calls, failed[0])
	}
	assumed := 0
	for _, en := range sim.Journal().Entries() {
		if en.API == "AssumeRole" {
			assumed++
		}
		if en.Code == "InvalidSecurityToken.Expired" {
			t.Errorf("a call was signed with expired credentials: %+v", en)
		}
	}
	// 2 s credentials renewed half a second before their expiry: every
	// 1.5 s or so, so 4 to 6 AssumeRole calls in 5 s, not one per call.
	if assumed < 3 || assumed > 8 {
		t.Errorf("%d AssumeRole calls for %d calls over 5 s; want 3 to 8", assumed, calls)
	}
}

// TestRoleCredentialsExpiredRenewed: credentials that have expired since
// the last call (a pause longer than their lifetime) are renewed before
// the next call, which succeeds.
func TestRoleCredentialsExpiredRenewed(t *testing.T) {
	_, getenv := stsSim(t, 2*time.Second)
	ctx := context.Background()
	media, err := stsClient(t, getenv).AssumeRole(ctx, mediaRole)
	if err != nil {
		t.Fatal(err)
	}
	defer registerRole(media)
	first, _ := media.creds.role.valid(time.Now())
	time.Sleep(2500 * time.Millisecond)
	if _, ok := media.creds.role.valid(time.Now()); ok {
		t.Fatalf("the credentials are still valid after their lifetime")
	}
	if err := describe(ctx, media, "media."+testDomain); err != nil {
		t.Fatalf("the call after the credentials expired: %v", err)
	}
	now, ok := media.creds.role.valid(time.Now())
	if !ok || now.AccessKeyID == first.AccessKeyID {
		t.Errorf("the credentials were not renewed: valid %v, same key %v", ok, now.AccessKeyID == first.AccessKeyID)
	}
}
