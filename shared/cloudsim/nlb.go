package cloudsim

import "github.com/certdrop/certdrop/shared/config"

// ProductNLB is Network Load Balancer (product nlb, API version
// 2022-04-30, RPC style), served on the OpenAPI listener
// (CERTDROP_NLB_ENDPOINT) beside ALB: the same operations by name are
// told apart by their version. Its TCPSSL listeners are configured under
// loadBalancers.nlb and behave as ALB's (alb.go, loadbalancer.go), with
// NLB's names and shapes:
//
//	GetListenerAttribute  -> ListenerStatus, ListenerProtocol, CertificateIds
//	                         (the default), RegionId.
//	ListListenerCertificates  MaxResults, NextToken -> Certificates[{CertificateId,
//	                         IsDefault, Status, CertificateType}].
//	UpdateListenerAttribute  CertificateIds.1.
//	AssociateAdditionalCertificatesWithListener     AdditionalCertificateIds.N.
//	DisassociateAdditionalCertificatesWithListener  AdditionalCertificateIds.N.
//
// Errors as ALB's, with the NLB pages' spelling of two codes:
// IncorrectStatus.listener and ResourceNotFound.listener.
//
// Quotas: AssociateAdditionalCertificatesWithListener 200 a minute and
// ListListenerCertificates 20/s (the vendor's quota page);
// UpdateListenerAttribute and
// DisassociateAdditionalCertificatesWithListener 200 a minute and
// GetListenerAttribute 10/s (the emulator's choice).
const ProductNLB = "nlb"

// nlbProduct registers NLB.
func nlbProduct() productSpec {
	d := lbDialect{product: ProductNLB, defaultParam: "CertificateIds.%d", additionalParam: "AdditionalCertificateIds.%d",
		protocols: []string{"TCPSSL"}, busy: "IncorrectStatus.listener", notFound: "ResourceNotFound.listener"}
	v := "2022-04-30"
	return productSpec{
		name: ProductNLB, code: "Nlb", host: "nlb.cn-hangzhou.aliyuncs.com",
		env:    []string{config.NLBEndpoint},
		errors: lbErrors(),
		actions: []apiSpec{
			{action: "GetListenerAttribute", version: v, quota: 10, journal: lbJournal, handle: d.get},
			{action: "ListListenerCertificates", version: v, quota: 20, journal: lbJournal, handle: d.list},
			{action: "UpdateListenerAttribute", version: v, quota: 200.0 / 60, journal: lbJournal, handle: d.update},
			{action: "AssociateAdditionalCertificatesWithListener", version: v, quota: 200.0 / 60, journal: lbJournal, handle: d.associate},
			{action: "DisassociateAdditionalCertificatesWithListener", version: v, quota: 200.0 / 60, journal: lbJournal, handle: d.dissociate},
		},
	}
}
