package hub

import (
	"time"

	"github.com/certdrop/certdrop/shared/pin"
	"github.com/certdrop/certdrop/shared/report"
)

// PinOf is the pin that keeps a rollback in force: the names, CertName,
// fingerprint and CertIds of the certificate rep rolled back to, the time
// at, and who rolled back (trigger and request id). It holds no key.
func PinOf(rep *report.Report, at time.Time, trigger, requestID string) *pin.Pin {
	p := &pin.Pin{
		Version: pin.Version, Names: pin.Names(rep.Bundle.SANs, rep.Bundle.Subject),
		CertName: rep.Bundle.CertName, Fingerprint: rep.Bundle.Fingerprint, NotAfter: rep.Bundle.NotAfter,
		At: at.UTC(), Trigger: trigger, RequestID: requestID,
	}
	for _, c := range rep.CAS {
		if c.CertID != 0 {
			p.CAS = append(p.CAS, pin.CASRef{Account: c.Account, Region: c.Region, CertID: c.CertID})
		}
	}
	return p
}
