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

// Retry budget, as alidns's.
const (
	maxThrottledAttempts = 10
	maxTransientAttempts = 5
	backoffBase          = 200 * time.Millisecond
	backoffCap           = 10 * time.Second
	// maxPages bounds every listing: 100 pages of 500.
	maxPages = 100
	pageSize = 500
)

// Caller makes one OpenAPI call; *cloud.Client is one.
type Caller interface {
	Call(ctx context.Context, r cloud.Request) (map[string]any, error)
}

// site is an ESA site as ListSites answers it.
type site struct {
	id     int64
	name   string
	access string
}

// Provider writes records through ESA's record API. It is safe for
// concurrent use.
type Provider struct {
	client   Caller
	endpoint string
	limiters map[string]*rate.Limiter

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
	p := &Provider{client: c, endpoint: ep, limiters: map[string]*rate.Limiter{}}
	for action, q := range Quotas() {
		p.limiters[action] = rate.NewLimiter(rate.Limit(q*0.97), 1)
	}
	return p, nil
}

// Endpoint returns the URL calls go to.
func (p *Provider) Endpoint() string { return p.endpoint }

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
	n := canonical(name)
	var best site
	for _, s := range sites {
		if (n == s.name || strings.HasSuffix(n, "."+s.name)) && len(s.name) > len(best.name) {
			best = s
		}
	}
	switch {
	case best.name == "":
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
		body, err := p.call(ctx, "ListSites", "", map[string]string{"PageNumber": strconv.Itoa(page), "PageSize": strconv.Itoa(pageSize)})
		if err != nil {
			return nil, err
		}
		list := items(body["Sites"])
		for _, s := range list {
			id, _ := strconv.ParseInt(str(s["SiteId"]), 10, 64)
			if name := canonical(str(s["SiteName"])); name != "" && id != 0 {
				sites = append(sites, site{id: id, name: name, access: str(s["AccessType"])})
			}
		}
		if len(list) < pageSize || page*pageSize >= number(body["TotalCount"]) {
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
		out = append(out, record(f.name, f.typ, f.value, f.ttl, f.id))
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
		name := relative(rr.Name)
		full := strings.TrimSuffix(libdns.AbsoluteName(name, s.name+"."), ".")
		have, err := p.find(ctx, s, full, rr.Type, rr.Data)
		if err != nil {
			return added, err
		}
		if len(have) > 0 {
			added = append(added, record(name, rr.Type, rr.Data, have[0].ttl, have[0].id))
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
		body, err := p.callChecked(ctx, "CreateRecord", full, map[string]string{
			"SiteId": strconv.FormatInt(s.id, 10), "RecordName": full, "Type": rr.Type,
			"Ttl": strconv.Itoa(ttl), "Data": string(data),
		}, func() (map[string]any, bool) {
			have, err := p.find(ctx, s, full, rr.Type, rr.Data)
			if err != nil || len(have) == 0 {
				return nil, false
			}
			return map[string]any{"RecordId": have[0].id}, true
		})
		if err != nil {
			return added, refusal(err)
		}
		added = append(added, record(name, rr.Type, rr.Data, time.Duration(ttl)*time.Second, str(body["RecordId"])))
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
		name := relative(rr.Name)
		full := strings.TrimSuffix(libdns.AbsoluteName(name, s.name+"."), ".")
		var targets []found
		if id := providerID(rec); id != "" {
			targets = []found{{id: id, name: name, typ: rr.Type, value: rr.Data, ttl: rr.TTL}}
		} else {
			f, err := p.find(ctx, s, full, rr.Type, rr.Data)
			if err != nil {
				return deleted, err
			}
			targets = f
		}
		for _, t := range targets {
			_, err := p.call(ctx, "DeleteRecord", full, map[string]string{"RecordId": t.id})
			if err != nil {
				still, ferr := p.find(ctx, s, full, "", "")
				if ferr != nil || containsID(still, t.id) {
					return deleted, err
				}
				continue // already gone
			}
			deleted = append(deleted, record(name, t.typ, t.value, t.ttl, t.id))
		}
	}
	return deleted, nil
}

// found is a record as a listing returns it.
type found struct {
	id, name, typ, value string
	ttl                  time.Duration
}

func containsID(list []found, id string) bool {
	for _, f := range list {
		if f.id == id {
			return true
		}
	}
	return false
}

// find lists the site's records named full exactly (every record when
// full is empty) that match typ and value where those are given.
func (p *Provider) find(ctx context.Context, s site, full, typ, value string) ([]found, error) {
	params := map[string]string{"SiteId": strconv.FormatInt(s.id, 10), "PageSize": strconv.Itoa(pageSize)}
	if full != "" {
		params["RecordName"], params["RecordMatchType"] = full, "exact"
	}
	if typ != "" {
		params["Type"] = typ
	}
	var out []found
	for page := 1; page <= maxPages; page++ {
		params["PageNumber"] = strconv.Itoa(page)
		body, err := p.call(ctx, "ListRecords", full, params)
		if err != nil {
			return nil, err
		}
		list := items(body["Records"])
		for _, r := range list {
			t := str(r["RecordType"])
			if t == "" {
				t = str(r["Type"])
			}
			data, _ := r["Data"].(map[string]any)
			f := found{id: str(r["RecordId"]), name: relativeTo(canonical(str(r["RecordName"])), s.name), typ: t,
				value: str(data["Value"]), ttl: time.Duration(number(r["Ttl"])) * time.Second}
			if (full != "" && !strings.EqualFold(canonical(str(r["RecordName"])), full)) ||
				(typ != "" && !strings.EqualFold(f.typ, typ)) || (value != "" && f.value != value) {
				continue
			}
			out = append(out, f)
		}
		if len(list) < pageSize || page*pageSize >= number(body["TotalCount"]) {
			break
		}
	}
	return out, nil
}

// call makes one call, paced and retried.
func (p *Provider) call(ctx context.Context, action, subject string, params map[string]string) (map[string]any, error) {
	return p.callChecked(ctx, action, subject, params, nil)
}

// callChecked is call; applied, when not nil, is asked before a write is
// sent again after a transient failure (it may have been applied): its
// answer, when it found the write done, ends the call.
func (p *Provider) callChecked(ctx context.Context, action, subject string, params map[string]string, applied func() (map[string]any, bool)) (map[string]any, error) {
	lim := p.limiters[action]
	throttled, transient := 0, 0
	for {
		if lim != nil {
			if err := lim.Wait(ctx); err != nil {
				return nil, fmt.Errorf("esa %s %s: %w", action, subject, err)
			}
		}
		body, err := p.client.Call(ctx, cloud.Request{Endpoint: p.endpoint, Action: action, Version: Version, Params: params, Subject: subject})
		if err == nil {
			return body, nil
		}
		var ce *cloud.Error
		if !errors.As(err, &ce) {
			return nil, fmt.Errorf("esa: %w", err)
		}
		var wait time.Duration
		switch ce.Class() {
		case failure.Throttled:
			if throttled++; throttled >= maxThrottledAttempts {
				return nil, fmt.Errorf("esa: throttled %d times: %w", throttled, err)
			}
			wait = ce.RetryAfter()
			if wait > 0 {
				wait += rand.N(200 * time.Millisecond)
			} else {
				wait = backoff(throttled)
			}
		case failure.Transient:
			if ctx.Err() != nil {
				return nil, fmt.Errorf("esa: %w", err)
			}
			if transient++; transient >= maxTransientAttempts {
				return nil, fmt.Errorf("esa: failed %d times: %w", transient, err)
			}
			wait = backoff(transient)
			if applied != nil {
				if body, ok := applied(); ok {
					return body, nil
				}
			}
		default:
			return nil, fmt.Errorf("esa: %w", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("esa: %w (then %w)", err, ctx.Err())
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
// included): nothing was written.
type refusedError struct{ error }

// Refused reports that nothing was written.
func (refusedError) Refused() bool { return true }

func (e refusedError) Unwrap() error { return e.error }

// refusal marks err as a refusal when the API answered it with a 4xx.
func refusal(err error) error {
	var ce *cloud.Error
	if errors.As(err, &ce) && ce.HTTPStatus >= 400 && ce.HTTPStatus < 500 {
		return refusedError{err}
	}
	return err
}

// items returns v as a list of objects.
func items(v any) []map[string]any {
	list, _ := v.([]any)
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
	case json.Number:
		return v.String()
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

func number(v any) int {
	n, _ := strconv.Atoi(str(v))
	return n
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

// relative is a libdns relative name ("@" for the apex) without a dot.
func relative(name string) string {
	if name == "" {
		return "@"
	}
	return strings.TrimSuffix(name, ".")
}

// relativeTo is full's name relative to the site ("@" for the apex).
func relativeTo(full, site string) string {
	if full == site {
		return "@"
	}
	return strings.TrimSuffix(full, "."+site)
}

// canonical lower-cases a name and drops its trailing dot.
func canonical(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) }
