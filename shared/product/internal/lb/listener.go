package lb

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/failure"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product"
)

// Dialect is what differs between ALB's and NLB's certificate APIs,
// which otherwise have one shape: a listener read by
// GetListenerAttribute (ListenerStatus Configuring or Running,
// ListenerProtocol, the default certificate), its certificates listed by
// ListListenerCertificates (NextToken pages, each certificate's
// CertificateId, IsDefault and Status Associating or Associated), its
// default certificate set by UpdateListenerAttribute and its additional
// ones added and removed by two calls that return a job and leave the
// listener Configuring.
type Dialect struct {
	// Name is the product's name; Title names it in messages ("ALB").
	Name  manifest.Product
	Title string
	// EnvVar overrides the endpoint of every region; HostPrefix makes
	// the public one, <prefix>.<region>.aliyuncs.com.
	EnvVar, HostPrefix string
	// Protocols are the listener protocols that take a server
	// certificate (HTTPS and QUIC; TCPSSL).
	Protocols []string
	// The operations.
	Get, List, Update, Associate, Dissociate plan.API
	// DefaultParam is UpdateListenerAttribute's parameter of the default
	// certificate; AdditionalParam the format (%d from 1) of the
	// additional certificates' parameter of Associate and Dissociate.
	DefaultParam, AdditionalParam string
	// ListParams are the fixed parameters of List (ALB's
	// CertificateType=Server).
	ListParams map[string]string
}

// Host is the public endpoint of the dialect's product in region.
func (d *Dialect) Host(region string) string { return d.HostPrefix + "." + region + ".aliyuncs.com" }

// listenerRE is the form of a listener id: lsn- and letters and digits
// (NLB's may end in @port).
var listenerRE = regexp.MustCompile(`^lsn-[A-Za-z0-9]{1,64}(@[0-9]{1,5})?$`)

// Listener is an ALB or NLB listener's server certificate, the default or
// an additional (SNI) one, as a product (product.Product). It holds the
// per-listener locks and the CAS listings of one run: a registry builds
// one per run.
type Listener struct {
	d    *Dialect
	wait WaitOptions
	lock Locks
	cas  CASLookup
}

// NewListener returns the product of dialect d with waits bounded by w.
func NewListener(d *Dialect, w WaitOptions) *Listener { return &Listener{d: d, wait: w} }

var _ product.Product = (*Listener)(nil)

// Spec: a listener (region, listener, sni), the names its certificate
// must cover in domain/domains; delivered by CAS reference only, from the
// CAS region of its region.
func (p *Listener) Spec() manifest.Spec {
	n := p.d.Name
	return manifest.Spec{
		Name: n,
		Fields: []manifest.Field{{
			Name:    "region",
			Missing: fmt.Sprintf("%s target has no region (the load balancer's region, e.g. cn-hangzhou)", n),
			Check:   CheckRegion(n),
		}, {
			Name:    "listener",
			Missing: fmt.Sprintf("%s target has no listener (its id, lsn-...)", n),
			Check: func(s string) string {
				if !listenerRE.MatchString(s) {
					return fmt.Sprintf("invalid %s listener %q (a listener id such as lsn-0bfucwu6gw2q7nw9xb)", n, s)
				}
				return ""
			},
		}, {
			Name: "sni", Kind: manifest.Boolean, Default: "false",
		}},
		Address:     []string{"listener"},
		AddressOf:   SNIAddress("listener"),
		NoStaging:   "its API has no Env parameter",
		CASOnly:     "its API takes a certificate of Certificate Management Service by id only",
		CASRegionOf: CASRegionOf,
	}
}

// SNIAddress is the Address of a listener target: the listener, or, for
// an additional certificate (sni: true), the listener and the names
// ("lsn-1/api.example.com,www.example.com"); field names the listener
// field.
func SNIAddress(field string) func(t manifest.Target) string {
	return func(t manifest.Target) string {
		a := t.Field(field)
		if field == "port" {
			a = t.Field("loadBalancer") + ":" + t.Field("port")
		}
		if t.Field("sni") == "true" {
			return a + "/" + strings.Join(Names(t.Names), ",")
		}
		return a
	}
}

// APIs are the five listener operations and CAS's listing.
func (p *Listener) APIs() []plan.API {
	return []plan.API{p.d.Update, p.d.Associate, p.d.Dissociate, p.d.Get, p.d.List, plan.CASListAPI}
}

// EndpointVar is the dialect's.
func (p *Listener) EndpointVar() string { return p.d.EnvVar }

// sni reports whether the target is an additional certificate.
func sni(t manifest.Target) bool { return t.Field("sni") == "true" }

// Target plans UpdateListenerAttribute (the default certificate) or
// AssociateAdditionalCertificatesWithListener (sni: true) on the
// listener, at its region's endpoint.
func (p *Listener) Target(t manifest.Target) (plan.Call, error) {
	api := p.d.Update
	if sni(t) {
		api = p.d.Associate
	}
	if t.Field("listener") == "" || t.Region == "" {
		return plan.Call{}, fmt.Errorf("target %s: an %s target needs its region and listener", t, p.d.Name)
	}
	return plan.Call{Target: t, API: api, Endpoint: p.d.Host(t.Region), EndpointVar: p.d.EnvVar, DomainName: t.Where()}, nil
}

// Upload cannot carry a key: the listener takes CAS certificates only
// (the manifest delivers every target by CAS); Set refuses such a call.
func (p *Listener) Upload(c plan.Call, _, _ string, _ bundle.Secret) plan.Call { return c }

// Reference: the CAS certificate as "<CertId>-<region>", the target's
// CAS region; the CAS name and the certificate (never sent) stay with the
// call, for Describe and Set to recognise it and certdrop's earlier ones.
func (p *Listener) Reference(c plan.Call, casName, certPEM string) (plan.Call, error) {
	c.CASRegion = c.Target.CertRegion()
	c.CertIDSuffix = "-" + c.CASRegion
	product.Add(&c, "ListenerId", c.Target.Field("listener"))
	product.Add(&c, plan.ParamCertID, "")
	product.Add(&c, paramCASName, casName)
	if certPEM != "" {
		product.Add(&c, paramCert, certPEM)
	}
	return c, nil
}

// Parameters kept with a call that are never sent.
const (
	paramCASName = "CASName"
	paramCert    = "Certificate"
)

// request is one call about the call's listener.
func (p *Listener) request(call plan.Call, params map[string]string) cloud.Request {
	form := map[string]string{"ListenerId": call.Target.Field("listener"), "RegionId": call.Target.Region}
	for k, v := range params {
		form[k] = v
	}
	return cloud.Request{EndpointVar: call.EndpointVar, Host: call.Endpoint, Pool: string(p.d.Name),
		Params: form, Codes: codeTable, Hint: quotaHint, Subject: call.DomainName}
}

// state is what GetListenerAttribute says of a listener.
type state struct {
	status, protocol string
	defaultCert      string
	requestID        string
}

func (s state) running() bool { return strings.EqualFold(s.status, "Running") }

// get reads the listener; a listener whose protocol takes no server
// certificate is a permanent failure of the target.
func (p *Listener) get(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller) (state, error) {
	var st state
	_, err := product.RPC(ctx, tr, calls, p.d.Get, p.request(call, nil), func(body map[string]any) error {
		st = state{}
		st.requestID, _ = body["RequestId"].(string)
		st.status, _ = body["ListenerStatus"].(string)
		st.protocol, _ = body["ListenerProtocol"].(string)
		switch v := body["Certificates"].(type) {
		case []any:
			for _, item := range v {
				if m, ok := item.(map[string]any); ok {
					if id, _ := m["CertificateId"].(string); id != "" && st.defaultCert == "" {
						st.defaultCert = id
					}
				}
			}
		}
		if ids, ok := body["CertificateIds"].([]any); ok && st.defaultCert == "" && len(ids) > 0 {
			st.defaultCert, _ = ids[0].(string)
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	if !slices.ContainsFunc(p.d.Protocols, func(s string) bool { return strings.EqualFold(s, st.protocol) }) {
		return st, &Error{API: p.d.Get.Action, Subject: call.DomainName, Code: "ListenerProtocol",
			Message: fmt.Sprintf("listener %s is a %s listener, which takes no server certificate", call.Target.Field("listener"), orNone(st.protocol)),
			Hint:    fmt.Sprintf("name a %s listener of %s in the manifest", strings.Join(p.d.Protocols, " or "), p.d.Title)}
	}
	return st, nil
}

func orNone(s string) string {
	if s == "" {
		return "(protocol not given)"
	}
	return s
}

// listenerCert is one certificate ListListenerCertificates lists.
type listenerCert struct {
	id        string
	isDefault bool
	status    string
}

func (c listenerCert) associated() bool {
	return c.status == "" || strings.EqualFold(c.status, "Associated")
}

// maxPages bounds a listing: 50 pages of 100 certificates.
const maxPages = 50

// list reads every page of the listener's certificates.
func (p *Listener) list(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller) ([]listenerCert, string, error) {
	var out []listenerCert
	var rid, token string
	for page := 0; page < maxPages; page++ {
		params := map[string]string{"MaxResults": "100"}
		for k, v := range p.d.ListParams {
			params[k] = v
		}
		if token != "" {
			params["NextToken"] = token
		}
		var got []listenerCert
		var next string
		_, err := product.RPC(ctx, tr, calls, p.d.List, p.request(call, params), func(body map[string]any) error {
			got, next = nil, ""
			rid, _ = body["RequestId"].(string)
			next, _ = body["NextToken"].(string)
			if list, ok := body["Certificates"].([]any); ok {
				for _, item := range list {
					m, ok := item.(map[string]any)
					if !ok {
						continue
					}
					c := listenerCert{}
					c.id, _ = m["CertificateId"].(string)
					c.isDefault, _ = m["IsDefault"].(bool)
					c.status, _ = m["Status"].(string)
					if t, _ := m["CertificateType"].(string); t != "" && !strings.EqualFold(t, "Server") {
						continue
					}
					got = append(got, c)
				}
				return nil
			}
			if ids, ok := body["CertificateIds"].([]any); ok {
				for _, v := range ids {
					if s, _ := v.(string); s != "" {
						got = append(got, listenerCert{id: s})
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, rid, err
		}
		out = append(out, got...)
		if next == "" || len(got) == 0 {
			return out, rid, nil
		}
		token = next
	}
	return out, rid, &Error{API: p.d.List.Action, Subject: call.DomainName, Code: "TooManyCertificates",
		Message: fmt.Sprintf("the listener lists more than %d pages of certificates", maxPages), Kind: failure.Permanent}
}

// additional is what an SNI target finds among a listener's additional
// certificates: the one carrying this certificate (ours), and the ones it
// replaces (those covering exactly the target's names, or certdrop's
// earlier certificate for them), each resolved through CAS.
type additional struct {
	ours     *listenerCert
	oursCert fanout.CASCert
	replaces []listenerCert
	certs    map[string]fanout.CASCert
}

// classify sorts a listener's additional certificates for the call's
// target. bound is the certificate id the call sets ("" before the
// upload); want the fingerprint of the call's certificate. Certificates
// CAS does not list, or that cover other names, are another's: never
// touched.
func (p *Listener) classify(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller, certs []listenerCert, defaultCert, bound string) (additional, error) {
	out := additional{certs: map[string]fanout.CASCert{}}
	want := Fingerprint(call.Param(paramCert))
	// Each additional certificate is read by its own id (a listing by the
	// target's names would miss a wildcard covering them); the listings
	// are kept for the run.
	for _, c := range certs {
		if isDefault(c, defaultCert) {
			continue
		}
		id, ok := ParseCertID(c.id)
		if !ok {
			continue
		}
		cc, found, err := p.cas.Resolve(ctx, tr, calls, id)
		if err != nil {
			return out, err
		}
		if found {
			out.certs[c.id] = cc
		}
	}
	for _, c := range certs {
		if isDefault(c, defaultCert) {
			continue
		}
		cc, known := out.certs[c.id]
		switch {
		case bound != "" && c.id == bound, known && want != "" && cc.Fingerprint == want:
			c := c
			out.ours, out.oursCert = &c, cc
		case known && (CoversExactly(cc, call.Target.Names) || OwnEarlier(cc, call.Param(paramCASName))):
			out.replaces = append(out.replaces, c)
		}
	}
	return out, nil
}

// isDefault reports whether a listed certificate is the listener's
// default one: IsDefault, or, where the answer has no such field (NLB's
// CertificateIds), the default's id.
func isDefault(c listenerCert, defaultCert string) bool {
	return c.isDefault || (c.status == "" && c.id == defaultCert)
}

// Describe reads what the target carries: the listener's default
// certificate, or, for sni: true, the additional certificate for the
// target's names (this one where the listener has it, else the newest
// it would replace), resolved through CAS to its fingerprint and dates.
// A certificate CAS does not list (deleted, another store) carries HTTPS
// with nothing known of it.
func (p *Listener) Describe(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller) (fanout.Installed, error) {
	st, err := p.get(ctx, tr, call, calls)
	if err != nil {
		return fanout.Installed{}, err
	}
	if !sni(call.Target) {
		if st.defaultCert == "" {
			return fanout.Installed{RequestID: st.requestID}, nil
		}
		id, ok := ParseCertID(st.defaultCert)
		if !ok {
			return fanout.Installed{HTTPS: true, CertName: st.defaultCert, RequestID: st.requestID}, nil
		}
		cc, found, err := p.cas.Resolve(ctx, tr, calls, id)
		if err != nil {
			return fanout.Installed{}, err
		}
		if !found {
			return fanout.Installed{HTTPS: true, RequestID: st.requestID}, nil
		}
		return Installed(cc, st.requestID), nil
	}
	certs, rid, err := p.list(ctx, tr, call, calls)
	if err != nil {
		return fanout.Installed{}, err
	}
	a, err := p.classify(ctx, tr, call, calls, certs, st.defaultCert, call.Param(plan.ParamCertID))
	if err != nil {
		return fanout.Installed{}, err
	}
	if a.ours != nil && a.ours.associated() {
		return Installed(a.oursCert, rid), nil
	}
	var newest *fanout.CASCert
	for _, c := range a.replaces {
		cc := a.certs[c.id]
		if newest == nil || cc.NotBefore.After(newest.NotBefore) {
			newest = &cc
		}
	}
	if newest == nil && call.Param(paramCert) == "" {
		// Without a certificate in hand (a reconcile, a prune, the status
		// page), certdrop's own certificate that covers the target's
		// names is what the target carries, a wildcard among them: a
		// prune must see it in use.
		for _, c := range certs {
			cc, known := a.certs[c.id]
			if isDefault(c, st.defaultCert) || !known || !c.associated() || !Own(cc) || !CoversAll(cc, call.Target.Names) {
				continue
			}
			if newest == nil || cc.NotBefore.After(newest.NotBefore) {
				newest = &cc
			}
		}
	}
	if newest == nil {
		return fanout.Installed{RequestID: rid}, nil
	}
	return Installed(*newest, rid), nil
}

// Set installs the call's CAS certificate: as the listener's default
// certificate, or, for sni: true, as an additional certificate that then
// replaces the ones for the same names. Calls to one listener are
// serialised; every write waits for the listener to be Running first, is
// sent again when another operation holds the listener, and is confirmed
// (Running, the certificate in place) before Set returns.
func (p *Listener) Set(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller) error {
	id := call.Param(plan.ParamCertID)
	if _, ok := ParseCertID(id); !ok {
		return &Error{API: call.API.Action, Subject: call.DomainName, Code: "NoCASCertificate",
			Message: fmt.Sprintf("%s takes certificates of Certificate Management Service by id only, and the call has none", p.d.Title),
			Hint:    "deliver the target by CAS (its manifest entry must not say delivery: upload)"}
	}
	unlock, err := p.lock.Lock(ctx, call.Target.Region+"/"+call.Target.Field("listener"))
	if err != nil {
		return err
	}
	defer unlock()
	if !sni(call.Target) {
		return p.setDefault(ctx, tr, call, calls, id)
	}
	return p.setAdditional(ctx, tr, call, calls, id)
}

// waitRunning waits until the listener is Running and returns it.
func (p *Listener) waitRunning(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller) (state, error) {
	var st state
	err := Wait(ctx, p.wait, p.d.Get.Action, call.DomainName, "listener "+call.Target.Field("listener")+" Running", func() (bool, error) {
		var err error
		st, err = p.get(ctx, tr, call, calls)
		return err == nil && st.running(), err
	})
	return st, err
}

// write sends a write call; answered that the listener is busy (another
// operation configures it), it waits until the listener is Running and
// sends it again, up to the wait's Retries.
func (p *Listener) write(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller, api plan.API, params map[string]string) error {
	for try := 0; ; try++ {
		_, err := product.RPC(ctx, tr, calls, api, p.request(call, params), nil)
		if err == nil || !Busy(err) || try >= p.wait.Retries {
			return err
		}
		if _, err := p.waitRunning(ctx, tr, call, calls); err != nil {
			return err
		}
	}
}

// setDefault sets the listener's default certificate and waits until the
// listener is Running with it.
func (p *Listener) setDefault(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller, id string) error {
	st, err := p.waitRunning(ctx, tr, call, calls)
	if err != nil {
		return err
	}
	if st.defaultCert == id {
		return nil
	}
	if err := p.write(ctx, tr, call, calls, p.d.Update, map[string]string{p.d.DefaultParam: id}); err != nil {
		return err
	}
	return WaitAfterWrite(ctx, p.wait, p.d.Get.Action, call.DomainName, "listener "+call.Target.Field("listener")+" Running with "+id, func() (bool, error) {
		st, err := p.get(ctx, tr, call, calls)
		return err == nil && st.running() && st.defaultCert == id, err
	})
}

// setAdditional adds the certificate to the listener's additional ones
// (unless it is there), waits until the listener is Running and the
// certificate Associated, then removes the certificates it replaces and
// waits until they are gone. The default certificate and every other
// additional certificate stay.
func (p *Listener) setAdditional(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller, id string) error {
	lsn := call.Target.Field("listener")
	certs, _, err := p.list(ctx, tr, call, calls)
	if err != nil {
		return err
	}
	// The listener may carry the certificate as its default one too:
	// only an additional entry counts.
	if !slices.ContainsFunc(certs, func(c listenerCert) bool { return c.id == id && !c.isDefault }) {
		if _, err := p.waitRunning(ctx, tr, call, calls); err != nil {
			return err
		}
		if err := p.write(ctx, tr, call, calls, p.d.Associate, map[string]string{fmt.Sprintf(p.d.AdditionalParam, 1): id}); err != nil {
			return err
		}
	}
	// The listing says each certificate's state (Associating,
	// Associated): it alone is read while the association runs.
	err = WaitAfterWrite(ctx, p.wait, p.d.List.Action, call.DomainName, id+" Associated on listener "+lsn, func() (bool, error) {
		var err error
		certs, _, err = p.list(ctx, tr, call, calls)
		return err == nil && slices.ContainsFunc(certs, func(c listenerCert) bool { return c.id == id && !c.isDefault && c.associated() }), err
	})
	if err != nil {
		return err
	}
	st, err := p.waitRunning(ctx, tr, call, calls)
	if err != nil {
		return err
	}
	a, err := p.classify(ctx, tr, call, calls, certs, st.defaultCert, id)
	if err != nil {
		return err
	}
	if len(a.replaces) == 0 {
		return nil
	}
	params := map[string]string{}
	gone := map[string]bool{}
	for i, c := range a.replaces {
		params[fmt.Sprintf(p.d.AdditionalParam, i+1)] = c.id
		gone[c.id] = true
	}
	if err := p.write(ctx, tr, call, calls, p.d.Dissociate, params); err != nil {
		return fmt.Errorf("the new certificate is in place; removing the one it replaces: %w", err)
	}
	return WaitAfterWrite(ctx, p.wait, p.d.List.Action, call.DomainName, "the replaced certificates removed from listener "+lsn, func() (bool, error) {
		certs, _, err := p.list(ctx, tr, call, calls)
		return err == nil && !slices.ContainsFunc(certs, func(c listenerCert) bool { return gone[c.id] && !c.isDefault }), err
	})
}

// busyCodes are the answers of a listener another operation is
// configuring: IncorrectStatus.Listener (the NLB references write it
// IncorrectStatus.listener), Conflict.Lock and
// ResourceInConfiguring.Listener.
var busyCodes = []string{"IncorrectStatus.Listener", "IncorrectStatus.listener", "Conflict.Lock", "ResourceInConfiguring.Listener"}

// Busy reports whether err says the listener is busy with another
// operation.
func Busy(err error) bool {
	var c interface{ APICode() string }
	if !asCode(err, &c) {
		return false
	}
	return slices.Contains(busyCodes, c.APICode())
}

// quotaHint answers a QuotaExceeded.* code: the listener (or load
// balancer) holds as many additional certificates as its quota allows.
func quotaHint(code string) string {
	if strings.HasPrefix(code, "QuotaExceeded") {
		return "the load balancer holds as many additional certificates as its quota allows (ALB: 25 per instance " +
			"for Standard and WAF-enabled, 10 for Basic, by default): remove additional certificates nothing uses, or " +
			"raise the quota in Quota Center; certdrop adds the new certificate before it removes the one it replaces, " +
			"so it needs one free place"
	}
	return ""
}

// codeTable classifies the listener operations' codes before the
// OpenAPI table: a busy listener is permanent for the fan-out (Set waits
// for it and sends again itself), a missing listener, load balancer or
// certificate is permanent with what to check.
var codeTable = map[string]cloud.CodeInfo{
	"IncorrectStatus.Listener":          {Class: failure.Permanent, Hint: busyHint},
	"IncorrectStatus.listener":          {Class: failure.Permanent, Hint: busyHint},
	"Conflict.Lock":                     {Class: failure.Permanent, Hint: busyHint},
	"ResourceInConfiguring.Listener":    {Class: failure.Permanent, Hint: busyHint},
	"ResourceNotFound.Listener":         {Class: failure.Permanent, Hint: notFoundHint},
	"ResourceNotFound.listener":         {Class: failure.Permanent, Hint: notFoundHint},
	"ResourceNotFound.LoadBalancer":     {Class: failure.Permanent, Hint: notFoundHint},
	"ResourceNotFound.loadBalancer":     {Class: failure.Permanent, Hint: notFoundHint},
	"ResourceNotFound.Certificate":      {Class: failure.Permanent, Hint: "the load balancer cannot find the CAS certificate: it reads the CAS region of its own region (cn-hangzhou in the Chinese mainland, ap-southeast-1 elsewhere): set casRegion on the target if the account's certificates live in the other one"},
	"ResourceNotAssociated.Certificate": {Class: failure.Permanent, Hint: "the certificate is no longer on the listener (removed meanwhile): run certdrop again to check"},
	"SystemBusy":                        {Class: failure.Transient, Hint: "the load balancer service is busy: certdrop retries"},
	"IdempotenceProcessing":             {Class: failure.Transient, Hint: "the same request is being processed: certdrop retries"},
}

const (
	busyHint     = "another operation is configuring the listener: certdrop waits until it is Running and sends the call again"
	notFoundHint = "no such listener or load balancer in the target's region: check the target's listener and region (a listener of another region is not found there)"
)

// Codes returns the listener operations' own codes (a fresh copy).
func Codes() map[string]cloud.CodeInfo {
	out := make(map[string]cloud.CodeInfo, len(codeTable))
	for k, v := range codeTable {
		out[k] = v
	}
	return out
}
