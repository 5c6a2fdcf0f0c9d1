package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/certdrop/certdrop/internal/credchain"
)

// OSS is a Store over a bucket of Alibaba Cloud OSS, rooted at a key
// prefix. Every request is V4-signed (OSS4-HMAC-SHA256) and carries the
// caller's context. It is safe for concurrent use.
type OSS struct {
	bucket   *oss.Bucket
	name     string
	prefix   string
	endpoint string
	maxSize  int64
	maxList  int
	pageSize int
	retry    Retry
}

// bucketNameRE is OSS's bucket naming rule.
var bucketNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)

// OpenOSS returns a store over bucket, rooted at prefix (treated as a
// folder: "certs" and "certs/" both mean keys under "certs/"; "" is the
// whole bucket).
//
// The endpoint and region are resolved as described on EnvEndpoint:
// opts.Endpoint or CERTDROP_OSS_ENDPOINT, else the region's internal
// endpoint inside Function Compute (FC_FUNCTION_NAME set) or its public one
// elsewhere; https always, plain http only to a loopback host.
//
// Credentials are opts.Credentials, else the first source of the chain the
// OpenAPI clients use too (internal/credchain, read through opts.Getenv:
// ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET/SECURITY_TOKEN, OIDC/RRSA, the
// Alibaba Cloud CLI profile, the ECS RAM role named by
// ALIBABA_CLOUD_ECS_METADATA), asked at each request so that temporary
// credentials refresh. With none, OpenOSS fails with ErrConfig.
//
// OpenOSS sends no request; a wrong bucket or credential shows at the first
// call.
func OpenOSS(ctx context.Context, bucket, prefix string, opts Options) (*OSS, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	openErr := func(format string, a ...any) error {
		return &Error{Op: "open", Key: prefix, Err: ErrConfig, Detail: fmt.Sprintf(format, a...)}
	}
	if !bucketNameRE.MatchString(bucket) {
		return nil, openErr("invalid bucket name %q", bucket)
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if prefix != "" {
		if err := validKey("open", prefix); err != nil {
			return nil, err
		}
	}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	ep, err := resolveEndpoint(opts, getenv)
	if err != nil {
		// cause keeps ErrNoRegion for errors.Is.
		return nil, &Error{Op: "open", Key: prefix, Err: ErrConfig, Detail: err.Error(), cause: err}
	}
	provider, err := credentialProvider(opts, getenv)
	if err != nil {
		return nil, openErr("%v", err)
	}
	clientOpts := []oss.ClientOption{
		oss.AuthVersion(oss.AuthV4),
		oss.Region(ep.region),
		oss.SetCredentialsProvider(provider),
	}
	if ep.loopback {
		clientOpts = append(clientOpts, oss.ForcePathStyle(true))
	}
	if opts.HTTPClient != nil {
		clientOpts = append(clientOpts, oss.HTTPClient(opts.HTTPClient))
	}
	client, err := oss.New(ep.url, "", "", clientOpts...)
	if err != nil {
		return nil, openErr("OSS client: %v", err)
	}
	b, err := client.Bucket(bucket)
	if err != nil {
		return nil, openErr("OSS bucket: %v", err)
	}
	page := opts.ListPageSize
	if page <= 0 || page > 1000 {
		page = 1000
	}
	return &OSS{
		bucket:   b,
		name:     bucket,
		prefix:   prefix,
		endpoint: ep.url,
		maxSize:  opts.maxSize(),
		maxList:  opts.maxList(),
		pageSize: page,
		retry:    opts.readRetry(),
	}, nil
}

// String describes the store as "oss://bucket/prefix at endpoint".
func (s *OSS) String() string {
	return "oss://" + s.name + "/" + s.prefix + " at " + s.endpoint
}

// WithMaxSize returns the store with Get's size cap set to n bytes.
func (s *OSS) WithMaxSize(n int64) Store {
	c := *s
	c.maxSize = n
	return &c
}

// MaxPresign is the longest validity of a signed URL: OSS accepts V4
// signed URLs valid for up to 7 days.
const MaxPresign = 7 * 24 * time.Hour

// Presign returns a URL that reads the object at key (GET) without
// credentials for ttl (at most MaxPresign): a V4 signed URL
// (x-oss-signature-version=OSS4-HMAC-SHA256, the SDK's Bucket.SignURL)
// made with the store's credentials, path style on a loopback endpoint.
// Anyone holding the URL reads the object until it expires; it holds the
// access key ID and, for temporary credentials, the security token (valid
// no longer than they are), never the secret. No request is sent, but
// temporary credentials may be fetched.
func (s *OSS) Presign(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := validKey("presign", key); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if ttl < time.Second || ttl > MaxPresign {
		return "", &Error{Op: "presign", Key: key, Err: ErrConfig, Detail: fmt.Sprintf("validity %s is not between 1 s and %s", ttl, MaxPresign)}
	}
	u, err := s.bucket.SignURL(s.prefix+key, oss.HTTPGet, int64(ttl/time.Second))
	if err != nil {
		return "", classify("presign", key, err)
	}
	return u, nil
}

// Get reads the object at key. It first asks for the object's metadata
// (HEAD) and refuses an object over the size cap with ErrTooLarge before
// any of it is downloaded; the download itself is capped too, in case the
// object grew in between. A symlink is followed by OSS; Target names it.
// A transient failure (5xx, a reset connection, a timeout) is tried again
// as Options.Retry says, from the HEAD.
func (s *OSS) Get(ctx context.Context, key string) (*Object, error) {
	if err := validKey("get", key); err != nil {
		return nil, err
	}
	var obj *Object
	err := s.retry.Do(ctx, func(ctx context.Context) error {
		var err error
		obj, err = s.get(ctx, key)
		return err
	}, nil)
	if err != nil {
		return nil, err
	}
	return obj, nil
}

// get is one try of Get.
func (s *OSS) get(ctx context.Context, key string) (*Object, error) {
	full := s.prefix + key
	h, err := s.bucket.GetObjectDetailedMeta(full, oss.WithContext(ctx))
	if err != nil {
		return nil, classify("get", key, err)
	}
	size, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64)
	if err != nil {
		return nil, &Error{Op: "get", Key: key, Err: ErrTooLarge, Detail: "object size unknown"}
	}
	if size > s.maxSize {
		return nil, &Error{Op: "get", Key: key, Err: ErrTooLarge, Detail: fmt.Sprintf("object is %d bytes, over the %d-byte cap", size, s.maxSize)}
	}
	obj := &Object{ObjectInfo: ObjectInfo{Key: key}}
	if strings.EqualFold(h.Get("X-Oss-Object-Type"), "Symlink") {
		obj.Symlink = true
		lh, err := s.bucket.GetSymlink(full, oss.WithContext(ctx))
		if err != nil {
			return nil, classify("get", key, err)
		}
		if t, ok := strings.CutPrefix(lh.Get(oss.HTTPHeaderOssSymlinkTarget), s.prefix); ok {
			obj.Target = t
		}
	}
	res, err := s.bucket.DoGetObject(&oss.GetObjectRequest{ObjectKey: full}, []oss.Option{oss.WithContext(ctx)})
	if err != nil {
		return nil, classify("get", key, err)
	}
	defer res.Response.Close()
	data, err := io.ReadAll(io.LimitReader(res.Response.Body, s.maxSize+1))
	if err != nil {
		return nil, classify("get", key, err)
	}
	if int64(len(data)) > s.maxSize {
		return nil, &Error{Op: "get", Key: key, Err: ErrTooLarge, Detail: fmt.Sprintf("object grew over the %d-byte cap while being read", s.maxSize)}
	}
	if res.ClientCRC != nil && res.Response.Headers.Get(oss.HTTPHeaderOssCRC64) != "" && res.ClientCRC.Sum64() != res.ServerCRC {
		return nil, &Error{Op: "get", Key: key, Err: errCorrupt, Detail: "CRC-64 of the data read does not match OSS's"}
	}
	rh := res.Response.Headers
	obj.Data = data
	obj.Size = int64(len(data))
	obj.ETag = strings.Trim(rh.Get("ETag"), `"`)
	obj.ContentType = rh.Get("Content-Type")
	if t, err := http.ParseTime(rh.Get("Last-Modified")); err == nil {
		obj.LastModified = t
	}
	return obj, nil
}

// List returns every object under prefix (relative to the root), paging
// through ListObjects with markers. A page whose request fails
// transiently is asked for again as Options.Retry says.
func (s *OSS) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	var out []ObjectInfo
	marker := ""
	for {
		var res oss.ListObjectsResult
		err := s.retry.Do(ctx, func(ctx context.Context) error {
			var err error
			res, err = s.bucket.ListObjects(oss.Prefix(s.prefix+prefix), oss.Marker(marker), oss.MaxKeys(s.pageSize), oss.WithContext(ctx))
			if err != nil {
				return classify("list", prefix, err)
			}
			return nil
		}, nil)
		if err != nil {
			return nil, err
		}
		for _, o := range res.Objects {
			key, ok := strings.CutPrefix(o.Key, s.prefix)
			if !ok {
				continue
			}
			if len(out) == s.maxList {
				return nil, &Error{Op: "list", Key: prefix, Err: ErrTooLarge, Detail: fmt.Sprintf("more than %d objects", s.maxList)}
			}
			out = append(out, ObjectInfo{
				Key:          key,
				Size:         o.Size,
				ETag:         strings.Trim(o.ETag, `"`),
				LastModified: o.LastModified,
				Symlink:      o.Type == "Symlink",
			})
		}
		if !res.IsTruncated {
			return out, nil
		}
		next := res.NextMarker
		if next == "" && len(res.Objects) > 0 {
			next = res.Objects[len(res.Objects)-1].Key
		}
		if next <= marker {
			return nil, &Error{Op: "list", Key: prefix, Err: ErrConfig, Detail: "OSS answered a truncated listing without a next marker"}
		}
		marker = next
	}
}

// Put writes data at key.
func (s *OSS) Put(ctx context.Context, key string, data []byte, contentType string) error {
	return s.put(ctx, key, data, contentType)
}

// PutSecret writes data at key, server-side encrypted with OSS-managed
// keys (x-oss-server-side-encryption: AES256).
func (s *OSS) PutSecret(ctx context.Context, key string, data []byte, contentType string) error {
	return s.put(ctx, key, data, contentType, oss.ServerSideEncryption("AES256"))
}

func (s *OSS) put(ctx context.Context, key string, data []byte, contentType string, extra ...oss.Option) error {
	if err := validKey("put", key); err != nil {
		return err
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	opts := append([]oss.Option{oss.ContentType(contentType), oss.WithContext(ctx)}, extra...)
	err := s.bucket.PutObject(s.prefix+key, bytes.NewReader(data), opts...)
	if err != nil {
		return classify("put", key, err)
	}
	return nil
}

// Delete removes the object at key; a key that does not exist is not an
// error (OSS answers 204 either way).
func (s *OSS) Delete(ctx context.Context, key string) error {
	if err := validKey("delete", key); err != nil {
		return err
	}
	if err := s.bucket.DeleteObject(s.prefix+key, oss.WithContext(ctx)); err != nil {
		return classify("delete", key, err)
	}
	return nil
}

// errCorrupt is a download whose checksum does not match.
var errCorrupt = errors.New("object changed or was corrupted in transit")

// errCredentials marks a failure of the default credential chain.
var errCredentials = errors.New("credentials unavailable")

// classify turns an SDK error into an *Error wrapping a sentinel. OSS's
// messages never hold a credential, and the SDK's transport errors name
// only the URL (bucket and key; V4 signs in a header, not the URL).
func classify(op, key string, err error) error {
	e := &Error{Op: op, Key: key}
	var se oss.ServiceError
	switch {
	case errors.As(err, &se):
		e.Code, e.RequestID, e.Detail, e.status = se.Code, se.RequestID, se.Message, se.StatusCode
		if e.Detail == "" {
			e.Detail = fmt.Sprintf("HTTP %d", se.StatusCode)
		}
		switch {
		case se.StatusCode == http.StatusNotFound:
			e.Err = ErrNotFound
		case se.StatusCode == http.StatusForbidden || se.Code == "InvalidAccessKeyId" ||
			se.Code == "SignatureDoesNotMatch" || se.Code == "SecurityTokenExpired" || se.Code == "InvalidSecurityToken":
			e.Err = ErrDenied
		default:
			e.Err = fmt.Errorf("OSS answered HTTP %d", se.StatusCode)
		}
	case errors.Is(err, errCredentials):
		e.Err, e.Detail = ErrConfig, "the credentials source (environment, OIDC/RRSA, CLI profile or ECS RAM role) gave no usable credentials"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		if errors.Is(err, context.Canceled) {
			e.Err = context.Canceled
		} else {
			e.Err = context.DeadlineExceeded
		}
		e.Detail = "request to OSS canceled or timed out"
	default:
		e.Err, e.cause = err, err
		e.Detail = "request to OSS failed"
		return e
	}
	return e
}

// sdkCredentials adapts credchain.Credentials to the SDK's oss.Credentials.
type sdkCredentials struct{ c credchain.Credentials }

func (s sdkCredentials) GetAccessKeyID() string     { return s.c.AccessKeyID }
func (s sdkCredentials) GetAccessKeySecret() string { return s.c.AccessKeySecret }
func (s sdkCredentials) GetSecurityToken() string   { return s.c.SecurityToken }

// staticProvider serves fixed credentials to the SDK.
type staticProvider struct{ c sdkCredentials }

func (p staticProvider) GetCredentials() oss.Credentials { return p.c }

// chainProvider serves credentials from a credchain source, asking it at
// each request (its providers cache and refresh temporary credentials).
type chainProvider struct{ src *credchain.Source }

func (p chainProvider) GetCredentials() oss.Credentials {
	c, err := p.GetCredentialsE()
	if err != nil {
		return sdkCredentials{}
	}
	return c
}

// GetCredentialsE returns the source's credentials. On failure it returns
// errCredentials alone: a provider's own messages can quote a profile
// file's content, secrets included.
func (p chainProvider) GetCredentialsE() (oss.Credentials, error) {
	m, err := p.src.Provider.GetCredentials()
	if err != nil || m == nil || m.AccessKeyId == "" || m.AccessKeySecret == "" {
		return nil, errCredentials
	}
	return sdkCredentials{credchain.Credentials{AccessKeyID: m.AccessKeyId, AccessKeySecret: m.AccessKeySecret, SecurityToken: m.SecurityToken}}, nil
}

// credentialProvider picks the credentials source described on OpenOSS.
func credentialProvider(opts Options, getenv func(string) string) (oss.CredentialsProvider, error) {
	if c := opts.Credentials; c != nil {
		if !c.Complete() {
			return nil, errors.New("credentials need an AccessKey ID and secret")
		}
		return staticProvider{sdkCredentials{*c}}, nil
	}
	src, err := credchain.Find(getenv)
	if err != nil {
		return nil, err
	}
	return chainProvider{src}, nil
}

// compile-time checks.
var (
	_ Store                    = (*OSS)(nil)
	_ oss.CredentialsProviderE = chainProvider{}
)
