package cloudsim

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/certdrop/certdrop/shared/config"
)

// ProductSTS is Security Token Service (product sts, API version
// 2015-04-01, RPC style), served on the OpenAPI listener
// (CERTDROP_STS_ENDPOINT). It gives temporary credentials for the RAM
// roles of the accounts configured under accounts, each account with its
// own domains and quotas; the credentials it gives see only their
// account's resources, and its quotas count their calls. Operation:
//
//	AssumeRole  RoleArn (acs:ram::<account ID>:role/<name>), RoleSessionName
//	            (2 to 32 of [A-Za-z0-9.@_-]), DurationSeconds (900 to the
//	            role's MaxSessionDuration, 3,600; default 3,600) ->
//	            Credentials{AccessKeyId, AccessKeySecret, SecurityToken,
//	            Expiration}, AssumedRoleUser{Arn, AssumedRoleId}. No such
//	            role: EntityNotExist.Role (404). A role whose trust policy
//	            does not name the caller (its RAM role, or its account's
//	            root), or a caller whose policy lacks AssumeRole
//	            (denyActions): NoPermission (403). 6,000 calls a minute per
//	            account, shared by its users and roles: 100 calls/s.
//
// sts.tokenLifetime, when set, makes the credentials expire that soon
// whatever DurationSeconds asks (tests of renewal); a call signed with
// expired ones is answered InvalidSecurityToken.Expired.
const ProductSTS = "sts"

// DefaultAccountID is the ID of the emulator's own account when
// Config.AccountID is empty.
const DefaultAccountID = "1000000000000000"

// maxSessionDuration is the MaxSessionDuration of every emulated role:
// the least a role can have, and AssumeRole's default.
const maxSessionDuration = 3600

// AccountSettings is another account: its ID, the RAM roles STS lets
// callers assume in it, and what it holds. Its calls are counted against
// its own quotas.
type AccountSettings struct {
	// ID is the account's 16-digit ID.
	ID string `yaml:"id"`
	// Roles are its RAM roles.
	Roles []RoleSettings `yaml:"roles"`
	// Domains are its domains, by product.
	Domains Domains `yaml:"domains"`
	// Quotas are its calls per second by API action, as Config.Quotas.
	Quotas map[string]float64 `yaml:"quotas"`
	// LoadBalancers are its ALB, NLB and CLB load balancers, as
	// Config.LoadBalancers.
	LoadBalancers LoadBalancerSettings `yaml:"loadBalancers"`
}

// RoleSettings is one RAM role of an account.
type RoleSettings struct {
	// Name is the role's name: acs:ram::<account ID>:role/<name>.
	Name string `yaml:"name"`
	// Trust are the principals its trust policy's "RAM" entry names:
	// "acs:ram::<ID>:role/<name>" (one role of another account),
	// "acs:ram::<ID>:root" (every RAM user and role of that account).
	Trust []string `yaml:"trust"`
	// DenyActions are API actions its permission policy does not allow:
	// Forbidden.RAM (403) for the credentials STS gives for it.
	DenyActions []string `yaml:"denyActions"`
}

// STSSettings configures Security Token Service.
type STSSettings struct {
	// TokenLifetime, when set, is how long the credentials AssumeRole
	// gives last, whatever DurationSeconds asks: a few seconds lets a test
	// see them expire and be renewed within a run.
	TokenLifetime time.Duration `yaml:"tokenLifetime"`
}

var (
	simAccountID   = regexp.MustCompile(`^[0-9]{16}$`)
	simRoleName    = regexp.MustCompile(`^[A-Za-z0-9.-]{1,64}$`)
	simRoleArn     = regexp.MustCompile(`^acs:ram::([0-9]{16}):role/([A-Za-z0-9.-]{1,64})$`)
	simPrincipal   = regexp.MustCompile(`^acs:ram::[0-9]{16}:(root|role/[A-Za-z0-9.-]{1,64}|user/[A-Za-z0-9.@_-]{1,64})$`)
	simSessionName = regexp.MustCompile(`^[A-Za-z0-9.@_-]{2,32}$`)
)

// accountID is the emulator's own account's ID.
func (c *Config) accountID() string {
	if c.AccountID == "" {
		return DefaultAccountID
	}
	return c.AccountID
}

// validateAccounts checks the account ID, the other accounts and STS.
func (c *Config) validateAccounts() error {
	if !simAccountID.MatchString(c.accountID()) {
		return fmt.Errorf("accountId %q: want 16 digits", c.AccountID)
	}
	if c.STS.TokenLifetime < 0 {
		return fmt.Errorf("sts.tokenLifetime must not be negative")
	}
	for i, cr := range c.Credentials {
		if cr.RoleArn == "" {
			continue
		}
		m := simRoleArn.FindStringSubmatch(cr.RoleArn)
		if m == nil || m[1] != c.accountID() {
			return fmt.Errorf("credentials[%d]: roleArn %q is not a role of account %s", i, cr.RoleArn, c.accountID())
		}
	}
	ids := map[string]bool{c.accountID(): true}
	for i, a := range c.Accounts {
		if !simAccountID.MatchString(a.ID) {
			return fmt.Errorf("accounts[%d]: id %q: want 16 digits", i, a.ID)
		}
		if ids[a.ID] {
			return fmt.Errorf("accounts[%d]: account %s is configured twice (or is accountId)", i, a.ID)
		}
		ids[a.ID] = true
		names := map[string]bool{}
		for j, r := range a.Roles {
			if !simRoleName.MatchString(r.Name) || names[strings.ToLower(r.Name)] {
				return fmt.Errorf("accounts[%d].roles[%d]: name %q is malformed or repeated", i, j, r.Name)
			}
			names[strings.ToLower(r.Name)] = true
			for _, p := range r.Trust {
				if !simPrincipal.MatchString(p) {
					return fmt.Errorf("accounts[%d].roles[%d]: trust: %q is not acs:ram::<ID>:root, :role/<name> or :user/<name>", i, j, p)
				}
			}
			for _, act := range r.DenyActions {
				if _, ok := lookupAPI(act); !ok {
					return fmt.Errorf("accounts[%d].roles[%d]: denyActions: unknown action %q", i, j, act)
				}
			}
		}
		sub := Config{Domains: a.Domains, Quotas: a.Quotas, OSS: OSSSettings{Disabled: true}}
		for q := range a.Quotas {
			if _, ok := lookupAPI(q); !ok {
				return fmt.Errorf("accounts[%d]: quotas: unknown action %q", i, q)
			}
			if a.Quotas[q] == 0 {
				return fmt.Errorf("accounts[%d]: quotas: %s: 0 calls per second would refuse every call; use a negative value for unlimited", i, q)
			}
		}
		for _, p := range catalog().products {
			if p.domains == nil {
				continue
			}
			if err := validateDomains(p, p.domains.configured(sub.Domains)); err != nil {
				return fmt.Errorf("accounts[%d]: %w", i, err)
			}
		}
	}
	return nil
}

// stsProduct registers Security Token Service.
func stsProduct() productSpec {
	return productSpec{
		name: ProductSTS, code: "Sts", host: "sts.aliyuncs.com",
		env: []string{config.STSEndpoint},
		errors: map[string]knownError{
			"EntityNotExist.Role":              {404, "The role not exists."},
			"NoPermission":                     {403, "You are not authorized to do this action. You should be authorized by RAM."},
			"InvalidParameter.RoleArn":         {400, "The parameter RoleArn is wrongly formed."},
			"InvalidParameter.RoleSessionName": {400, "The parameter RoleSessionName is wrongly formed."},
			"InvalidParameter.DurationSeconds": {400, "The Min/Max value of DurationSeconds is 15min/1hr."},
			"MissingRoleArn":                   {400, "RoleArn is mandatory for this action."},
			"MissingRoleSessionName":           {400, "RoleSessionName is mandatory for this action."},
		},
		actions: []apiSpec{
			// Its page: 6,000 calls a minute per account.
			{action: "AssumeRole", version: "2015-04-01", quota: 100, journal: func(_ *Sim, c *call, p url.Values) {
				c.entry.Domain = p.Get("RoleArn")
			}, handle: assumeRole},
		},
	}
}

// issuedCredential is a credential AssumeRole gave.
type issuedCredential struct {
	cred    Credential
	account string
	expires time.Time
}

// stsState holds the credentials AssumeRole gave, on the emulator's own
// account's Sim.
type stsState struct {
	mu     sync.Mutex
	issued map[string]issuedCredential
}

// credential returns the credential of an access key ID, static or
// issued; an issued one past its expiry is marked Expired. account is the
// ID of the account it acts in.
func (s *Sim) credential(id string, now time.Time) (cred Credential, account string, ok bool) {
	if c, ok := s.creds[id]; ok {
		return c, s.cfg.accountID(), true
	}
	s.sts.mu.Lock()
	defer s.sts.mu.Unlock()
	ic, ok := s.sts.issued[id]
	if !ok {
		return Credential{}, "", false
	}
	c := ic.cred
	c.Expired = !now.Before(ic.expires)
	return c, ic.account, true
}

// accountSim returns the Sim of account id: s itself for its own.
func (s *Sim) accountSim(id string) *Sim {
	if a, ok := s.accounts[id]; ok {
		return a
	}
	return s
}

// Account returns the emulator's view of another configured account (its
// Installed, Staging and SetDomainState), nil when none has id. It is
// served by the emulator's listeners: never Start or Close it.
func (s *Sim) Account(id string) *Sim { return s.accounts[id] }

// newAccounts builds the Sims of the other accounts, sharing s's journal,
// faults, clock and life.
func (s *Sim) newAccounts() error {
	s.accounts = map[string]*Sim{}
	for _, a := range s.cfg.Accounts {
		sub, err := New(Config{
			AccountID: a.ID, Domains: a.Domains, Quotas: a.Quotas, LoadBalancers: a.LoadBalancers, Faults: s.cfg.Faults,
			MaxCertificateBytes: s.cfg.MaxCertificateBytes, CAS: CASSettings{MaxCertificates: s.cfg.CAS.MaxCertificates},
			OSS: OSSSettings{Disabled: true}, Edge: EdgeSettings{Disabled: true}, // the edge is s's (New)
			CertificateClock: s.cfg.CertificateClock, Logger: s.cfg.Logger,
		})
		if err != nil {
			return fmt.Errorf("account %s: %w", a.ID, err)
		}
		sub.journal, sub.done, sub.root, sub.settings = s.journal, s.done, s, a
		s.accounts[a.ID] = sub
	}
	return nil
}

// randomToken returns n random bytes in hex.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// assumeRole answers AssumeRole: the caller's principal must be trusted
// by the role, and may call AssumeRole (denyActions).
func assumeRole(s *Sim, c *call, p url.Values) (any, *apiError) {
	root := s
	if s.root != nil {
		root = s.root
	}
	arn, session := p.Get("RoleArn"), p.Get("RoleSessionName")
	switch {
	case arn == "":
		return nil, newAPIError(ProductSTS, "MissingRoleArn")
	case session == "":
		return nil, newAPIError(ProductSTS, "MissingRoleSessionName")
	case !simSessionName.MatchString(session):
		return nil, newAPIError(ProductSTS, "InvalidParameter.RoleSessionName")
	}
	m := simRoleArn.FindStringSubmatch(arn)
	if m == nil {
		return nil, newAPIError(ProductSTS, "InvalidParameter.RoleArn")
	}
	duration := maxSessionDuration
	if v := p.Get("DurationSeconds"); v != "" {
		d, err := strconv.Atoi(v)
		if err != nil || d < 900 || d > maxSessionDuration {
			return nil, newAPIError(ProductSTS, "InvalidParameter.DurationSeconds")
		}
		duration = d
	}
	acct := root.accounts[m[1]]
	var role *RoleSettings
	if acct != nil {
		for i, r := range acct.settings.Roles {
			if strings.EqualFold(r.Name, m[2]) {
				role = &acct.settings.Roles[i]
			}
		}
	}
	if role == nil {
		return nil, newAPIError(ProductSTS, "EntityNotExist.Role").withMessage("The role not exists: " + arn + ".")
	}
	if !trusts(role.Trust, c.account, c.cred) {
		return nil, newAPIError(ProductSTS, "NoPermission")
	}
	lifetime := time.Duration(duration) * time.Second
	if root.cfg.STS.TokenLifetime > 0 {
		lifetime = root.cfg.STS.TokenLifetime
	}
	now := time.Now().UTC()
	roleArn := "acs:ram::" + m[1] + ":role/" + strings.ToLower(role.Name)
	ic := issuedCredential{
		cred: Credential{
			AccessKeyID: "STS." + randomToken(12), AccessKeySecret: randomToken(20), SecurityToken: "CAIS" + randomToken(48),
			RoleArn: roleArn, DenyActions: slices.Clone(role.DenyActions),
		},
		account: m[1],
		expires: now.Add(lifetime),
	}
	root.sts.mu.Lock()
	if root.sts.issued == nil {
		root.sts.issued = map[string]issuedCredential{}
	}
	for id, old := range root.sts.issued {
		// Forget what expired long ago: the map stays the size of the
		// credentials in use.
		if now.Sub(old.expires) > time.Hour {
			delete(root.sts.issued, id)
		}
	}
	root.sts.issued[ic.cred.AccessKeyID] = ic
	root.sts.mu.Unlock()
	return map[string]any{
		"RequestId": c.entry.RequestID,
		"Credentials": map[string]string{
			"AccessKeyId": ic.cred.AccessKeyID, "AccessKeySecret": ic.cred.AccessKeySecret,
			"SecurityToken": ic.cred.SecurityToken, "Expiration": ic.expires.Format("2006-01-02T15:04:05Z"),
		},
		"AssumedRoleUser": map[string]string{
			"Arn":           roleArn + "/" + session,
			"AssumedRoleId": randomToken(8) + ":" + session,
		},
	}, nil
}

// trusts reports whether a role's trust policy names the caller: its RAM
// role, its RAM user, or its account's root.
func trusts(trust []string, account string, cred Credential) bool {
	principal := "acs:ram::" + account + ":user/" + cred.AccessKeyID
	if cred.RoleArn != "" {
		principal = cred.RoleArn
	}
	for _, t := range trust {
		if strings.EqualFold(t, principal) || t == "acs:ram::"+account+":root" {
			return true
		}
	}
	return false
}
