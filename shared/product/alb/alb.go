// Package alb is the server certificate of an Application Load Balancer
// listener (API 2020-06-16), an HTTPS or QUIC listener's default
// certificate or one of its additional (SNI) certificates, always by
// reference to Certificate Management Service ("<CertId>-<region>"):
//
//   - the default certificate: UpdateListenerAttribute with
//     Certificates.1.CertificateId;
//   - an additional certificate (sni: true):
//     AssociateAdditionalCertificatesWithListener with
//     Certificates.1.CertificateId, then, once the listener is Running
//     and the certificate Associated,
//     DissociateAdditionalCertificatesFromListener of the certificates it
//     replaces: those covering exactly the target's names, or certdrop's
//     earlier certificate for them, never another;
//   - what a listener carries: GetListenerAttribute (ListenerStatus,
//     ListenerProtocol, Certificates: the default) and
//     ListListenerCertificates (CertificateType=Server, NextToken pages of
//     up to 100: CertificateId, IsDefault, Status Associating or
//     Associated), each id resolved through ListUserCertificateOrder to
//     its fingerprint and dates.
//
// The writes are asynchronous (they return a JobId; the listener goes
// Configuring, then Running): certdrop waits, bounded
// (lb.DefaultWait) and within the run's deadline, for the listener to be
// Running with the certificate in place before a target is deployed;
// a write answered IncorrectStatus.Listener, Conflict.Lock or
// ResourceInConfiguring.Listener (another operation holds the listener)
// is sent again once the listener is Running. Calls to one listener are
// serialised; different listeners proceed in parallel.
//
// Manifest: region (the load balancer's, required), listener (lsn-...,
// required), sni (false: the default certificate; true: an additional
// one), domain/domains (the names the certificate must cover). The
// certificate goes to CAS once per CAS region (delivery: cas, whatever
// the defaults say): cn-hangzhou for a listener in the Chinese mainland,
// ap-southeast-1 elsewhere (lb.CASRegionOf: the references do not state
// it; the target's casRegion overrides it).
//
// Quotas, per account and region, from the vendor's quota page
// (api-alb-2020-06-16-quota): UpdateListenerAttribute and
// AssociateAdditionalCertificatesWithListener 200 calls a minute, which
// certdrop paces at 3.3/s; DissociateAdditionalCertificatesFromListener
// takes the same (not read in the page: a cautious assumption);
// GetListenerAttribute and ListListenerCertificates 10/s (cautious: the
// sibling GWLB API documents 600 a minute for its GetListenerAttribute).
// Every quota is configurable with CERTDROP_QUOTAS. An instance holds at
// most 25 additional certificates by default (10 for Basic; the ALB
// quotas page, doc-detail/198636), which QuotaExceeded answers say.
//
// Endpoint: alb.<region>.aliyuncs.com (the ALB endpoints page,
// help.aliyun.com document 2254821), or the URL in
// CERTDROP_ALB_ENDPOINT for every region.
//
// Sources: https://www.alibabacloud.com/help/en/doc-detail/214356.html
// (UpdateListenerAttribute, asynchronous: Configuring, Running),
// https://www.alibabacloud.com/help/en/doc-detail/214350.html
// (AssociateAdditionalCertificatesWithListener: Associating,
// Associated), https://help.aliyun.com/document_detail/214354.html
// (ListListenerCertificates: MaxResults 1 to 100, NextToken,
// CertificateType, ids "1416****-cn-hangzhou"),
// https://help.aliyun.com/zh/slb/application-load-balancer/developer-reference/api-alb-2020-06-16-quota.
package alb

import (
	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product"
	"github.com/certdrop/certdrop/shared/product/internal/lb"
)

// Name is the product's name.
const Name manifest.Product = "alb"

// Version is the ALB API version.
const Version = "2020-06-16"

// EnvEndpoint overrides the endpoint of every region, as a URL.
const EnvEndpoint = config.ALBEndpoint

// The quotas certdrop paces at (see the package comment).
const (
	writeQuota = 200.0 / 60
	readQuota  = 10
)

// The operations.
var (
	// UpdateAPI sets a listener's default certificate.
	UpdateAPI = plan.API{Service: "alb", Action: "UpdateListenerAttribute", Version: Version, Quota: writeQuota}
	// AssociateAPI adds additional certificates to a listener.
	AssociateAPI = plan.API{Service: "alb", Action: "AssociateAdditionalCertificatesWithListener", Version: Version, Quota: writeQuota}
	// DissociateAPI removes additional certificates from a listener.
	DissociateAPI = plan.API{Service: "alb", Action: "DissociateAdditionalCertificatesFromListener", Version: Version, Quota: writeQuota}
	// GetAPI reads a listener.
	GetAPI = plan.API{Service: "alb", Action: "GetListenerAttribute", Version: Version, Quota: readQuota}
	// ListAPI lists a listener's certificates.
	ListAPI = plan.API{Service: "alb", Action: "ListListenerCertificates", Version: Version, Quota: readQuota}
)

// dialect is ALB's.
var dialect = lb.Dialect{
	Name: Name, Title: "ALB", EnvVar: EnvEndpoint, HostPrefix: "alb",
	Protocols: []string{"HTTPS", "QUIC"},
	Get:       GetAPI, List: ListAPI, Update: UpdateAPI, Associate: AssociateAPI, Dissociate: DissociateAPI,
	DefaultParam: "Certificates.1.CertificateId", AdditionalParam: "Certificates.%d.CertificateId",
	ListParams: map[string]string{"CertificateType": "Server"},
}

// New returns product alb with the default waits.
func New() product.Product { return NewWith(lb.DefaultWait) }

// NewWith returns product alb with waits bounded by w.
func NewWith(w lb.WaitOptions) product.Product { return lb.NewListener(&dialect, w) }
