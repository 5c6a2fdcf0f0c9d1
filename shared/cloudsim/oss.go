package cloudsim

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"regexp"
	"sync"
	"time"
)

// DefaultOSSRegion is the region an OSS emulator is in when OSSConfig.Region
// is empty.
const DefaultOSSRegion = "cn-hangzhou"

// DefaultOSSAccountID is the account that owns the emulated buckets when
// OSSConfig.AccountID is empty; it appears in bucket ARNs and trigger events.
const DefaultOSSAccountID = "1234567890123456"

// DefaultOSSMaxObjectSize caps the body of one PutObject when
// OSSConfig.MaxObjectSize is zero. Objects live in memory, so the cap keeps a
// runaway test from exhausting it.
const DefaultOSSMaxObjectSize = 64 << 20

// maxClockSkew is how far a request's signing date may be from the
// emulator's clock, as in OSS.
const maxClockSkew = 15 * time.Minute

// OSSCredential is the secret half of an access key the emulator accepts.
// It never appears in the journal, an error response or a delivery record.
type OSSCredential struct {
	// Secret is the AccessKey secret the V4 signature is computed with.
	Secret string
	// SecurityToken, when set, makes the key an STS key: every request
	// signed with it must carry this value in x-oss-security-token.
	// When empty, a request that carries a token is rejected, as OSS
	// rejects a token for a permanent key.
	SecurityToken string
}

// Format prints the credential with its secret and token redacted, for
// every verb, so that a config dump cannot leak them.
func (OSSCredential) Format(f fmt.State, _ rune) {
	_, _ = f.Write([]byte("OSSCredential{<redacted>}"))
}

// CnameCertificate is a certificate PutCname set on a custom domain: an
// upload (CertPEM, KeyPEM), a Certificate Management Service reference
// (CASRegion, CASID), or its removal.
type CnameCertificate struct {
	CertPEM, KeyPEM string
	CASRegion       string
	CASID           int64
	Removed         bool
}

// OSSConfig configures NewOSS. The zero value is an emulator in
// DefaultOSSRegion that accepts no credentials, has no buckets, keeps data
// in memory and fires no triggers.
type OSSConfig struct {
	// Region is the region the emulator pretends to be in. V4 signatures
	// must be scoped to it (as the SDK does with oss.Region), and it
	// appears in trigger events. Default DefaultOSSRegion.
	Region string

	// AccountID owns the buckets: it appears in bucket ARNs, owner fields
	// and trigger events. Default DefaultOSSAccountID.
	AccountID string

	// Credentials maps an AccessKey ID to its secret (and STS token).
	// A request signed with an ID not in the map is answered with
	// InvalidAccessKeyId (403); a wrong signature with
	// SignatureDoesNotMatch (403). Only V4 signatures (OSS4-HMAC-SHA256)
	// are accepted: V1/V2 and unsigned requests get AccessDenied (403).
	Credentials map[string]OSSCredential

	// Buckets are created when the emulator starts.
	Buckets []string

	// AutoCreateBuckets, when true, creates a bucket on the first
	// PutObject or PutSymlink into it. When false such a write is
	// answered with NoSuchBucket (404), as OSS does. PutBucket always
	// works.
	AutoCreateBuckets bool

	// DataDir, when set, persists every bucket and object beneath this
	// directory (one subdirectory per bucket, one JSON file per object,
	// named by the SHA-256 of its key so any key maps to a safe name)
	// and loads what is there at start. When empty, data lives in memory
	// only.
	DataDir string

	// MaxObjectSize caps one uploaded object; a larger body is answered
	// with EntityTooLarge (400). Default DefaultOSSMaxObjectSize.
	MaxObjectSize int64

	// Journal, when set, records every request the emulator answers with
	// Service "oss", API the OSS operation name, Domain the bucket and
	// Key the object key (never a credential).
	Journal *Journal

	// Triggers are the OSS triggers: after a matching write the emulator
	// POSTs an OSS event to each matching trigger's URL, asynchronously,
	// like Function Compute invoking a function. See OSSTrigger.
	Triggers []OSSTrigger

	// Now is the emulator's clock, used for Last-Modified, event times
	// and the signature clock-skew check. Default time.Now.
	Now func() time.Time

	// CASLookup finds a Certificate Management Service certificate for a
	// PutCname CertId "<id>-<region>" (oss_cname.go); nil means none
	// exists.
	CASLookup func(region string, id int64) (*x509.Certificate, bool)
	// OnCnameCertificate, when set, is told of every certificate PutCname
	// sets on a custom domain or removes from it (the Sim's edge serves
	// it).
	OnCnameCertificate func(domain string, c CnameCertificate)
	// CertificateClock is the time PutCname checks certificate expiry
	// against; nil means Now.
	CertificateClock func() time.Time

	// Faults are the injected failures (5xx answers, reset connections);
	// the zero value injects none.
	Faults OSSFaults
}

// OSS is an emulator of the Alibaba Cloud Object Storage Service subset
// certdrop uses, served over plain HTTP in path style (the Go SDK uses path
// style when its endpoint is an IP address such as 127.0.0.1, or with
// oss.ForcePathStyle). It verifies V4 request signatures exactly as OSS
// does, answers errors in OSS's XML format, and acts as the OSS trigger of
// Function Compute (see OSSTrigger).
//
// Supported operations: PutObject, GetObject, HeadObject, GetObjectMeta,
// DeleteObject, PutSymlink, GetSymlink, ListObjects (v1), PutBucket, and
// the custom-domain operations PutCname, ListCname and DeleteCname
// (oss_cname.go).
// Anything else is answered with NotImplemented (501).
//
// An OSS is safe for concurrent use. Call Close to stop trigger deliveries.
type OSS struct {
	cfg     OSSConfig
	now     func() time.Time
	store   *ossStore
	journal *Journal

	// Trigger deliveries.
	baseCtx    context.Context
	cancel     context.CancelFunc
	mu         sync.Mutex
	pending    int
	idle       chan struct{} // closed while pending == 0
	deliveries []OSSDelivery
	closed     bool

	// attempts numbers the requests for the fault decisions.
	attempts ossAttempts

	// Custom domains (oss_cname.go), by bucket then domain.
	cnameMu sync.Mutex
	cnames  map[string]map[string]*ossCname
	cnameID int64
}

// bucketName is the OSS bucket naming rule: 3 to 63 lowercase letters,
// digits and hyphens, starting and ending with a letter or digit.
var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)

// NewOSS returns an emulator configured by cfg. It fails when a bucket name
// is invalid, a trigger has no URL, or DataDir cannot be read.
func NewOSS(cfg OSSConfig) (*OSS, error) {
	if cfg.Region == "" {
		cfg.Region = DefaultOSSRegion
	}
	if cfg.AccountID == "" {
		cfg.AccountID = DefaultOSSAccountID
	}
	if cfg.MaxObjectSize <= 0 {
		cfg.MaxObjectSize = DefaultOSSMaxObjectSize
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	if err := cfg.Faults.validate(); err != nil {
		return nil, fmt.Errorf("cloudsim: %w", err)
	}
	for i, t := range cfg.Triggers {
		if t.URL == "" {
			return nil, fmt.Errorf("cloudsim: oss trigger %d: no URL", i)
		}
		if t.Bucket != "" && !bucketName.MatchString(t.Bucket) {
			return nil, fmt.Errorf("cloudsim: oss trigger %d: invalid bucket name %q", i, t.Bucket)
		}
	}
	st, err := newOSSStore(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	for _, b := range cfg.Buckets {
		if !bucketName.MatchString(b) {
			return nil, fmt.Errorf("cloudsim: invalid bucket name %q", b)
		}
		if err := st.createBucket(b); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	idle := make(chan struct{})
	close(idle)
	return &OSS{
		cfg:     cfg,
		now:     now,
		store:   st,
		journal: cfg.Journal,
		baseCtx: ctx,
		cancel:  cancel,
		idle:    idle,
	}, nil
}

// Region returns the region the emulator signs and reports events in.
func (o *OSS) Region() string { return o.cfg.Region }

// Close cancels trigger deliveries in flight and waits for them to end.
// Requests answered after Close fire no more triggers.
func (o *OSS) Close() error {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	o.cancel()
	return o.WaitNotifications(context.Background())
}

// ServeHTTP answers one OSS request. Mount the handler at the root of a
// server (or strip any prefix first): the path is /<bucket>/<object key>.
// Serve it directly rather than through an http.ServeMux, which cleans
// paths and may redirect object keys such as "a//b" or "a/../b" that OSS
// accepts.
func (o *OSS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.serve(w, r)
}
