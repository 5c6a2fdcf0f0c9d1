package event

import (
	"encoding/json"
	"fmt"
	"strings"
)

// RollbackEvent redeploys a certificate already in Certificate Management
// Service to every manifest target carrying a later one, by reference:
// {"mode":"rollback","to":"certdrop-example.com-20270221-534547a4"}. The
// manifest decides the targets; the event names only the certificate.
// The rollback stays in force (a pin in the bucket) until a certificate
// issued after it arrives, or {"mode":"rollback","release":"NAME"} lifts
// it.
type RollbackEvent struct {
	// Mode is always ModeRollback.
	Mode string `json:"mode"`
	// To is the certificate's name in CAS.
	To string `json:"to,omitempty"`
	// Release, instead of To, lifts the pin a rollback left: NAME is the
	// certificate rolled back to, or one of its domain names.
	Release string `json:"release,omitempty"`
	// DryRun describes the targets and sets nothing.
	DryRun bool `json:"dryRun"`
}

// ModeRollback is the manual rollback's mode.
const ModeRollback = "rollback"

// isMode reports whether a raw "mode" value is the string mode.
func isMode(raw json.RawMessage, mode string) bool {
	var s string
	return json.Unmarshal(raw, &s) == nil && s == mode
}

func parseRollback(body []byte) (*RollbackEvent, error) {
	var r RollbackEvent
	if err := strictDecode(body, &r, "mode", "to", "release", "dryRun"); err != nil {
		return nil, fmt.Errorf(`%w: manual rollback: %v; expected {"mode":"rollback","to":"certdrop-...","dryRun":false} or {"mode":"rollback","release":"example.com"}`, ErrUnrecognized, err)
	}
	if r.Release != "" {
		switch {
		case r.To != "":
			return nil, fmt.Errorf(`%w: manual rollback names both "to" and "release": roll back, or release a rollback`, ErrUnrecognized)
		case strings.TrimSpace(r.Release) == "":
			return nil, fmt.Errorf(`%w: manual rollback release names nothing`, ErrUnrecognized)
		case len(r.Release) > MaxCertificateName:
			return nil, fmt.Errorf("%w: manual rollback release: the name is %d bytes, more than %d", ErrUnrecognized, len(r.Release), MaxCertificateName)
		}
		return &r, nil
	}
	if strings.TrimSpace(r.To) == "" {
		return nil, fmt.Errorf(`%w: manual rollback names no certificate: {"mode":"rollback","to":"<a certName in CAS, from an earlier report>"}`, ErrUnrecognized)
	}
	if len(r.To) > MaxCertificateName {
		return nil, fmt.Errorf("%w: manual rollback: the certificate name is %d bytes, more than %d", ErrUnrecognized, len(r.To), MaxCertificateName)
	}
	return &r, nil
}
