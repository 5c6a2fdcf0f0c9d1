package report

import (
	"strconv"
	"strings"

	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/plan"
)

// CASUpload is what happened to a bundle's certificate in one region of
// Certificate Management Service, for targets with delivery: cas.
type CASUpload struct {
	// Account is the manifest's name of the account whose CAS holds it;
	// empty for the function's own.
	Account string `json:"account,omitempty"`
	Region  string `json:"region"`
	Name    string `json:"name"`
	// CertID is the certificate's CertId in that region; 0 when it is not
	// there (the upload failed, or a dry run found none).
	CertID int64 `json:"certId"`
	// Found: CAS already held it (same name and fingerprint), nothing was
	// uploaded. Uploaded: this run uploaded it.
	Found    bool `json:"found"`
	Uploaded bool `json:"uploaded"`
	// Attempts counts the UploadUserCertificate calls, Throttled those
	// answered with throttling.
	Attempts   int      `json:"attempts"`
	Throttled  int      `json:"throttled"`
	RequestIDs []string `json:"requestIds"`
	// Targets counts the targets that reference it.
	Targets    int    `json:"targets"`
	Error      *Error `json:"error,omitempty"`
	DurationMs int64  `json:"durationMs"`
}

// UploadsOf reports the fan-out's CAS uploads.
func UploadsOf(ups []fanout.Upload) []CASUpload {
	if len(ups) == 0 {
		return nil
	}
	out := make([]CASUpload, 0, len(ups))
	for _, u := range ups {
		c := CASUpload{Account: u.Account, Region: u.Region, Name: u.Name, CertID: u.CertID, Found: u.Found, Uploaded: u.Uploaded,
			Attempts: u.Attempts, Throttled: u.Throttled, RequestIDs: append([]string{}, u.RequestIDs...),
			Targets: u.Targets, DurationMs: u.Duration.Milliseconds()}
		if u.Err != nil {
			c.Error = errorOf(u.Err)
		}
		out = append(out, c)
	}
	return out
}

// certIDOf reads the CertId a call referenced (0 for upload calls and
// those that take the name). An OSS custom domain's call writes it
// "<CertId>-<region>".
func certIDOf(res fanout.Result) int64 {
	v, _, _ := strings.Cut(res.Call.Param(plan.ParamCertID), "-")
	id, _ := strconv.ParseInt(v, 10, 64)
	return id
}

// ErrorOf explains err as reports do: its code, message, hint and whether
// it is transient. For the CAS operations reported outside a deployment
// (rollback refusals, pruning).
func ErrorOf(err error) *Error {
	if err == nil {
		return nil
	}
	return errorOf(err)
}
