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
	CASUploadAPI = API{Service: "yundun-cert", Action: "UploadUserCertificate", Version: CASVersion, Quota: 100}
	// CASListAPI lists the account's uploaded certificates, a page at a
	// time, filtered by a keyword (the name).
	CASListAPI = API{Service: "yundun-cert", Action: "ListUserCertificateOrder", Version: CASVersion, Quota: 10}
	// CASDeleteAPI deletes an uploaded or expired certificate.
	CASDeleteAPI = API{Service: "yundun-cert", Action: "DeleteUserCertificate", Version: CASVersion, Quota: 100}
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

// WithCertID returns the call with its CertId parameter set to id and the
// call's CertIDSuffix: a CAS call is planned before its certificate is
// uploaded, and bound to the upload's CertId once it is known. Calls
// without a CertId parameter (those whose API takes the certificate's
// name) are returned unchanged.
func (c Call) WithCertID(id int64) Call {
	out := c
	out.Params = append([]Param(nil), c.Params...)
	for i, p := range out.Params {
		if p.Name == ParamCertID {
			out.Params[i].Value = strconv.FormatInt(id, 10) + c.CertIDSuffix
		}
	}
	return out
}

// ParamCertID names the CertId parameter of a CAS call.
const ParamCertID = "CertId"

// ErrNoReference is what a Set by reference to a certificate in CAS
// fails with for a product whose Set API documents no such reference.
var ErrNoReference = errors.New("its Set API documents no reference to a certificate in Certificate Management Service: " +
	"it takes the certificate and key themselves")

// NoReferenceError is a Planner's answer to Reference when its Set API
// takes no reference: Build then plans the target as an upload and adds
// Note to the plan's Notes. It is ErrNoReference.
type NoReferenceError struct {
	// Note says, for a person, how the product's targets with delivery:
	// cas are delivered instead, and why.
	Note string
}

// Error returns the note.
func (e *NoReferenceError) Error() string { return e.Note }

// Is makes errors.Is(err, ErrNoReference) hold.
func (e *NoReferenceError) Is(target error) bool { return target == ErrNoReference }

// Reference plans a target's Set call by reference to a certificate
// already in CAS (a rollback): its name, and its CertId in the target's
// CAS region, with the parameters its product's Planner.Reference gives.
// Nothing in it carries a certificate or a key. A product whose Set API
// takes no reference gives an error that is ErrNoReference.
func Reference(ps Products, t manifest.Target, name string, certID int64) (Call, error) {
	pl, err := planner(ps, t)
	if err != nil {
		return Call{}, err
	}
	c, err := pl.Target(t)
	if err != nil {
		return Call{}, err
	}
	ref, err := pl.Reference(c, name, "")
	if errors.Is(err, ErrNoReference) {
		return c, fmt.Errorf("target %s %s: %w", t.Product, t.Where(), ErrNoReference)
	}
	if err != nil {
		return c, err
	}
	return ref.WithCertID(certID), nil
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
