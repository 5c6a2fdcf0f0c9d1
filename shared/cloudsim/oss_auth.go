package cloudsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// OSS V4 signature constants, as in the Go SDK's auth.go and conn.go.
const (
	ossV4Algorithm   = "OSS4-HMAC-SHA256"
	ossV4Terminator  = "aliyun_v4_request"
	ossV4Product     = "oss"
	ossV4DateFormat  = "20060102T150405Z"
	ossV4DayFormat   = "20060102"
	ossUnsignedBody  = "UNSIGNED-PAYLOAD"
	hdrOSSDate       = "X-Oss-Date"
	hdrContentSHA256 = "X-Oss-Content-Sha256"
	hdrSecurityToken = "X-Oss-Security-Token"
)

// ossV4Auth is a parsed V4 Authorization header.
type ossV4Auth struct {
	accessKeyID string
	day         string
	region      string
	product     string
	additional  []string // lowercase header names, as listed
	signature   string
}

// parseV4Authorization parses
// "OSS4-HMAC-SHA256 Credential=ak/day/region/oss/aliyun_v4_request,AdditionalHeaders=a;b,Signature=hex".
func parseV4Authorization(h string) (ossV4Auth, bool) {
	var a ossV4Auth
	rest, ok := strings.CutPrefix(h, ossV4Algorithm+" ")
	if !ok {
		return a, false
	}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, false
		}
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != ossV4Terminator {
				return a, false
			}
			a.accessKeyID, a.day, a.region, a.product = f[0], f[1], f[2], f[3]
		case "AdditionalHeaders":
			for _, n := range strings.Split(v, ";") {
				if n != "" {
					a.additional = append(a.additional, strings.ToLower(n))
				}
			}
		case "Signature":
			a.signature = v
		}
	}
	if a.accessKeyID == "" || a.signature == "" {
		return a, false
	}
	return a, true
}

// ossEscape percent-encodes s the way the SDK does in V4 canonical
// resources and request paths: url.QueryEscape, with spaces as %20.
func ossEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// canonicalResourceV4 is the resource part of the V4 canonical request:
// "/", "/bucket/" or "/bucket/key" with the key escaped except for "/".
func canonicalResourceV4(bucket, key string) string {
	switch {
	case bucket == "":
		return "/"
	case key == "":
		return "/" + bucket + "/"
	default:
		return "/" + bucket + "/" + strings.ReplaceAll(ossEscape(key), "%2F", "/")
	}
}

// canonicalQueryV4 renders every query parameter, each name and value
// escaped, sorted by escaped name; a parameter without a value is its name
// alone.
func canonicalQueryV4(q url.Values) string {
	type kv struct{ k, v string }
	params := make([]kv, 0, len(q))
	for k, vs := range q {
		v := ""
		if len(vs) > 0 {
			v = vs[0]
		}
		params = append(params, kv{url.QueryEscape(k), v})
	}
	sort.Slice(params, func(i, j int) bool { return params[i].k < params[j].k })
	var b strings.Builder
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		if p.v != "" {
			b.WriteByte('=')
			b.WriteString(ossEscape(p.v))
		}
	}
	return b.String()
}

// canonicalHeadersV4 renders the signed headers: Content-Type,
// Content-MD5, every x-oss-* header and the additional headers, lowercase,
// trimmed, sorted.
func canonicalHeadersV4(r *http.Request, additional []string) string {
	extra := map[string]bool{}
	for _, n := range additional {
		extra[n] = true
	}
	m := map[string]string{}
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		if lk == "content-type" || lk == "content-md5" || strings.HasPrefix(lk, "x-oss-") || extra[lk] {
			v := ""
			if len(vs) > 0 {
				v = vs[0]
			}
			m[lk] = strings.Trim(v, " ")
		}
	}
	if extra["host"] {
		m["host"] = r.Host
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(':')
		b.WriteString(m[k])
		b.WriteByte('\n')
	}
	return b.String()
}

// signingDate returns the date string that was signed and its time:
// x-oss-date when present, else Date.
func signingDate(r *http.Request) (string, time.Time, bool) {
	if d := r.Header.Get(hdrOSSDate); d != "" {
		t, err := time.Parse(ossV4DateFormat, d)
		return d, t, err == nil
	}
	if d := r.Header.Get("Date"); d != "" {
		t, err := time.Parse(http.TimeFormat, d)
		return d, t, err == nil
	}
	return "", time.Time{}, false
}

// ossV4Signature computes the V4 signature of r for bucket/key with secret.
func ossV4Signature(r *http.Request, a ossV4Auth, bucket, key, signDate, secret string) string {
	return ossV4SignatureQuery(r, r.URL.Query(), a, bucket, key, signDate, secret)
}

// ossV4SignatureQuery is ossV4Signature over the query parameters q (a
// presigned URL's, without its signature).
func ossV4SignatureQuery(r *http.Request, q url.Values, a ossV4Auth, bucket, key, signDate, secret string) string {
	payload := r.Header.Get(hdrContentSHA256)
	if payload == "" {
		payload = ossUnsignedBody
	}
	additional := append([]string(nil), a.additional...)
	sort.Strings(additional)
	creq := r.Method + "\n" +
		canonicalResourceV4(bucket, key) + "\n" +
		canonicalQueryV4(q) + "\n" +
		canonicalHeadersV4(r, a.additional) + "\n" +
		strings.Join(additional, ";") + "\n" +
		payload
	h := sha256.Sum256([]byte(creq))
	scope := a.day + "/" + a.region + "/" + a.product + "/" + ossV4Terminator
	sts := ossV4Algorithm + "\n" + signDate + "\n" + scope + "\n" + hex.EncodeToString(h[:])

	k := hmacSHA256([]byte("aliyun_v4"+secret), a.day)
	k = hmacSHA256(k, a.region)
	k = hmacSHA256(k, a.product)
	k = hmacSHA256(k, ossV4Terminator)
	return hex.EncodeToString(hmacSHA256(k, sts))
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// authenticate checks r's V4 signature and returns nil, or the OSS error
// to answer. It never puts a secret or token into the error.
func (o *OSS) authenticate(r *http.Request, bucket, key string) *ossError {
	h := r.Header.Get("Authorization")
	switch {
	case h == "":
		q := r.URL.Query()
		if q.Get(qSignatureVersion) == ossV4Algorithm {
			return o.authenticatePresigned(r, q, bucket, key)
		}
		if q.Has("x-oss-signature") || q.Has("Signature") {
			return &ossError{http.StatusForbidden, "AccessDenied", "This emulator accepts only V4 signed URLs (x-oss-signature-version=OSS4-HMAC-SHA256); sign with oss.AuthVersion(oss.AuthV4) and oss.Region."}
		}
		return &ossError{http.StatusForbidden, "AccessDenied", "You have no right to access this object because of bucket acl."}
	case !strings.HasPrefix(h, ossV4Algorithm+" "):
		return &ossError{http.StatusForbidden, "AccessDenied", "This emulator accepts only V4 signatures (OSS4-HMAC-SHA256); configure the client with oss.AuthVersion(oss.AuthV4) and oss.Region."}
	}
	a, ok := parseV4Authorization(h)
	if !ok {
		return &ossError{http.StatusBadRequest, "InvalidArgument", "Authorization header is invalid."}
	}
	cred, e := o.credential(a, r.Header.Get(hdrSecurityToken), "Authorization header")
	if e != nil {
		return e
	}
	if r.Header.Get(hdrContentSHA256) == "" {
		return &ossError{http.StatusBadRequest, "InvalidArgument", "Missing required header for this request: x-oss-content-sha256."}
	}
	signDate, t, ok := signingDate(r)
	if !ok {
		return &ossError{http.StatusForbidden, "AccessDenied", "The request has no valid Date or x-oss-date header."}
	}
	if d := o.now().Sub(t); d > maxClockSkew || d < -maxClockSkew {
		return &ossError{http.StatusForbidden, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large."}
	}
	if t.UTC().Format(ossV4DayFormat) != a.day {
		return &ossError{http.StatusForbidden, "SignatureDoesNotMatch", "The date in the credential scope does not match the request date."}
	}
	want := ossV4Signature(r, a, bucket, key, signDate, cred.Secret)
	if !hmac.Equal([]byte(want), []byte(a.signature)) {
		return &ossError{http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method."}
	}
	return nil
}

// credential checks a V4 credential scope against the configuration: its
// AccessKey ID, the security token sent with it, its region and product;
// where names the scope's carrier in the errors.
func (o *OSS) credential(a ossV4Auth, token, where string) (OSSCredential, *ossError) {
	cred, ok := o.cfg.Credentials[a.accessKeyID]
	if !ok {
		return OSSCredential{}, &ossError{http.StatusForbidden, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our records."}
	}
	if token != cred.SecurityToken {
		if cred.SecurityToken == "" {
			return OSSCredential{}, &ossError{http.StatusForbidden, "InvalidAccessKeyId", "A security token was sent with a permanent AccessKey."}
		}
		return OSSCredential{}, &ossError{http.StatusForbidden, "InvalidSecurityToken", "The security token you provided is invalid."}
	}
	if a.region != o.cfg.Region {
		return OSSCredential{}, &ossError{http.StatusBadRequest, "InvalidArgument", "Invalid signing region in " + where + ": the bucket is in " + o.cfg.Region + "."}
	}
	if a.product != ossV4Product {
		return OSSCredential{}, &ossError{http.StatusBadRequest, "InvalidArgument", "Invalid signing product in " + where + "."}
	}
	return cred, nil
}

// The query parameters of a V4 presigned URL, as the Go SDK's
// Bucket.SignURL writes them under AuthV4 (conn.go signURL).
const (
	qSignatureVersion = "x-oss-signature-version"
	qCredential       = "x-oss-credential"
	qDate             = "x-oss-date"
	qExpires          = "x-oss-expires"
	qSignature        = "x-oss-signature"
	qAdditional       = "x-oss-additional-headers"
	qSecurityToken    = "x-oss-security-token"
	// maxPresignExpires is the longest validity OSS accepts for a V4
	// signed URL: 7 days.
	maxPresignExpires = 7 * 24 * 60 * 60
)

// authenticatePresigned checks a V4 presigned URL: the credential scope,
// the signing date and validity (x-oss-date plus x-oss-expires seconds),
// the security token, and the signature over the canonical request whose
// query is every parameter but x-oss-signature and whose payload is
// UNSIGNED-PAYLOAD.
func (o *OSS) authenticatePresigned(r *http.Request, q url.Values, bucket, key string) *ossError {
	a, ok := parseV4Authorization(ossV4Algorithm + " Credential=" + q.Get(qCredential) +
		",AdditionalHeaders=" + q.Get(qAdditional) + ",Signature=" + q.Get(qSignature))
	if !ok {
		return &ossError{http.StatusBadRequest, "InvalidArgument", "The signed URL's x-oss-credential or x-oss-signature is invalid."}
	}
	cred, e := o.credential(a, q.Get(qSecurityToken), "x-oss-credential")
	if e != nil {
		return e
	}
	signDate := q.Get(qDate)
	t, err := time.Parse(ossV4DateFormat, signDate)
	if err != nil {
		return &ossError{http.StatusForbidden, "AccessDenied", "The signed URL has no valid x-oss-date."}
	}
	expires, err := strconv.ParseInt(q.Get(qExpires), 10, 64)
	if err != nil || expires <= 0 || expires > maxPresignExpires {
		return &ossError{http.StatusBadRequest, "InvalidArgument", "x-oss-expires must be a number of seconds from 1 to 604800."}
	}
	now := o.now()
	if t.Sub(now) > maxClockSkew {
		return &ossError{http.StatusForbidden, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large."}
	}
	if now.After(t.Add(time.Duration(expires) * time.Second)) {
		return &ossError{http.StatusForbidden, "AccessDenied", "Request has expired."}
	}
	if t.UTC().Format(ossV4DayFormat) != a.day {
		return &ossError{http.StatusForbidden, "SignatureDoesNotMatch", "The date in the credential scope does not match the request date."}
	}
	signed := url.Values{}
	for k, v := range q {
		if k != qSignature {
			signed[k] = v
		}
	}
	want := ossV4SignatureQuery(r, signed, a, bucket, key, signDate, cred.Secret)
	if !hmac.Equal([]byte(want), []byte(a.signature)) {
		return &ossError{http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method."}
	}
	return nil
}
