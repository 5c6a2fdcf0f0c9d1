package cloudsim

import (
	"encoding/json"
	"io"
	"sync"
	"time"
)

// Entry is one call the emulator answered. It never holds a request's
// private key or credentials.
type Entry struct {
	// Time is when the call arrived; for OpenAPI calls that passed
	// authentication, when the quota admitted or refused it.
	Time time.Time `json:"time"`
	// Service is the OpenAPI product's name (a Product* constant: "cdn",
	// "alidns", ...), "oss" or "acme".
	Service string `json:"service"`
	// API is the action ("SetCdnDomainSSLCertificate") or the OSS
	// operation ("PutObject").
	API string `json:"api"`
	// Account is the ID of the account an authenticated OpenAPI call
	// acted in: the emulator's own, or another one through credentials
	// STS gave for one of its roles.
	Account string `json:"account,omitempty"`
	// Domain is the DomainName parameter; for OSS, the bucket. For alidns
	// calls without DomainName, the zone of RecordId, SubDomain or
	// InputString. For an ACME newOrder, the identifiers, comma-separated.
	Domain string `json:"domain,omitempty"`
	// Key is the OSS object key.
	Key string `json:"key,omitempty"`
	// Outcome is "ok" or "error"; also "reset" (the connection was reset,
	// nothing applied) and, for OpenAPI calls, "abandoned" (the client
	// went away during the injected latency, nothing applied). A call
	// reset after it was applied (Fault "resetAfterApply") is "ok" (or
	// "error" when the operation refused it) with Status 0.
	Outcome string `json:"outcome"`
	// Code is the error code answered, empty on success.
	Code string `json:"code,omitempty"`
	// Status is the HTTP status answered (0 when the connection was reset,
	// before or after the call was applied).
	Status    int    `json:"status"`
	RequestID string `json:"requestId,omitempty"`
	// CertName is the CertName parameter of a Set call; on success, the
	// name installed.
	CertName string `json:"certName,omitempty"`
	// Env is the Env parameter of a Set call ("staging").
	Env string `json:"env,omitempty"`
	// CertType is the CertType parameter of a Set call (upload, cas).
	CertType string `json:"certType,omitempty"`
	// Region is, for a CAS call, the region of the endpoint called; for a
	// Set call with CertType cas, the CAS region the certificate is taken
	// from (CertRegion, or the default cn-hangzhou).
	Region string `json:"region,omitempty"`
	// CertID is the CertId parameter of a CAS call or a Set call by
	// reference; on a successful UploadUserCertificate, the ID assigned;
	// for OSS PutCname, the CertId of the certificate configuration.
	CertID string `json:"certId,omitempty"`
	// KeySent reports that the request carried a private key (Key, SSLPri,
	// PrivateKey, or an OSS PutCname PrivateKey), whatever the outcome: a
	// key crossed the wire. The key itself is never recorded.
	KeySent bool `json:"keySent,omitempty"`
	// ParamsIn says where an OpenAPI request's parameters travelled:
	// "body" (a form body, certdrop's default), "query" (the query string,
	// as the generated SDKs send them), "both", or "" (none).
	ParamsIn string `json:"paramsIn,omitempty"`
	// KeyReturned reports that the answer carried a private key
	// (GetUserCertificateDetail without CertFilter=true).
	KeyReturned bool `json:"keyReturned,omitempty"`
	// RR, RecordType and Value describe the DNS record an AddDomainRecord
	// asked for or a DeleteDomainRecord removed; RecordID is the record's
	// ID (assigned, on a successful add).
	RR         string `json:"rr,omitempty"`
	RecordType string `json:"recordType,omitempty"`
	Value      string `json:"value,omitempty"`
	RecordID   string `json:"recordId,omitempty"`
	// Replaces and Profile are what an ACME newOrder asked for (its
	// identifiers are in Domain, comma-separated).
	Replaces string `json:"replaces,omitempty"`
	Profile  string `json:"profile,omitempty"`
	// Attempt numbers the OpenAPI calls of one API for one domain that
	// passed authentication and the quota, from 1: the input of the
	// deterministic fault decisions. For OSS, the authenticated requests
	// of one operation on one bucket and key (a listing's prefix).
	Attempt int `json:"attempt,omitempty"`
	// Fault names the injected fault: "scripted", "throttle", "5xx",
	// "reset" (before the call was applied), "resetAfterApply" (after it
	// was: the client got no answer) or "slow" (the answer was held past
	// the client's timeout; the call was applied).
	Fault string `json:"fault,omitempty"`
}

// Journal records every call the emulator answers, in order, and optionally
// streams them as JSON lines. It is safe for concurrent use.
type Journal struct {
	mu      sync.Mutex
	entries []Entry
	w       io.Writer
}

// NewJournal returns a journal that also writes each entry as a JSON line
// to w, when w is not nil.
func NewJournal(w io.Writer) *Journal { return &Journal{w: w} }

// Record appends an entry, stamping its time if unset.
func (j *Journal) Record(e Entry) {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries = append(j.entries, e)
	if j.w != nil {
		b, _ := json.Marshal(e)
		_, _ = j.w.Write(append(b, '\n'))
	}
}

// KeysSent counts the entries whose request carried a private key, and
// those whose answer did: how many times a key crossed the wire.
func (j *Journal) KeysSent() (sent, returned int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, e := range j.entries {
		if e.KeySent {
			sent++
		}
		if e.KeyReturned {
			returned++
		}
	}
	return sent, returned
}

// Entries returns a copy of every entry so far.
func (j *Journal) Entries() []Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]Entry(nil), j.entries...)
}
