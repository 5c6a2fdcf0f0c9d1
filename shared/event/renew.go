package event

import (
	"fmt"
	"strings"
)

// RenewEvent renews one certificate of the manifest's certificates
// section on demand: {"mode":"renew","certificate":"example.com","force":true}.
// The bundle is written where the timer's renewal writes it, under the
// configured trigger prefix; the event names only the certificate.
type RenewEvent struct {
	// Mode is always ModeRenew.
	Mode string `json:"mode"`
	// Certificate is the name of a certificate in the manifest.
	Certificate string `json:"certificate"`
	// Force renews whether due or not, ignoring the back-off after
	// failures and the one order a day.
	Force bool `json:"force"`
	// DryRun says whether the certificate is due and orders nothing.
	DryRun bool `json:"dryRun"`
}

// ModeRenew is the manual renewal's mode.
const ModeRenew = "renew"

// MaxCertificateName bounds the certificate name an event may carry; a
// manifest's names are at most 128 bytes.
const MaxCertificateName = 256

func parseRenew(body []byte) (*RenewEvent, error) {
	var r RenewEvent
	if err := strictDecode(body, &r, "mode", "certificate", "force", "dryRun"); err != nil {
		return nil, fmt.Errorf(`%w: manual renewal: %v; expected {"mode":"renew","certificate":"example.com","force":false,"dryRun":false}`, ErrUnrecognized, err)
	}
	if r.Mode != ModeRenew {
		return nil, fmt.Errorf(`%w: manual mode %q; the manual modes are "renew" and "rollback" (a bundle is re-run with {"bundle":"oss://..."}, the reconcile runs on the timer)`,
			ErrUnrecognized, clipName(r.Mode))
	}
	if strings.TrimSpace(r.Certificate) == "" {
		return nil, fmt.Errorf(`%w: manual renewal names no certificate: {"mode":"renew","certificate":"<a name in the manifest's certificates section>"}`, ErrUnrecognized)
	}
	if len(r.Certificate) > MaxCertificateName {
		return nil, fmt.Errorf("%w: manual renewal: the certificate name is %d bytes, more than %d", ErrUnrecognized, len(r.Certificate), MaxCertificateName)
	}
	return &r, nil
}

// clipName shortens a string an event carries for an error message.
func clipName(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "…"
}
