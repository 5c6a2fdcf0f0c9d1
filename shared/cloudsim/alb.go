package cloudsim

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/certdrop/certdrop/shared/config"
)

// ProductALB is Application Load Balancer (product alb, API version
// 2020-06-16, RPC style), served on the OpenAPI listener
// (CERTDROP_ALB_ENDPOINT). Its listeners are configured under
// loadBalancers.alb (loadbalancer.go: the asynchronous states). Every
// operation takes ListenerId and, optionally, RegionId: a listener of
// another region is ResourceNotFound.Listener, as the region's endpoint
// would answer.
//
//	GetListenerAttribute           -> ListenerId, ListenerStatus (Configuring|
//	                                  Running), ListenerProtocol, ListenerPort,
//	                                  LoadBalancerId, Certificates[{CertificateId}]
//	                                  (the default), RequestId.
//	ListListenerCertificates       CertificateType (Server|Ca), MaxResults (1 to
//	                                  100, default 20), NextToken
//	  -> Certificates[{CertificateId, IsDefault, Status (Associating|Associated|
//	     Dissociating), CertificateType}], TotalCount, MaxResults, NextToken.
//	UpdateListenerAttribute        Certificates.1.CertificateId ("<CertId>-<region>",
//	                                  a certificate of that CAS region's store)
//	  -> RequestId, JobId; the listener is Configuring, then Running with it.
//	AssociateAdditionalCertificatesWithListener  Certificates.N.CertificateId
//	  -> RequestId, JobId; each certificate Associating, then Associated.
//	DissociateAdditionalCertificatesFromListener Certificates.N.CertificateId
//	  -> RequestId, JobId; each Dissociating, then gone.
//
// Errors: IncorrectStatus.Listener (a write while the listener is
// Configuring), ResourceNotFound.Listener, ResourceNotFound.Certificate (no
// such certificate in that CAS region), ResourceAlreadyAssociated.Certificate,
// ResourceNotAssociated.Certificate (certimate issue 1283 quotes it),
// OperationDenied.DefaultCertificate (the default certificate cannot be
// dissociated), QuotaExceeded.AdditionalCertificatesNum (more additional
// certificates than loadBalancers.maxAdditionalCertificates),
// OperationDenied.ListenerProtocol (a write to a listener that takes no
// server certificate), MissingParameter. The pages read list the
// operations' codes only in part: the codes not quoted from them are the
// emulator's choice.
//
// Quotas: UpdateListenerAttribute and
// AssociateAdditionalCertificatesWithListener 200 a minute (the vendor's
// quota page), DissociateAdditionalCertificatesFromListener the same,
// GetListenerAttribute and ListListenerCertificates 10/s (the emulator's
// choice where the page was not read).
const ProductALB = "alb"

// albProduct registers ALB.
func albProduct() productSpec {
	d := lbDialect{product: ProductALB, defaultParam: "Certificates.%d.CertificateId", additionalParam: "Certificates.%d.CertificateId",
		protocols: []string{"HTTPS", "QUIC"}, busy: "IncorrectStatus.Listener", notFound: "ResourceNotFound.Listener", alb: true}
	v := "2020-06-16"
	return productSpec{
		name: ProductALB, code: "Alb", host: "alb.cn-hangzhou.aliyuncs.com",
		env:    []string{config.ALBEndpoint},
		errors: lbErrors(),
		actions: []apiSpec{
			{action: "GetListenerAttribute", version: v, quota: 10, journal: lbJournal, handle: d.get},
			{action: "ListListenerCertificates", version: v, quota: 10, journal: lbJournal, handle: d.list},
			{action: "UpdateListenerAttribute", version: v, quota: 200.0 / 60, journal: lbJournal, handle: d.update},
			{action: "AssociateAdditionalCertificatesWithListener", version: v, quota: 200.0 / 60, journal: lbJournal, handle: d.associate},
			{action: "DissociateAdditionalCertificatesFromListener", version: v, quota: 200.0 / 60, journal: lbJournal, handle: d.dissociate},
		},
	}
}

// lbErrors are the codes of the ALB and NLB listener operations.
func lbErrors() map[string]knownError {
	return map[string]knownError{
		"IncorrectStatus.Listener":                 {400, "The status of listener is incorrect."},
		"IncorrectStatus.listener":                 {400, "The status of listener is incorrect."},
		"ResourceNotFound.Listener":                {404, "The specified resource of listener is not found."},
		"ResourceNotFound.listener":                {404, "The specified resource of listener is not found."},
		"ResourceNotFound.Certificate":             {404, "The specified resource of certificate is not found."},
		"ResourceAlreadyAssociated.Certificate":    {400, "The specified certificate is already associated."},
		"ResourceNotAssociated.Certificate":        {400, "The specified certificate is not associated."},
		"OperationDenied.DefaultCertificate":       {400, "The default certificate cannot be dissociated."},
		"OperationDenied.ListenerProtocol":         {400, "The listener protocol does not support certificates."},
		"QuotaExceeded.AdditionalCertificatesNum":  {400, "The number of additional certificates exceeds the quota."},
		"MissingParameter":                         {400, "A required parameter is missing."},
		"IllegalParameter.CertificateIdsTooMany":   {400, "Only one default certificate can be specified."},
		"QuotaExceeded.AdditionalCertificatesCall": {400, "Too many certificates in one call."},
	}
}

// lbJournal records the listener as the call's domain.
func lbJournal(_ *Sim, c *call, p url.Values) {
	c.entry.Domain = p.Get("ListenerId")
	c.entry.Region = p.Get("RegionId")
}

// lbDialect is what differs between ALB's and NLB's operations.
type lbDialect struct {
	product string
	// defaultParam and additionalParam are the formats of the
	// certificate parameters of Update and of Associate/Dissociate.
	defaultParam, additionalParam string
	protocols                     []string
	// busy and notFound are the codes of a Configuring and of an
	// unknown listener.
	busy, notFound string
	// alb: the ALB answer shapes (Certificates of the default, the
	// CertificateType filter).
	alb bool
}

// listener finds the call's listener, settled at now. Callers hold the
// state's lock.
func (d lbDialect) listener(s *Sim, p url.Values, now time.Time) (*lbListener, *apiError) {
	id := p.Get("ListenerId")
	if id == "" {
		return nil, newAPIError(d.product, "MissingParameter").withMessage("ListenerId is mandatory for this action.")
	}
	l := s.lbs.listeners[d.product+"/"+id]
	if l == nil || (p.Get("RegionId") != "" && p.Get("RegionId") != l.region) {
		return nil, newAPIError(d.product, d.notFound).withMessage("The specified resource " + id + " is not found.")
	}
	l.settle(now)
	return l, nil
}

// writable refuses a write to a busy listener or one without
// certificates.
func (d lbDialect) writable(l *lbListener, now time.Time) *apiError {
	if now.Before(l.busyUntil) {
		return newAPIError(d.product, d.busy).withMessage("The status of listener [" + l.id + "] is incorrect.")
	}
	for _, p := range d.protocols {
		if strings.EqualFold(p, l.protocol) {
			return nil
		}
	}
	return newAPIError(d.product, "OperationDenied.ListenerProtocol").withMessage("The " + l.protocol + " listener " + l.id + " takes no server certificate.")
}

// casCertificate checks that a "<CertId>-<region>" id names a certificate
// of that CAS region's store.
func (d lbDialect) casCertificate(s *Sim, id string) *apiError {
	num, region, ok := strings.Cut(id, "-")
	n, err := strconv.ParseInt(num, 10, 64)
	if ok && err == nil && validCASRegion(region) {
		if _, found := s.lookupCAS(region, n, ""); found {
			return nil
		}
	}
	return newAPIError(d.product, "ResourceNotFound.Certificate").withMessage("The specified resource " + id + " is not found.")
}

func (d lbDialect) get(s *Sim, c *call, p url.Values) (any, *apiError) {
	s.lbs.mu.Lock()
	defer s.lbs.mu.Unlock()
	now := time.Now()
	l, e := d.listener(s, p, now)
	if e != nil {
		return nil, e
	}
	out := map[string]any{"RequestId": c.entry.RequestID, "ListenerId": l.id, "ListenerStatus": l.status(now),
		"ListenerProtocol": l.protocol, "ListenerPort": l.port, "LoadBalancerId": l.lbID}
	if d.alb {
		certs := []map[string]any{}
		if l.def != "" {
			certs = append(certs, map[string]any{"CertificateId": l.def})
		}
		out["Certificates"] = certs
	} else {
		ids := []string{}
		if l.def != "" {
			ids = append(ids, l.def)
		}
		out["CertificateIds"] = ids
		out["RegionId"] = l.region
	}
	return out, nil
}

func (d lbDialect) list(s *Sim, c *call, p url.Values) (any, *apiError) {
	s.lbs.mu.Lock()
	defer s.lbs.mu.Unlock()
	now := time.Now()
	l, e := d.listener(s, p, now)
	if e != nil {
		return nil, e
	}
	max := 20
	if raw := p.Get("MaxResults"); raw != "" {
		n, ok := atoi(raw)
		if !ok || n < 1 || n > 100 {
			return nil, newAPIError(d.product, "InvalidParameter").withMessage("MaxResults must be 1 to 100.")
		}
		max = n
	}
	start := 0
	if tok := p.Get("NextToken"); tok != "" {
		n, ok := atoi(strings.TrimPrefix(tok, "t"))
		if !ok || !strings.HasPrefix(tok, "t") || n < 0 {
			return nil, newAPIError(d.product, "InvalidParameter").withMessage("The NextToken is invalid.")
		}
		start = n
	}
	var all []map[string]any
	if t := p.Get("CertificateType"); !d.alb || t == "" || t == "Server" {
		if l.def != "" {
			all = append(all, map[string]any{"CertificateId": l.def, "IsDefault": true, "Status": "Associated", "CertificateType": "Server"})
		}
		for _, cert := range l.certs {
			all = append(all, map[string]any{"CertificateId": cert.id, "IsDefault": false, "Status": cert.status(now), "CertificateType": "Server"})
		}
	}
	total := len(all)
	page := []map[string]any{}
	if start < total {
		page = all[start:min(total, start+max)]
	}
	out := map[string]any{"RequestId": c.entry.RequestID, "Certificates": page, "TotalCount": total, "MaxResults": max}
	if start+max < total {
		out["NextToken"] = "t" + strconv.Itoa(start+max)
	}
	return out, nil
}

func (d lbDialect) update(s *Sim, c *call, p url.Values) (any, *apiError) {
	s.lbs.mu.Lock()
	defer s.lbs.mu.Unlock()
	now := time.Now()
	l, e := d.listener(s, p, now)
	if e != nil {
		return nil, e
	}
	ids := indexed(p, d.defaultParam)
	if len(ids) == 0 {
		// Attributes other than the certificate are not emulated: a
		// write without one changes nothing but the state.
		if e := d.writable(l, now); e != nil {
			return nil, e
		}
		l.busyUntil = now.Add(s.lbs.delay)
		return map[string]any{"RequestId": c.entry.RequestID, "JobId": s.lbs.jobID()}, nil
	}
	if len(ids) > 1 {
		return nil, newAPIError(d.product, "IllegalParameter.CertificateIdsTooMany")
	}
	if e := d.writable(l, now); e != nil {
		return nil, e
	}
	if e := d.casCertificate(s, ids[0]); e != nil {
		return nil, e
	}
	c.entry.CertID = ids[0]
	l.pendingDef, l.busyUntil = ids[0], now.Add(s.lbs.delay)
	return map[string]any{"RequestId": c.entry.RequestID, "JobId": s.lbs.jobID()}, nil
}

// additionalWrite opens a write of a listener's additional
// certificates: the listener, the ids the call names (mandatory, to verb
// them), and the listener writable.
func (d lbDialect) additionalWrite(s *Sim, p url.Values, verb string, now time.Time) (*lbListener, []string, *apiError) {
	l, e := d.listener(s, p, now)
	if e != nil {
		return nil, nil, e
	}
	ids := indexed(p, d.additionalParam)
	if len(ids) == 0 {
		return nil, nil, newAPIError(d.product, "MissingParameter").withMessage("The certificates to " + verb + " are mandatory.")
	}
	if e := d.writable(l, now); e != nil {
		return nil, nil, e
	}
	return l, ids, nil
}

// accepted answers a write of ids the listener takes until until: a job.
func (s *Sim) lbAccepted(c *call, l *lbListener, ids []string, until time.Time) map[string]any {
	c.entry.CertID = strings.Join(ids, ",")
	l.busyUntil = until
	return map[string]any{"RequestId": c.entry.RequestID, "JobId": s.lbs.jobID()}
}

func (d lbDialect) associate(s *Sim, c *call, p url.Values) (any, *apiError) {
	s.lbs.mu.Lock()
	defer s.lbs.mu.Unlock()
	now := time.Now()
	l, ids, e := d.additionalWrite(s, p, "associate", now)
	if e != nil {
		return nil, e
	}
	for _, id := range ids {
		if e := d.casCertificate(s, id); e != nil {
			return nil, e
		}
		for _, have := range l.certs {
			if have.id == id {
				return nil, newAPIError(d.product, "ResourceAlreadyAssociated.Certificate").withMessage("The specified resource " + id + " is already associated.")
			}
		}
	}
	if len(l.certs)+len(ids) > s.lbs.max {
		return nil, newAPIError(d.product, "QuotaExceeded.AdditionalCertificatesNum").withMessage(
			"The listener " + l.id + " has " + strconv.Itoa(len(l.certs)) + " additional certificates; the quota is " + strconv.Itoa(s.lbs.max) + ".")
	}
	until := now.Add(s.lbs.delay)
	for _, id := range ids {
		l.certs = append(l.certs, &lbCert{id: id, until: until})
	}
	return s.lbAccepted(c, l, ids, until), nil
}

func (d lbDialect) dissociate(s *Sim, c *call, p url.Values) (any, *apiError) {
	s.lbs.mu.Lock()
	defer s.lbs.mu.Unlock()
	now := time.Now()
	l, ids, e := d.additionalWrite(s, p, "dissociate", now)
	if e != nil {
		return nil, e
	}
	var found []*lbCert
	for _, id := range ids {
		if id == l.def {
			return nil, newAPIError(d.product, "OperationDenied.DefaultCertificate")
		}
		var hit *lbCert
		for _, have := range l.certs {
			if have.id == id && !have.removing {
				hit = have
			}
		}
		if hit == nil {
			return nil, newAPIError(d.product, "ResourceNotAssociated.Certificate").withMessage("The specified resource " + id + " is not associated.")
		}
		found = append(found, hit)
	}
	until := now.Add(s.lbs.delay)
	for _, c := range found {
		c.removing, c.until = true, until
	}
	return s.lbAccepted(c, l, ids, until), nil
}
