package event

import (
	"net/url"
	"strings"
)

// OSSEvent is the body Function Compute posts for an OSS trigger: one or
// more object notifications. Every field is optional on the wire; the
// samples the vendor publishes differ (objectMeta, virtualBucket).
type OSSEvent struct {
	Events []OSSRecord `json:"events"`
}

// OSSRecord is one object notification.
type OSSRecord struct {
	EventName         string            `json:"eventName"`
	EventSource       string            `json:"eventSource"`
	EventTime         string            `json:"eventTime"`
	EventVersion      string            `json:"eventVersion"`
	OSS               OSSEntity         `json:"oss"`
	Region            string            `json:"region"`
	RequestParameters RequestParameters `json:"requestParameters"`
	ResponseElements  ResponseElements  `json:"responseElements"`
	UserIdentity      UserIdentity      `json:"userIdentity"`
}

// OSSEntity names the bucket and object of a notification.
type OSSEntity struct {
	Bucket           Bucket `json:"bucket"`
	Object           Object `json:"object"`
	OSSSchemaVersion string `json:"ossSchemaVersion"`
	RuleID           string `json:"ruleId"`
}

// Bucket is the notification's bucket.
type Bucket struct {
	ARN           string `json:"arn"`
	Name          string `json:"name"`
	OwnerIdentity string `json:"ownerIdentity"`
	VirtualBucket string `json:"virtualBucket"`
}

// Object is the notification's object.
type Object struct {
	DeltaSize  int64       `json:"deltaSize"`
	ETag       string      `json:"eTag"`
	Key        string      `json:"key"`
	Size       int64       `json:"size"`
	ObjectMeta *ObjectMeta `json:"objectMeta,omitempty"`
}

// ObjectMeta is the object metadata some notifications carry.
type ObjectMeta struct {
	MimeType string `json:"mimeType"`
}

// RequestParameters describe the request that caused the notification.
type RequestParameters struct {
	SourceIPAddress string `json:"sourceIPAddress"`
}

// ResponseElements carry the OSS request id of the causing request.
type ResponseElements struct {
	RequestID string `json:"requestId"`
}

// UserIdentity is the principal that caused the notification.
type UserIdentity struct {
	PrincipalID string `json:"principalId"`
}

// createdEvents are the ObjectCreated notifications certdrop acts on.
// PutSymlink is among them: the function reads the link's target.
var createdEvents = []string{
	"ObjectCreated:PutObject", "ObjectCreated:PostObject", "ObjectCreated:CompleteMultipartUpload",
	"ObjectCreated:CopyObject", "ObjectCreated:AppendObject", "ObjectCreated:PutSymlink",
}

// IsObjectCreated reports whether the record announces a new object that
// certdrop reads; other event names (deletions, ObjectCreated kinds that do
// not exist yet) are logged and ignored by the caller.
func (r OSSRecord) IsObjectCreated() bool {
	for _, n := range createdEvents {
		if strings.EqualFold(r.EventName, n) {
			return true
		}
	}
	return false
}

// KeyCandidates returns the object keys the record may mean, most likely
// first. Notifications carry the key percent-encoded or raw depending on the
// path that produced them, and a raw key may itself contain '%' or '+', so
// the caller tries each candidate until an object exists: the decoded key,
// the form-decoded key ('+' as space), then the key as it arrived.
func (r OSSRecord) KeyCandidates() []string {
	raw := r.OSS.Object.Key
	var out []string
	add := func(k string) {
		for _, o := range out {
			if o == k {
				return
			}
		}
		if k != "" {
			out = append(out, k)
		}
	}
	if k, err := url.PathUnescape(raw); err == nil {
		add(k)
	}
	if k, err := url.QueryUnescape(raw); err == nil {
		add(k)
	}
	add(raw)
	return out
}
