package cloudsim

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/config"
)

// ProductCAS is Certificate Management Service (product cas, API version
// 2020-04-07, RPC style), served with the same V3 signature checks,
// quotas, fault injection and journal as the other OpenAPI products. The two regions are
// separate endpoints with separate stores, as cas.aliyuncs.com and
// cas.ap-southeast-1.aliyuncs.com are:
//
//	cn-hangzhou     the OpenAPI listener itself (Endpoints.OpenAPI,
//	                CERTDROP_CAS_ENDPOINT)
//	ap-southeast-1  its own listener (Endpoints.CASIntl,
//	                CERTDROP_CAS_AP_SOUTHEAST_1_ENDPOINT), which answers only
//	                the CAS actions (anything else: InvalidAction.NotFound)
//
// Certificate IDs are unique across both regions (one counter).
//
// A certificate uploaded through a domain product's Set operation
// (domaincert.go) with CertType=upload is stored in the cn-hangzhou store under its CertName,
// as the products keep their uploads in CAS (that is how every renewal
// leaves a certificate behind in the account): ListUserCertificateOrder
// lists it and its CertId is the one the CDN's Describe reports. A name is
// unique per region: the products' Certificate.Duplicated and CAS's
// CertNameAlreadyExists are the same check on the cn-hangzhou store.
//
// Actions, parameters (form or query strings) and response fields:
//
//	UploadUserCertificate     Name (required, at most 64 characters: the
//	                          current English reference says 64, the Chinese 63,
//	                          an older edition 128; the emulator takes 64),
//	                          Cert and Key (PEM; required here: the SM-certificate
//	                          parameters EncryptCert/SignCert are not emulated)
//	  -> CertId (integer), RequestId.
//	     Checks, in order: MissingName, InvalidParameter (name too long),
//	     MissingCert, MissingKey, Certificate.FormatError (Cert holds no
//	     certificate, or holds a key, or is longer than maxCertificateBytes),
//	     Key.Malformed (Key holds no single usable private key),
//	     Certificate.MissMatch (the key is not the certificate's),
//	     Certificate.Expired (the leaf's NotAfter is past, by CertificateClock),
//	     CertNameAlreadyExists (the name is taken in that region, whatever the
//	     content), QuotaExceeded.Certificate (cas.maxCertificates reached).
//	     The same content under another name is accepted (the reference
//	     documents no content check for CAS).
//	ListUserCertificateOrder  OrderType (default CPACK; CPACK and BUY list orders,
//	                          of which the emulator has none, so the list is empty;
//	                          UPLOAD lists uploaded certificates; CERT lists issued
//	                          and uploaded ones, here the same), Status (ISSUED,
//	                          WILLEXPIRED: within 30 days of NotAfter, EXPIRED; empty
//	                          means ISSUED and WILLEXPIRED, as documented: an expired
//	                          certificate is listed only with Status=EXPIRED),
//	                          Keyword (case-insensitive substring of the name, the
//	                          common name, a SAN, or the decimal CertificateId),
//	                          CurrentPage (default 1), ShowSize (default 50, at least 1)
//	  -> RequestId, TotalCount, CurrentPage, ShowSize, CertificateOrderList[]:
//	     CertificateId (integer), Name, CommonName, Sans (comma-separated),
//	     Fingerprint (SHA-1 of the leaf DER, upper-case hex, no colons),
//	     Sha2 (SHA-256 of the leaf DER, upper-case hex: lower-case it to
//	     compare with bundle.Fingerprint), SerialNo (lower-case hex, as
//	     big.Int.Text(16)), Issuer, OrgName, StartDate and EndDate
//	     ("2006-01-02", a date without a zone: the reference does not say in
//	     which zone CAS writes it; the emulator writes China Standard Time,
//	     UTC+8, casDateZone, so that a client comparing it with a UTC date
//	     fails on every certificate that expires after 16:00 UTC),
//	     Expired (bool), Status (ISSUED|WILLEXPIRED|EXPIRED), Upload (true),
//	     SourceType ("upload"), Algorithm (RSA|ECC), KeySize, InstanceId
//	     ("<CertificateId>-<region>"), ResourceGroupId (""). Newest first.
//	     CertStartTime and CertEndTime (Unix milliseconds) too, although the
//	     cas-20200407 SDK documents them "only if OrderType is set to CPACK
//	     or BUY" (and Sha2 "only if OrderType is set to CERT or UPLOAD"):
//	     a real listing of uploads may give the dates only as StartDate and
//	     EndDate, so certdrop recognises its uploads by Sha2, not by date.
//	GetUserCertificateDetail  CertId (required), CertFilter (true: leave Cert and Key
//	                          out)
//	  -> RequestId, Id, Name, Common, Sans, Fingerprint (SHA-1, as above), Sha2,
//	     SerialNo, Issuer, OrgName, StartDate, EndDate, NotBefore and NotAfter
//	     (Unix milliseconds), Expired, Algorithm, KeySize, BuyInAliyun (false),
//	     Cert (the chain as uploaded) and Key: THE PRIVATE KEY, returned unless
//	     CertFilter=true, as the reference documents ("obtains the details of a
//	     certificate, including ... the private key"). The journal marks such
//	     an answer KeyReturned. A certificate stored by a product Set or seeded
//	     without its key answers Key "".
//	DeleteUserCertificate     CertId (required)
//	  -> RequestId. The reference documents no refusal for a certificate a domain
//	     carries, so the emulator deletes it; the domains keep what they carry
//	     (their Describe is unchanged), but a later Set by reference to it
//	     answers Certificate.NotFind.
//
// Errors: MissingCertId, InvalidParameter (a CertId, CurrentPage or ShowSize
// that is not a positive integer, a Status or OrderType outside the lists
// above), NotFound ("The certificate does not exist.", for an unknown
// CertId in that region), plus the gateway's (signature, Forbidden.RAM,
// Throttling.User and the injected faults). The reference pages list only
// common errors for these actions, so every CAS-specific code above is the
// emulator's choice, named from the vocabulary the products' pages use.
//
// Quotas (per account, per second): UploadUserCertificate 100,
// GetUserCertificateDetail 100, DeleteUserCertificate 100,
// ListUserCertificateOrder 10, as each page's "QPS limit" documents.
//
// Journal: Service "cas", Region the store's region, Domain the Name
// (UploadUserCertificate), the CertId (GetUserCertificateDetail,
// DeleteUserCertificate) or the Keyword (ListUserCertificateOrder), so that
// faults.scripted can target an upload by name (or every call with domain
// "*"); CertID the certificate's ID (assigned, on a successful upload).
// Every OpenAPI entry whose request carried a private key (Key, SSLPri,
// PrivateKey) has KeySent true, refused or not, and a
// GetUserCertificateDetail that answered the key has KeyReturned true: so
// a test counts how often a key crossed the wire. The key itself is never
// journaled.
//
// For tests: Sim.CASCertificates(region) lists a store (without keys),
// Sim.CarriedBy(region, id) who carries a certificate (domains of every
// product, OSS custom domains), Journal.KeysSent counts key crossings.
// Config.CAS seeds certificates (cas.certificates: region, name,
// certFile, keyFile) and caps a region (cas.maxCertificates);
// Config.CertificateClock moves the expiry clock (Status, Expired,
// Certificate.Expired).
//
// Sources: https://www.alibabacloud.com/help/en/ssl-certificate/developer-reference/api-cas-2020-04-07-uploadusercertificate
// (and the Chinese edition help.aliyun.com document 465111),
// -listusercertificateorder (document 455804), -getusercertificatedetail,
// -deleteusercertificate ("deletes an expired or uploaded certificate");
// response field names as the cas-20200407 Go SDK reads them in public
// code (CertificateId, Name, Sans, SerialNo, StartDate, EndDate, Expired,
// CommonName, Fingerprint, Issuer, OrgName).
const ProductCAS = "cas"

// casProduct registers Certificate Management Service. Its quotas are
// each page's "QPS limit".
func casProduct() productSpec {
	return productSpec{
		name: ProductCAS, code: "cas", host: "cas.aliyuncs.com",
		hostIn: map[string]string{CASRegionSingapore: "cas.ap-southeast-1.aliyuncs.com"},
		// The OpenAPI listener is the cn-hangzhou endpoint; Sim.Env adds
		// the ap-southeast-1 one.
		env:    []string{config.CASEndpoint},
		errors: casErrors(),
		actions: []apiSpec{
			{action: "UploadUserCertificate", version: "2020-04-07", quota: 100, handle: (*Sim).casUpload,
				journal: casJournal(func(p url.Values) string { return p.Get("Name") })},
			{action: "ListUserCertificateOrder", version: "2020-04-07", quota: 10, handle: (*Sim).casList,
				journal: casJournal(func(p url.Values) string { return p.Get("Keyword") })},
			{action: "GetUserCertificateDetail", version: "2020-04-07", quota: 100, handle: (*Sim).casDetail,
				journal: casJournal(func(p url.Values) string { return p.Get("CertId") })},
			{action: "DeleteUserCertificate", version: "2020-04-07", quota: 100, handle: (*Sim).casDelete,
				journal: casJournal(func(p url.Values) string { return p.Get("CertId") })},
		},
	}
}

// casErrors are the codes of Certificate Management Service: the
// emulator's choices (see ProductCAS), and the products' certificate
// codes it shares.
func casErrors() map[string]knownError {
	return map[string]knownError{
		"MissingName":               {400, "Name is mandatory for this action."},
		"MissingCert":               {400, "Cert is mandatory for this action."},
		"MissingKey":                {400, "Key is mandatory for this action."},
		"MissingCertId":             {400, "CertId is mandatory for this action."},
		"Key.Malformed":             {400, "The specified Key format is invalid."},
		"CertNameAlreadyExists":     {400, "The CertName already exists."},
		"QuotaExceeded.Certificate": {400, "The number of certificates exceeds the quota."},
		"NotFound":                  {400, "The certificate does not exist."},
		"InvalidParameter":          {400, "The specified parameter is invalid."},
		"Certificate.FormatError":   {400, "The format of the certificate is invalid."},
		"Certificate.MissMatch":     {400, "The SSLPri does not match the certificate."},
		"Certificate.Expired":       {400, "The certificate has expired."},
	}
}

// casJournal records a CAS call's region (the endpoint's) and, as its
// Domain, what names the certificate: the fault rules match on it.
func casJournal(name func(url.Values) string) func(*Sim, *call, url.Values) {
	return func(_ *Sim, c *call, p url.Values) {
		c.entry.Region = c.region
		c.entry.Domain = name(p)
	}
}

// The CAS regions, each its own endpoint and store.
const (
	CASRegionHangzhou  = "cn-hangzhou"
	CASRegionSingapore = "ap-southeast-1"
)

// maxCASName is the longest UploadUserCertificate Name accepted.
const maxCASName = 64

// casWillExpire is how close to NotAfter a certificate is WILLEXPIRED.
const casWillExpire = 30 * 24 * time.Hour

// casRegions lists the regions in a fixed order.
func casRegions() []string { return []string{CASRegionHangzhou, CASRegionSingapore} }

// validCASRegion reports whether region is one of casRegions.
func validCASRegion(region string) bool { return slices.Contains(casRegions(), region) }

// casCert is one certificate in a CAS store. key is the private key as
// uploaded, kept only to answer GetUserCertificateDetail; it is never
// journaled, logged or exported.
type casCert struct {
	id       int64
	name     string
	region   string
	certPEM  string
	key      string
	leaf     *x509.Certificate
	uploaded time.Time
	// via is the action that stored it: UploadUserCertificate, or the
	// product Set that uploaded it.
	via string
}

// CASCertificate is what the emulator's CAS store holds for one
// certificate, for tests: everything but the private key.
type CASCertificate struct {
	ID     int64
	Name   string
	Region string
	// CertPEM is the chain as uploaded.
	CertPEM string
	// Fingerprint is the lower-case hex SHA-256 of the leaf, as
	// bundle.Fingerprint computes it.
	Fingerprint string
	NotBefore   time.Time
	NotAfter    time.Time
	CommonName  string
	SANs        []string
	// HasKey reports whether the store holds the private key.
	HasKey bool
	// Via is the action that stored it.
	Via      string
	Uploaded time.Time
}

func (c *casCert) public() CASCertificate {
	return CASCertificate{
		ID: c.id, Name: c.name, Region: c.region, CertPEM: c.certPEM,
		Fingerprint: bundle.Fingerprint(c.leaf), NotBefore: c.leaf.NotBefore.UTC(), NotAfter: c.leaf.NotAfter.UTC(),
		CommonName: c.leaf.Subject.CommonName, SANs: append([]string(nil), c.leaf.DNSNames...),
		HasKey: c.key != "", Via: c.via, Uploaded: c.uploaded,
	}
}

// covers reports whether the certificate's SANs (or, without SANs, its
// common name) cover domain. A CDN wildcard domain ".example.com" is
// covered by "*.example.com".
func (c *casCert) covers(domain string) bool {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	if strings.HasPrefix(domain, ".") {
		domain = "*" + domain
	}
	names := c.leaf.DNSNames
	if len(names) == 0 && c.leaf.Subject.CommonName != "" {
		names = []string{c.leaf.Subject.CommonName}
	}
	for _, n := range names {
		n = strings.ToLower(n)
		if n == domain {
			return true
		}
		// "*.example.com" covers "www.example.com", not "a.b.example.com"
		// nor "example.com".
		if rest, ok := strings.CutPrefix(n, "*."); ok && !strings.HasPrefix(domain, "*.") {
			if _, parent, ok := strings.Cut(domain, "."); ok && parent == rest {
				return true
			}
		}
	}
	return false
}

// casStatus is the certificate's Status at now.
func (c *casCert) status(now time.Time) string {
	switch {
	case now.After(c.leaf.NotAfter):
		return "EXPIRED"
	case c.leaf.NotAfter.Sub(now) <= casWillExpire:
		return "WILLEXPIRED"
	}
	return "ISSUED"
}

// casRegion is one region's store.
type casRegion struct {
	byID   map[int64]*casCert
	byName map[string]*casCert
}

func newCASRegion() *casRegion {
	return &casRegion{byID: map[int64]*casCert{}, byName: map[string]*casCert{}}
}

// casLocked returns region's store. Callers hold r.mu.
func (r *registry) casLocked(region string) *casRegion {
	if r.cas == nil {
		r.cas = map[string]*casRegion{}
	}
	st := r.cas[region]
	if st == nil {
		st = newCASRegion()
		r.cas[region] = st
	}
	return st
}

// putCASLocked stores (or, for an existing name, replaces the content of)
// a certificate under name in region, keeping the name's ID. Callers hold
// r.mu.
func (r *registry) putCASLocked(region, name string, id int64, certPEM, key string, leaf *x509.Certificate, via string, now time.Time) *casCert {
	st := r.casLocked(region)
	if c := st.byName[name]; c != nil {
		c.certPEM, c.key, c.leaf, c.via, c.uploaded = certPEM, key, leaf, via, now.UTC()
		return c
	}
	if id == 0 {
		r.nextID++
		id = r.nextID
	}
	c := &casCert{id: id, name: name, region: region, certPEM: certPEM, key: key, leaf: leaf, uploaded: now.UTC(), via: via}
	st.byID[id] = c
	st.byName[name] = c
	return c
}

// casCertCount counts the certificates of region. Callers hold r.mu.
func (r *registry) casCountLocked(region string) int { return len(r.casLocked(region).byID) }

// CASSettings configures Certificate Management Service.
type CASSettings struct {
	// MaxCertificates caps the certificates one region holds; an upload
	// past it answers QuotaExceeded.Certificate. 0 means no cap.
	MaxCertificates int `yaml:"maxCertificates"`
	// Certificates are in the stores before any call.
	Certificates []SeedCASCert `yaml:"certificates"`
}

// SeedCASCert is a certificate in CAS before any call.
type SeedCASCert struct {
	// Region is cn-hangzhou (the default) or ap-southeast-1.
	Region string `yaml:"region"`
	Name   string `yaml:"name"`
	// Cert is the PEM chain; CertFile a file holding it, relative to the
	// configuration file. Key (KeyFile) is the private key, optional.
	Cert     string `yaml:"cert"`
	CertFile string `yaml:"certFile"`
	Key      string `yaml:"key"`
	KeyFile  string `yaml:"keyFile"`
}

// casUpload answers UploadUserCertificate in the endpoint's region.
func (s *Sim) casUpload(c *call, p url.Values) (any, *apiError) {
	errf := func(code string) *apiError { return newAPIError(ProductCAS, code) }
	region := c.region
	now := s.certNow()
	name, certPEM, key := p.Get("Name"), p.Get("Cert"), p.Get("Key")
	switch {
	case name == "":
		return nil, errf("MissingName")
	case len([]rune(name)) > maxCASName:
		return nil, errf("InvalidParameter").withMessage("The Name cannot be longer than 64 characters.")
	case certPEM == "":
		return nil, errf("MissingCert")
	case key == "":
		return nil, errf("MissingKey")
	}
	b, e := s.checkCASPair(certPEM, key, now)
	if e != nil {
		return nil, e
	}
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	st := s.reg.casLocked(region)
	taken := st.byName[name] != nil
	var id int64
	if region == CASRegionHangzhou {
		// The products' certificate names are the cn-hangzhou names.
		if rec := s.reg.names[name]; rec != nil {
			taken = true
		}
	}
	if taken {
		return nil, errf("CertNameAlreadyExists")
	}
	if max := s.cfg.CAS.MaxCertificates; max > 0 && s.reg.casCountLocked(region) >= max {
		return nil, errf("QuotaExceeded.Certificate")
	}
	if region == CASRegionHangzhou {
		rec := s.reg.nameLocked(name, bundle.Fingerprint(b.Leaf))
		id = rec.id
	}
	cc := s.reg.putCASLocked(region, name, id, certPEM, key, b.Leaf, c.api.action, now)
	c.entry.CertID = strconv.FormatInt(cc.id, 10)
	return map[string]any{"RequestId": c.entry.RequestID, "CertId": cc.id}, nil
}

// casList answers ListUserCertificateOrder in the endpoint's region.
func (s *Sim) casList(c *call, p url.Values) (any, *apiError) {
	errf := func(code string) *apiError { return newAPIError(ProductCAS, code) }
	region := c.region
	now := s.certNow()
	orderType := p.Get("OrderType")
	if orderType == "" {
		orderType = "CPACK"
	}
	switch orderType {
	case "CPACK", "BUY", "UPLOAD", "CERT":
	default:
		return nil, errf("InvalidParameter").withMessage("The OrderType is invalid.")
	}
	status := p.Get("Status")
	switch status {
	case "", "ISSUED", "WILLEXPIRED", "EXPIRED":
	case "PAYED", "CHECKING", "CHECKED_FAIL", "NOTACTIVATED", "REVOKED":
		// Order statuses: no certificate has them.
	default:
		return nil, errf("InvalidParameter").withMessage("The Status is invalid.")
	}
	pageNo, e := casPositive(p, "CurrentPage", 1)
	if e != nil {
		return nil, e
	}
	size, e := casPositive(p, "ShowSize", 50)
	if e != nil {
		return nil, e
	}
	kw := strings.ToLower(p.Get("Keyword"))
	var items []map[string]any
	if orderType == "UPLOAD" || orderType == "CERT" {
		s.reg.mu.Lock()
		var certs []*casCert
		for _, cc := range s.reg.casLocked(region).byID {
			certs = append(certs, cc)
		}
		s.reg.mu.Unlock()
		slices.SortFunc(certs, func(a, b *casCert) int {
			if c := b.uploaded.Compare(a.uploaded); c != 0 {
				return c
			}
			return int(b.id - a.id)
		})
		for _, cc := range certs {
			st := cc.status(now)
			if status == "" && st == "EXPIRED" || status != "" && st != status {
				continue
			}
			if kw != "" && !cc.matches(kw) {
				continue
			}
			items = append(items, cc.listItem(now))
		}
	}
	total := len(items)
	items = slicePage(items, pageNo, size)
	if items == nil {
		items = []map[string]any{}
	}
	return map[string]any{
		"RequestId": c.entry.RequestID, "TotalCount": total, "CurrentPage": pageNo, "ShowSize": size,
		"CertificateOrderList": items,
	}, nil
}

// casCertOf reads a call's CertId, journals it, and finds the
// certificate in the endpoint's region. Callers hold s.reg.mu.
func (s *Sim) casCertOf(c *call, p url.Values) (*casRegion, *casCert, *apiError) {
	raw := p.Get("CertId")
	if raw == "" {
		return nil, nil, newAPIError(ProductCAS, "MissingCertId")
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return nil, nil, newAPIError(ProductCAS, "InvalidParameter").withMessage("The CertId must be a positive integer.")
	}
	c.entry.CertID = raw
	st := s.reg.casLocked(c.region)
	cc := st.byID[id]
	if cc == nil {
		return nil, nil, newAPIError(ProductCAS, "NotFound")
	}
	return st, cc, nil
}

// casDetail answers GetUserCertificateDetail in the endpoint's region:
// with the chain and THE PRIVATE KEY unless CertFilter=true.
func (s *Sim) casDetail(c *call, p url.Values) (any, *apiError) {
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	_, cc, e := s.casCertOf(c, p)
	if e != nil {
		return nil, e
	}
	d := cc.detail(s.certNow())
	d["RequestId"] = c.entry.RequestID
	if p.Get("CertFilter") != "true" {
		d["Cert"] = cc.certPEM
		d["Key"] = cc.key
		c.entry.KeyReturned = cc.key != ""
	}
	return d, nil
}

// casDelete answers DeleteUserCertificate in the endpoint's region; a
// cn-hangzhou certificate's name is free again for the products.
func (s *Sim) casDelete(c *call, p url.Values) (any, *apiError) {
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	st, cc, e := s.casCertOf(c, p)
	if e != nil {
		return nil, e
	}
	delete(st.byID, cc.id)
	delete(st.byName, cc.name)
	if c.region == CASRegionHangzhou {
		delete(s.reg.names, cc.name)
	}
	return map[string]any{"RequestId": c.entry.RequestID}, nil
}

// casPositive reads an optional positive integer parameter.
func casPositive(p url.Values, name string, def int) (int, *apiError) {
	raw := p.Get(name)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		return 0, newAPIError(ProductCAS, "InvalidParameter").withMessage("The " + name + " must be a positive integer.")
	}
	return n, nil
}

// checkCASPair validates an upload's certificate and key with the bundle
// parser.
func (s *Sim) checkCASPair(certPEM, key string, now time.Time) (*bundle.Bundle, *apiError) {
	errf := func(code string) *apiError { return newAPIError(ProductCAS, code) }
	if len(certPEM) > s.maxCertBytes || !strings.Contains(certPEM, "-----BEGIN CERTIFICATE-----") ||
		strings.Contains(certPEM, "PRIVATE KEY-----") {
		return nil, errf("Certificate.FormatError")
	}
	if !strings.Contains(key, "PRIVATE KEY-----") || strings.Contains(key, "-----BEGIN CERTIFICATE-----") {
		return nil, errf("Key.Malformed")
	}
	b, err := bundle.Parse([]bundle.Source{{Name: "Cert", Data: []byte(certPEM)}, {Name: "Key", Data: []byte(key)}},
		bundle.Options{MaxSize: int64(s.maxCertBytes) + maxOpenAPIBody})
	if err != nil {
		var be *bundle.Error
		switch {
		case errors.As(err, &be) && errors.Is(err, bundle.ErrKeyMismatch):
			return nil, errf("Certificate.MissMatch")
		case errors.Is(err, bundle.ErrNoKey), errors.Is(err, bundle.ErrEncryptedKey),
			errors.Is(err, bundle.ErrUnsupportedKey), errors.Is(err, bundle.ErrMultipleKeys):
			return nil, errf("Key.Malformed")
		case be != nil && be.Source == "Key":
			return nil, errf("Key.Malformed")
		default:
			return nil, errf("Certificate.FormatError")
		}
	}
	if now.After(b.Leaf.NotAfter) {
		return nil, errf("Certificate.Expired")
	}
	return b, nil
}

// matches reports whether kw (lower case) is in the name, the common
// name, a SAN or the ID.
func (c *casCert) matches(kw string) bool {
	if strings.Contains(strings.ToLower(c.name), kw) || strings.Contains(strings.ToLower(c.leaf.Subject.CommonName), kw) ||
		strings.Contains(strconv.FormatInt(c.id, 10), kw) {
		return true
	}
	return slices.ContainsFunc(c.leaf.DNSNames, func(n string) bool { return strings.Contains(strings.ToLower(n), kw) })
}

// casFingerprints returns the SHA-1 and SHA-256 of the leaf, upper-case hex.
func casFingerprints(leaf *x509.Certificate) (sha1Hex, sha2Hex string) {
	s1 := sha1.Sum(leaf.Raw)
	s2 := sha256.Sum256(leaf.Raw)
	return strings.ToUpper(hex.EncodeToString(s1[:])), strings.ToUpper(hex.EncodeToString(s2[:]))
}

// keyInfo names the leaf's key algorithm and size.
func keyInfo(leaf *x509.Certificate) (string, int) {
	switch k := leaf.PublicKey.(type) {
	case *rsa.PublicKey:
		return "RSA", k.N.BitLen()
	case *ecdsa.PublicKey:
		return "ECC", k.Curve.Params().BitSize
	case ed25519.PublicKey:
		return "ED25519", 256
	}
	return "", 0
}

// casDateZone is the zone the emulator writes StartDate and EndDate in:
// the reference gives them as dates without a zone and does not say which;
// China Standard Time is the emulator's choice.
var casDateZone = time.FixedZone("CST", 8*60*60)

// common fields of a list item and a detail answer.
func (c *casCert) fields(now time.Time) map[string]any {
	s1, s2 := casFingerprints(c.leaf)
	alg, size := keyInfo(c.leaf)
	org := ""
	if len(c.leaf.Subject.Organization) > 0 {
		org = c.leaf.Subject.Organization[0]
	}
	issuer := c.leaf.Issuer.CommonName
	if len(c.leaf.Issuer.Organization) > 0 {
		issuer = c.leaf.Issuer.Organization[0]
	}
	return map[string]any{
		"Name":        c.name,
		"Sans":        strings.Join(c.leaf.DNSNames, ","),
		"Fingerprint": s1,
		"Sha2":        s2,
		"SerialNo":    c.leaf.SerialNumber.Text(16),
		"Issuer":      issuer,
		"OrgName":     org,
		"StartDate":   c.leaf.NotBefore.In(casDateZone).Format("2006-01-02"),
		"EndDate":     c.leaf.NotAfter.In(casDateZone).Format("2006-01-02"),
		"Expired":     now.After(c.leaf.NotAfter),
		"Algorithm":   alg,
		"KeySize":     size,
	}
}

func (c *casCert) listItem(now time.Time) map[string]any {
	m := c.fields(now)
	m["CertificateId"] = c.id
	m["CommonName"] = c.leaf.Subject.CommonName
	m["CertStartTime"] = c.leaf.NotBefore.UnixMilli()
	m["CertEndTime"] = c.leaf.NotAfter.UnixMilli()
	m["Status"] = c.status(now)
	m["Upload"] = true
	m["SourceType"] = "upload"
	m["InstanceId"] = strconv.FormatInt(c.id, 10) + "-" + c.region
	m["ResourceGroupId"] = ""
	return m
}

func (c *casCert) detail(now time.Time) map[string]any {
	m := c.fields(now)
	m["Id"] = c.id
	m["Common"] = c.leaf.Subject.CommonName
	m["NotBefore"] = c.leaf.NotBefore.UnixMilli()
	m["NotAfter"] = c.leaf.NotAfter.UnixMilli()
	m["BuyInAliyun"] = false
	return m
}

// lookupCAS returns a copy of the certificate id of region, or the one
// named name when id is 0; ok is false when there is none.
func (s *Sim) lookupCAS(region string, id int64, name string) (casCert, bool) {
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	st := s.reg.casLocked(region)
	var c *casCert
	if id != 0 {
		c = st.byID[id]
	} else {
		c = st.byName[name]
	}
	if c == nil {
		return casCert{}, false
	}
	return *c, true
}

// CASCertificates lists what the CAS store of region holds, oldest first,
// without private keys.
func (s *Sim) CASCertificates(region string) []CASCertificate {
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	var out []CASCertificate
	for _, c := range s.reg.casLocked(region).byID {
		out = append(out, c.public())
	}
	slices.SortFunc(out, func(a, b CASCertificate) int { return int(a.ID - b.ID) })
	return out
}

// seedCAS installs the configured certificates.
func (s *Sim) seedCAS() error {
	now := s.certNow()
	for i, sc := range s.cfg.CAS.Certificates {
		region := sc.Region
		if region == "" {
			region = CASRegionHangzhou
		}
		leaf, ok := firstCertificate(sc.Cert)
		if !ok {
			return fmt.Errorf("cas.certificates[%d]: cert holds no parsable certificate", i)
		}
		s.reg.mu.Lock()
		var id int64
		if region == CASRegionHangzhou {
			id = s.reg.nameLocked(sc.Name, bundle.Fingerprint(leaf)).id
		}
		s.reg.putCASLocked(region, sc.Name, id, sc.Cert, sc.Key, leaf, "seed", now)
		s.reg.mu.Unlock()
	}
	return nil
}

// CarriedBy lists who carries the CAS certificate id of region, by
// reference or as the product's own copy of an upload: "cdn/www.example.com",
// "dcdn/.example.com (staging)" for a production or Env=staging
// configuration, "oss/<bucket>/<domain>" for a custom domain, and
// "alb/<listener>" ("nlb/...", " (additional)" for an additional
// certificate) for a load balancer listener. A test of
// pruning asserts with it that no deleted certificate was carried. Only
// the ID counts: a cn-hangzhou upload through a product Set has the CAS ID
// of its name.
func (s *Sim) CarriedBy(region string, id int64) []string {
	var out []string
	s.reg.mu.Lock()
	for k, ent := range s.reg.domains {
		match := func(dc DomainCert) bool {
			r := dc.CertRegion
			if r == "" || dc.CertType != "cas" {
				r = CASRegionHangzhou
			}
			return dc.CertID == id && dc.CertName != "" && r == region
		}
		if match(ent.prod) {
			out = append(out, k)
		}
		if ent.staging != nil && match(*ent.staging) {
			out = append(out, k+" (staging)")
		}
	}
	s.reg.mu.Unlock()
	if s.lbs != nil {
		want := strconv.FormatInt(id, 10) + "-" + region
		s.lbs.mu.Lock()
		for k, l := range s.lbs.listeners {
			if l.def == want || l.pendingDef == want {
				out = append(out, k)
			}
			for _, c := range l.certs {
				if c.id == want && !c.removing {
					out = append(out, k+" (additional)")
				}
			}
		}
		s.lbs.mu.Unlock()
	}
	if s.oss != nil {
		want := strconv.FormatInt(id, 10) + "-" + region
		s.oss.cnameMu.Lock()
		for b, m := range s.oss.cnames {
			for d, cn := range m {
				if cn.cert != nil && cn.cert.typ == "CAS" && cn.cert.certID == want {
					out = append(out, "oss/"+b+"/"+d)
				}
			}
		}
		s.oss.cnameMu.Unlock()
	}
	slices.Sort(out)
	return out
}
