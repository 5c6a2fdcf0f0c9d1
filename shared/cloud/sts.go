package cloud

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aliyun/credentials-go/credentials"
	"github.com/aliyun/credentials-go/credentials/providers"
	"golang.org/x/time/rate"

	"github.com/certdrop/certdrop/internal/credchain"
	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/failure"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
)

// EnvSTSEndpoint overrides the endpoint of Security Token Service, which
// AssumeRole calls.
const EnvSTSEndpoint = config.STSEndpoint

// STSHost is Security Token Service's public endpoint.
const STSHost = "sts.aliyuncs.com"

// AssumeRoleAPI is STS's AssumeRole (API 2015-04-01). Its page documents
// 6,000 calls a minute per account, shared by the account's RAM users and
// roles: 100 a second. certdrop calls it once per account per run, and
// again only as the credentials near their expiry.
var AssumeRoleAPI = plan.API{Service: "sts", Action: "AssumeRole", Version: "2015-04-01", Quota: 100}

// Role sessions: the defaults AssumeRole is called with.
const (
	// RoleSessionName names certdrop's sessions in the target account's
	// ActionTrail (2 to 32 letters, digits, '.', '@', '-', '_').
	RoleSessionName = "certdrop"
	// DefaultRoleDuration is the DurationSeconds asked for: AssumeRole's
	// default and the largest every role allows (900 s to the role's
	// MaxSessionDuration, which is at least 3,600 s).
	DefaultRoleDuration = time.Hour
	// roleRefreshMargin is how long before their expiry the credentials
	// are renewed, at most (credentials-go's providers use the same
	// three minutes); a quarter of their lifetime when that is shorter.
	roleRefreshMargin = 3 * time.Minute
	// roleRetryPause spaces the renewals tried while the credentials in
	// hand are still valid, after one failed.
	roleRetryPause = 5 * time.Second
)

// roleCodes are AssumeRole's own answers.
var roleCodes = map[string]CodeInfo{
	"NoPermission": {failure.Forbidden, "the role could not be assumed: grant the function's role sts:AssumeRole on it " +
		"(deploy/README.md), and make the role's trust policy name the function's role"},
	"EntityNotExist.Role":      {failure.Permanent, "the role does not exist in that account: check the account's roleArn in the manifest"},
	"InvalidParameter.RoleArn": {failure.Permanent, "the roleArn is malformed: acs:ram::<account ID>:role/<role name>"},
	"InvalidParameter.DurationSeconds": {failure.Permanent, "the role's MaxSessionDuration is below " +
		strconv.Itoa(int(DefaultRoleDuration/time.Second)) + " s: raise it in the RAM console"},
}

// RoleError is a role that could not be assumed: none of its account's
// calls can be made. It unwraps to the AssumeRole call's error (an
// *Error, whose code, hint and class the report shows).
type RoleError struct {
	RoleArn string
	Err     error
}

// Error names the role and the cause.
func (e *RoleError) Error() string {
	return fmt.Sprintf("the role %s could not be assumed: %v", e.RoleArn, e.Err)
}

// Unwrap returns the cause.
func (e *RoleError) Unwrap() error { return e.Err }

// AssumeRole returns a client that shares c's connections and endpoints
// and makes its calls in the account of the RAM role roleArn, signed with
// the role's temporary credentials: STS AssumeRole gives them, the call
// signed with c's own credentials through the same transport, and they
// are renewed before they expire, however long the run. Its Certificate
// Management Service calls are paced apart from c's: quotas are per
// account.
//
// The role is assumed once now, so that one that cannot be (a trust
// policy that does not name the caller, a missing sts:AssumeRole grant,
// no such role) fails here, with a *RoleError. The client is kept: every
// later call with the same roleArn returns it.
func (c *Client) AssumeRole(ctx context.Context, roleArn string) (*Client, error) {
	id, ok := manifest.AccountID(roleArn)
	if !ok {
		return nil, &RoleError{RoleArn: roleArn, Err: errorf(AssumeRoleAPI.Action, roleArn, "not a RAM role's ARN: want acs:ram::<16-digit account ID>:role/<role name>")}
	}
	rc := c.roles.get(roleArn)
	rc.once.Lock()
	defer rc.once.Unlock()
	if rc.client != nil {
		return rc.client, nil
	}
	src := &roleSource{base: c, arn: roleArn, duration: DefaultRoleDuration, now: time.Now, sem: make(chan struct{}, 1)}
	if _, err := src.get(ctx); err != nil {
		return nil, &RoleError{RoleArn: roleArn, Err: err}
	}
	n := *c
	n.creds = &credentialSource{name: "role " + roleArn, role: src}
	n.sdkCred = credentials.FromCredentialsProvider("certdrop", n.creds)
	n.casPace = c.pools.casPacersOf(id)
	n.roles = &roleClients{m: map[string]*roleClient{}}
	rc.client = &n
	return &n, nil
}

// roleClients are the clients AssumeRole built, by role ARN: one per role
// for each set of the caller's credentials.
type roleClients struct {
	mu sync.Mutex
	m  map[string]*roleClient
}

// roleClient is one role's client, built once.
type roleClient struct {
	once   sync.Mutex
	client *Client
}

func (r *roleClients) get(arn string) *roleClient {
	r.mu.Lock()
	defer r.mu.Unlock()
	rc, ok := r.m[arn]
	if !ok {
		rc = &roleClient{}
		r.m[arn] = rc
	}
	return rc
}

// casPacersOf returns the CAS pacers of the account accountID, shared by
// every client acting in it.
func (p *pools) casPacersOf(accountID string) *casPacers {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cas == nil {
		p.cas = map[string]*casPacers{}
	}
	cp, ok := p.cas[accountID]
	if !ok {
		cp = &casPacers{m: map[string]*rate.Limiter{}}
		p.cas[accountID] = cp
	}
	return cp
}

// roleSource holds a role's temporary credentials and renews them.
type roleSource struct {
	base     *Client
	arn      string
	duration time.Duration
	now      func() time.Time
	// sem lets one renewal run at a time; the others wait for it.
	sem chan struct{}

	mu       sync.Mutex
	cur      credchain.Credentials
	expires  time.Time
	lifetime time.Duration
	// failedAt is when the last renewal failed, while cur was valid.
	failedAt time.Time
}

// valid returns the credentials in hand when they have not expired.
func (r *roleSource) valid(now time.Time) (credchain.Credentials, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur, r.cur.Complete() && now.Before(r.expires)
}

// due reports whether the credentials are to be renewed: none yet, or
// within the refresh margin of their expiry (a quarter of their lifetime
// when that is less than three minutes), and no renewal failed within
// roleRetryPause while they are valid.
func (r *roleSource) due(now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.cur.Complete() || !now.Before(r.expires) {
		return true
	}
	margin := min(roleRefreshMargin, r.lifetime/4)
	if now.Before(r.expires.Add(-margin)) {
		return false
	}
	return r.failedAt.IsZero() || now.Sub(r.failedAt) >= roleRetryPause
}

// get returns valid credentials, renewing them first when they are due.
// A renewal that fails while the credentials in hand are still valid is
// tried again later (every roleRetryPause) and those are returned; once
// they have expired, its error is.
func (r *roleSource) get(ctx context.Context) (credchain.Credentials, error) {
	if !r.due(r.now()) {
		cur, _ := r.valid(r.now())
		return cur, nil
	}
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		if cur, ok := r.valid(r.now()); ok {
			return cur, nil
		}
		return credchain.Credentials{}, ctx.Err()
	}
	defer func() { <-r.sem }()
	if !r.due(r.now()) {
		// Renewed while this call waited.
		cur, _ := r.valid(r.now())
		return cur, nil
	}
	cr, exp, err := r.assume(ctx)
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		if r.cur.Complete() && now.Before(r.expires) {
			r.failedAt = now
			r.base.log.Warn("renewing a role's credentials failed; the current ones are used until they expire",
				"role", r.arn, "expires", r.expires, "error", err.Error())
			return r.cur, nil
		}
		return credchain.Credentials{}, err
	}
	r.cur, r.expires, r.lifetime, r.failedAt = cr, exp, exp.Sub(now), time.Time{}
	return cr, nil
}

// assume calls AssumeRole, retrying throttled and transient answers a few
// times, and reads its credentials.
func (r *roleSource) assume(ctx context.Context) (credchain.Credentials, time.Time, error) {
	var body map[string]any
	err := fanout.CallCAS(ctx, fanout.Options{MaxAttempts: 4, MaxThrottled: 6, MaxDelay: 5 * time.Second}, func() error {
		var err error
		body, err = r.base.Call(ctx, Request{
			EndpointVar: EnvSTSEndpoint, Host: STSHost, Pool: "sts",
			Action: AssumeRoleAPI.Action, Version: AssumeRoleAPI.Version,
			Params: map[string]string{
				"RoleArn":         r.arn,
				"RoleSessionName": RoleSessionName,
				"DurationSeconds": strconv.Itoa(int(r.duration / time.Second)),
			},
			Codes: roleCodes, Subject: r.arn,
		})
		return err
	})
	if err != nil {
		return credchain.Credentials{}, time.Time{}, err
	}
	rid, _ := body["RequestId"].(string)
	m, _ := body["Credentials"].(map[string]any)
	str := func(k string) string { s, _ := m[k].(string); return s }
	cr := credchain.Credentials{AccessKeyID: str("AccessKeyId"), AccessKeySecret: str("AccessKeySecret"), SecurityToken: str("SecurityToken")}
	exp, ok := ParseTime(str("Expiration"))
	if !cr.Complete() || cr.SecurityToken == "" || !ok {
		e := errorf(AssumeRoleAPI.Action, r.arn, "the answer holds no complete credentials (AccessKeyId, AccessKeySecret, SecurityToken, Expiration)")
		e.RequestID = rid
		return credchain.Credentials{}, time.Time{}, e
	}
	return cr, exp, nil
}

// GetProviderName implements providers.CredentialsProvider.
func (r *roleSource) GetProviderName() string { return "ram_role_arn" }

// GetCredentials implements providers.CredentialsProvider for the SDKs,
// which ask without a context: the calls renew the credentials first
// (Client.prepare), so this renews them only when they have expired
// since, within the client's call timeouts.
func (r *roleSource) GetCredentials() (*providers.Credentials, error) {
	cr, ok := r.valid(r.now())
	if !ok {
		ctx, cancel := context.WithTimeout(context.Background(), r.base.opts.ConnectTimeout+r.base.opts.ReadTimeout)
		defer cancel()
		var err error
		if cr, err = r.get(ctx); err != nil {
			return nil, err
		}
	}
	return &providers.Credentials{AccessKeyId: cr.AccessKeyID, AccessKeySecret: cr.AccessKeySecret, SecurityToken: cr.SecurityToken, ProviderName: r.GetProviderName()}, nil
}

// prepare renews the client's role credentials when they are due, under
// ctx, before a call signs with them. A failure is returned as the call's
// error: the credentials could not be had.
func (c *Client) prepare(ctx context.Context) error {
	if c.creds.role == nil {
		return nil
	}
	cr, err := c.creds.role.get(ctx)
	if err != nil {
		// The role can no longer be assumed: no call of its account can
		// be made (an auth failure, which stops the account's run).
		return &credentialError{source: c.creds.name, msg: err.Error()}
	}
	c.creds.remember(cr.AccessKeySecret, cr.SecurityToken)
	return nil
}
