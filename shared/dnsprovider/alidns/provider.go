// Package alidns is a libdns provider for Alibaba Cloud DNS (the alidns
// OpenAPI, version 2015-01-09), for ACME DNS-01 challenges: it finds the
// zone that holds a name, adds the _acme-challenge TXT record, lists
// records and deletes them again.
//
// Calls go through certdrop's OpenAPI client (shared/cloud): the same SDK,
// ACS3-HMAC-SHA256 signing, credentials, endpoint rules and error classes
// as the certificate calls. Each action is paced below its
// documented quota, throttled and transient answers are retried (after
// the server's retry hint when it gives one), and nothing else is.
package alidns

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/libdns/libdns"
	"golang.org/x/time/rate"

	"github.com/certdrop/certdrop/internal/secureurl"
	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/failure"
)

// EnvEndpoint overrides the API endpoint, as a URL (the emulator:
// "http://127.0.0.1:PORT").
const EnvEndpoint = config.AliDNSEndpoint

// DefaultEndpoint is the central Alibaba Cloud DNS endpoint.
const DefaultEndpoint = "https://alidns.aliyuncs.com"

// Version is the API version called.
const Version = "2015-01-09"

// DefaultTTL is the TTL of the records added: 600 s is the smallest the
// free and personal editions accept.
const DefaultTTL = 600 * time.Second

// Quotas are the documented per-account rate limits of the actions used,
// in calls per second (Alibaba Cloud DNS "API rate quota",
// https://www.alibabacloud.com/help/en/dns/api-alidns-2015-01-09-quota).
// DescribeDomains has no documented figure; 10/s is certdrop's own
// conservative choice. Calls are paced at 97% of these.
func Quotas() map[string]float64 {
	return map[string]float64{
		"DescribeDomains":          10,
		"DescribeDomainRecords":    100,
		"DescribeSubDomainRecords": 300,
		"AddDomainRecord":          60,
		"DeleteDomainRecord":       60,
	}
}

// Retry budget: throttled calls were not processed and are retried more
// often than calls that failed for another transient reason.
const (
	maxThrottledAttempts = 10
	maxTransientAttempts = 5
	backoffBase          = 200 * time.Millisecond
	backoffCap           = 10 * time.Second
	// maxPages bounds every listing: 100 pages of zones or records.
	maxPages = 100
)

// Caller makes one OpenAPI call; *cloud.Client is one.
type Caller interface {
	Call(ctx context.Context, r cloud.Request) (map[string]any, error)
}

// Provider writes records through the Alibaba Cloud DNS API. It is safe
// for concurrent use.
type Provider struct {
	client   Caller
	endpoint string
	limiters map[string]*rate.Limiter
	ttl      time.Duration

	mu    sync.Mutex
	zones []string // the account's zones, once listed
}

var (
	_ libdns.RecordGetter   = (*Provider)(nil)
	_ libdns.RecordAppender = (*Provider)(nil)
	_ libdns.RecordDeleter  = (*Provider)(nil)
)

// New returns a provider calling through c, at the endpoint getenv's
// CERTDROP_ALIDNS_ENDPOINT names (https, or http to a loopback host), else
// DefaultEndpoint.
func New(c Caller, getenv func(string) string) (*Provider, error) {
	ep := DefaultEndpoint
	if getenv != nil {
		if raw := getenv(EnvEndpoint); raw != "" {
			e, err := secureurl.Parse(EnvEndpoint, raw)
			if err != nil {
				return nil, err
			}
			ep = e.String()
		}
	}
	p := &Provider{client: c, endpoint: ep, limiters: map[string]*rate.Limiter{}, ttl: DefaultTTL}
	for action, q := range Quotas() {
		p.limiters[action] = rate.NewLimiter(rate.Limit(q*0.97), 1)
	}
	return p, nil
}

// Endpoint returns the URL calls go to.
func (p *Provider) Endpoint() string { return p.endpoint }

// ErrNoZone is wrapped by FindZone's error when no zone of the account
// holds the name.
var ErrNoZone = errors.New("no zone of this account holds")

// FindZone returns the account's zone that holds name (the longest zone
// name name ends with), as an FQDN with a trailing dot. The zones are
// listed once per provider (DescribeDomains).
func (p *Provider) FindZone(ctx context.Context, name string) (string, error) {
	zones, err := p.listZones(ctx)
	if err != nil {
		return "", err
	}
	n := canonical(name)
	best := ""
	for _, z := range zones {
		if (n == z || strings.HasSuffix(n, "."+z)) && len(z) > len(best) {
			best = z
		}
	}
	if best == "" {
		return "", fmt.Errorf("alidns: %w %s (%d zones listed): add the domain to Alibaba Cloud DNS, or delegate _acme-challenge with a CNAME to a zone that is", ErrNoZone, n, len(zones))
	}
	return best + ".", nil
}

func (p *Provider) listZones(ctx context.Context) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.zones != nil {
		return p.zones, nil
	}
	var zones []string
	for page := 1; page <= maxPages; page++ {
		body, err := p.call(ctx, "DescribeDomains", "", map[string]string{
			"PageNumber": strconv.Itoa(page), "PageSize": "100",
		})
		if err != nil {
			return nil, err
		}
		list := items(body, "Domains", "Domain")
		for _, d := range list {
			if name, _ := d["DomainName"].(string); name != "" {
				zones = append(zones, canonical(name))
			}
			if puny, _ := d["PunyCode"].(string); puny != "" {
				zones = append(zones, canonical(puny))
			}
		}
		if len(list) < 100 || page*100 >= number(body["TotalCount"]) {
			break
		}
	}
	if zones == nil {
		zones = []string{}
	}
	p.zones = zones
	return zones, nil
}

// GetRecords returns the zone's records (DescribeDomainRecords, every
// page up to 50,000 records). Renewal never calls it, and
// deploy/ram-policy.json does not grant alidns:DescribeDomainRecords.
func (p *Provider) GetRecords(ctx context.Context, zone string) ([]libdns.Record, error) {
	z := canonical(zone)
	var out []libdns.Record
	for page := 1; page <= maxPages; page++ {
		body, err := p.call(ctx, "DescribeDomainRecords", z, map[string]string{
			"DomainName": z, "PageNumber": strconv.Itoa(page), "PageSize": "500",
		})
		if err != nil {
			return nil, err
		}
		list := items(body, "DomainRecords", "Record")
		for _, r := range list {
			out = append(out, toLibdns(r))
		}
		if len(list) < subPageSize || page*subPageSize >= number(body["TotalCount"]) {
			break
		}
	}
	return out, nil
}

// AppendRecords adds TXT (or other) records (AddDomainRecord) and returns
// them with the record ID as ProviderData. A record that is already there
// with the same value (DomainRecordDuplicate) counts as added.
func (p *Provider) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	z := canonical(zone)
	var added []libdns.Record
	for _, rec := range recs {
		rr := rec.RR()
		ttl := rr.TTL
		if ttl <= 0 {
			ttl = p.ttl
		}
		name := rrName(rr.Name)
		body, err := p.call(ctx, "AddDomainRecord", libdns.AbsoluteName(name, z), map[string]string{
			"DomainName": z, "RR": name, "Type": rr.Type, "Value": rr.Data,
			"TTL": strconv.Itoa(int(ttl / time.Second)),
		})
		var id string
		switch {
		case err == nil:
			id, _ = body["RecordId"].(string)
		case code(err) == "DomainRecordDuplicate":
			found, ferr := p.find(ctx, z, name, rr.Type, rr.Data)
			if ferr != nil || len(found) == 0 {
				return added, err
			}
			id = found[0].id
		default:
			return added, refusal(err)
		}
		added = append(added, record(name, rr.Type, rr.Data, ttl, id))
	}
	return added, nil
}

// DeleteRecords deletes the given records (DeleteDomainRecord): by the
// record ID AppendRecords returned, else every record of that name (and
// type and value, when given). Records already gone are skipped.
func (p *Provider) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	z := canonical(zone)
	var deleted []libdns.Record
	for _, rec := range recs {
		rr := rec.RR()
		name := rrName(rr.Name)
		var targets []found
		if id := providerID(rec); id != "" {
			targets = []found{{id: id, name: name, typ: rr.Type, value: rr.Data, ttl: rr.TTL}}
		} else {
			f, err := p.find(ctx, z, name, rr.Type, rr.Data)
			if err != nil {
				return deleted, err
			}
			targets = f
		}
		for _, t := range targets {
			_, err := p.call(ctx, "DeleteDomainRecord", libdns.AbsoluteName(name, z), map[string]string{"RecordId": t.id})
			switch {
			case err == nil:
				deleted = append(deleted, record(t.name, t.typ, t.value, t.ttl, t.id))
			case code(err) == "DomainRecordNotBelongToUser" || code(err) == "InvalidRR.NoExist":
				// Already gone.
			default:
				return deleted, err
			}
		}
	}
	return deleted, nil
}

// found is a record as a lookup returns it.
type found struct {
	id, name, typ, value string
	ttl                  time.Duration
}

// subPageSize is DescribeSubDomainRecords' page: its current reference
// allows 1 to 100 (DescribeDomainRecords' allows 500).
const subPageSize = 100

// find lists the records of one name (DescribeSubDomainRecords) that match
// typ and value where those are given.
func (p *Provider) find(ctx context.Context, zone, name, typ, value string) ([]found, error) {
	sub := strings.TrimSuffix(libdns.AbsoluteName(name, zone+"."), ".")
	params := map[string]string{"SubDomain": sub, "DomainName": zone, "PageSize": strconv.Itoa(subPageSize)}
	if typ != "" {
		params["Type"] = typ
	}
	var out []found
	for page := 1; page <= maxPages; page++ {
		params["PageNumber"] = strconv.Itoa(page)
		body, err := p.call(ctx, "DescribeSubDomainRecords", sub, params)
		if err != nil {
			return nil, err
		}
		list := items(body, "DomainRecords", "Record")
		for _, r := range list {
			f := found{name: str(r["RR"]), typ: str(r["Type"]), value: str(r["Value"]), id: str(r["RecordId"]),
				ttl: time.Duration(number(r["TTL"])) * time.Second}
			if !strings.EqualFold(f.name, name) || (typ != "" && !strings.EqualFold(f.typ, typ)) || (value != "" && f.value != value) {
				continue
			}
			out = append(out, f)
		}
		if len(list) < subPageSize || page*subPageSize >= number(body["TotalCount"]) {
			break
		}
	}
	return out, nil
}

// call makes one call, paced and retried.
func (p *Provider) call(ctx context.Context, action, subject string, params map[string]string) (map[string]any, error) {
	lim := p.limiters[action]
	throttled, transient := 0, 0
	for {
		if lim != nil {
			if err := lim.Wait(ctx); err != nil {
				return nil, fmt.Errorf("alidns %s %s: %w", action, subject, err)
			}
		}
		body, err := p.client.Call(ctx, cloud.Request{Endpoint: p.endpoint, Action: action, Version: Version, Params: params, Subject: subject})
		if err == nil {
			return body, nil
		}
		var ce *cloud.Error
		if !errors.As(err, &ce) {
			return nil, fmt.Errorf("alidns: %w", err)
		}
		var wait time.Duration
		switch {
		case ce.Class() == failure.Throttled:
			if throttled++; throttled >= maxThrottledAttempts {
				return nil, fmt.Errorf("alidns: throttled %d times: %w", throttled, err)
			}
			wait = ce.RetryAfter()
			if wait > 0 {
				wait += rand.N(200 * time.Millisecond)
			} else {
				wait = backoff(throttled)
			}
		case ce.Class() == failure.Transient || ce.Code == "LastOperationNotFinished":
			// LastOperationNotFinished: a write to the same zone is still
			// settling; the same call succeeds a moment later.
			if ctx.Err() != nil {
				return nil, fmt.Errorf("alidns: %w", err)
			}
			if transient++; transient >= maxTransientAttempts {
				return nil, fmt.Errorf("alidns: failed %d times: %w", transient, err)
			}
			wait = backoff(transient)
		default:
			return nil, fmt.Errorf("alidns: %w", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("alidns: %w (then %w)", err, ctx.Err())
		case <-t.C:
		}
	}
}

// backoff is exponential with full jitter.
func backoff(attempt int) time.Duration {
	d := backoffBase << min(attempt-1, 10)
	if d > backoffCap {
		d = backoffCap
	}
	return rand.N(d) + time.Millisecond
}

// refusedError is the API's answer refusing a write (HTTP 4xx, throttling
// included): the API applies no call it answers so, so nothing was
// written.
type refusedError struct{ error }

// Refused reports that nothing was written.
func (refusedError) Refused() bool { return true }

func (e refusedError) Unwrap() error { return e.error }

// refusal marks err as a refusal when the API answered it with a 4xx.
// A 5xx, a reset or a timeout leaves the write's fate unknown.
func refusal(err error) error {
	var ce *cloud.Error
	if errors.As(err, &ce) && ce.HTTPStatus >= 400 && ce.HTTPStatus < 500 {
		return refusedError{err}
	}
	return err
}

// code returns the OpenAPI error code of err, if it has one.
func code(err error) string {
	var ce *cloud.Error
	if errors.As(err, &ce) {
		return ce.Code
	}
	return ""
}

// items returns body[outer][inner] as a list of objects.
func items(body map[string]any, outer, inner string) []map[string]any {
	o, _ := body[outer].(map[string]any)
	list, _ := o[inner].([]any)
	out := make([]map[string]any, 0, len(list))
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func str(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatInt(int64(v), 10)
	}
	return ""
}

func number(v any) int {
	switch v := v.(type) {
	case float64:
		return int(v)
	case string:
		n, _ := strconv.Atoi(v)
		return n
	}
	return 0
}

// toLibdns turns an API record into a libdns record carrying its ID.
func toLibdns(r map[string]any) libdns.Record {
	return record(str(r["RR"]), str(r["Type"]), str(r["Value"]), time.Duration(number(r["TTL"]))*time.Second, str(r["RecordId"]))
}

// record builds the libdns value for a record.
func record(name, typ, value string, ttl time.Duration, id string) libdns.Record {
	if strings.EqualFold(typ, "TXT") {
		return libdns.TXT{Name: name, TTL: ttl, Text: value, ProviderData: id}
	}
	rr := libdns.RR{Name: name, TTL: ttl, Type: typ, Data: value}
	if parsed, err := rr.Parse(); err == nil {
		return parsed
	}
	return rr
}

// providerID returns the record ID AppendRecords put in ProviderData.
func providerID(rec libdns.Record) string {
	if t, ok := rec.(libdns.TXT); ok {
		if id, ok := t.ProviderData.(string); ok {
			return id
		}
	}
	return ""
}

// rrName is the API's RR for a libdns relative name ("@" for the apex).
func rrName(name string) string {
	if name == "" {
		return "@"
	}
	return strings.TrimSuffix(name, ".")
}

// canonical lower-cases a name and drops its trailing dot.
func canonical(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) }
