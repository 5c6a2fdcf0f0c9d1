// Package nlb is the server certificate of a Network Load Balancer
// TCPSSL listener (API 2022-04-30), its default certificate or one of its
// additional (SNI) certificates, always by reference to Certificate
// Management Service ("<CertId>-<region>"). Its certificate APIs have
// ALB's shape (shared/product/alb says how certdrop uses them), with
// NLB's names:
//
//   - the default certificate: UpdateListenerAttribute with
//     CertificateIds.1 ("only one server certificate", its page);
//   - an additional certificate (sni: true):
//     AssociateAdditionalCertificatesWithListener, then
//     DisassociateAdditionalCertificatesWithListener of the certificates
//     it replaces, each with AdditionalCertificateIds.N;
//   - what a listener carries: GetListenerAttribute (ListenerStatus,
//     ListenerProtocol, CertificateIds) and ListListenerCertificates
//     (NextToken pages: Certificates with CertificateId, IsDefault and
//     Status, or CertificateIds in older answers).
//
// The writes return a JobId and leave the listener Configuring; certdrop
// waits for Running with the certificate in place, waits out a listener
// another operation holds (IncorrectStatus.listener, as the NLB pages
// write it) and serialises the calls to one listener.
//
// Quotas, per account and region, from the vendor's quota page
// (api-nlb-2022-04-30-quota): AssociateAdditionalCertificatesWithListener
// 200 calls a minute (3.3/s), ListListenerCertificates 20/s;
// UpdateListenerAttribute and DisassociateAdditionalCertificatesWithListener
// paced as Associate, GetListenerAttribute at 10/s (cautious: not read in
// the page). Configurable with CERTDROP_QUOTAS.
//
// Endpoint: nlb.<region>.aliyuncs.com, or the URL in
// CERTDROP_NLB_ENDPOINT for every region.
//
// Sources: https://help.aliyun.com/en/slb/api-updatelistenerattribute-nlb
// (CertificateIds.N: "only one server certificate ... TCPSSL only"),
// https://alibabacloud.com/help/en/slb/network-load-balancer/developer-reference/api-nlb-2022-04-30-quota,
// the NLB pages' error codes (IncorrectStatus.listener,
// ResourceNotFound.listener, ResourceNotFound.loadBalancer), and the
// vendor's nlb SDK for the parameter names (AdditionalCertificateIds).
package nlb

import (
	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product"
	"github.com/certdrop/certdrop/shared/product/internal/lb"
)

// Name is the product's name.
const Name manifest.Product = "nlb"

// Version is the NLB API version.
const Version = "2022-04-30"

// EnvEndpoint overrides the endpoint of every region, as a URL.
const EnvEndpoint = config.NLBEndpoint

// The quotas certdrop paces at (see the package comment).
const (
	writeQuota = 200.0 / 60
	getQuota   = 10
	listQuota  = 20
)

// The operations.
var (
	// UpdateAPI sets a listener's default certificate.
	UpdateAPI = plan.API{Service: "nlb", Action: "UpdateListenerAttribute", Version: Version, Quota: writeQuota}
	// AssociateAPI adds additional certificates to a listener.
	AssociateAPI = plan.API{Service: "nlb", Action: "AssociateAdditionalCertificatesWithListener", Version: Version, Quota: writeQuota}
	// DisassociateAPI removes additional certificates from a listener.
	DisassociateAPI = plan.API{Service: "nlb", Action: "DisassociateAdditionalCertificatesWithListener", Version: Version, Quota: writeQuota}
	// GetAPI reads a listener.
	GetAPI = plan.API{Service: "nlb", Action: "GetListenerAttribute", Version: Version, Quota: getQuota}
	// ListAPI lists a listener's certificates.
	ListAPI = plan.API{Service: "nlb", Action: "ListListenerCertificates", Version: Version, Quota: listQuota}
)

// dialect is NLB's.
var dialect = lb.Dialect{
	Name: Name, Title: "NLB", EnvVar: EnvEndpoint, HostPrefix: "nlb",
	Protocols: []string{"TCPSSL"},
	Get:       GetAPI, List: ListAPI, Update: UpdateAPI, Associate: AssociateAPI, Dissociate: DisassociateAPI,
	DefaultParam: "CertificateIds.1", AdditionalParam: "AdditionalCertificateIds.%d",
}

// New returns product nlb with the default waits.
func New() product.Product { return NewWith(lb.DefaultWait) }

// NewWith returns product nlb with waits bounded by w.
func NewWith(w lb.WaitOptions) product.Product { return lb.NewListener(&dialect, w) }
