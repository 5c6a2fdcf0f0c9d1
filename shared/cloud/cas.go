package cloud

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/certdrop/certdrop/internal/secureurl"
	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/cloud/answer"
	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
)

// The variables that override a CAS region's endpoint, as URLs (the
// emulator serves each region on its own listener, as the service does).
const (
	EnvCASEndpoint     = config.CASEndpoint
	EnvCASIntlEndpoint = config.CASIntlEndpoint
)

// casPageSize and casMaxPages bound a listing: 100 pages of 50, 5,000
// certificates per keyword and status.
const (
	casPageSize = 50
	casMaxPages = 100
)

var _ fanout.CASClient = (*Client)(nil)

// casEndpoint returns where a CAS region's calls go: its override, else
// https://cas.aliyuncs.com or https://cas.ap-southeast-1.aliyuncs.com.
func (c *Client) casEndpoint(region string) (endpoint, error) {
	name := EnvCASEndpoint
	switch region {
	case manifest.CASRegionMainland:
	case manifest.CASRegionInternational:
		name = EnvCASIntlEndpoint
	default:
		return endpoint{}, fmt.Errorf("unknown CAS region %q (want %s or %s)", region, manifest.CASRegionMainland, manifest.CASRegionInternational)
	}
	if raw := c.opts.Getenv(name); raw != "" {
		return secureurl.Parse(name, raw)
	}
	return endpoint{Scheme: "https", Host: plan.CASEndpoint(region)}, nil
}

// casPacers pace the CAS calls of a client (and of the clients
// WithCredentials derives from it: the quota is the account's) at 97% of
// each action's documented quota, so that a prune's listings and a
// deployment's lookups do not trip ListUserCertificateOrder's 10 calls/s.
type casPacers struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func (p *casPacers) wait(ctx context.Context, api plan.API) error {
	p.mu.Lock()
	l, ok := p.m[api.Action]
	if !ok {
		l = rate.NewLimiter(rate.Limit(api.Quota*0.97), 1)
		p.m[api.Action] = l
	}
	p.mu.Unlock()
	return l.Wait(ctx)
}

// casCall makes one CAS call in region, paced; subject names it in
// errors.
func (c *Client) casCall(ctx context.Context, region string, api plan.API, subject string, form map[string]string, secrets []string) (map[string]any, error) {
	ep, err := c.casEndpoint(region)
	if err != nil {
		return nil, errorf(api.Action, subject, "%v", err)
	}
	if err := c.casPace.wait(ctx, api); err != nil {
		return nil, convert(ctx, api.Action, subject, err, nil, newRedactor(), answers{})
	}
	body, e := c.rpc(ctx, ep, c.rpcDoer, api, subject, form, secrets, answers{})
	if e != nil {
		return nil, e
	}
	return body, nil
}

// UploadCAS uploads a certificate and its key (UploadUserCertificate) and
// returns its CertId. The key travels in the POST body and is scrubbed
// from every error.
func (c *Client) UploadCAS(ctx context.Context, region, name, certPEM string, key bundle.Secret) (int64, string, error) {
	body, err := c.casCall(ctx, region, plan.CASUploadAPI, name,
		map[string]string{"Name": name, "Cert": certPEM, "Key": key.Reveal()}, []string{key.Reveal()})
	if err != nil {
		return 0, RequestIDOf(err), err
	}
	rid, _ := body["RequestId"].(string)
	id, ok := answer.Int64(body["CertId"])
	if !ok || id <= 0 {
		return 0, rid, errorf(plan.CASUploadAPI.Action, name, "the answer has no CertId")
	}
	return id, rid, nil
}

// ListCAS lists uploaded certificates matching keyword
// (ListUserCertificateOrder, OrderType=UPLOAD), every page up to 5,000
// certificates; with expired, those of Status=EXPIRED, which the default
// listing leaves out.
func (c *Client) ListCAS(ctx context.Context, region, keyword string, expired bool) ([]fanout.CASCert, error) {
	var out []fanout.CASCert
	for page := 1; page <= casMaxPages; page++ {
		form := map[string]string{"OrderType": "UPLOAD", "CurrentPage": strconv.Itoa(page), "ShowSize": strconv.Itoa(casPageSize)}
		if keyword != "" {
			form["Keyword"] = keyword
		}
		if expired {
			form["Status"] = "EXPIRED"
		}
		body, err := c.casCall(ctx, region, plan.CASListAPI, keyword, form, nil)
		if err != nil {
			return nil, err
		}
		list, _ := body["CertificateOrderList"].([]any)
		for _, item := range list {
			if m, ok := item.(map[string]any); ok {
				out = append(out, casCert(region, m))
			}
		}
		total, _ := answer.Int64(body["TotalCount"])
		if len(list) < casPageSize || int64(page*casPageSize) >= total {
			return out, nil
		}
	}
	return out, nil
}

// DeleteCAS deletes a certificate (DeleteUserCertificate).
func (c *Client) DeleteCAS(ctx context.Context, region string, id int64) error {
	sid := strconv.FormatInt(id, 10)
	_, err := c.casCall(ctx, region, plan.CASDeleteAPI, sid, map[string]string{"CertId": sid}, nil)
	return err
}

// casCert reads a certificate from a list entry or a detail answer.
func casCert(region string, m map[string]any) fanout.CASCert {
	str := func(keys ...string) string {
		for _, k := range keys {
			if s, ok := m[k].(string); ok && s != "" {
				return s
			}
		}
		return ""
	}
	c := fanout.CASCert{Region: region, Name: str("Name"), CommonName: str("CommonName", "Common")}
	for _, k := range []string{"CertificateId", "Id", "CertId"} {
		if id, ok := answer.Int64(m[k]); ok && id > 0 {
			c.ID = id
			break
		}
	}
	for _, s := range strings.Split(str("Sans"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.SANs = append(c.SANs, s)
		}
	}
	c.Fingerprint = strings.ToLower(strings.ReplaceAll(str("Sha2"), ":", ""))
	c.NotBefore = casTime(m, "CertStartTime", "NotBefore", "StartDate")
	c.NotAfter = casTime(m, "CertEndTime", "NotAfter", "EndDate")
	c.Expired, _ = m["Expired"].(bool)
	return c
}

// casTime reads the first of keys that holds a time: Unix milliseconds, or
// a date the way ParseTime reads them.
func casTime(m map[string]any, keys ...string) time.Time {
	for _, k := range keys {
		if ms, ok := answer.Int64(m[k]); ok && ms > 0 {
			return time.UnixMilli(ms).UTC()
		}
		if s, ok := m[k].(string); ok {
			if t, ok := ParseTime(s); ok {
				return t
			}
			if t, err := time.Parse("2006-01-02", s); err == nil {
				return t.UTC()
			}
		}
	}
	return time.Time{}
}
