// Package esa is ESA, Edge Security Acceleration (API 2024-09-10, RPC
// style): the certificates of an ESA site, at esa.cn-hangzhou.aliyuncs.com
// or the URL in CERTDROP_ESA_ENDPOINT.
//
// Manifest: a target is a site, by name (site: example.com; its SiteId is
// looked up with ListSites, SiteSearchType=exact), and the names the
// certificate must cover (domain, domains; wildcards allowed). staging:
// true is refused.
//
// What a site carries is read with ListCertificates (every page): the
// certificate covering every name of the target, the one being deployed
// when the site has it, else the one expiring last; its FingerprintSha256
// and validity decide unchanged and skipped_newer as for every product.
//
// Set is SetCertificate on the site: Type=upload with Name, Certificate
// and PrivateKey, or under delivery: cas Type=cas with CasId and Region
// (the certificate uploaded to Certificate Management Service once). A
// site holds a plan's number of certificates (two on the free plan), so:
//
//   - certdrop's own earlier certificate for the same names, of the same
//     type, is replaced in place (SetCertificate with its Id): no second
//     certificate, no moment without one;
//   - otherwise the certificate is added; when ESA answers
//     CertQuotaCheckFailed, certdrop deletes its own certificates of that
//     site that have expired or that a later certdrop certificate for the
//     same names (the one being added included) supersedes, then adds it
//     once more;
//   - a certificate certdrop did not create is never deleted: its own are
//     named certdrop-<cn>-<yyyymmdd>-<fp8> (plan.CertName,
//     plan.CASCertName), the fp8 the first 8 hex digits of the certificate's
//     own SHA-256, which ListCertificates answers; when the quota is full
//     of other certificates, the target fails saying so (QuotaFullError).
//
// The prune timer (hub.Prune) deletes certdrop's expired and superseded
// certificates of every ESA site a target names (Prune).
//
// Quotas: the ESA reference pages document no per-second limit for these
// operations: 10 calls/s each, a cautious default, configurable with
// CERTDROP_QUOTAS.
//
// Errors: Codes (CertQuotaCheckFailed, MissingSiteId,
// Certificate.StatusError, Certificate.Duplicated), then the OpenAPI table
// of shared/cloud.
package esa

import (
	"context"
	"crypto/x509"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
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
)

// Name is the product's name.
const Name manifest.Product = "esa"

// Version is the ESA API version.
const Version = "2024-09-10"

// Host is ESA's public endpoint.
const Host = "esa.cn-hangzhou.aliyuncs.com"

// EnvEndpoint overrides the endpoint, as a URL.
const EnvEndpoint = config.ESAEndpoint

// pool is the product's connection pool.
const pool = "esa"

// quota is the cautious calls per second of every ESA operation: its
// reference documents none.
const quota = 10

// The operations.
var (
	// SetAPI adds or replaces a site's certificate.
	SetAPI = plan.API{Service: "esa", Action: "SetCertificate", Version: Version, Quota: quota}
	// ListAPI lists a site's certificates.
	ListAPI = plan.API{Service: "esa", Action: "ListCertificates", Version: Version, Quota: quota}
	// DeleteAPI deletes a site's certificate (certdrop's own only).
	DeleteAPI = plan.API{Service: "esa", Action: "DeleteCertificate", Version: Version, Quota: quota}
	// SitesAPI finds a site's SiteId by its name.
	SitesAPI = plan.API{Service: "esa", Action: "ListSites", Version: Version, Quota: quota}
)

// SitePattern is the form of a site's name: a domain name, lower-case
// letters, digits and hyphens, at least two labels.
const SitePattern = `^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$`

var siteRE = regexp.MustCompile(SitePattern)

// New returns product esa.
func New() product.Product { return esaProduct{} }

type esaProduct struct{}

var _ product.Pruner = esaProduct{}

// Spec: a site and the names its certificate covers.
func (esaProduct) Spec() manifest.Spec {
	return manifest.Spec{
		Name:    Name,
		Address: []string{"site"},
		Fields: []manifest.Field{
			product.PatternField("site", siteRE, "esa target has no site (the ESA site's name, e.g. example.com)",
				"invalid esa site %q (the site's name, a lower-case domain such as example.com)"),
		},
		NoStaging: "its API has no Env parameter",
	}
}

// APIs are SetCertificate, ListCertificates, DeleteCertificate and
// ListSites.
func (esaProduct) APIs() []plan.API { return []plan.API{SetAPI, ListAPI, DeleteAPI, SitesAPI} }

// EndpointVar is EnvEndpoint.
func (esaProduct) EndpointVar() string { return EnvEndpoint }

// Target plans SetCertificate on the site.
func (esaProduct) Target(t manifest.Target) (plan.Call, error) {
	site := strings.ToLower(t.Field("site"))
	if site == "" {
		return plan.Call{}, fmt.Errorf("target %s: an esa target needs its site", t)
	}
	return plan.Call{Target: t, API: SetAPI, Endpoint: Host, EndpointVar: EnvEndpoint, DomainName: site}, nil
}

// Upload: Type=upload with Name, Certificate and PrivateKey.
func (esaProduct) Upload(c plan.Call, certName, certPEM string, key bundle.Secret) plan.Call {
	product.Add(&c, "Type", "upload")
	product.Add(&c, "Name", certName)
	product.Add(&c, "Certificate", certPEM)
	product.AddSecret(&c, "PrivateKey", key.Reveal())
	return c
}

// Reference: Type=cas with the CAS certificate's id (CasId, bound by
// WithCertID) and Region; its name as the site's certificate name. The
// certificate (public) stays with the call for Describe and Set to compare
// and is not sent.
func (esaProduct) Reference(c plan.Call, casName, certPEM string) (plan.Call, error) {
	c.CASRegion = c.Target.CertRegion()
	product.Add(&c, "Type", "cas")
	product.Add(&c, "Name", casName)
	product.Add(&c, plan.ParamCertID, "")
	product.Add(&c, "Region", c.CASRegion)
	if certPEM != "" {
		product.Add(&c, "Certificate", certPEM)
	}
	return c, nil
}

// request is an ESA call about the call's site.
func request(call plan.Call, params map[string]string, secrets []string) cloud.Request {
	return cloud.Request{EndpointVar: call.EndpointVar, Host: call.Endpoint, Pool: pool, Params: params,
		Secrets: secrets, Subject: call.DomainName, Codes: codeTable}
}

// SiteID finds the site's SiteId by its name (ListSites, exact).
func SiteID(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller) (int64, error) {
	var id int64
	_, err := product.RPC(ctx, tr, calls, SitesAPI, request(call, map[string]string{
		"SiteName": call.DomainName, "SiteSearchType": "exact", "PageSize": "500"}, nil),
		func(body map[string]any) error {
			id = 0
			for _, s := range answer.Objects(body["Sites"]) {
				if strings.EqualFold(answer.String(s["SiteName"]), call.DomainName) {
					id, _ = strconv.ParseInt(answer.String(s["SiteId"]), 10, 64)
				}
			}
			if id == 0 {
				e := cloud.Errorf(SitesAPI.Action, call.DomainName,
					"this account has no ESA site %s: check the target's site (its name, e.g. example.com) and the account", call.DomainName)
				e.RequestID = answer.String(body["RequestId"])
				return e
			}
			return nil
		})
	return id, err
}

// Cert is a certificate an ESA site carries, as ListCertificates answers
// it.
type Cert struct {
	ID, Name, Type, Status string
	CasID, Region          string
	// Fingerprint is the lower-case hex SHA-256 (FingerprintSha256).
	Fingerprint         string
	SANs                []string
	NotBefore, NotAfter time.Time
}

// maxPages bounds a listing: 100 pages of 500 certificates.
const maxPages = 100

// Certificates lists the site's certificates, every page.
func Certificates(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller, site int64) ([]Cert, string, error) {
	var out []Cert
	var rid string
	for page := 1; page <= maxPages; page++ {
		var n, total int
		_, err := product.RPC(ctx, tr, calls, ListAPI, request(call, map[string]string{
			"SiteId": strconv.FormatInt(site, 10), "PageNumber": strconv.Itoa(page), "PageSize": "500"}, nil),
			func(body map[string]any) error {
				rid = answer.String(body["RequestId"])
				items := answer.Objects(body["Result"])
				n, total = len(items), answer.Int(body["TotalCount"])
				for _, it := range items {
					out = append(out, certOf(it))
				}
				return nil
			})
		if err != nil {
			return nil, rid, err
		}
		if n < 500 || page*500 >= total {
			break
		}
	}
	return out, rid, nil
}

// certOf reads one ListCertificates entry.
func certOf(m map[string]any) Cert {
	c := Cert{ID: answer.String(m["Id"]), Name: answer.String(m["Name"]), Type: answer.String(m["Type"]), Status: answer.String(m["Status"]),
		CasID: answer.String(m["CasId"]), Region: answer.String(m["Region"]), Fingerprint: strings.ToLower(strings.ReplaceAll(answer.String(m["FingerprintSha256"]), ":", ""))}
	for _, n := range strings.Split(answer.String(m["SAN"]), ",") {
		if n = strings.ToLower(strings.TrimSpace(n)); n != "" {
			c.SANs = append(c.SANs, n)
		}
	}
	if cn := strings.ToLower(answer.String(m["CommonName"])); len(c.SANs) == 0 && cn != "" {
		c.SANs = []string{cn}
	}
	c.NotBefore, _ = parseTime(answer.String(m["NotBefore"]))
	c.NotAfter, _ = parseTime(answer.String(m["NotAfter"]))
	return c
}

// parseTime reads ESA's "2006-01-02 15:04:05" (UTC), or an RFC 3339 time.
func parseTime(s string) (time.Time, bool) {
	if t, err := time.Parse(time.DateTime, s); err == nil {
		return t.UTC(), true
	}
	return cloud.ParseTime(s)
}

// covers reports whether the certificate's names cover name.
func (c Cert) covers(name string) bool {
	name = strings.ToLower(name)
	for _, s := range c.SANs {
		if s == name {
			return true
		}
		if rest, ok := strings.CutPrefix(s, "*."); ok {
			if head, tail, ok := strings.Cut(name, "."); ok && head != "" && head != "*" && tail == rest {
				return true
			}
		}
	}
	return false
}

// coversAll reports whether the certificate covers every name.
func (c Cert) coversAll(names []string) bool {
	for _, n := range names {
		if !c.covers(n) {
			return false
		}
	}
	return len(names) > 0
}

// certdropName is the form of the names certdrop gives certificates
// (plan.CertName, plan.CASCertName).
var certdropName = regexp.MustCompile(`^certdrop-(.+)-([0-9]{8})-([0-9a-f]{8})$`)

// Ours reports whether certdrop created the certificate: its name has
// certdrop's form and the fingerprint prefix in it is the certificate's
// own (ListCertificates answers FingerprintSha256), so that a certificate
// someone named "certdrop-…" by hand is not taken for one of ours. An
// entry without a fingerprint is never ours.
func (c Cert) Ours() bool {
	m := certdropName.FindStringSubmatch(c.Name)
	return m != nil && len(c.Fingerprint) >= 8 && c.Fingerprint[:8] == m[3]
}

// sameNames reports whether the certificate names exactly names.
func (c Cert) sameNames(names []string) bool {
	a := slices.Sorted(slices.Values(lower(c.SANs)))
	b := slices.Sorted(slices.Values(lower(names)))
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

func lower(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strings.ToLower(s)
	}
	return out
}

// leafOf returns the call's certificate (upload, or kept with a cas
// call), nil when the call carries none (a rollback by reference).
func leafOf(call plan.Call) *x509.Certificate { return product.FirstCert(call.Param("Certificate")) }

// names are what the deployed certificate names: its SANs, else the
// target's names.
func names(call plan.Call, leaf *x509.Certificate) []string {
	if leaf != nil && len(leaf.DNSNames) > 0 {
		return lower(leaf.DNSNames)
	}
	return lower(call.Target.Covered())
}

// installed picks, among the site's certificates, the one that serves the
// target: the call's own certificate when the site has it, else the one
// covering every name that expires last.
func installed(certs []Cert, call plan.Call) (Cert, bool) {
	want := call.Target.Covered()
	fp := ""
	if leaf := leafOf(call); leaf != nil {
		fp = bundle.Fingerprint(leaf)
	}
	var best Cert
	found := false
	for _, c := range certs {
		if !c.coversAll(want) {
			continue
		}
		if fp != "" && c.Fingerprint == fp {
			return c, true
		}
		if !found || c.NotAfter.After(best.NotAfter) {
			best, found = c, true
		}
	}
	return best, found
}

// Describe lists the site's certificates and reports the one that serves
// the target's names.
func (esaProduct) Describe(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller) (fanout.Installed, error) {
	site, err := SiteID(ctx, tr, call, calls)
	if err != nil {
		return fanout.Installed{}, err
	}
	certs, rid, err := Certificates(ctx, tr, call, calls, site)
	if err != nil {
		return fanout.Installed{}, err
	}
	inst := fanout.Installed{RequestID: rid}
	if c, ok := installed(certs, call); ok {
		inst.CertName, inst.Fingerprint, inst.NotBefore, inst.NotAfter = c.Name, c.Fingerprint, c.NotBefore, c.NotAfter
		inst.HTTPS = true
	}
	return inst, nil
}

// QuotaFullError is a target whose site's certificate quota is full of
// certificates certdrop did not create (or still needs): nothing was
// deleted. It is permanent.
type QuotaFullError struct {
	Site    string
	Foreign int
	Cause   error
}

// Error says what is full and what a person can do.
func (e *QuotaFullError) Error() string {
	return fmt.Sprintf("SetCertificate %s: the ESA site's certificate quota is full and none of its certificates is one certdrop may delete "+
		"(%d not created by certdrop; certdrop deletes only its own expired or superseded ones): "+
		"delete a certificate in the ESA console, or move the site to a plan with more certificates (%v)", e.Site, e.Foreign, e.Cause)
}

// Class is permanent: the same call fails until a person acts.
func (e *QuotaFullError) Class() failure.Class { return failure.Permanent }

// Unwrap returns ESA's answer.
func (e *QuotaFullError) Unwrap() error { return e.Cause }

// Set puts the call's certificate on the site: in place of certdrop's own
// earlier one for the same names, else added, making room within the
// site's quota by deleting certdrop's expired or superseded certificates
// only.
func (esaProduct) Set(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller) error {
	site, err := SiteID(ctx, tr, call, calls)
	if err != nil {
		return err
	}
	certs, _, err := Certificates(ctx, tr, call, calls, site)
	if err != nil {
		return err
	}
	leaf := leafOf(call)
	want := names(call, leaf)
	typ := call.Param("Type")
	if leaf != nil {
		fp := bundle.Fingerprint(leaf)
		if slices.ContainsFunc(certs, func(c Cert) bool { return c.Fingerprint == fp }) {
			return nil // the site has it already (SetCertificate would answer Certificate.Duplicated)
		}
	}
	params := setParams(call, site)
	// certdrop's own earlier certificate for the same names, of the same
	// type: replaced in place, the one expiring first.
	var mine *Cert
	for i, c := range certs {
		if c.Ours() && c.Type == typ && c.sameNames(want) && (mine == nil || c.NotAfter.Before(mine.NotAfter)) {
			mine = &certs[i]
		}
	}
	if mine != nil {
		params["Id"] = mine.ID
		return set(ctx, tr, call, calls, params)
	}
	err = set(ctx, tr, call, calls, params)
	if cloud.CodeOf(err) != "CertQuotaCheckFailed" {
		return err
	}
	now := time.Now()
	var notAfter time.Time
	if leaf != nil {
		notAfter = leaf.NotAfter
	}
	var gone, foreign int
	for _, c := range certs {
		if !c.Ours() {
			foreign++
			continue
		}
		if why := Stale(c, certs, want, notAfter, now); why == "" {
			continue
		}
		if err := Delete(ctx, tr, call, calls, site, c.ID); err != nil {
			return fmt.Errorf("making room on the ESA site %s for the certificate: %w", call.DomainName, err)
		}
		gone++
	}
	if gone == 0 {
		return &QuotaFullError{Site: call.DomainName, Foreign: foreign, Cause: err}
	}
	return set(ctx, tr, call, calls, params)
}

// Stale says why certdrop's certificate c of a site may be deleted: it has
// expired at now, or a later certdrop certificate on the site (or the one
// being added, for names until notAfter) names the same names; "" when it
// may not.
func Stale(c Cert, site []Cert, names []string, notAfter, now time.Time) string {
	if !c.Ours() {
		return ""
	}
	if !c.NotAfter.IsZero() && now.After(c.NotAfter) {
		return "expired " + c.NotAfter.UTC().Format(time.DateOnly)
	}
	if len(names) > 0 && c.sameNames(names) && notAfter.After(c.NotAfter) {
		return "superseded by the certificate being deployed for the same names"
	}
	for _, o := range site {
		if o.ID != c.ID && o.Ours() && o.sameNames(c.SANs) && o.NotAfter.After(c.NotAfter) {
			return "superseded by " + o.Name + " for the same names"
		}
	}
	return ""
}

// setParams are SetCertificate's parameters for the call on site.
func setParams(call plan.Call, site int64) map[string]string {
	f := call.Form()
	p := map[string]string{"SiteId": strconv.FormatInt(site, 10), "Type": f["Type"], "Name": f["Name"]}
	switch f["Type"] {
	case "cas":
		p["CasId"], p["Region"] = f[plan.ParamCertID], f["Region"]
	default:
		p["Certificate"], p["PrivateKey"] = f["Certificate"], f["PrivateKey"]
	}
	return p
}

// set sends SetCertificate.
func set(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller, params map[string]string) error {
	_, err := product.RPC(ctx, tr, calls, SetAPI, request(call, params, call.Secrets()), nil)
	return err
}

// Delete sends DeleteCertificate for one of the site's certificates. A
// deletion that fails (a retry of one applied without an answer, say)
// while ListCertificates no longer lists the certificate succeeded.
func Delete(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller, site int64, id string) error {
	_, err := product.RPC(ctx, tr, calls, DeleteAPI, request(call, map[string]string{
		"SiteId": strconv.FormatInt(site, 10), "Id": id}, nil), nil)
	if err == nil || ctx.Err() != nil {
		return err
	}
	certs, _, lerr := Certificates(ctx, tr, call, calls, site)
	if lerr == nil && !slices.ContainsFunc(certs, func(c Cert) bool { return c.ID == id }) {
		return nil
	}
	return err
}

// Prune deletes (with o.Delete; else only lists) certdrop's certificates
// of the targets' sites (each site once) that have expired or that a
// later certdrop certificate for the same names supersedes. Every other
// certificate is kept, and listed with why. A site whose certificates
// cannot be listed is among the Problems, untouched.
func (esaProduct) Prune(ctx context.Context, tr *cloud.Client, targets []plan.Call, calls fanout.Caller, o fanout.PruneOptions) fanout.StorePrune {
	var out fanout.StorePrune
	seen := map[string]bool{}
	for _, call := range targets {
		site := strings.ToLower(call.DomainName)
		if seen[site] {
			continue
		}
		seen[site] = true
		store := string(Name) + " " + call.DomainName
		certs, err := pruneSite(ctx, tr, call, calls, o)
		if err != nil {
			out.Problems = append(out.Problems, fanout.StoreProblem{Store: store, Err: err})
			continue
		}
		for i := range certs {
			certs[i].Store = store
		}
		out.Certs = append(out.Certs, certs...)
	}
	return out
}

// pruneSite prunes the call's site.
func pruneSite(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller, o fanout.PruneOptions) ([]fanout.StoreCert, error) {
	site, err := SiteID(ctx, tr, call, calls)
	if err != nil {
		return nil, err
	}
	certs, _, err := Certificates(ctx, tr, call, calls, site)
	if err != nil {
		return nil, err
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	var out []fanout.StoreCert
	for _, c := range certs {
		p := fanout.StoreCert{ID: c.ID, Name: c.Name, NotAfter: c.NotAfter}
		why := Stale(c, certs, nil, time.Time{}, now)
		switch {
		case !c.Ours():
			p.Reason = "not created by certdrop: never touched"
		case why == "":
			p.Reason = "certdrop's newest for " + strings.Join(c.SANs, ", ")
		default:
			p.Reason, p.Delete = why, true
			if o.Delete {
				p.Err = Delete(ctx, tr, call, calls, site, c.ID)
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// Codes returns how certdrop treats ESA's own error codes; the others go
// through cloud.Codes. The map is a fresh copy.
func Codes() map[string]cloud.CodeInfo { return maps.Clone(codeTable) }

// codeTable is the table Codes copies; built once, never written.
var codeTable = map[string]cloud.CodeInfo{
	"CertQuotaCheckFailed": {Class: failure.Permanent, Hint: "the ESA site carries as many certificates as its plan allows: " +
		"certdrop replaces or deletes only its own (expired or superseded); delete one in the ESA console or upgrade the plan"},
	"MissingSiteId":           {Class: failure.Permanent, Hint: "the SiteId was not sent: report this as a certdrop bug"},
	"Certificate.StatusError": {Class: failure.Permanent, Hint: "ESA refused the certificate's status (expired, or a free certificate that cannot be replaced): check the certificate"},
	"Certificate.Duplicated":  {Class: failure.Permanent, Hint: "the ESA site already carries this certificate"},
}
