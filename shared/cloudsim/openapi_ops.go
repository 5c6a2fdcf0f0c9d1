package cloudsim

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
)

// maxCertName is the longest CertName the APIs accept.
const maxCertName = 128

// setParams are a Set call's parameters under their current names, the
// legacy operation's mapped onto them.
type setParams struct {
	domain     string
	certName   string
	certType   string
	certRegion string
	certID     string
	env        string
	protocol   string // "on" / "off" (SSLProtocol or ServerCertificateStatus)
	pub, pri   string
	forceSet   bool
}

func readSetParams(api apiSpec, p url.Values) setParams {
	sp := setParams{
		domain:     strings.ToLower(strings.TrimSpace(p.Get("DomainName"))),
		certName:   p.Get("CertName"),
		certType:   p.Get("CertType"),
		certRegion: p.Get("CertRegion"),
		certID:     p.Get("CertId"),
		env:        p.Get("Env"),
		forceSet:   p.Get("ForceSet") == "1",
	}
	if api.legacy {
		sp.protocol = p.Get("ServerCertificateStatus")
		sp.pub, sp.pri = p.Get("ServerCertificate"), p.Get("PrivateKey")
	} else {
		sp.protocol = p.Get("SSLProtocol")
		sp.pub, sp.pri = p.Get("SSLPub"), p.Get("SSLPri")
	}
	return sp
}

// applySet validates a Set call as the reference documents describe and,
// when it is valid, installs the certificate. It returns the CertName
// installed. Checks run in this order: required parameters, the domain
// and its state, parameter values, the certificate and key, the name
// registry.
func (s *Sim) applySet(api apiSpec, p url.Values) (string, *apiError) {
	sp := readSetParams(api, p)
	errf := func(code string) *apiError { return newAPIError(api.product, code) }

	if sp.domain == "" {
		return sp.certName, errf("MissingDomainName")
	}
	switch {
	case sp.protocol == "" && api.legacy:
		return sp.certName, errf("MissingServerCertificateStatus")
	case sp.protocol == "":
		return sp.certName, errf("MissingSSLProtocol")
	case sp.protocol != "on" && sp.protocol != "off" && api.legacy:
		return sp.certName, errf("SetDomainCertificate.ParameterError")
	case sp.protocol != "on" && sp.protocol != "off":
		return sp.certName, errf("InvalidSSLProtocol.ValueNotSupported")
	}
	if e := s.domainWritable(api, sp.domain); e != nil {
		return sp.certName, e
	}
	if len(sp.certName) > maxCertName {
		return sp.certName, errf("InvalidCertName.TooLong")
	}
	if !api.env && p.Has("Env") {
		// Env is not a parameter of this operation in its current
		// reference: a client sending it expects a staging release it
		// would not get. The CDN's page keeps the code InvalidEnv.
		return sp.certName, errf("InvalidEnv").withMessage("The specified Env is invalid: " + api.action + " has no Env parameter.")
	}
	if sp.certRegion != "" && api.product != ProductLive && !api.legacy &&
		sp.certRegion != "cn-hangzhou" && sp.certRegion != "ap-southeast-1" {
		return sp.certName, errf("Abs.CertRegion.ValueNotSupported")
	}
	switch sp.certType {
	case "", "upload", "cas":
	case "free":
		// Live's free certificates are not emulated.
		return sp.certName, errf("Certificate.NotFind")
	default:
		return sp.certName, errf("SetDomainCertificate.ParameterError")
	}

	now := s.certNow()
	staging := api.env && sp.env == "staging"
	if api.product == ProductLive && sp.protocol == "on" {
		// SetLiveDomainCertificate's reference: "If you set this parameter
		// to on, you must also specify the SSLPub and SSLPri parameters",
		// whatever CertType says; it documents no CertId, so a certificate
		// in Certificate Management Service cannot be named instead.
		switch {
		case sp.pub == "":
			return sp.certName, errf("SSLPub.MissingParameter")
		case sp.pri == "":
			return sp.certName, errf("SSLPri.MissingParameter")
		}
	}
	if sp.certType == "cas" && sp.protocol == "on" && api.product != ProductLive {
		return s.applySetByReference(api, sp, now, staging)
	}
	if sp.protocol == "off" {
		s.reg.mu.Lock()
		defer s.reg.mu.Unlock()
		ent := s.reg.domains[domainKey(api.product, sp.domain)]
		target := &ent.prod
		if staging {
			if ent.staging == nil {
				ent.staging = &DomainCert{}
			}
			target = ent.staging
		}
		target.HTTPS, target.Updated = false, now.UTC()
		return target.CertName, nil
	}

	b, e := s.checkPair(api, sp.pub, sp.pri, now)
	if e != nil {
		return sp.certName, e
	}
	fp := bundle.Fingerprint(b.Leaf)
	name := sp.certName
	if name == "" {
		// The APIs name an unnamed upload themselves.
		name = "cert-" + fp[:16]
	}

	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	ent := s.reg.domains[domainKey(api.product, sp.domain)]
	if e := stateError(api, ent.state); e != nil { // the state may have changed meanwhile
		return name, e
	}
	rec := s.reg.names[name]
	if rec != nil && rec.fingerprint != "" && rec.fingerprint != fp {
		// SetCdnDomainSSLCertificate and SetVodDomainSSLCertificate
		// document no ForceSet: a name taken by other content is always
		// Certificate.Duplicated. Live and the legacy CDN operation
		// overwrite the name when ForceSet=1.
		if !(api.forceSet && sp.forceSet) {
			return name, errf("Certificate.Duplicated")
		}
	}
	rec = s.reg.nameLocked(name, fp)
	rec.fingerprint = fp
	// The products keep their uploads in CAS (cas.go).
	s.reg.putCASLocked(CASRegionHangzhou, name, rec.id, sp.pub, sp.pri, b.Leaf, api.action, now)
	dc := DomainCert{
		CertName:   name,
		CertID:     rec.id,
		CertPEM:    sp.pub,
		HTTPS:      true,
		Updated:    now.UTC(),
		CertType:   "upload",
		CertRegion: sp.certRegion,
	}
	describeLeaf(&dc, b.Leaf)
	if staging {
		ent.staging = &dc
	} else {
		ent.prod = dc
	}
	return name, nil
}

// domainWritable answers the domain's registration and state.
func (s *Sim) domainWritable(api apiSpec, domain string) *apiError {
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	ent := s.reg.domains[domainKey(api.product, domain)]
	if ent == nil {
		return newAPIError(api.product, "InvalidDomain.NotFound")
	}
	return stateError(api, ent.state)
}

// stateError is the answer to a write on a domain in state, nil when the
// domain accepts writes. Live documents InvalidDomain.notOnline where CDN
// and VOD answer InvalidDomain.Offline.
func stateError(api apiSpec, state string) *apiError {
	switch state {
	case StateOffline:
		if api.product == ProductLive {
			return newAPIError(api.product, "InvalidDomain.notOnline")
		}
		return newAPIError(api.product, "InvalidDomain.Offline")
	case StateConfiguring:
		return newAPIError(api.product, "ServiceBusy").withMessage(
			"The domain is being configured. Please try again later.")
	case StateSafeMode:
		return newAPIError(api.product, "DomainInSafeMode")
	}
	return nil
}

// checkPair validates the certificate and key parameters with the bundle
// parser, answering the documented codes: InvalidSSLPub / InvalidSSLPri
// (Certificate.FormatError for the legacy operation), Certificate.MissMatch,
// Certificate.Expired.
func (s *Sim) checkPair(api apiSpec, pub, pri string, now time.Time) (*bundle.Bundle, *apiError) {
	errf := func(code string) *apiError { return newAPIError(api.product, code) }
	badPub, badPri := "InvalidSSLPub", "InvalidSSLPri"
	if api.legacy {
		badPub, badPri = "Certificate.FormatError", "Certificate.FormatError"
	}
	switch {
	case pub == "" && api.legacy:
		return nil, errf("Certificate.FormatError")
	case pub == "":
		return nil, errf("SSLPub.MissingParameter")
	case pri == "" && api.legacy:
		return nil, errf("Certificate.KeyNull")
	case pri == "":
		return nil, errf("SSLPri.MissingParameter")
	}
	if len(pub) > s.maxCertBytes {
		return nil, errf("InvalidCertificate.TooLong")
	}
	// The certificate parameter holds certificates only, the key parameter
	// one key only: a swapped or merged pair is malformed, not matched.
	if !strings.Contains(pub, "-----BEGIN CERTIFICATE-----") || strings.Contains(pub, "PRIVATE KEY-----") {
		return nil, errf(badPub)
	}
	if !strings.Contains(pri, "PRIVATE KEY-----") || strings.Contains(pri, "-----BEGIN CERTIFICATE-----") {
		return nil, errf(badPri)
	}
	b, err := bundle.Parse([]bundle.Source{
		{Name: "SSLPub", Data: []byte(pub)},
		{Name: "SSLPri", Data: []byte(pri)},
	}, bundle.Options{MaxSize: int64(s.maxCertBytes) + maxOpenAPIBody})
	if err != nil {
		var be *bundle.Error
		if !errors.As(err, &be) {
			return nil, errf(badPub)
		}
		switch {
		case errors.Is(err, bundle.ErrKeyMismatch):
			return nil, errf("Certificate.MissMatch")
		case errors.Is(err, bundle.ErrTooLarge):
			return nil, errf("InvalidCertificate.TooLong")
		case errors.Is(err, bundle.ErrNoCertificate):
			return nil, errf(badPub)
		case errors.Is(err, bundle.ErrNoKey), errors.Is(err, bundle.ErrEncryptedKey),
			errors.Is(err, bundle.ErrUnsupportedKey), errors.Is(err, bundle.ErrMultipleKeys):
			return nil, errf(badPri)
		case be.Source == "SSLPri":
			return nil, errf(badPri)
		default:
			return nil, errf(badPub)
		}
	}
	if now.After(b.Leaf.NotAfter) {
		return nil, errf("Certificate.Expired")
	}
	return b, nil
}

// describe answers a Describe call in the product's response shape.
func (s *Sim) describe(api apiSpec, p url.Values, requestID string) (any, *apiError) {
	domain := strings.ToLower(strings.TrimSpace(p.Get("DomainName")))
	if domain == "" {
		return nil, newAPIError(api.product, "MissingDomainName")
	}
	s.reg.mu.Lock()
	ent := s.reg.domains[domainKey(api.product, domain)]
	var dc DomainCert
	if ent != nil {
		dc = ent.prod
	}
	s.reg.mu.Unlock()
	if ent == nil {
		return nil, newAPIError(api.product, "InvalidDomain.NotFound")
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02T15:04:05Z")
	}
	onOff := "off"
	if dc.HTTPS {
		onOff = "on"
	}
	info := map[string]string{
		"DomainName":     domain,
		"CertName":       dc.CertName,
		"CertDomainName": dc.CommonName,
		"CertExpireTime": ts(dc.NotAfter),
		"CertLife":       certLife(dc.NotBefore, dc.NotAfter),
		"CertOrg":        dc.Issuer,
		"CertType":       dc.CertType,
		"Status":         "",
	}
	switch api.product {
	case ProductLive:
		info["SSLProtocol"] = onOff
		info["SSLPub"] = dc.CertPEM
	case ProductDCDN:
		info["SSLProtocol"] = onOff
		info["SSLPub"] = dc.CertPEM
	default:
		info["ServerCertificateStatus"] = onOff
		info["ServerCertificate"] = dc.CertPEM
		info["CertStartTime"] = ts(dc.NotBefore)
		info["CertUpdateTime"] = ts(dc.Updated)
		info["DomainCnameStatus"] = "ok"
	}
	if api.product == ProductCDN || api.product == ProductDCDN {
		if dc.CertName != "" {
			info["Status"] = "success"
			info["CertId"] = strconv.FormatInt(dc.CertID, 10)
		}
		info["CertRegion"] = dc.CertRegion
		if info["CertRegion"] == "" && dc.CertName != "" {
			info["CertRegion"] = "cn-hangzhou"
		}
	}
	return map[string]any{
		"RequestId": requestID,
		"CertInfos": map[string]any{"CertInfo": []map[string]string{info}},
	}, nil
}

// applySetByReference installs a certificate of Certificate Management
// Service on a domain (CertType=cas, SSLProtocol=on), with the parameters
// each product's reference document gives it:
//
//   - SetCdnDomainSSLCertificate, SetDcdnDomainSSLCertificate: CertId
//     (required with cas) and CertRegion (default cn-hangzhou); CertName is
//     ignored (the DCDN page: "only effective when CertType=upload").
//   - SetVodDomainSSLCertificate: CertId and CertRegion, or CertName (in
//     CertRegion) when CertId is absent; both given must name the same
//     certificate.
//   - SetDomainServerCertificate: CertName, looked up in cn-hangzhou (its
//     page documents no CertId nor CertRegion); its ServerCertificate, when
//     given, must be the referenced certificate's.
//   - SetLiveDomainCertificate takes no reference: its page requires SSLPub
//     and SSLPri with SSLProtocol=on (SSLPub.MissingParameter,
//     SSLPri.MissingParameter otherwise) and documents no CertId, so a Live
//     Set with CertType=cas is an upload of the SSLPub and SSLPri it carries.
//
// SSLPub/SSLPri (PrivateKey) are not needed and are ignored when sent (the
// journal still marks the key as sent). Answers: CertName.MissingParameter
// (no name where the name is the reference), SetDomainCertificate.ParameterError
// (no CertId where it is required, a CertId that is not an integer, a
// CertId and CertName that disagree, or a certificate that does not cover
// the domain: the documents give no code for that, the message says which),
// Certificate.NotFind (no such certificate in that region's store),
// Certificate.Expired, Certificate.MissMatch (legacy ServerCertificate
// differs). The domain then carries the certificate with CertType "cas",
// its CAS CertId and region.
func (s *Sim) applySetByReference(api apiSpec, sp setParams, now time.Time, staging bool) (string, *apiError) {
	errf := func(code string) *apiError { return newAPIError(api.product, code) }
	region := sp.certRegion
	if region == "" || api.product == ProductLive || api.legacy {
		region = CASRegionHangzhou
	}
	var id int64
	if sp.certID != "" && (api.product == ProductCDN && !api.legacy || api.product == ProductDCDN || api.product == ProductVOD) {
		n, err := strconv.ParseInt(sp.certID, 10, 64)
		if err != nil || n <= 0 {
			return sp.certName, errf("SetDomainCertificate.ParameterError").withMessage("The CertId must be a positive integer.")
		}
		id = n
	}
	switch {
	case (api.product == ProductCDN && !api.legacy || api.product == ProductDCDN) && id == 0:
		return sp.certName, errf("SetDomainCertificate.ParameterError").withMessage("CertId is required when CertType is cas.")
	case (api.product == ProductLive || api.legacy || api.product == ProductVOD) && id == 0 && sp.certName == "":
		return sp.certName, errf("CertName.MissingParameter")
	}
	cc, ok := s.lookupCAS(region, id, sp.certName)
	if !ok {
		return sp.certName, errf("Certificate.NotFind")
	}
	if api.product == ProductVOD && id != 0 && sp.certName != "" && sp.certName != cc.name {
		return sp.certName, errf("SetDomainCertificate.ParameterError").withMessage("The CertName is not the name of the certificate CertId.")
	}
	if now.After(cc.leaf.NotAfter) {
		return cc.name, errf("Certificate.Expired")
	}
	if api.legacy && sp.pub != "" {
		if leaf, ok := firstCertificate(sp.pub); !ok || bundle.Fingerprint(leaf) != bundle.Fingerprint(cc.leaf) {
			return cc.name, errf("Certificate.MissMatch")
		}
	}
	if !cc.covers(sp.domain) {
		return cc.name, errf("SetDomainCertificate.ParameterError").withMessage("The certificate does not cover the domain " + sp.domain + ".")
	}
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	ent := s.reg.domains[domainKey(api.product, sp.domain)]
	if e := stateError(api, ent.state); e != nil {
		return cc.name, e
	}
	dc := DomainCert{
		CertName:   cc.name,
		CertID:     cc.id,
		CertPEM:    cc.certPEM,
		HTTPS:      true,
		Updated:    now.UTC(),
		CertType:   "cas",
		CertRegion: region,
	}
	describeLeaf(&dc, cc.leaf)
	if staging {
		ent.staging = &dc
	} else {
		ent.prod = dc
	}
	return cc.name, nil
}
