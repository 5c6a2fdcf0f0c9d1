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
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/libdns/libdns"

	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/cloud/answer"
	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/dnsprovider/internal/openapidns"
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

// maxPages bounds every listing: 100 pages of zones or records.
const maxPages = 100

// Caller makes one OpenAPI call; *cloud.Client is one.
type Caller = openapidns.Caller

// Provider writes records through the Alibaba Cloud DNS API. It is safe
// for concurrent use.
type Provider struct {
	api *openapidns.API
	ttl time.Duration

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
	api, err := openapidns.New(c, getenv, openapidns.Config{
		Name: "alidns", Version: Version, EnvEndpoint: EnvEndpoint, DefaultEndpoint: DefaultEndpoint, Quotas: Quotas(),
		// LastOperationNotFinished: a write to the same zone is still
		// settling; the same call succeeds a moment later.
		Settling: []string{"LastOperationNotFinished"},
	})
	if err != nil {
		return nil, err
	}
	return &Provider{api: api, ttl: DefaultTTL}, nil
}

// Endpoint returns the URL calls go to.
func (p *Provider) Endpoint() string { return p.api.Endpoint() }

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
	n := openapidns.Canonical(name)
	best, ok := openapidns.Holder(n, zones, func(z string) string { return z })
	if !ok {
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
		body, err := p.api.Call(ctx, "DescribeDomains", "", map[string]string{
			"PageNumber": strconv.Itoa(page), "PageSize": "100",
		})
		if err != nil {
			return nil, err
		}
		list := items(body, "Domains", "Domain")
		for _, d := range list {
			if name, _ := d["DomainName"].(string); name != "" {
				zones = append(zones, openapidns.Canonical(name))
			}
			// An IDN zone is also known by its punycode; an ASCII one's is
			// its name, listed once.
			if puny, _ := d["PunyCode"].(string); puny != "" && (len(zones) == 0 || zones[len(zones)-1] != openapidns.Canonical(puny)) {
				zones = append(zones, openapidns.Canonical(puny))
			}
		}
		if len(list) < 100 || page*100 >= answer.Int(body["TotalCount"]) {
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
	z := openapidns.Canonical(zone)
	var out []libdns.Record
	for page := 1; page <= maxPages; page++ {
		body, err := p.api.Call(ctx, "DescribeDomainRecords", z, map[string]string{
			"DomainName": z, "PageNumber": strconv.Itoa(page), "PageSize": strconv.Itoa(recordsPageSize),
		})
		if err != nil {
			return nil, err
		}
		list := items(body, "DomainRecords", "Record")
		for _, r := range list {
			out = append(out, toLibdns(r))
		}
		if len(list) < recordsPageSize || page*recordsPageSize >= answer.Int(body["TotalCount"]) {
			break
		}
	}
	return out, nil
}

// AppendRecords adds TXT (or other) records (AddDomainRecord) and returns
// them with the record ID as ProviderData. A record that is already there
// with the same value (DomainRecordDuplicate) counts as added.
func (p *Provider) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	z := openapidns.Canonical(zone)
	var added []libdns.Record
	for _, rec := range recs {
		rr := rec.RR()
		ttl := rr.TTL
		if ttl <= 0 {
			ttl = p.ttl
		}
		name := openapidns.Relative(rr.Name)
		body, err := p.api.Call(ctx, "AddDomainRecord", libdns.AbsoluteName(name, z), map[string]string{
			"DomainName": z, "RR": name, "Type": rr.Type, "Value": rr.Data,
			"TTL": strconv.Itoa(int(ttl / time.Second)),
		})
		var id string
		switch {
		case err == nil:
			id, _ = body["RecordId"].(string)
		case cloud.CodeOf(err) == "DomainRecordDuplicate":
			found, ferr := p.find(ctx, z, name, rr.Type, rr.Data)
			if ferr != nil || len(found) == 0 {
				return added, err
			}
			id = found[0].ID
		default:
			return added, openapidns.Refusal(err)
		}
		added = append(added, openapidns.Record(name, rr.Type, rr.Data, ttl, id))
	}
	return added, nil
}

// DeleteRecords deletes the given records (DeleteDomainRecord): by the
// record ID AppendRecords returned, else every record of that name (and
// type and value, when given). Records already gone are skipped.
func (p *Provider) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	z := openapidns.Canonical(zone)
	var deleted []libdns.Record
	for _, rec := range recs {
		rr := rec.RR()
		name := openapidns.Relative(rr.Name)
		targets, err := openapidns.Targets(rec, name, func() ([]openapidns.Found, error) {
			return p.find(ctx, z, name, rr.Type, rr.Data)
		})
		if err != nil {
			return deleted, err
		}
		for _, t := range targets {
			_, err := p.api.Call(ctx, "DeleteDomainRecord", libdns.AbsoluteName(name, z), map[string]string{"RecordId": t.ID})
			switch {
			case err == nil:
				deleted = append(deleted, openapidns.Record(t.Name, t.Type, t.Value, t.TTL, t.ID))
			case cloud.CodeOf(err) == "DomainRecordNotBelongToUser" || cloud.CodeOf(err) == "InvalidRR.NoExist":
				// Already gone.
			default:
				return deleted, err
			}
		}
	}
	return deleted, nil
}

// Page sizes: DescribeDomainRecords allows 1 to 500 a page,
// DescribeSubDomainRecords (in its current reference) 1 to 100.
const (
	recordsPageSize = 500
	subPageSize     = 100
)

// find lists the records of one name (DescribeSubDomainRecords) that match
// typ and value where those are given.
func (p *Provider) find(ctx context.Context, zone, name, typ, value string) ([]openapidns.Found, error) {
	sub := strings.TrimSuffix(libdns.AbsoluteName(name, zone+"."), ".")
	params := map[string]string{"SubDomain": sub, "DomainName": zone, "PageSize": strconv.Itoa(subPageSize)}
	if typ != "" {
		params["Type"] = typ
	}
	var out []openapidns.Found
	for page := 1; page <= maxPages; page++ {
		params["PageNumber"] = strconv.Itoa(page)
		body, err := p.api.Call(ctx, "DescribeSubDomainRecords", sub, params)
		if err != nil {
			return nil, err
		}
		list := items(body, "DomainRecords", "Record")
		for _, r := range list {
			f := openapidns.Found{Name: answer.String(r["RR"]), Type: answer.String(r["Type"]), Value: answer.String(r["Value"]),
				ID: answer.String(r["RecordId"]), TTL: time.Duration(answer.Int(r["TTL"])) * time.Second}
			if !strings.EqualFold(f.Name, name) || !f.Matches(typ, value) {
				continue
			}
			out = append(out, f)
		}
		if len(list) < subPageSize || page*subPageSize >= answer.Int(body["TotalCount"]) {
			break
		}
	}
	return out, nil
}

// items returns body[outer][inner] as a list of objects.
func items(body map[string]any, outer, inner string) []map[string]any {
	o, _ := body[outer].(map[string]any)
	return answer.Objects(o[inner])
}

// toLibdns turns an API record into a libdns record carrying its ID.
func toLibdns(r map[string]any) libdns.Record {
	return openapidns.Record(answer.String(r["RR"]), answer.String(r["Type"]), answer.String(r["Value"]),
		time.Duration(answer.Int(r["TTL"]))*time.Second, answer.String(r["RecordId"]))
}
