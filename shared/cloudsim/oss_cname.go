package cloudsim

// OSS custom domains (CNAME) with certificates, in the OSS emulator, with
// the V4 signature checks of every other OSS call. The requests are those
// aliyun-oss-go-sdk v3.0.2 sends (client.go: PutBucketCnameWithCertificate,
// PutBucketCname, ListBucketCname / GetBucketCname, DeleteBucketCname):
//
//	PutCname     POST /<bucket>/?cname&comp=add, body
//	             <BucketCnameConfiguration><Cname><Domain>d</Domain>
//	               <CertificateConfiguration> CertId | Certificate+PrivateKey,
//	               PreviousCertId, Force, DeleteCertificate
//	             </CertificateConfiguration></Cname></BucketCnameConfiguration>
//	  -> 200, empty body.
//	     CertId is a CAS certificate as OSS writes it, "<id>-<region>"
//	     (493****-cn-hangzhou): it must exist in that region's CAS store
//	     (cas.go), not be expired, and cover the domain. Certificate and
//	     PrivateKey are a PEM chain and its key: they must parse and match
//	     and the leaf must cover the domain and not be expired; the
//	     certificate is stored with the domain (Type "Upload") under a new ID
//	     (not in the CAS stores: the emulator's choice). A domain that
//	     already carries a certificate is replaced only with Force=true or a
//	     PreviousCertId equal to its current CertId; a PreviousCertId that
//	     differs answers even with Force (the 0018-00000209 page: "if the
//	     request contains PreviousCertId, OSS checks that it matches").
//	     Without CertificateConfiguration the domain is bound and a
//	     certificate it carries is kept; DeleteCertificate=true removes it.
//	     Errors (HTTP 400 unless noted): NoSuchBucket (404),
//	     MalformedXML (a body that is not the document above), InvalidArgument
//	     with messages for: no Domain, CertId and Certificate both given,
//	     Certificate without PrivateKey or the reverse, a CertId not shaped
//	     "<id>-<region>" or in an unknown region, a CertId not in CAS ("The
//	     certificate does not exist."), a certificate or key that does not
//	     parse, a key that does not match, an expired certificate, a
//	     certificate that does not cover the domain, a replaced certificate
//	     without Force nor PreviousCertId, and a PreviousCertId that is not
//	     the current one (the message names 0018-00000209); CnameAlreadyExists (409) when
//	     another bucket has the domain.
//	ListCname    GET /<bucket>/?cname (the SDK's ListBucketCname and GetBucketCname;
//	             OSS has no GetCname for one domain)
//	  -> <ListCnameResult><Bucket/><Owner/> <Cname>* with Domain, LastModified
//	     (2006-01-02T15:04:05.000Z), Status (Enabled), and, when the domain has
//	     a certificate, Certificate: Type (CAS|Upload), CertId ("<id>-<region>"
//	     for CAS, "<id>-cn-hangzhou" for an upload), Status (Enabled),
//	     CreationDate, Fingerprint (SHA-1 of the leaf, upper-case hex pairs
//	     joined by colons, as the ListCname reference shows), ValidStartDate,
//	     ValidEndDate (both RFC 1123, GMT, with the day unpadded, as the OSS
//	     SDK's ListCname fixture writes "Mon, 4 May 2048 10:14:51 GMT":
//	     cnameDateFormat; a client that reads only a two-digit day fails
//	     on the first nine days of every month).
//	DeleteCname  POST /<bucket>/?cname&comp=delete with the Domain
//	  -> 200; NoSuchCname (404) when the bucket does not have it.
//
// Not emulated: CreateCnameToken / GetCnameToken and the domain ownership
// check (the TXT record _dnsauth.<domain>): PutCname binds any domain. They
// answer NotImplemented (501).
//
// Journal: Service "oss", API PutCname, ListCname or DeleteCname, Domain the
// bucket, Key the custom domain, CertID the CertId given, KeySent when the
// request's body carried a PrivateKey (recorded even when the request is
// refused, by signature or otherwise).
//
// Sources: https://www.alibabacloud.com/help/en/oss/developer-reference/putcname
// (request elements CertId "493****-cn-hangzhou", Certificate, PrivateKey,
// PreviousCertId, Force, DeleteCertificate), the listcname page of the same
// reference (response elements), https://help.aliyun.com/zh/oss/user-guide/0018-00000209
// (PreviousCertId mismatch), and the SDK source named above.

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
)

// maxCnameBody caps a PutCname body: a chain and a key are a few kilobytes.
const maxCnameBody = 256 << 10

// ossCname is one custom domain of a bucket.
type ossCname struct {
	domain   string
	modified time.Time
	cert     *ossCnameCert
}

// ossCnameCert is the certificate a custom domain carries.
type ossCnameCert struct {
	typ     string // "CAS" or "Upload"
	certID  string // "<id>-<region>"
	leaf    *x509.Certificate
	created time.Time
}

// OSSCnameCert is what a bucket's custom domain carries, for tests.
type OSSCnameCert struct {
	// Type is "CAS" or "Upload".
	Type string
	// CertID is "<id>-<region>".
	CertID string
	// Fingerprint is the lower-case hex SHA-256 of the leaf, as
	// bundle.Fingerprint computes it.
	Fingerprint string
	NotAfter    time.Time
}

// putCnameXML is the PutCname body.
type putCnameXML struct {
	XMLName xml.Name `xml:"BucketCnameConfiguration"`
	Cname   struct {
		Domain string `xml:"Domain"`
		Cert   *struct {
			CertID            string `xml:"CertId"`
			Certificate       string `xml:"Certificate"`
			PrivateKey        string `xml:"PrivateKey"`
			PreviousCertID    string `xml:"PreviousCertId"`
			Force             bool   `xml:"Force"`
			DeleteCertificate bool   `xml:"DeleteCertificate"`
		} `xml:"CertificateConfiguration"`
	} `xml:"Cname"`
}

type listCnameXML struct {
	XMLName xml.Name       `xml:"ListCnameResult"`
	Bucket  string         `xml:"Bucket"`
	Owner   string         `xml:"Owner"`
	Cname   []cnameItemXML `xml:"Cname"`
}

type cnameItemXML struct {
	Domain       string        `xml:"Domain"`
	LastModified string        `xml:"LastModified"`
	Status       string        `xml:"Status"`
	Certificate  *cnameCertXML `xml:"Certificate,omitempty"`
}

type cnameCertXML struct {
	Type           string `xml:"Type"`
	CertID         string `xml:"CertId"`
	Status         string `xml:"Status"`
	CreationDate   string `xml:"CreationDate"`
	Fingerprint    string `xml:"Fingerprint"`
	ValidStartDate string `xml:"ValidStartDate"`
	ValidEndDate   string `xml:"ValidEndDate"`
}

// cnameRequest is what the journal needs from a CNAME request, read
// before authentication so that a refused request carrying a key counts.
type cnameRequest struct {
	body    []byte
	domain  string
	certID  string
	keySent bool
	tooBig  bool
}

// peekCname reads a PutCname/DeleteCname body once, within maxCnameBody.
func peekCname(r *http.Request) *cnameRequest {
	cr := &cnameRequest{}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxCnameBody+1))
	if err != nil || len(data) > maxCnameBody {
		cr.tooBig = true
		return cr
	}
	cr.body = data
	var doc putCnameXML
	if xml.Unmarshal(data, &doc) == nil {
		cr.domain = strings.ToLower(strings.TrimSpace(doc.Cname.Domain))
		if c := doc.Cname.Cert; c != nil {
			cr.certID = c.CertID
			cr.keySent = c.PrivateKey != ""
		}
	} else {
		cr.keySent = bytes.Contains(data, []byte("PRIVATE KEY"))
	}
	return cr
}

// cnameFingerprint is the SHA-1 of the leaf as ListCname shows it.
func cnameFingerprint(leaf *x509.Certificate) string {
	sum := sha1.Sum(leaf.Raw)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	parts := make([]string, 0, len(h)/2)
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}

func badArg(msg string) *ossError {
	return &ossError{http.StatusBadRequest, "InvalidArgument", msg}
}

// putCname answers PutCname.
func (o *OSS) putCname(w http.ResponseWriter, bucket string, cr *cnameRequest) *ossError {
	if !o.store.hasBucket(bucket) {
		return errNoSuchBucket
	}
	if cr.tooBig {
		return &ossError{http.StatusBadRequest, "EntityTooLarge", "The request body is too large."}
	}
	var doc putCnameXML
	if err := xml.Unmarshal(cr.body, &doc); err != nil {
		return &ossError{http.StatusBadRequest, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema."}
	}
	domain := cr.domain
	if domain == "" {
		return badArg("The Domain of the Cname is required.")
	}
	now := o.now()
	certNow := o.cfg.CertificateClock
	if certNow == nil {
		certNow = o.now
	}

	var next *ossCnameCert
	var change CnameCertificate
	c := doc.Cname.Cert
	if c != nil && !c.DeleteCertificate && (c.CertID != "" || c.Certificate != "" || c.PrivateKey != "") {
		switch {
		case c.CertID != "" && (c.Certificate != "" || c.PrivateKey != ""):
			return badArg("Specify either CertId or Certificate and PrivateKey, not both.")
		case c.CertID != "":
			idPart, region, ok := strings.Cut(c.CertID, "-")
			id, err := strconv.ParseInt(idPart, 10, 64)
			if !ok || err != nil || id <= 0 || !validCASRegion(region) {
				return badArg("The CertId must be <certificate id>-<region>, the region cn-hangzhou or ap-southeast-1.")
			}
			if o.cfg.CASLookup == nil {
				return badArg("The certificate does not exist.")
			}
			leaf, found := o.cfg.CASLookup(region, id)
			if !found {
				return badArg("The certificate does not exist.")
			}
			next = &ossCnameCert{typ: "CAS", certID: c.CertID, leaf: leaf}
			change = CnameCertificate{CASRegion: region, CASID: id}
		case c.Certificate == "" || c.PrivateKey == "":
			return badArg("Certificate and PrivateKey must be given together.")
		default:
			b, err := bundle.Parse([]bundle.Source{{Name: "Certificate", Data: []byte(c.Certificate)}, {Name: "PrivateKey", Data: []byte(c.PrivateKey)}},
				bundle.Options{MaxSize: maxCnameBody})
			switch {
			case errors.Is(err, bundle.ErrKeyMismatch):
				return badArg("The certificate does not match the private key.")
			case err != nil:
				return badArg("The certificate or the private key is malformed.")
			}
			id := o.nextCnameCertID()
			next = &ossCnameCert{typ: "Upload", certID: strconv.FormatInt(id, 10) + "-cn-hangzhou", leaf: b.Leaf}
			change = CnameCertificate{CertPEM: c.Certificate, KeyPEM: c.PrivateKey}
		}
		if certNow().After(next.leaf.NotAfter) {
			return badArg("The certificate has expired.")
		}
		if !(&casCert{leaf: next.leaf}).covers(domain) {
			return badArg("The certificate does not match the domain " + domain + ".")
		}
		next.created = now.UTC()
	}

	o.cnameMu.Lock()
	defer o.cnameMu.Unlock()
	if o.cnames == nil {
		o.cnames = map[string]map[string]*ossCname{}
	}
	for b, m := range o.cnames {
		if b != bucket && m[domain] != nil {
			return &ossError{http.StatusConflict, "CnameAlreadyExists", "The custom domain is bound to another bucket."}
		}
	}
	m := o.cnames[bucket]
	if m == nil {
		m = map[string]*ossCname{}
		o.cnames[bucket] = m
	}
	cur := m[domain]
	if cur == nil {
		cur = &ossCname{domain: domain}
	}
	notify := o.cfg.OnCnameCertificate
	switch {
	case c != nil && c.DeleteCertificate:
		cur.cert = nil
		change.Removed = true
	case next != nil:
		if cur.cert != nil {
			switch {
			case c.PreviousCertID != "" && c.PreviousCertID != cur.cert.certID:
				return badArg("The PreviousCertId does not match the certificate the domain uses (0018-00000209).")
			case c.PreviousCertID == "" && !c.Force:
				return badArg("The domain already has a certificate: give PreviousCertId or Force=true to replace it.")
			}
		}
		cur.cert = next
	default:
		notify = nil // the binding alone: the certificate is unchanged
	}
	cur.modified = now.UTC()
	m[domain] = cur
	if notify != nil {
		notify(domain, change)
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// nextCnameCertID assigns an ID to an uploaded CNAME certificate.
func (o *OSS) nextCnameCertID() int64 {
	o.cnameMu.Lock()
	defer o.cnameMu.Unlock()
	o.cnameID++
	return 24000000 + o.cnameID
}

// cnameDateFormat is how ListCname writes a certificate's dates: RFC 1123
// with the day of the month unpadded, as the OSS SDK's fixture has it.
const cnameDateFormat = "Mon, 2 Jan 2006 15:04:05 GMT"

// listCname answers ListCname.
func (o *OSS) listCname(w http.ResponseWriter, bucket string) *ossError {
	if !o.store.hasBucket(bucket) {
		return errNoSuchBucket
	}
	res := listCnameXML{Bucket: bucket, Owner: o.cfg.AccountID}
	o.cnameMu.Lock()
	var domains []string
	for d := range o.cnames[bucket] {
		domains = append(domains, d)
	}
	sort.Strings(domains)
	for _, d := range domains {
		cn := o.cnames[bucket][d]
		item := cnameItemXML{Domain: d, LastModified: cn.modified.Format("2006-01-02T15:04:05.000Z"), Status: "Enabled"}
		if c := cn.cert; c != nil {
			item.Certificate = &cnameCertXML{
				Type: c.typ, CertID: c.certID, Status: "Enabled",
				CreationDate:   c.created.Format(http.TimeFormat),
				Fingerprint:    cnameFingerprint(c.leaf),
				ValidStartDate: c.leaf.NotBefore.UTC().Format(cnameDateFormat),
				ValidEndDate:   c.leaf.NotAfter.UTC().Format(cnameDateFormat),
			}
		}
		res.Cname = append(res.Cname, item)
	}
	o.cnameMu.Unlock()
	writeXML(w, res)
	return nil
}

// deleteCname answers DeleteCname.
func (o *OSS) deleteCname(w http.ResponseWriter, bucket string, cr *cnameRequest) *ossError {
	if !o.store.hasBucket(bucket) {
		return errNoSuchBucket
	}
	o.cnameMu.Lock()
	defer o.cnameMu.Unlock()
	if o.cnames[bucket][cr.domain] == nil {
		return &ossError{http.StatusNotFound, "NoSuchCname", "The specified cname does not exist."}
	}
	delete(o.cnames[bucket], cr.domain)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// Cnames returns the custom domains of bucket and what certificate each
// carries (nil for none).
func (o *OSS) Cnames(bucket string) map[string]*OSSCnameCert {
	o.cnameMu.Lock()
	defer o.cnameMu.Unlock()
	out := map[string]*OSSCnameCert{}
	for d, cn := range o.cnames[bucket] {
		var c *OSSCnameCert
		if cn.cert != nil {
			c = &OSSCnameCert{Type: cn.cert.typ, CertID: cn.cert.certID, Fingerprint: bundle.Fingerprint(cn.cert.leaf), NotAfter: cn.cert.leaf.NotAfter}
		}
		out[d] = c
	}
	return out
}
