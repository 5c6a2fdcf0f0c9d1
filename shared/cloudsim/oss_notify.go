package cloudsim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultOSSTriggerRetries is how many times a failed trigger invocation is
// retried when OSSTrigger.MaxRetries is zero: Function Compute's default
// maxAsyncRetryAttempts.
const DefaultOSSTriggerRetries = 3

// KeyEncoding says how an object key is written into a trigger event.
type KeyEncoding int

const (
	// KeyRaw writes the key exactly as stored. It is the default: it is
	// what the vendor's documented sample events and samples show
	// ("source/a.png", read back with the key as is). No vendor statement
	// on escaping was found, which is why the encoding is configurable.
	KeyRaw KeyEncoding = iota
	// KeyPercentEncoded percent-encodes every byte of the key except
	// unreserved characters (A-Z a-z 0-9 - _ . ~) and "/", so
	// "in/a b+c%.pem" is written "in/a%20b%2Bc%25.pem". Use it to check
	// that a function decodes keys it receives.
	KeyPercentEncoded
)

// encode renders key in the event.
func (e KeyEncoding) encode(key string) string {
	if e != KeyPercentEncoded {
		return key
	}
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~' || c == '/' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// OSSTrigger is one OSS trigger: after a write that matches it, the
// emulator POSTs the OSS event to URL the way Function Compute invokes an
// event function asynchronously (the write is answered first), and retries
// a failed invocation. Results are kept, see OSS.Deliveries and
// OSS.WaitNotifications.
type OSSTrigger struct {
	// URL receives the event as the POST body, e.g.
	// "http://127.0.0.1:9000/invoke" for a custom runtime.
	URL string

	// Bucket limits the trigger to one bucket; empty matches every bucket.
	Bucket string

	// Events are the trigger's event types, "oss:ObjectCreated:PutObject"
	// style, with a trailing "*" as wildcard. Default
	// ["oss:ObjectCreated:*"]. The emulator emits
	// ObjectCreated:PutObject and ObjectCreated:PutSymlink.
	Events []string

	// Prefix and Suffix filter object keys, as the trigger's
	// filter.key.prefix / suffix; empty matches every key.
	Prefix, Suffix string

	// KeyEncoding says how the key is written into the event. Default
	// KeyRaw.
	KeyEncoding KeyEncoding

	// RuleID is the event's oss.ruleId. Default a fixed 40-hex-digit ID.
	RuleID string

	// FunctionName and FunctionTimeout are sent as x-fc-function-name and
	// x-fc-function-timeout (whole seconds) when set. FunctionTimeout
	// also bounds each attempt.
	FunctionName    string
	FunctionTimeout time.Duration

	// AccessKeyID, AccessKeySecret and SecurityToken are the temporary
	// credentials handed to the function in x-fc-access-key-id,
	// x-fc-access-key-secret and x-fc-security-token, as Function Compute
	// does when the function has a role. Each header is sent only when
	// set. They never appear in a delivery record.
	AccessKeyID, AccessKeySecret, SecurityToken string

	// MaxRetries is how many times a failed invocation is retried: 0 means
	// DefaultOSSTriggerRetries, a negative value means never. An attempt
	// fails when the request fails, the answer is 5xx, or the answer
	// carries an x-fc-status header of 400 or more (how a custom runtime
	// signals an error, e.g. 404). A plain 404 without x-fc-status counts
	// as success, as in Function Compute.
	MaxRetries int

	// RetryDelay is the pause before each retry; default none. It never
	// outlasts Close.
	RetryDelay time.Duration

	// Client sends the invocations; default a client with a 60s timeout.
	Client *http.Client
}

// retries returns the effective retry count.
func (t *OSSTrigger) retries() int {
	switch {
	case t.MaxRetries < 0:
		return 0
	case t.MaxRetries == 0:
		return DefaultOSSTriggerRetries
	}
	return t.MaxRetries
}

// matches reports whether an event of name on bucket/key fires t.
func (t *OSSTrigger) matches(name, bucket, key string) bool {
	if t.Bucket != "" && t.Bucket != bucket {
		return false
	}
	if !strings.HasPrefix(key, t.Prefix) || !strings.HasSuffix(key, t.Suffix) {
		return false
	}
	events := t.Events
	if len(events) == 0 {
		events = []string{"oss:ObjectCreated:*"}
	}
	full := "oss:" + name
	for _, e := range events {
		if p, ok := strings.CutSuffix(e, "*"); ok && strings.HasPrefix(full, p) || e == full {
			return true
		}
	}
	return false
}

// OSSDelivery is the outcome of one trigger invocation, all attempts
// included. It holds no credentials.
type OSSDelivery struct {
	// Trigger is the index of the trigger in OSSConfig.Triggers; URL is
	// where the event went.
	Trigger int
	URL     string
	// EventName is "ObjectCreated:PutObject" or "ObjectCreated:PutSymlink".
	EventName string
	// Bucket and Key name the object (Key as stored, not as encoded).
	Bucket, Key string
	// RequestID is the x-fc-request-id, the same on every attempt;
	// OSSRequestID is the request ID of the write that fired the event.
	RequestID    string
	OSSRequestID string
	// Event is the body that was POSTed.
	Event []byte
	// Attempts is how many times the event was POSTed (1 + retries).
	Attempts int
	// Statuses holds each attempt's HTTP status (0 when the request
	// failed) and FCStatuses its x-fc-status header ("" when absent).
	Statuses   []int
	FCStatuses []string
	// OK reports whether the last attempt succeeded; Err describes the
	// last failure otherwise.
	OK  bool
	Err string
}

// ossEvent and the types below are the OSS trigger event, field for field
// as Function Compute documents it.
type ossEvent struct {
	Events []ossEventRecord `json:"events"`
}

type ossEventRecord struct {
	EventName         string               `json:"eventName"`
	EventSource       string               `json:"eventSource"`
	EventTime         string               `json:"eventTime"`
	EventVersion      string               `json:"eventVersion"`
	OSS               ossEventOSS          `json:"oss"`
	Region            string               `json:"region"`
	RequestParameters ossRequestParameters `json:"requestParameters"`
	ResponseElements  ossResponseElements  `json:"responseElements"`
	UserIdentity      ossEventUserIdentity `json:"userIdentity"`
}

type ossEventOSS struct {
	Bucket           ossEventBucket `json:"bucket"`
	Object           ossEventObject `json:"object"`
	OSSSchemaVersion string         `json:"ossSchemaVersion"`
	RuleID           string         `json:"ruleId"`
}

type ossEventBucket struct {
	ARN           string `json:"arn"`
	Name          string `json:"name"`
	OwnerIdentity string `json:"ownerIdentity"`
}

type ossEventObject struct {
	DeltaSize int64  `json:"deltaSize"`
	ETag      string `json:"eTag"`
	Key       string `json:"key"`
	Size      int64  `json:"size"`
}

type ossRequestParameters struct {
	SourceIPAddress string `json:"sourceIPAddress"`
}

type ossResponseElements struct {
	RequestID string `json:"requestId"`
}

type ossEventUserIdentity struct {
	PrincipalID string `json:"principalId"`
}

// defaultRuleID is the oss.ruleId of events when OSSTrigger.RuleID is empty.
const defaultRuleID = "9adac8e253828f4f7c0466d941fa3db81161cafe"

// ossInvocation is a trigger invocation waiting to be delivered.
type ossInvocation struct {
	trigger *OSSTrigger
	d       OSSDelivery
}

// prepare builds the invocations a write fires and counts them as pending,
// before the write is answered, so that WaitNotifications called after the
// answer waits for them.
func (o *OSS) prepare(name, bucket string, ob, old *ossObject, requestID string, r *http.Request) []*ossInvocation {
	var out []*ossInvocation
	for i := range o.cfg.Triggers {
		t := &o.cfg.Triggers[i]
		if !t.matches(name, bucket, ob.Key) {
			continue
		}
		size := int64(len(ob.Data))
		delta := size
		if old != nil {
			delta -= int64(len(old.Data))
		}
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			ip = r.RemoteAddr
		}
		ruleID := t.RuleID
		if ruleID == "" {
			ruleID = defaultRuleID
		}
		ev := ossEvent{Events: []ossEventRecord{{
			EventName:    name,
			EventSource:  "acs:oss",
			EventTime:    o.now().UTC().Format("2006-01-02T15:04:05.000Z"),
			EventVersion: "1.0",
			OSS: ossEventOSS{
				Bucket: ossEventBucket{
					ARN:           "acs:oss:" + o.cfg.Region + ":" + o.cfg.AccountID + ":" + bucket,
					Name:          bucket,
					OwnerIdentity: o.cfg.AccountID,
				},
				Object:           ossEventObject{DeltaSize: delta, ETag: ob.ETag, Key: t.KeyEncoding.encode(ob.Key), Size: size},
				OSSSchemaVersion: "1.0",
				RuleID:           ruleID,
			},
			Region:            o.cfg.Region,
			RequestParameters: ossRequestParameters{SourceIPAddress: ip},
			ResponseElements:  ossResponseElements{RequestID: requestID},
			UserIdentity:      ossEventUserIdentity{PrincipalID: o.cfg.AccountID},
		}}}
		body, _ := json.Marshal(ev)
		out = append(out, &ossInvocation{trigger: t, d: OSSDelivery{
			Trigger: i, URL: t.URL, EventName: name, Bucket: bucket, Key: ob.Key,
			RequestID: newUUID(), OSSRequestID: requestID, Event: body,
		}})
	}
	if len(out) == 0 {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil
	}
	if o.pending == 0 {
		o.idle = make(chan struct{})
	}
	o.pending += len(out)
	return out
}

// launch starts delivering prepared invocations.
func (o *OSS) launch(invs []*ossInvocation) {
	for _, inv := range invs {
		go o.deliver(inv)
	}
}

// deliver POSTs one event, retrying as configured, and records the result.
func (o *OSS) deliver(inv *ossInvocation) {
	t, d := inv.trigger, inv.d
	client := t.Client
	if client == nil {
		client = &http.Client{Timeout: 60 * time.Second}
	}
	for attempt := 0; attempt <= t.retries(); attempt++ {
		if attempt > 0 && t.RetryDelay > 0 {
			timer := time.NewTimer(t.RetryDelay)
			select {
			case <-timer.C:
			case <-o.baseCtx.Done():
				timer.Stop()
			}
		}
		if err := o.baseCtx.Err(); err != nil {
			d.Err = "delivery canceled: emulator closed"
			break
		}
		status, fcStatus, err := o.invoke(client, t, &d, attempt)
		d.Attempts++
		d.Statuses = append(d.Statuses, status)
		d.FCStatuses = append(d.FCStatuses, fcStatus)
		switch {
		case err != nil:
			d.OK, d.Err = false, err.Error()
		case status >= 500:
			d.OK, d.Err = false, fmt.Sprintf("function answered HTTP %d", status)
		case fcFailed(fcStatus):
			d.OK, d.Err = false, "function answered x-fc-status: "+fcStatus
		default:
			d.OK, d.Err = true, ""
		}
		if d.OK {
			break
		}
	}
	o.mu.Lock()
	o.deliveries = append(o.deliveries, d)
	o.pending--
	if o.pending == 0 {
		close(o.idle)
	}
	o.mu.Unlock()
}

// fcFailed reports whether an x-fc-status header value signals a failed
// invocation: any value that is not a status below 400.
func fcFailed(v string) bool {
	if v == "" {
		return false
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	return err != nil || n >= 400
}

// invoke sends one attempt and returns the HTTP status and x-fc-status.
func (o *OSS) invoke(client *http.Client, t *OSSTrigger, d *OSSDelivery, attempt int) (int, string, error) {
	ctx := o.baseCtx
	if t.FunctionTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.FunctionTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(d.Event))
	if err != nil {
		return 0, "", fmt.Errorf("build invocation: %w", err)
	}
	h := req.Header
	h.Set("Content-Type", "application/octet-stream")
	h.Set("x-fc-request-id", d.RequestID)
	h.Set("x-fc-region", o.cfg.Region)
	h.Set("x-fc-account-id", o.cfg.AccountID)
	h.Set("x-fc-retry-count", strconv.Itoa(attempt))
	if t.FunctionName != "" {
		h.Set("x-fc-function-name", t.FunctionName)
	}
	if t.FunctionTimeout > 0 {
		h.Set("x-fc-function-timeout", strconv.Itoa(int(t.FunctionTimeout/time.Second)))
	}
	if t.AccessKeyID != "" {
		h.Set("x-fc-access-key-id", t.AccessKeyID)
	}
	if t.AccessKeySecret != "" {
		h.Set("x-fc-access-key-secret", t.AccessKeySecret)
	}
	if t.SecurityToken != "" {
		h.Set("x-fc-security-token", t.SecurityToken)
	}
	resp, err := client.Do(req)
	if err != nil {
		// The error names the URL and the cause, never a header.
		return 0, "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header.Get("x-fc-status"), nil
}

// WaitNotifications blocks until every trigger invocation fired so far
// (by writes already answered) has been delivered or has exhausted its
// retries, or until ctx is done.
func (o *OSS) WaitNotifications(ctx context.Context) error {
	o.mu.Lock()
	idle := o.idle
	o.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Deliveries returns the outcome of every finished trigger invocation, in
// the order they finished.
func (o *OSS) Deliveries() []OSSDelivery {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]OSSDelivery, len(o.deliveries))
	copy(out, o.deliveries)
	return out
}
