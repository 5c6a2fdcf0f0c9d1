// Package clb is the server certificate of a Classic Load Balancer (SLB,
// API 2014-05-15) HTTPS listener, named by its load balancer and port:
// the listener's certificate, or, with sni: true, the certificate of one
// of its domain extensions.
//
// CLB keeps server certificates of its own, per account and region:
// certdrop puts the certificate there once per account, load balancer
// region and run (UploadServerCertificate), by reference to Certificate Management
// Service under delivery: cas (AliCloudCertificateId,
// AliCloudCertificateName, AliCloudCertificateRegionId: no key sent), or
// with its key otherwise (ServerCertificate, PrivateKey); a server
// certificate of the same name and content already in the region is
// reused (DescribeServerCertificates), so a re-run uploads nothing. Then:
//
//   - the listener: SetLoadBalancerHTTPSListenerAttribute with
//     RegionId, LoadBalancerId, ListenerPort and ServerCertificateId, and
//     nothing else the listener has (the reference marks only those
//     identifying parameters required, so nothing is read back and
//     resent);
//   - a domain extension (sni: true, exactly one domain):
//     DescribeDomainExtensions of the listener finds the extension of
//     that domain, SetDomainExtensionAttribute sets its
//     ServerCertificateId. certdrop sets an extension's certificate; it
//     does not create extensions.
//
// What a target carries: DescribeLoadBalancerHTTPSListenerAttribute (or
// the extension's entry), its ServerCertificateId resolved by
// DescribeServerCertificates to its name, expiry (ExpireTimeStamp: CLB
// gives no issue date, so newer is judged by expiry) and fingerprint
// (compared with the certificate's own SHA-1 and SHA-256).
//
// The writes are synchronous. An answer that the load balancer is busy
// with another operation (Operation.Conflict) is transient: the fan-out
// retries it. Calls to one listener are serialised all the same.
//
// Pruning: server certificates certdrop uploaded (its name form, the
// fingerprint or expiry the name embeds), that nothing in their region
// uses (every HTTPS listener and domain extension of the region's load
// balancers is read) and that are not among the newest two for the same
// names, are deleted by the prune timer (DeleteServerCertificate); one
// certdrop did not upload, or one in use, never.
//
// Quotas: the pages read document none for these operations: certdrop
// paces the writes and uploads at 5 calls/s and the reads at 10/s (a
// cautious choice), configurable with CERTDROP_QUOTAS.
//
// Endpoint: slb.aliyuncs.com for the regions the vendor's SDK maps there
// (cn-hangzhou, cn-shanghai, cn-qingdao, cn-beijing, cn-shenzhen,
// cn-hongkong, ap-southeast-1, us-east-1, us-west-1),
// slb.<region>.aliyuncs.com for the others, RegionId in every call; or
// the URL in CERTDROP_CLB_ENDPOINT for every region.
//
// Sources: the SLB API reference (UploadServerCertificate,
// SetLoadBalancerHTTPSListenerAttribute, DescribeServerCertificates,
// DescribeDomainExtensions, SetDomainExtensionAttribute,
// DeleteServerCertificate, DescribeLoadBalancers,
// DescribeLoadBalancerAttribute), the vendor's slb SDK for the field
// names and endpoint map, and certimate issue 841 (a server certificate
// uploaded in another region than its load balancer's:
// ServerCertificateId.NotFound).
package clb

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/cloud/answer"
	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/failure"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product"
	"github.com/certdrop/certdrop/shared/product/internal/lb"
)

// Name is the product's name.
const Name manifest.Product = "clb"

// Version is the SLB API version.
const Version = "2014-05-15"

// EnvEndpoint overrides the endpoint of every region, as a URL.
const EnvEndpoint = config.CLBEndpoint

// The quotas certdrop paces at (see the package comment).
const (
	writeQuota = 5
	readQuota  = 10
)

// The operations.
var (
	// UploadAPI puts a certificate in a region's server certificates.
	UploadAPI = plan.API{Service: "slb", Action: "UploadServerCertificate", Version: Version, Quota: writeQuota}
	// SetListenerAPI sets an HTTPS listener's certificate.
	SetListenerAPI = plan.API{Service: "slb", Action: "SetLoadBalancerHTTPSListenerAttribute", Version: Version, Quota: writeQuota}
	// SetExtensionAPI sets a domain extension's certificate.
	SetExtensionAPI = plan.API{Service: "slb", Action: "SetDomainExtensionAttribute", Version: Version, Quota: writeQuota}
	// DescribeListenerAPI reads an HTTPS listener.
	DescribeListenerAPI = plan.API{Service: "slb", Action: "DescribeLoadBalancerHTTPSListenerAttribute", Version: Version, Quota: readQuota}
	// DescribeExtensionsAPI lists a listener's domain extensions.
	DescribeExtensionsAPI = plan.API{Service: "slb", Action: "DescribeDomainExtensions", Version: Version, Quota: readQuota}
	// DescribeCertsAPI lists a region's server certificates.
	DescribeCertsAPI = plan.API{Service: "slb", Action: "DescribeServerCertificates", Version: Version, Quota: readQuota}
	// DeleteCertAPI deletes a server certificate (pruning).
	DeleteCertAPI = plan.API{Service: "slb", Action: "DeleteServerCertificate", Version: Version, Quota: writeQuota}
	// DescribeLBsAPI lists a region's load balancers (pruning).
	DescribeLBsAPI = plan.API{Service: "slb", Action: "DescribeLoadBalancers", Version: Version, Quota: readQuota}
	// DescribeLBAPI reads a load balancer's listeners (pruning).
	DescribeLBAPI = plan.API{Service: "slb", Action: "DescribeLoadBalancerAttribute", Version: Version, Quota: readQuota}
)

// centralRegions are the regions the vendor's SDK sends to
// slb.aliyuncs.com.
var centralRegions = map[string]bool{
	"cn-hangzhou": true, "cn-shanghai": true, "cn-qingdao": true, "cn-beijing": true, "cn-shenzhen": true,
	"cn-hongkong": true, "ap-southeast-1": true, "us-east-1": true, "us-west-1": true,
}

// Host is the public endpoint of region.
func Host(region string) string {
	if centralRegions[region] {
		return "slb.aliyuncs.com"
	}
	return "slb." + region + ".aliyuncs.com"
}

// maxName is the longest ServerCertificateName certdrop sends (the
// reference: up to 80 characters).
const maxName = 80

var lbRE = regexp.MustCompile(`^lb-[A-Za-z0-9]{1,64}$`)

// New returns product clb.
func New() product.Product { return &clbProduct{certs: map[certKey]string{}} }

// clbProduct is product clb. It holds one run's server certificates by
// account (the transport of its credentials), region and name, and the
// locks that make each one uploaded once.
type clbProduct struct {
	lock  lb.Locks
	mu    sync.Mutex
	certs map[certKey]string // -> ServerCertificateId
}

// Spec: an HTTPS listener (region, loadBalancer, port), or with sni: true
// the domain extension of its one domain.
func (p *clbProduct) Spec() manifest.Spec {
	return manifest.Spec{
		Name: Name,
		Fields: []manifest.Field{{
			Name: "region", Missing: "clb target has no region (the load balancer's region, e.g. cn-hangzhou)",
			Check: lb.CheckRegion(Name),
		}, {
			Name: "loadBalancer", Missing: "clb target has no loadBalancer (its id, lb-...)",
			Check: func(s string) string {
				if !lbRE.MatchString(s) {
					return fmt.Sprintf("invalid clb loadBalancer %q (a load balancer id such as lb-bp1o94dp5i6earr9g6d1l)", s)
				}
				return ""
			},
		}, {
			Name: "port", Kind: manifest.Integer, Missing: "clb target has no port (the HTTPS listener's port, e.g. 443)",
			Check: func(s string) string {
				if n, err := strconv.Atoi(s); err != nil || n < 1 || n > 65535 {
					return fmt.Sprintf("invalid clb port %s (1 to 65535)", s)
				}
				return ""
			},
		}, {
			Name: "sni", Kind: manifest.Boolean, Default: "false",
		}},
		Address:   []string{"loadBalancer", "port"},
		AddressOf: lb.SNIAddress("port"),
		CheckTarget: func(t manifest.Target) string {
			if t.Field("sni") == "true" && len(t.Names) != 1 {
				return fmt.Sprintf("a clb target with sni: true names exactly one domain (its domain extension), not %d", len(t.Names))
			}
			return ""
		},
		NoStaging:   "its API has no Env parameter",
		CASRegionOf: lb.CASRegionOf,
	}
}

// APIs are the operations the deployment and the prune call.
func (p *clbProduct) APIs() []plan.API {
	return []plan.API{SetListenerAPI, SetExtensionAPI, UploadAPI, DescribeListenerAPI, DescribeExtensionsAPI,
		DescribeCertsAPI, DeleteCertAPI, DescribeLBsAPI, DescribeLBAPI}
}

// EndpointVar is EnvEndpoint.
func (p *clbProduct) EndpointVar() string { return EnvEndpoint }

func sni(t manifest.Target) bool { return t.Field("sni") == "true" }

// Target plans SetLoadBalancerHTTPSListenerAttribute (the listener) or
// SetDomainExtensionAttribute (sni: true) at the region's endpoint.
func (p *clbProduct) Target(t manifest.Target) (plan.Call, error) {
	if t.Region == "" || t.Field("loadBalancer") == "" || t.Field("port") == "" {
		return plan.Call{}, fmt.Errorf("target %s: a clb target needs its region, loadBalancer and port", t)
	}
	api := SetListenerAPI
	if sni(t) {
		api = SetExtensionAPI
	}
	return plan.Call{Target: t, API: api, Endpoint: Host(t.Region), EndpointVar: EnvEndpoint, DomainName: t.Where()}, nil
}

// Parameters of a call: those of UploadServerCertificate, and the
// certificate (never sent in the cas case) for Describe to compare.
const (
	paramName    = "ServerCertificateName"
	paramCert    = "ServerCertificate"
	paramKey     = "PrivateKey"
	paramCASName = "AliCloudCertificateName"
	paramCASReg  = "AliCloudCertificateRegionId"
)

// Upload: the certificate and its key, under the certificate's name.
func (p *clbProduct) Upload(c plan.Call, certName, certPEM string, key bundle.Secret) plan.Call {
	product.Add(&c, paramName, shortName(certName))
	product.Add(&c, paramCert, certPEM)
	product.AddSecret(&c, paramKey, key.Reveal())
	return c
}

// Reference: the CAS certificate (AliCloudCertificateId, bound once
// uploaded; its name and CAS region), no key.
func (p *clbProduct) Reference(c plan.Call, casName, certPEM string) (plan.Call, error) {
	c.CASRegion = c.Target.CertRegion()
	product.Add(&c, paramName, shortName(casName))
	product.Add(&c, plan.ParamCertID, "")
	product.Add(&c, paramCASName, casName)
	product.Add(&c, paramCASReg, c.CASRegion)
	if certPEM != "" {
		product.Add(&c, paramCert, certPEM)
	}
	return c, nil
}

func shortName(n string) string {
	if len(n) > maxName {
		return n[:maxName]
	}
	return n
}

// request is one call in the target's region.
func request(call plan.Call, params map[string]string, secrets []string) cloud.Request {
	form := map[string]string{"RegionId": call.Target.Region}
	for k, v := range params {
		form[k] = v
	}
	return cloud.Request{EndpointVar: call.EndpointVar, Host: call.Endpoint, Pool: string(Name),
		Params: form, Secrets: secrets, Codes: codeTable, Subject: call.DomainName}
}

// listenerParams name the call's listener.
func listenerParams(call plan.Call) map[string]string {
	return map[string]string{"LoadBalancerId": call.Target.Field("loadBalancer"), "ListenerPort": call.Target.Field("port")}
}

// Set puts the certificate in the region's server certificates (once per
// region and run), then sets it on the listener or domain extension.
func (p *clbProduct) Set(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller) error {
	unlock, err := p.lock.Lock(ctx, "listener|"+call.Target.Region+"/"+call.Target.Address)
	if err != nil {
		return err
	}
	defer unlock()
	for try := 0; ; try++ {
		id, err := p.serverCert(ctx, tr, call, calls)
		if err != nil {
			return err
		}
		err = p.setOn(ctx, tr, call, calls, id)
		if try == 0 && cloud.CodeOf(err) == "ServerCertificateId.NotFound" {
			// Deleted since this run found or uploaded it: once more.
			p.forget(tr, call)
			continue
		}
		return err
	}
}

// setOn sets server certificate id on the call's listener or extension.
func (p *clbProduct) setOn(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller, id string) error {
	if !sni(call.Target) {
		params := listenerParams(call)
		params["ServerCertificateId"] = id
		_, err := product.RPC(ctx, tr, calls, SetListenerAPI, request(call, params, nil), nil)
		return err
	}
	ext, _, err := p.extension(ctx, tr, call, calls)
	if err != nil {
		return err
	}
	_, err = product.RPC(ctx, tr, calls, SetExtensionAPI, request(call, map[string]string{
		"DomainExtensionId": ext.id, "ServerCertificateId": id}, nil), nil)
	return err
}

// certKey is where a call's server certificate is kept in p.certs: by
// the transport that found or uploaded it (each account has server
// certificates of its own, and a transport of its own credentials), the
// region and the name.
type certKey struct {
	tr           *cloud.Client
	region, name string
}

func keyOf(tr *cloud.Client, call plan.Call) certKey {
	return certKey{tr, call.Target.Region, call.Param(paramName)}
}

func (p *clbProduct) forget(tr *cloud.Client, call plan.Call) {
	p.mu.Lock()
	delete(p.certs, keyOf(tr, call))
	p.mu.Unlock()
}

// serverCert returns the ServerCertificateId of the call's certificate in
// its region: the one this run found or uploaded, else one of the same
// name and content already there, else a new upload. Calls for one region
// and certificate wait for each other, so that the certificate (and its
// key) is uploaded once.
func (p *clbProduct) serverCert(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller) (string, error) {
	key := keyOf(tr, call)
	unlock, err := p.lock.Lock(ctx, fmt.Sprintf("cert|%p|%s|%s", tr, key.region, key.name))
	if err != nil {
		return "", err
	}
	defer unlock()
	p.mu.Lock()
	id, ok := p.certs[key]
	p.mu.Unlock()
	if ok {
		return id, nil
	}
	list, err := p.describeCerts(ctx, tr, call, calls, "")
	if err != nil {
		return "", err
	}
	certPEM := call.Param(paramCert)
	for _, c := range list {
		if c.name == call.Param(paramName) && (certPEM == "" || c.fingerprint == "" || sameFingerprint(c.fingerprint, certPEM)) {
			id = c.id
			break
		}
	}
	if id == "" {
		params := map[string]string{paramName: call.Param(paramName)}
		var secrets []string
		if cas := call.Param(plan.ParamCertID); cas != "" {
			params["AliCloudCertificateId"] = cas
			params[paramCASName] = call.Param(paramCASName)
			params[paramCASReg] = call.Param(paramCASReg)
		} else {
			params[paramCert] = certPEM
			params[paramKey] = call.Param(paramKey)
			secrets = call.Secrets()
		}
		_, err := product.RPC(ctx, tr, calls, UploadAPI, request(call, params, secrets), func(body map[string]any) error {
			id, _ = body["ServerCertificateId"].(string)
			if id == "" {
				return cloud.Errorf(UploadAPI.Action, call.DomainName, "the answer has no ServerCertificateId")
			}
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	p.mu.Lock()
	p.certs[key] = id
	p.mu.Unlock()
	return id, nil
}

// serverCertificate is one entry of DescribeServerCertificates.
type serverCertificate struct {
	id, name, fingerprint string
	notAfter, created     time.Time
	aliCloud              bool
	names                 []string
}

// describeCerts lists the region's server certificates, or the one id.
func (p *clbProduct) describeCerts(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller, id string) ([]serverCertificate, error) {
	params := map[string]string{}
	if id != "" {
		params["ServerCertificateId"] = id
	}
	var out []serverCertificate
	_, err := product.RPC(ctx, tr, calls, DescribeCertsAPI, request(call, params, nil), func(body map[string]any) error {
		out = parseServerCertificates(body)
		return nil
	})
	return out, err
}

// parseServerCertificates reads DescribeServerCertificates'
// ServerCertificates.ServerCertificate[].
func parseServerCertificates(body map[string]any) []serverCertificate {
	var out []serverCertificate
	for _, item := range list(body, "ServerCertificates", "ServerCertificate") {
		m, ok := item.(map[string]any)
		if !ok {
			continue
		}
		c := serverCertificate{}
		c.id, _ = m["ServerCertificateId"].(string)
		c.name, _ = m["ServerCertificateName"].(string)
		c.fingerprint, _ = m["Fingerprint"].(string)
		if ms, ok := answer.Int64(m["ExpireTimeStamp"]); ok && ms > 0 {
			c.notAfter = time.UnixMilli(ms).UTC()
		} else if t, ok := cloud.ParseTime(str(m["ExpireTime"])); ok {
			c.notAfter = t
		}
		if ms, ok := answer.Int64(m["CreateTimeStamp"]); ok && ms > 0 {
			c.created = time.UnixMilli(ms).UTC()
		}
		n, _ := answer.Int64(m["IsAliCloudCertificate"])
		c.aliCloud = n == 1
		for _, n := range list(m, "SubjectAlternativeNames", "SubjectAlternativeName") {
			if s, ok := n.(string); ok {
				c.names = append(c.names, s)
			}
		}
		if cn := str(m["CommonName"]); len(c.names) == 0 && cn != "" {
			c.names = []string{cn}
		}
		out = append(out, c)
	}
	return out
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// list reads body[outer][inner] as the RPC answers write lists
// ({"ServerCertificates": {"ServerCertificate": [...]}}).
func list(body map[string]any, outer, inner string) []any {
	switch v := body[outer].(type) {
	case map[string]any:
		l, _ := v[inner].([]any)
		return l
	case []any:
		return v
	}
	return nil
}

// extension is one domain extension of a listener.
type extension struct{ id, domain, cert string }

// extension finds the extension of the call's domain.
func (p *clbProduct) extension(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller) (extension, string, error) {
	var exts []extension
	var rid string
	_, err := product.RPC(ctx, tr, calls, DescribeExtensionsAPI, request(call, listenerParams(call), nil), func(body map[string]any) error {
		exts = nil
		rid, _ = body["RequestId"].(string)
		for _, item := range list(body, "DomainExtensions", "DomainExtension") {
			if m, ok := item.(map[string]any); ok {
				exts = append(exts, extension{id: str(m["DomainExtensionId"]), domain: str(m["Domain"]), cert: str(m["ServerCertificateId"])})
			}
		}
		return nil
	})
	if err != nil {
		return extension{}, rid, err
	}
	want := lb.Names(call.Target.Names)
	for _, e := range exts {
		if got := lb.Names([]string{e.domain}); len(want) == 1 && len(got) == 1 && got[0] == want[0] {
			return e, rid, nil
		}
	}
	return extension{}, rid, &lb.Error{API: DescribeExtensionsAPI.Action, Subject: call.DomainName, Code: "NoDomainExtension",
		Message: fmt.Sprintf("the listener %s:%s has no domain extension for %s", call.Target.Field("loadBalancer"), call.Target.Field("port"), strings.Join(call.Target.Names, ",")),
		Hint:    "add the domain extension in the console (certdrop sets an extension's certificate; it does not create extensions), or set sni: false to set the listener's own certificate",
		Kind:    failure.Permanent}
}

// Describe reads the listener's (or its domain extension's) server
// certificate and resolves it to its name, expiry and fingerprint.
func (p *clbProduct) Describe(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller) (fanout.Installed, error) {
	var id, rid string
	if sni(call.Target) {
		ext, r, err := p.extension(ctx, tr, call, calls)
		if err != nil {
			return fanout.Installed{}, err
		}
		id, rid = ext.cert, r
	} else {
		_, err := product.RPC(ctx, tr, calls, DescribeListenerAPI, request(call, listenerParams(call), nil), func(body map[string]any) error {
			rid, _ = body["RequestId"].(string)
			id, _ = body["ServerCertificateId"].(string)
			return nil
		})
		if err != nil {
			return fanout.Installed{}, err
		}
	}
	if id == "" {
		return fanout.Installed{RequestID: rid}, nil
	}
	certs, err := p.describeCerts(ctx, tr, call, calls, id)
	if err != nil {
		return fanout.Installed{}, err
	}
	for _, c := range certs {
		if c.id != id {
			continue
		}
		in := fanout.Installed{CertName: c.name, NotAfter: c.notAfter, HTTPS: true, RequestID: rid}
		if pemCert := call.Param(paramCert); pemCert != "" && sameFingerprint(c.fingerprint, pemCert) {
			if leaf := product.FirstCert(pemCert); leaf != nil {
				in.Fingerprint = bundle.Fingerprint(leaf)
				in.NotBefore, in.NotAfter = leaf.NotBefore.UTC(), leaf.NotAfter.UTC()
			}
		}
		return in, nil
	}
	return fanout.Installed{HTTPS: true, RequestID: rid}, nil
}

// sameFingerprint reports whether fp, as CLB writes it, is the SHA-1 or
// the SHA-256 of the first certificate of certPEM (product.SameFingerprint).
func sameFingerprint(fp, certPEM string) bool {
	leaf := product.FirstCert(certPEM)
	return leaf != nil && product.SameFingerprint(fp, leaf.Raw)
}

// codeTable classifies the SLB operations' codes before the OpenAPI
// table.
var codeTable = map[string]cloud.CodeInfo{
	"Operation.Conflict":               {Class: failure.Transient, Hint: "another operation holds the load balancer: certdrop retries"},
	"SystemBusy":                       {Class: failure.Transient, Hint: "the load balancer service is busy: certdrop retries"},
	"InvalidLoadBalancerId.NotFound":   {Class: failure.Permanent, Hint: "no such load balancer in the target's region: check the target's loadBalancer and region (a load balancer of another region is not found there)"},
	"ListenerNotFound":                 {Class: failure.Permanent, Hint: "the load balancer has no listener on that port: check the target's port"},
	"ListenerProtocolNotSupport":       {Class: failure.Permanent, Hint: "the listener on that port is not HTTPS: name the port of an HTTPS listener"},
	"ServerCertificateId.NotFound":     {Class: failure.Permanent, Hint: "the server certificate is not in the load balancer's region: certdrop uploads it to that region; run certdrop again"},
	"DomainExtensionId.NotFound":       {Class: failure.Permanent, Hint: "the domain extension no longer exists: check the listener's domain extensions"},
	"QuotaExceeded.ServerCertificate":  {Class: failure.Permanent, Hint: "the region holds as many server certificates as its quota allows: delete unused ones (defaults.prune deletes certdrop's own) or raise the quota"},
	"ServerCertificate.InUse":          {Class: failure.Permanent, Hint: "the server certificate is in use: it is kept"},
	"InvalidServerCertificate":         {Class: failure.Refused, Hint: "CLB rejected the certificate: re-export the chain as PEM, leaf first"},
	"InvalidPrivateKey":                {Class: failure.Refused, Hint: "CLB rejected the private key: re-export it unencrypted (RSA or ECDSA PEM)"},
	"ServerCertificate.KeyNotMatch":    {Class: failure.Refused, Hint: "the private key does not belong to the certificate: deploy the key generated with it"},
	"AliCloudCertificate.NotFound":     {Class: failure.Permanent, Hint: "CAS has no such certificate in that region: check the target's casRegion"},
	"ServerCertificateName.Duplicated": {Class: failure.Permanent, Hint: "another server certificate has this name in the region: certdrop names embed the fingerprint, so find who uploaded it"},
}
