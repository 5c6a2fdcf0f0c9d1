package cloudsim

import (
	"crypto/x509"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
)

// The operations shared by the products whose targets are domains that
// carry a certificate (cdn.go, vod.go, live.go, dcdn.go): a Set that
// installs a certificate by upload or by reference to Certificate
// Management Service, and a Describe that reports what a domain carries.
// Each product's file states what its operations document (setSpec) and
// what its Describe answers (domainProduct); the checks, their order and
// the state they change are here. The domains and the certificate-name
// registry are in openapi_state.go.

// maxCertName is the longest CertName the APIs accept.
const maxCertName = 128

// domainProduct is what a product whose targets are domains adds to the
// shared operations.
type domainProduct struct {
	// configured selects the product's domains from the configuration.
	configured func(Domains) []Domain
	// offline is the code answering a write to an offline domain.
	offline string
	// dotWildcard: the product names a wildcard domain ".example.com";
	// the configuration refuses "*.example.com".
	dotWildcard bool
	// describe adds the product's fields to a Describe answer's CertInfo
	// (sslProtocolFields, serverCertificateFields, certIDFields).
	describe func(info map[string]string, dc DomainCert)
}

// reference is how a Set operation names a certificate of Certificate
// Management Service under CertType=cas.
type reference int

const (
	// refNone: the operation documents no reference; CertType=cas is an
	// upload of the SSLPub and SSLPri it carries, which SSLProtocol=on
	// requires.
	refNone reference = iota
	// refByID: CertId, required, in CertRegion.
	refByID
	// refByIDOrName: CertId, or CertName when CertId is absent, in
	// CertRegion; both given must name the same certificate.
	refByIDOrName
	// refByName: CertName, in cn-hangzhou.
	refByName
)

// setSpec is what one Set operation documents.
type setSpec struct {
	// legacy marks SetDomainServerCertificate, whose parameters are
	// ServerCertificateStatus, ServerCertificate and PrivateKey.
	legacy bool
	// forceSet: the operation documents ForceSet; the others have no such
	// parameter.
	forceSet bool
	// env: the operation documents Env=staging.
	env bool
	// certRegion: the operation documents CertRegion (cn-hangzhou or
	// ap-southeast-1).
	certRegion bool
	// reference is how it names a certificate under CertType=cas.
	reference reference
}

// domainErrors are the codes of the domain products' certificate
// operations, with the messages of the CDN's and VOD's reference
// documents (a product's messages reword them).
func domainErrors() map[string]knownError {
	return map[string]knownError{
		"MissingDomainName":              {400, "DomainName is mandatory for this action."},
		"MissingSSLProtocol":             {400, "SSLProtocol is mandatory for this action."},
		"MissingServerCertificateStatus": {400, "ServerCertificateStatus is mandatory for this action."},

		// Domain state.
		"InvalidDomain.NotFound":  {404, "The domain provided does not belong to you."},
		"InvalidDomain.Offline":   {400, "The domain provided is offline."},
		"InvalidDomain.notOnline": {400, "The domain is offline. Check the status of the domain and try again later."},
		"DomainInSafeMode":        {400, "The domain is in safe mode. To request permission, contact Customer Service."},
		"DomainInProtectedMode":   {403, "The domain is in protection mode. To request permission, contact Customer Service."},

		// Certificate parameters (reference documents 000, 002, 003, 004).
		"InvalidSSLProtocol.ValueNotSupported": {400, "The specified SSLProtocol is invalid."},
		"SSLPub.MissingParameter":              {400, "The SSLPub parameter is required."},
		"SSLPri.MissingParameter":              {400, "The SSLPri parameter is required."},
		"InvalidSSLPub":                        {400, "The specified SSLPub is invalid."},
		"InvalidSSLPri":                        {400, "The specified SSLPri is invalid."},
		"Certificate.MissMatch":                {400, "The SSLPri does not match the certificate."},
		"InvalidCertificate.TooLong":           {400, "The maximum length of the certificate is exceeded."},
		"InvalidCertName.TooLong":              {400, "The length of the certificate name cannot exceed 128 characters."},
		"SetDomainCertificate.ParameterError":  {400, "The specified parameters are invalid."},
		"Certificate.NotFind":                  {400, "The certificate does not exist."},
		"Certificate.Duplicated":               {400, "The certificate name already exists."},
		"Certificate.FormatError":              {400, "The format of the certificate is invalid."},
		"Certificate.KeyNull":                  {400, "The private key is required."},
		"Certificate.Expired":                  {400, "The certificate has expired."},
		"CertStorage.failed":                   {400, "Error saving the certificate."},
		"CreateCertificateFailed":              {400, "Create certificate failed,please try again."},
		"Abs.CertRegion.ValueNotSupported":     {400, "CertRegion is not supported."},
		"InvalidEnv":                           {400, "The specified Env is invalid."},
		"CertName.MissingParameter":            {404, "You must specify CertName."},
	}
}

// domainSet is the handler of a Set operation that documents o. The
// journal entry's CertName is the name installed (or refused).
func domainSet(o setSpec) handler {
	return func(s *Sim, c *call, p url.Values) (any, *apiError) {
		name, e := s.applySet(c.api, o, p)
		c.entry.CertName = name
		if e != nil {
			return nil, e
		}
		return map[string]string{"RequestId": c.entry.RequestID}, nil
	}
}

// domainSetJournal records, for a Set by reference, the CertId and the
// CAS region it names.
func domainSetJournal(_ *Sim, c *call, p url.Values) {
	if c.entry.CertType == "cas" {
		c.entry.CertID = p.Get("CertId")
		c.entry.Region = p.Get("CertRegion")
		if c.entry.Region == "" {
			c.entry.Region = CASRegionHangzhou
		}
	}
}

// domainDescribe is the handler of a Describe operation.
func domainDescribe(s *Sim, c *call, p url.Values) (any, *apiError) {
	return s.describe(c.api, p, c.entry.RequestID)
}

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

func readSetParams(o setSpec, p url.Values) setParams {
	sp := setParams{
		domain:     strings.ToLower(strings.TrimSpace(p.Get("DomainName"))),
		certName:   p.Get("CertName"),
		certType:   p.Get("CertType"),
		certRegion: p.Get("CertRegion"),
		certID:     p.Get("CertId"),
		env:        p.Get("Env"),
		forceSet:   p.Get("ForceSet") == "1",
	}
	if o.legacy {
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
func (s *Sim) applySet(api apiSpec, o setSpec, p url.Values) (string, *apiError) {
	sp := readSetParams(o, p)
	errf := func(code string) *apiError { return newAPIError(api.product, code) }

	if sp.domain == "" {
		return sp.certName, errf("MissingDomainName")
	}
	switch {
	case sp.protocol == "" && o.legacy:
		return sp.certName, errf("MissingServerCertificateStatus")
	case sp.protocol == "":
		return sp.certName, errf("MissingSSLProtocol")
	case sp.protocol != "on" && sp.protocol != "off" && o.legacy:
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
	if !o.env && p.Has("Env") {
		// Env is not a parameter of this operation in its current
		// reference: a client sending it expects a staging release it
		// would not get. The CDN's page keeps the code InvalidEnv.
		return sp.certName, errf("InvalidEnv").withMessage("The specified Env is invalid: " + api.action + " has no Env parameter.")
	}
	if sp.certRegion != "" && o.certRegion &&
		sp.certRegion != "cn-hangzhou" && sp.certRegion != "ap-southeast-1" {
		return sp.certName, errf("Abs.CertRegion.ValueNotSupported")
	}
	switch sp.certType {
	case "", "upload", "cas":
	case "free":
		// Free certificates (Live's) are not emulated.
		return sp.certName, errf("Certificate.NotFind")
	default:
		return sp.certName, errf("SetDomainCertificate.ParameterError")
	}

	now := s.certNow()
	staging := o.env && sp.env == "staging"
	if o.reference == refNone && sp.protocol == "on" {
		// An operation without a reference (SetLiveDomainCertificate: "If
		// you set this parameter to on, you must also specify the SSLPub
		// and SSLPri parameters", whatever CertType says) cannot name a
		// certificate in Certificate Management Service instead.
		switch {
		case sp.pub == "":
			return sp.certName, errf("SSLPub.MissingParameter")
		case sp.pri == "":
			return sp.certName, errf("SSLPri.MissingParameter")
		}
	}
	if sp.certType == "cas" && sp.protocol == "on" && o.reference != refNone {
		return s.applySetByReference(api, o, sp, now, staging)
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
		if !staging {
			s.edgeRemove(sp.domain)
		}
		return target.CertName, nil
	}

	b, e := s.checkPair(api, o, sp.pub, sp.pri, now)
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
		// Without a documented ForceSet a name taken by other content is
		// always Certificate.Duplicated; with one, ForceSet=1 overwrites
		// the name.
		if !(o.forceSet && sp.forceSet) {
			return name, errf("Certificate.Duplicated")
		}
	}
	rec = s.reg.nameLocked(name, fp)
	rec.fingerprint = fp
	// The products keep their uploads in CAS (cas.go).
	s.reg.putCASLocked(CASRegionHangzhou, name, rec.id, sp.pub, sp.pri, b.Leaf, api.action, now)
	s.installDomainCert(ent, sp.domain, staging, DomainCert{CertName: name, CertID: rec.id, CertPEM: sp.pub, Updated: now.UTC(),
		CertType: "upload", CertRegion: sp.certRegion}, b.Leaf, sp.pri)
	return name, nil
}

// installDomainCert turns HTTPS on with dc, its leaf-derived fields filled from
// leaf: in the domain's staging slot, or in production and on the edge
// with key. Callers hold s.reg.mu.
func (s *Sim) installDomainCert(ent *domainEntry, domain string, staging bool, dc DomainCert, leaf *x509.Certificate, key string) {
	dc.HTTPS = true
	describeLeaf(&dc, leaf)
	if staging {
		ent.staging = &dc
		return
	}
	ent.prod = dc
	s.edgeSet(domain, dc.CertPEM, key)
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
// domain accepts writes. An offline domain is answered the product's
// domainProduct.offline code.
func stateError(api apiSpec, state string) *apiError {
	switch state {
	case StateOffline:
		return newAPIError(api.product, lookupProduct(api.product).domains.offline)
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
func (s *Sim) checkPair(api apiSpec, o setSpec, pub, pri string, now time.Time) (*bundle.Bundle, *apiError) {
	errf := func(code string) *apiError { return newAPIError(api.product, code) }
	badPub, badPri := "InvalidSSLPub", "InvalidSSLPri"
	if o.legacy {
		badPub, badPri = "Certificate.FormatError", "Certificate.FormatError"
	}
	switch {
	case pub == "" && o.legacy:
		return nil, errf("Certificate.FormatError")
	case pub == "":
		return nil, errf("SSLPub.MissingParameter")
	case pri == "" && o.legacy:
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
	info := map[string]string{
		"DomainName":     domain,
		"CertName":       dc.CertName,
		"CertDomainName": dc.CommonName,
		"CertExpireTime": describeTime(dc.NotAfter),
		"CertLife":       certLife(dc.NotBefore, dc.NotAfter),
		"CertOrg":        dc.Issuer,
		"CertType":       dc.CertType,
		"Status":         "",
	}
	lookupProduct(api.product).domains.describe(info, dc)
	return map[string]any{
		"RequestId": requestID,
		"CertInfos": map[string]any{"CertInfo": []map[string]string{info}},
	}, nil
}

// applySetByReference installs a certificate of Certificate Management
// Service on a domain (CertType=cas, SSLProtocol=on), named as the
// operation's reference documents (setSpec.reference):
//
//   - refByID (SetCdnDomainSSLCertificate, SetDcdnDomainSSLCertificate):
//     CertId (required) and CertRegion (default cn-hangzhou); CertName is
//     ignored (the DCDN page: "only effective when CertType=upload").
//   - refByIDOrName (SetVodDomainSSLCertificate): CertId and CertRegion,
//     or CertName (in CertRegion) when CertId is absent; both given must
//     name the same certificate.
//   - refByName (SetDomainServerCertificate): CertName, looked up in
//     cn-hangzhou (its page documents no CertId nor CertRegion); its
//     ServerCertificate, when given, must be the referenced certificate's.
//   - refNone (SetLiveDomainCertificate) never gets here: its page
//     requires SSLPub and SSLPri with SSLProtocol=on
//     (SSLPub.MissingParameter, SSLPri.MissingParameter otherwise) and
//     documents no CertId, so its Set with CertType=cas is an upload of
//     the SSLPub and SSLPri it carries.
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
func (s *Sim) applySetByReference(api apiSpec, o setSpec, sp setParams, now time.Time, staging bool) (string, *apiError) {
	errf := func(code string) *apiError { return newAPIError(api.product, code) }
	region := sp.certRegion
	if region == "" || !o.certRegion {
		region = CASRegionHangzhou
	}
	var id int64
	if sp.certID != "" && (o.reference == refByID || o.reference == refByIDOrName) {
		n, err := strconv.ParseInt(sp.certID, 10, 64)
		if err != nil || n <= 0 {
			return sp.certName, errf("SetDomainCertificate.ParameterError").withMessage("The CertId must be a positive integer.")
		}
		id = n
	}
	switch {
	case o.reference == refByID && id == 0:
		return sp.certName, errf("SetDomainCertificate.ParameterError").withMessage("CertId is required when CertType is cas.")
	case (o.reference == refByName || o.reference == refByIDOrName) && id == 0 && sp.certName == "":
		return sp.certName, errf("CertName.MissingParameter")
	}
	cc, ok := s.lookupCAS(region, id, sp.certName)
	if !ok {
		return sp.certName, errf("Certificate.NotFind")
	}
	if o.reference == refByIDOrName && id != 0 && sp.certName != "" && sp.certName != cc.name {
		return sp.certName, errf("SetDomainCertificate.ParameterError").withMessage("The CertName is not the name of the certificate CertId.")
	}
	if now.After(cc.leaf.NotAfter) {
		return cc.name, errf("Certificate.Expired")
	}
	if o.legacy && sp.pub != "" {
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
	s.installDomainCert(ent, sp.domain, staging, DomainCert{CertName: cc.name, CertID: cc.id, CertPEM: cc.certPEM, Updated: now.UTC(),
		CertType: "cas", CertRegion: region}, cc.leaf, cc.key)
	return cc.name, nil
}

// describeTime renders a time as the Describe operations do; empty for the
// zero time.
func describeTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

// onOff renders whether HTTPS is on.
func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// sslProtocolFields are the Describe fields of the products whose
// reference names the state SSLProtocol and the chain SSLPub.
func sslProtocolFields(info map[string]string, dc DomainCert) {
	info["SSLProtocol"] = onOff(dc.HTTPS)
	info["SSLPub"] = dc.CertPEM
}

// serverCertificateFields are the Describe fields of the products whose
// reference names the state ServerCertificateStatus and the chain
// ServerCertificate, with the start and update times.
func serverCertificateFields(info map[string]string, dc DomainCert) {
	info["ServerCertificateStatus"] = onOff(dc.HTTPS)
	info["ServerCertificate"] = dc.CertPEM
	info["CertStartTime"] = describeTime(dc.NotBefore)
	info["CertUpdateTime"] = describeTime(dc.Updated)
	info["DomainCnameStatus"] = "ok"
}

// certIDFields are the Describe fields of the products that report the
// certificate's CAS CertId and region: Status "success" once a
// certificate is set, CertId, and CertRegion (cn-hangzhou by default).
func certIDFields(info map[string]string, dc DomainCert) {
	if dc.CertName != "" {
		info["Status"] = "success"
		info["CertId"] = strconv.FormatInt(dc.CertID, 10)
	}
	info["CertRegion"] = dc.CertRegion
	if info["CertRegion"] == "" && dc.CertName != "" {
		info["CertRegion"] = "cn-hangzhou"
	}
}
