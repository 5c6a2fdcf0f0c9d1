package cloudsim

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxKeyLen is OSS's limit on an object key, in bytes.
const maxKeyLen = 1023

// ossRecorder calls onStatus with the status a handler answers, once,
// before any of the answer is sent: so the journal holds an entry before
// the client can see the answer.
type ossRecorder struct {
	http.ResponseWriter
	status   int
	onStatus func(int)
}

func (r *ossRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
		r.onStatus(code)
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *ossRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	return r.ResponseWriter.Write(b)
}

// Flush sends what was written so far, so a write is answered before its
// trigger fires.
func (r *ossRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// ossRoute is the operation a request names.
type ossRoute struct {
	api         string
	bucket, key string
	unsupported bool // outside the emulated subset: answer NotImplemented
}

// presignParams are the query parameters of a V4 signed URL.
var presignParams = map[string]bool{qSignatureVersion: true, qCredential: true, qDate: true, qExpires: true,
	qSignature: true, qAdditional: true, qSecurityToken: true}

// route maps a path-style request to its OSS operation.
func route(r *http.Request) ossRoute {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	q := r.URL.Query()
	rt := ossRoute{bucket: bucket, key: key}
	only := func(allowed ...string) bool { // every query parameter is allowed
		for k := range q {
			// A signed URL's parameters (authenticatePresigned) go with
			// every operation.
			ok := strings.HasPrefix(k, "response-") || presignParams[k]
			for _, a := range allowed {
				ok = ok || k == a
			}
			if !ok {
				return false
			}
		}
		return true
	}
	switch {
	case bucket == "":
		rt.api, rt.unsupported = "ListBuckets", true
	case key == "":
		switch {
		case q.Has("cname") && r.Method == http.MethodGet && q.Get("comp") == "":
			rt.api = "ListCname"
			rt.unsupported = !only("cname")
		case q.Has("cname") && r.Method == http.MethodPost && q.Get("comp") == "add":
			rt.api = "PutCname"
			rt.unsupported = !only("cname", "comp")
		case q.Has("cname") && r.Method == http.MethodPost && q.Get("comp") == "delete":
			rt.api = "DeleteCname"
			rt.unsupported = !only("cname", "comp")
		case q.Has("cname") && q.Get("comp") == "token":
			rt.api, rt.unsupported = "CnameToken", true
		case r.Method == http.MethodGet && q.Has("list-type"):
			rt.api, rt.unsupported = "ListObjectsV2", true
		case r.Method == http.MethodGet:
			rt.api = "ListObjects"
			rt.unsupported = !only("prefix", "marker", "max-keys", "delimiter", "encoding-type")
		case r.Method == http.MethodPut:
			rt.api = "PutBucket"
			rt.unsupported = len(q) > 0
		default:
			rt.api, rt.unsupported = r.Method+"Bucket", true
		}
	default:
		switch r.Method {
		case http.MethodPut:
			switch {
			case q.Has("symlink"):
				rt.api = "PutSymlink"
				rt.unsupported = !only("symlink")
			case r.Header.Get("x-oss-copy-source") != "":
				rt.api, rt.unsupported = "CopyObject", true
			default:
				rt.api = "PutObject"
				rt.unsupported = slices.ContainsFunc(slices.Collect(maps.Keys(q)), func(k string) bool { return !presignParams[k] })
			}
		case http.MethodGet:
			if q.Has("symlink") {
				rt.api = "GetSymlink"
				rt.unsupported = !only("symlink")
			} else {
				rt.api = "GetObject"
				rt.unsupported = !only()
			}
		case http.MethodHead:
			if q.Has("objectMeta") {
				rt.api = "GetObjectMeta"
				rt.unsupported = !only("objectMeta")
			} else {
				rt.api = "HeadObject"
				rt.unsupported = !only()
			}
		case http.MethodDelete:
			rt.api = "DeleteObject"
			rt.unsupported = len(q) > 0
		default:
			rt.api, rt.unsupported = r.Method+"Object", true
		}
	}
	return rt
}

// serve answers one request and journals it.
func (o *OSS) serve(w http.ResponseWriter, r *http.Request) {
	requestID := newOSSRequestID()
	rt := route(r)
	var answered *ossError
	var fault string
	var attempt int
	var cr *cnameRequest
	if rt.api == "PutCname" || rt.api == "DeleteCname" {
		cr = peekCname(r)
	}
	record := func(status int) {
		if o.journal == nil {
			return
		}
		e := Entry{Service: "oss", API: rt.api, Domain: rt.bucket, Key: rt.key, Status: status, RequestID: requestID, Outcome: "ok",
			Attempt: attempt, Fault: fault}
		if cr != nil {
			e.Key, e.CertID, e.KeySent = cr.domain, cr.certID, cr.keySent
		}
		if answered != nil {
			e.Outcome, e.Code = "error", answered.code
		}
		o.journal.Record(e)
	}
	rec := &ossRecorder{ResponseWriter: w, onStatus: record}
	defer func() {
		if rec.status == 0 { // nothing written: an implicit 200
			rec.WriteHeader(http.StatusOK)
		}
	}()

	hostID := rt.bucket + ".oss-" + o.cfg.Region + ".aliyuncs.com"
	w.Header().Set("x-oss-request-id", requestID)
	w.Header().Set("Server", "AliyunOSS")
	fail := func(e *ossError) {
		answered = e
		writeOSSError(rec, r, e, requestID, hostID)
	}

	if rt.bucket != "" && !bucketName.MatchString(rt.bucket) {
		fail(&ossError{http.StatusBadRequest, "InvalidBucketName", "The specified bucket is not valid."})
		return
	}
	if rt.key != "" && (len(rt.key) > maxKeyLen || !utf8.ValidString(rt.key)) {
		fail(&ossError{http.StatusBadRequest, "InvalidObjectName", "The length of the object name must be between 1 and 1023 bytes of valid UTF-8."})
		return
	}
	if e := o.authenticate(r, rt.bucket, rt.key); e != nil {
		fail(e)
		return
	}
	if rt.unsupported {
		fail(&ossError{http.StatusNotImplemented, "NotImplemented", rt.api + " is not supported by this emulator."})
		return
	}
	faultKey := rt.key
	if rt.api == "ListObjects" {
		faultKey = r.URL.Query().Get("prefix")
	}
	attempt = o.attempts.next(rt.api, rt.bucket, faultKey)
	switch kind, e := o.cfg.Faults.decide(rt.api, rt.bucket, faultKey, attempt); kind {
	case faultReset:
		fault = kind
		if o.journal != nil {
			o.journal.Record(Entry{Service: "oss", API: rt.api, Domain: rt.bucket, Key: rt.key, RequestID: requestID,
				Outcome: "reset", Attempt: attempt, Fault: fault})
		}
		rec.status = -1 // answered by the reset: nothing more is recorded
		resetConn(w)
		return
	case faultScripted, fault5xx:
		fault = kind
		fail(e)
		return
	}

	var pending []*ossInvocation
	var err *ossError
	switch rt.api {
	case "PutBucket":
		err = o.putBucket(rec, rt.bucket)
	case "ListObjects":
		err = o.listObjects(rec, r, rt.bucket)
	case "PutObject":
		pending, err = o.putObject(rec, r, rt.bucket, rt.key, requestID)
	case "PutSymlink":
		pending, err = o.putSymlink(rec, r, rt.bucket, rt.key, requestID)
	case "GetSymlink":
		err = o.getSymlink(rec, rt.bucket, rt.key)
	case "GetObject", "HeadObject", "GetObjectMeta":
		err = o.getObject(rec, r, rt.bucket, rt.key)
	case "DeleteObject":
		err = o.deleteObject(rec, rt.bucket, rt.key)
	case "PutCname":
		err = o.putCname(rec, rt.bucket, cr)
	case "ListCname":
		err = o.listCname(rec, rt.bucket)
	case "DeleteCname":
		err = o.deleteCname(rec, rt.bucket, cr)
	}
	if err != nil {
		fail(err)
		return
	}
	if len(pending) > 0 {
		// The write is answered before its triggers fire, as in OSS.
		rec.Flush()
		o.launch(pending)
	}
}

var (
	errNoSuchBucket = &ossError{http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist."}
	errNoSuchKey    = &ossError{http.StatusNotFound, "NoSuchKey", "The specified key does not exist."}
)

// storeError maps a store failure to an OSS error.
func storeError(err error) *ossError {
	if errors.Is(err, errNoBucket) {
		return errNoSuchBucket
	}
	return &ossError{http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again."}
}

func (o *OSS) putBucket(w http.ResponseWriter, bucket string) *ossError {
	if err := o.store.createBucket(bucket); err != nil {
		return storeError(err)
	}
	w.Header().Set("Location", "/"+bucket)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// readBody reads a request body within the object size cap and checks
// Content-MD5 and a signed x-oss-content-sha256.
func (o *OSS) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *ossError) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, o.cfg.MaxObjectSize))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &ossError{http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size."}
		}
		return nil, &ossError{http.StatusBadRequest, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header."}
	}
	if m := r.Header.Get("Content-MD5"); m != "" {
		sum := md5.Sum(data)
		if m != base64.StdEncoding.EncodeToString(sum[:]) {
			return nil, &ossError{http.StatusBadRequest, "InvalidDigest", "The Content-MD5 you specified was invalid."}
		}
	}
	if h := r.Header.Get(hdrContentSHA256); h != ossUnsignedBody {
		sum := sha256.Sum256(data)
		if !strings.EqualFold(h, hex.EncodeToString(sum[:])) {
			return nil, &ossError{http.StatusBadRequest, "InvalidArgument", "The x-oss-content-sha256 you specified did not match what we received."}
		}
	}
	return data, nil
}

// writableBucket makes sure bucket exists before a write, creating it when
// AutoCreateBuckets is set.
func (o *OSS) writableBucket(bucket string) *ossError {
	if o.store.hasBucket(bucket) {
		return nil
	}
	if !o.cfg.AutoCreateBuckets {
		return errNoSuchBucket
	}
	if err := o.store.createBucket(bucket); err != nil {
		return storeError(err)
	}
	return nil
}

// userMeta collects the x-oss-meta-* headers of r.
func userMeta(r *http.Request) map[string]string {
	var m map[string]string
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-oss-meta-") && len(vs) > 0 {
			if m == nil {
				m = map[string]string{}
			}
			m[lk] = vs[0]
		}
	}
	return m
}

func (o *OSS) putObject(w http.ResponseWriter, r *http.Request, bucket, key, requestID string) ([]*ossInvocation, *ossError) {
	if e := o.writableBucket(bucket); e != nil {
		return nil, e
	}
	data, e := o.readBody(w, r)
	if e != nil {
		return nil, e
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	ob := newOSSObject(key, data, ct, o.now())
	ob.Meta = userMeta(r)
	old, err := o.store.put(bucket, ob)
	if err != nil {
		return nil, storeError(err)
	}
	pending := o.prepare("ObjectCreated:PutObject", bucket, ob, old, requestID, r)
	sum := md5.Sum(data)
	h := w.Header()
	h.Set("ETag", `"`+ob.ETag+`"`)
	h.Set("Content-MD5", base64.StdEncoding.EncodeToString(sum[:]))
	h.Set("x-oss-hash-crc64ecma", strconv.FormatUint(ob.CRC64, 10))
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return pending, nil
}

func (o *OSS) putSymlink(w http.ResponseWriter, r *http.Request, bucket, key, requestID string) ([]*ossInvocation, *ossError) {
	raw := r.Header.Get("x-oss-symlink-target")
	target, err := url.QueryUnescape(raw)
	if raw == "" || err != nil || len(target) > maxKeyLen || !utf8.ValidString(target) {
		return nil, &ossError{http.StatusBadRequest, "InvalidArgument", "x-oss-symlink-target must name a valid object key, URL-encoded."}
	}
	if e := o.writableBucket(bucket); e != nil {
		return nil, e
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	ob := newOSSObject(key, nil, ct, o.now())
	sum := md5.Sum([]byte(target))
	ob.ETag = strings.ToUpper(hex.EncodeToString(sum[:]))
	ob.SymlinkTarget = target
	ob.Meta = userMeta(r)
	old, serr := o.store.put(bucket, ob)
	if serr != nil {
		return nil, storeError(serr)
	}
	pending := o.prepare("ObjectCreated:PutSymlink", bucket, ob, old, requestID, r)
	w.Header().Set("ETag", `"`+ob.ETag+`"`)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return pending, nil
}

func (o *OSS) getSymlink(w http.ResponseWriter, bucket, key string) *ossError {
	ob, err := o.store.get(bucket, key)
	if err != nil {
		return storeError(err)
	}
	if ob == nil {
		return errNoSuchKey
	}
	if ob.SymlinkTarget == "" {
		return &ossError{http.StatusBadRequest, "NotSymlink", "The specified object is not a symlink."}
	}
	h := w.Header()
	h.Set("x-oss-symlink-target", url.QueryEscape(ob.SymlinkTarget))
	h.Set("ETag", `"`+ob.ETag+`"`)
	h.Set("Last-Modified", ob.LastModified.Format(http.TimeFormat))
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// getObject answers GetObject, HeadObject and GetObjectMeta. A symlink is
// followed one level: its target's data and metadata are answered, with
// x-oss-object-type: Symlink.
func (o *OSS) getObject(w http.ResponseWriter, r *http.Request, bucket, key string) *ossError {
	ob, err := o.store.get(bucket, key)
	if err != nil {
		return storeError(err)
	}
	if ob == nil {
		return errNoSuchKey
	}
	typ := ob.objectType()
	if ob.SymlinkTarget != "" {
		t, err := o.store.get(bucket, ob.SymlinkTarget)
		if err != nil {
			return storeError(err)
		}
		if t == nil {
			return &ossError{http.StatusNotFound, "SymlinkTargetNotExist", "The symlink target object does not exist."}
		}
		if t.SymlinkTarget != "" {
			return &ossError{http.StatusBadRequest, "InvalidTargetType", "The symlink target object type is not supported."}
		}
		ob = t
	}
	h := w.Header()
	h.Set("Content-Length", strconv.Itoa(len(ob.Data)))
	h.Set("ETag", `"`+ob.ETag+`"`)
	h.Set("Last-Modified", ob.LastModified.Format(http.TimeFormat))
	if r.URL.Query().Has("objectMeta") {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	h.Set("Content-Type", ob.ContentType)
	h.Set("Accept-Ranges", "bytes")
	h.Set("x-oss-object-type", typ)
	h.Set("x-oss-storage-class", "Standard")
	h.Set("x-oss-hash-crc64ecma", strconv.FormatUint(ob.CRC64, 10))
	for k, v := range ob.Meta {
		h.Set(k, v)
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = io.Copy(w, bytes.NewReader(ob.Data))
	}
	return nil
}

func (o *OSS) deleteObject(w http.ResponseWriter, bucket, key string) *ossError {
	if err := o.store.remove(bucket, key); err != nil {
		return storeError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listObjects answers ListObjects (v1): prefix, marker, max-keys (default
// 100, at most 1000), delimiter and encoding-type=url, with IsTruncated and
// NextMarker for the next page.
func (o *OSS) listObjects(w http.ResponseWriter, r *http.Request, bucket string) *ossError {
	q := r.URL.Query()
	prefix, marker, delim := q.Get("prefix"), q.Get("marker"), q.Get("delimiter")
	maxKeys := 100
	if s := q.Get("max-keys"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 1000 {
			return &ossError{http.StatusBadRequest, "InvalidArgument", "max-keys must be an integer between 0 and 1000."}
		}
		maxKeys = n
	}
	enc := q.Get("encoding-type")
	if enc != "" && enc != "url" {
		return &ossError{http.StatusBadRequest, "InvalidArgument", "The encoding-type must be url."}
	}
	objs, err := o.store.list(bucket, prefix, marker)
	if err != nil {
		return storeError(err)
	}
	encode := func(s string) string {
		if enc == "url" {
			return ossEscape(s)
		}
		return s
	}
	res := listBucketResult{
		Name: bucket, Prefix: encode(prefix), Marker: encode(marker), MaxKeys: maxKeys,
		Delimiter: encode(delim), EncodingType: enc,
	}
	owner := ossOwner{ID: o.cfg.AccountID, DisplayName: o.cfg.AccountID}
	count, last, lastPrefix := 0, "", ""
	for _, ob := range objs {
		// A key below a delimiter rolls up into a common prefix; a prefix
		// at or before the marker was answered on an earlier page.
		cp := ""
		if delim != "" {
			if i := strings.Index(ob.Key[len(prefix):], delim); i >= 0 {
				cp = ob.Key[:len(prefix)+i+len(delim)]
				if cp == lastPrefix || cp <= marker {
					continue
				}
			}
		}
		if count == maxKeys {
			res.IsTruncated = true
			break
		}
		count++
		if cp != "" {
			lastPrefix, last = cp, cp
			res.CommonPrefixes = append(res.CommonPrefixes, commonPrefixes{Prefix: encode(cp)})
			continue
		}
		last = ob.Key
		res.Contents = append(res.Contents, listContents{
			Key:          encode(ob.Key),
			LastModified: ob.LastModified.UTC().Format("2006-01-02T15:04:05.000Z"),
			ETag:         `"` + ob.ETag + `"`,
			Type:         ob.objectType(),
			Size:         int64(len(ob.Data)),
			StorageClass: "Standard",
			Owner:        owner,
		})
	}
	if res.IsTruncated {
		res.NextMarker = encode(last)
	}
	writeXML(w, res)
	return nil
}
