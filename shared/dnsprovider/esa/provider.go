// Package esa is a libdns provider for the DNS of ESA sites (Edge
// Security Acceleration, API 2024-09-10) whose DNS is hosted on ESA (NS
// access), for ACME DNS-01 challenges: it finds the site that holds a
// name (ListSites), adds the _acme-challenge TXT record (CreateRecord),
// lists records (ListRecords) and deletes them again (DeleteRecord).
//
// Calls go through certdrop's OpenAPI client (shared/cloud): the same SDK,
// ACS3-HMAC-SHA256 signing, credentials, endpoint rules and error classes
// as the certificate calls. Each action is paced below its quota (the ESA
// reference documents none: 10 calls/s, a cautious default), throttled and
// transient answers are retried (after the server's retry hint when it
// gives one), and nothing else is.
//
// A site connected to ESA by CNAME has its DNS elsewhere: records written
// through ESA would never be seen, so its names are refused as in no zone
// (ErrNoZone), saying which provider to use instead.
package esa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/libdns/libdns"

	"github.com/certdrop/certdrop/shared/cloud/answer"
	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/dnsprovider/internal/openapidns"
)

// EnvEndpoint overrides the API endpoint, as a URL.
const EnvEndpoint = config.ESAEndpoint

// DefaultEndpoint is ESA's endpoint.
const DefaultEndpoint = "https://esa.cn-hangzhou.aliyuncs.com"

// Version is the API version called.
const Version = "2024-09-10"

// DefaultTTL is the TTL of the records added when the caller gives none:
// ESA's 1, "automatic".
const DefaultTTL = time.Second

// Quotas are the calls per second of the actions used: the ESA reference
// documents none, so 10/s is certdrop's cautious choice. Calls are paced
// at 97% of these.
func Quotas() map[string]float64 {
	return map[string]float64{"ListSites": 10, "CreateRecord": 10, "ListRecords": 10, "DeleteRecord": 10}
}

// maxPages bounds every listing: 100 pages of 500.
const (
	maxPages = 100
	pageSize = 500
)

// Caller makes one OpenAPI call; *cloud.Client is one.
type Caller = openapidns.Caller

// site is an ESA site as ListSites answers it.
type site struct {
	id     int64
	name   string
	access string
}

// Provider writes records through ESA's record API. It is safe for
// concurrent use.
type Provider struct {
	api *openapidns.API

	mu    sync.Mutex
	sites []site // the account's sites, once listed
}

var (
	_ libdns.RecordGetter   = (*Provider)(nil)
	_ libdns.RecordAppender = (*Provider)(nil)
	_ libdns.RecordDeleter  = (*Provider)(nil)
)

// New returns a provider calling through c, at the endpoint getenv's
// CERTDROP_ESA_ENDPOINT names (https, or http to a loopback host), else
// DefaultEndpoint.
func New(c Caller, getenv func(string) string) (*Provider, error) {
	api, err := openapidns.New(c, getenv, openapidns.Config{
		Name: "esa", Version: Version, EnvEndpoint: EnvEndpoint, DefaultEndpoint: DefaultEndpoint, Quotas: Quotas(),
	})
	if err != nil {
		return nil, err
	}
	return &Provider{api: api}, nil
}

// Endpoint returns the URL calls go to.
func (p *Provider) Endpoint() string { return p.api.Endpoint() }

// ErrNoZone is wrapped by FindZone's error when no site of the account
// whose DNS ESA hosts holds the name.
var ErrNoZone = errors.New("no ESA site whose DNS is hosted on ESA holds")

// FindZone returns the site that holds name (the longest site name name
// ends with), as an FQDN with a trailing dot. The sites are listed once
// per provider (ListSites). A site connected by CNAME is refused: its DNS
// is hosted elsewhere.
func (p *Provider) FindZone(ctx context.Context, name string) (string, error) {
	s, err := p.siteOf(ctx, name)
	if err != nil {
		return "", err
	}
	return s.name + ".", nil
}

// siteOf returns the NS site that holds name.
func (p *Provider) siteOf(ctx context.Context, name string) (site, error) {
	sites, err := p.listSites(ctx)
	if err != nil {
		return site{}, err
	}
	n := openapidns.Canonical(name)
	best, ok := openapidns.Holder(n, sites, func(s site) string { return s.name })
	switch {
	case !ok:
		return site{}, fmt.Errorf("esa: %w %s (%d sites listed): add the site to ESA with NS access, or delegate _acme-challenge with a CNAME to a zone that is", ErrNoZone, n, len(sites))
	case !strings.EqualFold(best.access, "NS"):
		return site{}, fmt.Errorf("esa: %w %s: the site %s is connected to ESA by %s, so its DNS is hosted elsewhere: use the dns provider of the zone's host (alidns, cloudflare, rfc2136)",
			ErrNoZone, n, best.name, best.access)
	}
	return best, nil
}

func (p *Provider) listSites(ctx context.Context) ([]site, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sites != nil {
		return p.sites, nil
	}
	sites := []site{}
	for page := 1; page <= maxPages; page++ {
		body, err := p.api.Call(ctx, "ListSites", "", map[string]string{"PageNumber": strconv.Itoa(page), "PageSize": strconv.Itoa(pageSize)})
		if err != nil {
			return nil, err
		}
		list := answer.Objects(body["Sites"])
		for _, s := range list {
			id, _ := strconv.ParseInt(answer.String(s["SiteId"]), 10, 64)
			if name := openapidns.Canonical(answer.String(s["SiteName"])); name != "" && id != 0 {
				sites = append(sites, site{id: id, name: name, access: answer.String(s["AccessType"])})
			}
		}
		if len(list) < pageSize || page*pageSize >= answer.Int(body["TotalCount"]) {
			break
		}
	}
	p.sites = sites
	return sites, nil
}

// GetRecords returns the site's records (ListRecords, every page).
func (p *Provider) GetRecords(ctx context.Context, zone string) ([]libdns.Record, error) {
	s, err := p.siteOf(ctx, zone)
	if err != nil {
		return nil, err
	}
	found, err := p.find(ctx, s, "", "", "")
	if err != nil {
		return nil, err
	}
	out := make([]libdns.Record, 0, len(found))
	for _, f := range found {
		out = append(out, openapidns.Record(f.Name, f.Type, f.Value, f.TTL, f.ID))
	}
	return out, nil
}

// AppendRecords adds records (CreateRecord) and returns them with the
// record ID as ProviderData. A record that is already there with the same
// value (ListRecords) counts as added and is not written twice.
func (p *Provider) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	s, err := p.siteOf(ctx, zone)
	if err != nil {
		return nil, err
	}
	var added []libdns.Record
	for _, rec := range recs {
		rr := rec.RR()
		name := openapidns.Relative(rr.Name)
		full := strings.TrimSuffix(libdns.AbsoluteName(name, s.name+"."), ".")
		have, err := p.find(ctx, s, full, rr.Type, rr.Data)
		if err != nil {
			return added, err
		}
		if len(have) > 0 {
			added = append(added, openapidns.Record(name, rr.Type, rr.Data, have[0].TTL, have[0].ID))
			continue
		}
		ttl := int(rr.TTL / time.Second)
		switch {
		case ttl <= 1:
			ttl = int(DefaultTTL / time.Second)
		case ttl < 30:
			ttl = 30
		}
		data, _ := json.Marshal(map[string]string{"Value": rr.Data})
		// A CreateRecord that failed without an answer may have been
		// applied: the record is looked for before it is sent again.
		body, err := p.api.CallChecked(ctx, "CreateRecord", full, map[string]string{
			"SiteId": strconv.FormatInt(s.id, 10), "RecordName": full, "Type": rr.Type,
			"Ttl": strconv.Itoa(ttl), "Data": string(data),
		}, func() (map[string]any, bool) {
			have, err := p.find(ctx, s, full, rr.Type, rr.Data)
			if err != nil || len(have) == 0 {
				return nil, false
			}
			return map[string]any{"RecordId": have[0].ID}, true
		})
		if err != nil {
			return added, openapidns.Refusal(err)
		}
		id := answer.String(body["RecordId"])
		added = append(added, openapidns.Record(name, rr.Type, rr.Data, time.Duration(ttl)*time.Second, id))
	}
	return added, nil
}

// DeleteRecords deletes the given records (DeleteRecord): by the record
// ID AppendRecords returned, else every record of that name (and type and
// value, when given). A record whose deletion fails but that ListRecords
// no longer lists is gone.
func (p *Provider) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	s, err := p.siteOf(ctx, zone)
	if err != nil {
		return nil, err
	}
	var deleted []libdns.Record
	for _, rec := range recs {
		rr := rec.RR()
		name := openapidns.Relative(rr.Name)
		full := strings.TrimSuffix(libdns.AbsoluteName(name, s.name+"."), ".")
		targets, err := openapidns.Targets(rec, name, func() ([]openapidns.Found, error) {
			return p.find(ctx, s, full, rr.Type, rr.Data)
		})
		if err != nil {
			return deleted, err
		}
		for _, t := range targets {
			_, err := p.api.Call(ctx, "DeleteRecord", full, map[string]string{"RecordId": t.ID})
			if err != nil {
				still, ferr := p.find(ctx, s, full, "", "")
				if ferr != nil || containsID(still, t.ID) {
					return deleted, err
				}
				continue // already gone
			}
			deleted = append(deleted, openapidns.Record(name, t.Type, t.Value, t.TTL, t.ID))
		}
	}
	return deleted, nil
}

func containsID(list []openapidns.Found, id string) bool {
	for _, f := range list {
		if f.ID == id {
			return true
		}
	}
	return false
}

// find lists the site's records named full exactly (every record when
// full is empty) that match typ and value where those are given.
func (p *Provider) find(ctx context.Context, s site, full, typ, value string) ([]openapidns.Found, error) {
	params := map[string]string{"SiteId": strconv.FormatInt(s.id, 10), "PageSize": strconv.Itoa(pageSize)}
	if full != "" {
		params["RecordName"], params["RecordMatchType"] = full, "exact"
	}
	if typ != "" {
		params["Type"] = typ
	}
	var out []openapidns.Found
	for page := 1; page <= maxPages; page++ {
		params["PageNumber"] = strconv.Itoa(page)
		body, err := p.api.Call(ctx, "ListRecords", full, params)
		if err != nil {
			return nil, err
		}
		list := answer.Objects(body["Records"])
		for _, r := range list {
			t := answer.String(r["RecordType"])
			if t == "" {
				t = answer.String(r["Type"])
			}
			data, _ := r["Data"].(map[string]any)
			rn := openapidns.Canonical(answer.String(r["RecordName"]))
			f := openapidns.Found{ID: answer.String(r["RecordId"]), Name: relativeTo(rn, s.name), Type: t,
				Value: answer.String(data["Value"]), TTL: time.Duration(answer.Int(r["Ttl"])) * time.Second}
			if (full != "" && !strings.EqualFold(rn, full)) || !f.Matches(typ, value) {
				continue
			}
			out = append(out, f)
		}
		if len(list) < pageSize || page*pageSize >= answer.Int(body["TotalCount"]) {
			break
		}
	}
	return out, nil
}

// relativeTo is full's name relative to the site ("@" for the apex).
func relativeTo(full, site string) string {
	if full == site {
		return "@"
	}
	return strings.TrimSuffix(full, "."+site)
}
