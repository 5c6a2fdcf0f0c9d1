package clb

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/cloud/answer"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product"
	"github.com/certdrop/certdrop/shared/product/internal/lb"
)

var _ product.Pruner = (*clbProduct)(nil)

// certdropName matches the names certdrop gives certificates.
var certdropName = regexp.MustCompile(`^certdrop-(.+)-([0-9]{8})-([0-9a-f]{8})$`)

// ours reports whether certdrop named c: its name has certdrop's form,
// and the date in it is c's expiry (within a day: CLB gives the expiry,
// not the SHA-256 the name embeds).
func ours(c serverCertificate) bool {
	m := certdropName.FindStringSubmatch(c.name)
	if m == nil {
		return false
	}
	if c.notAfter.IsZero() {
		return false
	}
	named, err := time.Parse("20060102", m[2])
	if err != nil {
		return false
	}
	d := named.Sub(c.notAfter.UTC().Truncate(24 * time.Hour))
	return d <= 24*time.Hour && d >= -24*time.Hour
}

// maxLBPages bounds the listing of a region's load balancers: 50 pages of
// 100.
const maxLBPages = 50

// Prune deletes, in each region of targets, the server certificates
// certdrop uploaded that no listener or domain extension of any load
// balancer of the region uses and that are not among the newest o.Keep
// for the same names (expired ones too, when unused). A region whose
// certificates or load balancers cannot all be read is among the
// Problems, untouched.
func (p *clbProduct) Prune(ctx context.Context, tr *cloud.Client, targets []plan.Call, calls fanout.Caller, o fanout.PruneOptions) (out fanout.StorePrune) {
	var regions []string
	for _, t := range targets {
		if r := t.Target.Region; r != "" && !slices.Contains(regions, r) {
			regions = append(regions, r)
		}
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	keep := max(o.Keep, 1)
	for _, region := range regions {
		store := string(Name) + " " + region
		call := plan.Call{Target: manifest.Target{Product: Name, Region: region}, Endpoint: Host(region), EndpointVar: EnvEndpoint, DomainName: region}
		certs, err := p.describeCerts(ctx, tr, call, calls, "")
		if err == nil {
			var used map[string]bool
			used, err = p.inUse(ctx, tr, call, calls)
			if err == nil {
				out.Certs = append(out.Certs, p.pruneRegion(ctx, tr, call, calls, certs, used, o.Delete, keep, now)...)
				continue
			}
		}
		out.Problems = append(out.Problems, fanout.StoreProblem{Store: store,
			Err: fmt.Errorf("reading CLB's server certificates and load balancers in %s: %w", region, err)})
	}
	return out
}

// inUse reads every HTTPS listener and domain extension of the region's
// load balancers and returns the server certificates they use.
func (p *clbProduct) inUse(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller) (map[string]bool, error) {
	used := map[string]bool{}
	var lbs []string
	for page := 1; page <= maxLBPages; page++ {
		var got []string
		var total int
		_, err := product.RPC(ctx, tr, calls, DescribeLBsAPI, request(call, map[string]string{
			"PageNumber": strconv.Itoa(page), "PageSize": "100"}, nil), func(body map[string]any) error {
			got = nil
			for _, item := range list(body, "LoadBalancers", "LoadBalancer") {
				if m, ok := item.(map[string]any); ok {
					got = append(got, str(m["LoadBalancerId"]))
				}
			}
			if n, ok := answer.Int64(body["TotalCount"]); ok {
				total = int(n)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		lbs = append(lbs, got...)
		if len(got) < 100 || len(lbs) >= total {
			break
		}
		if page == maxLBPages {
			return nil, &lb.Error{API: DescribeLBsAPI.Action, Subject: call.DomainName, Code: "TooManyLoadBalancers",
				Message: fmt.Sprintf("more than %d load balancers in %s", maxLBPages*100, call.Target.Region)}
		}
	}
	for _, id := range lbs {
		var ports []string
		_, err := product.RPC(ctx, tr, calls, DescribeLBAPI, request(call, map[string]string{"LoadBalancerId": id}, nil), func(body map[string]any) error {
			ports = nil
			for _, item := range list(body, "ListenerPortsAndProtocol", "ListenerPortAndProtocol") {
				m, ok := item.(map[string]any)
				if !ok || !strings.EqualFold(str(m["ListenerProtocol"]), "https") {
					continue
				}
				if n, ok := answer.Int64(m["ListenerPort"]); ok {
					ports = append(ports, strconv.FormatInt(n, 10))
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, port := range ports {
			lc := call
			lc.Target.Fields = map[string]string{"loadBalancer": id, "port": port}
			_, err := product.RPC(ctx, tr, calls, DescribeListenerAPI, request(lc, listenerParams(lc), nil), func(body map[string]any) error {
				used[str(body["ServerCertificateId"])] = true
				return nil
			})
			if err != nil {
				return nil, err
			}
			_, err = product.RPC(ctx, tr, calls, DescribeExtensionsAPI, request(lc, listenerParams(lc), nil), func(body map[string]any) error {
				for _, item := range list(body, "DomainExtensions", "DomainExtension") {
					if m, ok := item.(map[string]any); ok {
						used[str(m["ServerCertificateId"])] = true
					}
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
	}
	delete(used, "")
	return used, nil
}

// pruneRegion decides, and with del deletes, a region's certificates.
func (p *clbProduct) pruneRegion(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller, certs []serverCertificate, used map[string]bool, del bool, keep int, now time.Time) []fanout.StoreCert {
	groups := map[string][]serverCertificate{}
	for _, c := range certs {
		if ours(c) {
			k := strings.Join(lb.Names(c.names), ",")
			groups[k] = append(groups[k], c)
		}
	}
	rank := map[string]int{}
	for _, g := range groups {
		slices.SortFunc(g, func(a, b serverCertificate) int {
			return cmp.Or(b.notAfter.Compare(a.notAfter), b.created.Compare(a.created), strings.Compare(b.id, a.id))
		})
		for i, c := range g {
			rank[c.id] = i
		}
	}
	region := call.Target.Region
	out := make([]fanout.StoreCert, 0, len(certs))
	for _, c := range certs {
		pc := fanout.StoreCert{Store: string(Name) + " " + region, Name: c.name, ID: c.id, NotAfter: c.notAfter}
		names := strings.Join(lb.Names(c.names), ", ")
		switch {
		case !ours(c):
			pc.Reason = "a CLB server certificate certdrop did not upload: never touched"
		case used[c.id]:
			pc.Reason = "used by a CLB listener or domain extension"
			if !now.Before(c.notAfter) {
				pc.Reason += "; expired " + c.notAfter.UTC().Format(time.DateOnly) + ": deploy a valid certificate there"
			}
		case !now.Before(c.notAfter):
			pc.Delete = true
			pc.Reason = "expired " + c.notAfter.UTC().Format(time.DateOnly) + ", used by nothing"
		case rank[c.id] < keep:
			pc.Reason = fmt.Sprintf("one of the newest %d CLB server certificates for %s in %s", keep, names, region)
		default:
			pc.Delete = true
			pc.Reason = fmt.Sprintf("used by nothing and older than the newest %d for %s in %s", keep, names, region)
		}
		if pc.Delete && del {
			_, pc.Err = product.RPC(ctx, tr, calls, DeleteCertAPI, request(call, map[string]string{"ServerCertificateId": c.id}, nil), nil)
		}
		out = append(out, pc)
	}
	return out
}
