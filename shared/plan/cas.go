package plan

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/manifest"
)

// CASVersion is the version of the Certificate Management Service API
// certdrop calls.
const CASVersion = "2020-04-07"

// The Certificate Management Service operations certdrop calls, with the
// quotas their pages document (calls per second per account).
var (
	// CASUploadAPI uploads a certificate and its key; it answers CertId.
	CASUploadAPI = API{Product: "cas", Action: "UploadUserCertificate", Version: CASVersion, Quota: 100}
	// CASListAPI lists the account's uploaded certificates, a page at a
	// time, filtered by a keyword (the name).
	CASListAPI = API{Product: "cas", Action: "ListUserCertificateOrder", Version: CASVersion, Quota: 10}
	// CASDeleteAPI deletes an uploaded or expired certificate.
	CASDeleteAPI = API{Product: "cas", Action: "DeleteUserCertificate", Version: CASVersion, Quota: 100}
)

// CASEndpoint returns the public endpoint host of a CAS region:
// cas.aliyuncs.com for cn-hangzhou, cas.ap-southeast-1.aliyuncs.com for
// the international region.
func CASEndpoint(region string) string {
	if region == "" || region == manifest.CASRegionMainland {
		return "cas.aliyuncs.com"
	}
	return "cas." + region + ".aliyuncs.com"
}

// maxCASName is the longest name UploadUserCertificate accepts (its page:
// up to 64 characters).
const maxCASName = 64

// CASCertName is the name a certificate is uploaded to CAS under: CertName
// with the CN shortened so that the whole stays within CAS's 64
// characters. For every CN of up to 37 characters it is CertName.
func CASCertName(id bundle.Identity) string { return certName(id, maxCASName) }

// CASUpload is one certificate to upload to one CAS region, and the calls
// that will reference it.
type CASUpload struct {
	// Region is the CAS region (cn-hangzhou or ap-southeast-1).
	Region string
	// Name is the name to upload under (CASCertName).
	Name string
	// Fingerprint is the leaf's SHA-256 fingerprint (lower-case hex): an
	// existing upload counts only when its fingerprint is this one.
	Fingerprint string
	// Keyword finds earlier uploads in ListUserCertificateOrder, whose
	// Keyword matches domains (its page: "matches the domain name or the
	// resource ID"), not names: the certificate's first name without "*.";
	// the name is then compared exactly.
	Keyword string
	// CertPEM is the chain to upload; Key the private key, which leaves
	// the process only in the UploadUserCertificate call.
	CertPEM string
	Key     bundle.Secret
	// Calls are the indexes in Plan.Calls of the calls that reference it.
	Calls []int
}

// CASUploads groups the plan's CAS calls by region, in the order their
// first calls appear: each group is one UploadUserCertificate at most.
func (p *Plan) CASUploads() []CASUpload {
	var ups []CASUpload
	at := map[string]int{}
	for i, c := range p.Calls {
		if c.CASRegion == "" {
			continue
		}
		j, ok := at[c.CASRegion]
		if !ok {
			j = len(ups)
			at[c.CASRegion] = j
			ups = append(ups, CASUpload{Region: c.CASRegion, Name: p.CASName, Fingerprint: p.Bundle.Fingerprint,
				Keyword: casKeyword(p.Bundle), CertPEM: p.certPEM, Key: p.key})
		}
		ups[j].Calls = append(ups[j].Calls, i)
	}
	return ups
}

// WithCertID returns the call with its CertId parameter set to id: a CAS
// call is planned before its certificate is uploaded, and bound to the
// upload's CertId once it is known. An OSS custom domain takes the id as
// "<id>-<region>". Calls without a CertId parameter (live, cdn-legacy,
// which take the name) are returned unchanged.
func (c Call) WithCertID(id int64) Call {
	out := c
	out.Params = append([]Param(nil), c.Params...)
	for i, p := range out.Params {
		if p.Name == ParamCertID {
			v := strconv.FormatInt(id, 10)
			if c.Target.Product == manifest.OSS {
				v += "-" + c.CASRegion
			}
			out.Params[i].Value = v
		}
	}
	return out
}

// ParamCertID names the CertId parameter of a CAS call.
const ParamCertID = "CertId"

// LiveByUpload is why a live target with delivery: cas is planned as an
// upload: SetLiveDomainCertificate's reference requires SSLPub and SSLPri
// whenever SSLProtocol is on, and documents no CertId, so it gives no way
// to name a certificate in Certificate Management Service instead.
const LiveByUpload = "live targets with delivery: cas are delivered by upload (the certificate and key in " +
	"SetLiveDomainCertificate): its reference requires SSLPub and SSLPri with SSLProtocol=on and documents " +
	"no way to name a certificate in Certificate Management Service"

// ErrNoReference is Reference's answer for a product whose Set API
// documents no reference to a certificate in CAS (live).
var ErrNoReference = errors.New("its Set API documents no reference to a certificate in Certificate Management Service: " +
	"it takes the certificate and key themselves")

// HasReference reports whether the product's Set API documents setting a
// certificate by reference to Certificate Management Service: every
// product but live.
func HasReference(p manifest.Product) bool { return p != manifest.Live }

// newCASCall plans a target's Set call by reference to a certificate in
// CAS, as each API's page documents it: CDN and VOD take CertType=cas
// with CertId and CertRegion (and the name); the legacy
// SetDomainServerCertificate takes CertType=cas with the name only (its
// page: with cas, the private key is optional); DCDN as CDN; an OSS
// custom domain takes CertificateConfiguration's CertId as
// "<CertId>-<region>". Live has none (HasReference): Build plans its
// targets as uploads. No parameter carries the private key.
func newCASCall(c Call, t manifest.Target, name, certPEM string) Call {
	add := func(n, v string) { c.Params = append(c.Params, Param{Name: n, Value: v}) }
	c.CASRegion = t.CertRegion()
	switch t.Product {
	case manifest.OSS:
		// PutCname's CertificateConfiguration by CAS id, "<CertId>-<region>";
		// the certificate (public) stays with the call so that ListCname's
		// fingerprint can be compared with it, and is not sent.
		add("Bucket", t.Bucket)
		add("Domain", c.DomainName)
		add(ParamCertID, "")
		add("Force", "true")
		if certPEM != "" {
			add("Certificate", certPEM)
		}
	case manifest.CDNLegacy:
		add("DomainName", c.DomainName)
		add("ServerCertificateStatus", "on")
		add("CertName", name)
		add("CertType", "cas")
	default:
		add("DomainName", c.DomainName)
		add("CertName", name)
		add(ParamCertID, "")
		add("CertType", "cas")
		add("SSLProtocol", "on")
		add("CertRegion", c.CASRegion)
		if t.Staging && t.Product.HasEnv() {
			add("Env", "staging")
		}
	}
	return c
}

// Reference plans a target's Set call by reference to a certificate
// already in CAS (a rollback): its name, and its CertId in the target's
// CAS region, with the parameters newCASCall gives each API. Nothing in
// it carries a certificate or a key.
func Reference(t manifest.Target, name string, certID int64) (Call, error) {
	c, err := TargetCall(t)
	if err != nil {
		return Call{}, err
	}
	if !HasReference(t.Product) {
		return c, fmt.Errorf("target %s %s: %w", t.Product, t.Domain, ErrNoReference)
	}
	return newCASCall(c, t, name, "").WithCertID(certID), nil
}

// casKeyword is the domain an upload of id is looked up by: its common
// name, else its first SAN, without a leading "*.".
func casKeyword(id bundle.Identity) string {
	k := id.CommonName
	if k == "" && len(id.SANs) > 0 {
		k = id.SANs[0]
	}
	return strings.TrimPrefix(strings.ToLower(k), "*.")
}
