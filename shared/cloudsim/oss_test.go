package cloudsim_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/certdrop/certdrop/shared/cloudsim"
)

const (
	testAK      = "LTAItestkey"
	testSecret  = "s3cr3t-do-not-log-7f1e"
	stsAK       = "STS.testkey"
	stsSecret   = "sts-secret-do-not-log-91ab"
	stsToken    = "sts-token-do-not-log-c0ffee"
	testBucket  = "certs"
	testRegion  = "cn-hangzhou"
	otherRegion = "cn-shanghai"
)

// emu starts an emulator with the test credentials and bucket.
func emu(t *testing.T, cfg cloudsim.OSSConfig) (*cloudsim.OSS, *httptest.Server) {
	t.Helper()
	if cfg.Credentials == nil {
		cfg.Credentials = map[string]cloudsim.OSSCredential{
			testAK: {Secret: testSecret},
			stsAK:  {Secret: stsSecret, SecurityToken: stsToken},
		}
	}
	if cfg.Buckets == nil {
		cfg.Buckets = []string{testBucket}
	}
	if cfg.Journal == nil {
		cfg.Journal = cloudsim.NewJournal(nil)
	}
	o, err := cloudsim.NewOSS(cfg)
	if err != nil {
		t.Fatalf("NewOSS: %v", err)
	}
	srv := httptest.NewServer(o)
	t.Cleanup(func() {
		srv.Close()
		_ = o.Close()
	})
	return o, srv
}

// sdkBucket returns a V4-signing SDK client for bucket on srv.
func sdkBucket(t *testing.T, srv *httptest.Server, ak, secret string, opts ...oss.ClientOption) *oss.Bucket {
	t.Helper()
	opts = append([]oss.ClientOption{oss.AuthVersion(oss.AuthV4), oss.Region(testRegion)}, opts...)
	c, err := oss.New(srv.URL, ak, secret, opts...)
	if err != nil {
		t.Fatalf("oss.New: %v", err)
	}
	b, err := c.Bucket(testBucket)
	if err != nil {
		t.Fatalf("Bucket: %v", err)
	}
	return b
}

func serviceError(t *testing.T, err error) oss.ServiceError {
	t.Helper()
	var se oss.ServiceError
	if !errors.As(err, &se) {
		t.Fatalf("error %v is not an oss.ServiceError", err)
	}
	return se
}

// weirdKeys must survive a round trip through the SDK and the emulator.
var weirdKeys = []string{
	"plain.pem",
	"in/a b.pem",
	"in/a+b.pem",
	"in/100%.pem",
	"in/%2F encoded slash.pem",
	"证书/中文 名.pem",
	"emoji/🔐 lock.pem",
	"q?x=1&y=2#frag.pem",
	"sym!*'();:@=$,~.pem",
	"double//slash.pem",
	"dot/./and/../dots.pem",
	"trailing/",
}

func TestOSSRoundTripWeirdKeys(t *testing.T) {
	_, srv := emu(t, cloudsim.OSSConfig{})
	b := sdkBucket(t, srv, testAK, testSecret)
	for _, key := range weirdKeys {
		t.Run(key, func(t *testing.T) {
			body := []byte("content of " + key)
			if err := b.PutObject(key, bytes.NewReader(body), oss.ContentType("text/plain")); err != nil {
				t.Fatalf("PutObject: %v", err)
			}
			rc, err := b.GetObject(key)
			if err != nil {
				t.Fatalf("GetObject: %v", err)
			}
			got, _ := io.ReadAll(rc)
			rc.Close()
			if !bytes.Equal(got, body) {
				t.Fatalf("GetObject = %q, want %q", got, body)
			}
			h, err := b.GetObjectDetailedMeta(key)
			if err != nil {
				t.Fatalf("HEAD: %v", err)
			}
			sum := md5.Sum(body)
			if want := `"` + strings.ToUpper(hex.EncodeToString(sum[:])) + `"`; h.Get("ETag") != want {
				t.Errorf("ETag = %s, want %s", h.Get("ETag"), want)
			}
			if h.Get("Content-Type") != "text/plain" {
				t.Errorf("Content-Type = %q", h.Get("Content-Type"))
			}
		})
	}
	res, err := b.ListObjects(oss.MaxKeys(1000))
	if err != nil {
		t.Fatalf("ListObjects: %v", err)
	}
	var listed []string
	for _, o := range res.Objects {
		listed = append(listed, o.Key)
	}
	want := append([]string(nil), weirdKeys...)
	sort.Strings(want)
	if !reflect.DeepEqual(listed, want) {
		t.Errorf("listed %q\nwant    %q", listed, want)
	}
	for _, key := range weirdKeys {
		if err := b.DeleteObject(key); err != nil {
			t.Errorf("DeleteObject(%q): %v", key, err)
		}
	}
	if res, _ := b.ListObjects(); len(res.Objects) != 0 {
		t.Errorf("after delete, %d objects remain", len(res.Objects))
	}
}

func TestOSSAuthentication(t *testing.T) {
	_, srv := emu(t, cloudsim.OSSConfig{})
	if err := sdkBucket(t, srv, testAK, testSecret).PutObject("k", strings.NewReader("v")); err != nil {
		t.Fatalf("seed: %v", err)
	}
	tests := []struct {
		name       string
		ak, secret string
		opts       []oss.ClientOption
		status     int
		code       string
	}{
		{"good V4", testAK, testSecret, nil, 200, ""},
		{"good STS", stsAK, stsSecret, []oss.ClientOption{oss.SecurityToken(stsToken)}, 200, ""},
		{"wrong secret", testAK, "wrong-secret", nil, 403, "SignatureDoesNotMatch"},
		{"unknown key", "LTAIunknown", testSecret, nil, 403, "InvalidAccessKeyId"},
		{"STS without token", stsAK, stsSecret, nil, 403, "InvalidSecurityToken"},
		{"STS wrong token", stsAK, stsSecret, []oss.ClientOption{oss.SecurityToken("forged")}, 403, "InvalidSecurityToken"},
		{"token on permanent key", testAK, testSecret, []oss.ClientOption{oss.SecurityToken(stsToken)}, 403, "InvalidAccessKeyId"},
		{"wrong region", testAK, testSecret, []oss.ClientOption{oss.Region(otherRegion)}, 400, "InvalidArgument"},
		{"V1 signature", testAK, testSecret, []oss.ClientOption{oss.AuthVersion(oss.AuthV1)}, 403, "AccessDenied"},
		{"V2 signature", testAK, testSecret, []oss.ClientOption{oss.AuthVersion(oss.AuthV2)}, 403, "AccessDenied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := sdkBucket(t, srv, tc.ak, tc.secret, tc.opts...)
			rc, err := b.GetObject("k")
			if tc.code == "" {
				if err != nil {
					t.Fatalf("GetObject: %v", err)
				}
				rc.Close()
				return
			}
			if err == nil {
				rc.Close()
				t.Fatalf("GetObject succeeded, want %s", tc.code)
			}
			se := serviceError(t, err)
			if se.StatusCode != tc.status || se.Code != tc.code {
				t.Errorf("got %d %s, want %d %s", se.StatusCode, se.Code, tc.status, tc.code)
			}
			if se.RequestID == "" || se.HostID == "" {
				t.Errorf("error lacks RequestId/HostId: %+v", se)
			}
			for _, s := range []string{testSecret, stsSecret, stsToken} {
				if strings.Contains(se.RawMessage, s) || strings.Contains(err.Error(), s) {
					t.Errorf("error response contains a credential")
				}
			}
		})
	}
}

// tamper rewrites a request after the SDK has signed it.
type tamper struct {
	next http.RoundTripper
	fn   func(*http.Request)
}

func (tt tamper) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	tt.fn(r)
	return tt.next.RoundTrip(r)
}

// TestOSSSignatureCoversRequest changes one signed part of a request after
// signing; the emulator must notice each time.
func TestOSSSignatureCoversRequest(t *testing.T) {
	_, srv := emu(t, cloudsim.OSSConfig{})
	if err := sdkBucket(t, srv, testAK, testSecret).PutObject("a.pem", strings.NewReader("a")); err != nil {
		t.Fatalf("seed: %v", err)
	}
	tests := []struct {
		name string
		fn   func(*http.Request)
	}{
		{"key", func(r *http.Request) {
			r.URL.Path = strings.Replace(r.URL.Path, "a.pem", "b.pem", 1)
			r.URL.RawPath = ""
		}},
		{"method", func(r *http.Request) { r.Method = http.MethodHead }},
		{"query", func(r *http.Request) { r.URL.RawQuery = "response-content-type=text%2Fhtml" }},
		{"oss header", func(r *http.Request) { r.Header.Set("x-oss-meta-extra", "1") }},
		{"content type", func(r *http.Request) { r.Header.Set("Content-Type", "text/html") }},
		{"date", func(r *http.Request) { r.Header.Set("Date", time.Now().UTC().Add(time.Minute).Format(http.TimeFormat)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := &http.Client{Transport: tamper{http.DefaultTransport, tc.fn}}
			b := sdkBucket(t, srv, testAK, testSecret, oss.HTTPClient(client))
			rc, err := b.GetObject("a.pem")
			if err == nil {
				rc.Close()
				t.Fatal("tampered request accepted")
			}
			if se := serviceError(t, err); se.StatusCode != 403 || se.Code != "SignatureDoesNotMatch" {
				t.Errorf("got %d %s, want 403 SignatureDoesNotMatch", se.StatusCode, se.Code)
			}
		})
	}
}

// TestOSSErrorDocument checks the raw error answer: XML body, headers.
func TestOSSErrorDocument(t *testing.T) {
	_, srv := emu(t, cloudsim.OSSConfig{})
	resp, err := http.Get(srv.URL + "/" + testBucket + "/missing")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var doc struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string   `xml:"Code"`
		Message   string   `xml:"Message"`
		RequestID string   `xml:"RequestId"`
		HostID    string   `xml:"HostId"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		t.Fatalf("error body is not OSS XML: %v\n%s", err, body)
	}
	if resp.StatusCode != 403 || doc.Code != "AccessDenied" || doc.Message == "" || doc.HostID == "" {
		t.Errorf("unsigned request: %d %+v", resp.StatusCode, doc)
	}
	if id := resp.Header.Get("x-oss-request-id"); id == "" || id != doc.RequestID {
		t.Errorf("x-oss-request-id %q, RequestId %q", id, doc.RequestID)
	}
	if resp.Header.Get("Content-Type") != "application/xml" {
		t.Errorf("Content-Type = %q", resp.Header.Get("Content-Type"))
	}
}

func TestOSSNotFoundAndHead(t *testing.T) {
	_, srv := emu(t, cloudsim.OSSConfig{})
	b := sdkBucket(t, srv, testAK, testSecret)
	_, err := b.GetObject("missing.pem")
	if se := serviceError(t, err); se.StatusCode != 404 || se.Code != "NoSuchKey" {
		t.Errorf("GET missing: %d %s", se.StatusCode, se.Code)
	}
	// HEAD has no body: the SDK reads the code from x-oss-err.
	_, err = b.GetObjectDetailedMeta("missing.pem")
	if se := serviceError(t, err); se.StatusCode != 404 || se.Code != "NoSuchKey" {
		t.Errorf("HEAD missing: %d %s", se.StatusCode, se.Code)
	}
	nb, _ := b.Client.Bucket("no-such-bucket")
	err = nb.PutObject("k", strings.NewReader("v"))
	if se := serviceError(t, err); se.StatusCode != 404 || se.Code != "NoSuchBucket" {
		t.Errorf("PUT into missing bucket: %d %s", se.StatusCode, se.Code)
	}
	_, err = b.ListObjectsV2()
	if se := serviceError(t, err); se.StatusCode != 501 || se.Code != "NotImplemented" {
		t.Errorf("ListObjectsV2: %d %s", se.StatusCode, se.Code)
	}
}

func TestOSSAutoCreateBuckets(t *testing.T) {
	_, srv := emu(t, cloudsim.OSSConfig{Buckets: []string{}, AutoCreateBuckets: true})
	b := sdkBucket(t, srv, testAK, testSecret)
	if err := b.PutObject("k", strings.NewReader("v")); err != nil {
		t.Fatalf("PutObject into new bucket: %v", err)
	}
	if ok, err := b.IsObjectExist("k"); err != nil || !ok {
		t.Errorf("IsObjectExist = %v, %v", ok, err)
	}
}

func TestOSSClockSkew(t *testing.T) {
	_, srv := emu(t, cloudsim.OSSConfig{Now: func() time.Time { return time.Now().Add(-time.Hour) }})
	_, err := sdkBucket(t, srv, testAK, testSecret).GetObject("k")
	if se := serviceError(t, err); se.StatusCode != 403 || se.Code != "RequestTimeTooSkewed" {
		t.Errorf("got %d %s, want 403 RequestTimeTooSkewed", se.StatusCode, se.Code)
	}
}

// listAll pages through ListObjects and returns every key and common
// prefix, and how many pages it took.
func listAll(t *testing.T, b *oss.Bucket, prefix, delim string, maxKeys int) (keys, prefixes []string, pages int) {
	t.Helper()
	marker := ""
	for {
		pages++
		if pages > 100 {
			t.Fatal("pagination does not end")
		}
		res, err := b.ListObjects(oss.Prefix(prefix), oss.Delimiter(delim), oss.Marker(marker), oss.MaxKeys(maxKeys))
		if err != nil {
			t.Fatalf("ListObjects: %v", err)
		}
		if n := len(res.Objects) + len(res.CommonPrefixes); n > maxKeys {
			t.Fatalf("page of %d entries, max-keys %d", n, maxKeys)
		}
		for _, o := range res.Objects {
			keys = append(keys, o.Key)
		}
		prefixes = append(prefixes, res.CommonPrefixes...)
		if !res.IsTruncated {
			if res.NextMarker != "" {
				t.Errorf("NextMarker %q on the last page", res.NextMarker)
			}
			return keys, prefixes, pages
		}
		if res.NextMarker == "" {
			t.Fatal("truncated page without NextMarker")
		}
		marker = res.NextMarker
	}
}

func TestOSSListObjectsPagination(t *testing.T) {
	_, srv := emu(t, cloudsim.OSSConfig{})
	b := sdkBucket(t, srv, testAK, testSecret)
	all := []string{
		// In key (byte) order: "-" sorts before "/".
		"a.pem", "certs-other/q.pem", "certs/a b.pem", "certs/b+c.pem", "certs/sub/x.pem",
		"certs/sub/y.pem", "certs/sub2/z.pem", "certs/zz.pem", "证书/1.pem", "证书/2.pem",
	}
	for _, k := range all {
		if err := b.PutObject(k, strings.NewReader(k)); err != nil {
			t.Fatalf("PutObject(%q): %v", k, err)
		}
	}
	tests := []struct {
		prefix, delim string
		keys          []string
		prefixes      []string
	}{
		{"", "", all, nil},
		{"certs/", "", []string{"certs/a b.pem", "certs/b+c.pem", "certs/sub/x.pem", "certs/sub/y.pem", "certs/sub2/z.pem", "certs/zz.pem"}, nil},
		{"certs/", "/", []string{"certs/a b.pem", "certs/b+c.pem", "certs/zz.pem"}, []string{"certs/sub/", "certs/sub2/"}},
		{"", "/", []string{"a.pem"}, []string{"certs-other/", "certs/", "证书/"}},
		{"证书/", "", []string{"证书/1.pem", "证书/2.pem"}, nil},
		{"nothing/", "", nil, nil},
	}
	for _, tc := range tests {
		for _, maxKeys := range []int{1, 2, 3, 1000} {
			keys, prefixes, pages := listAll(t, b, tc.prefix, tc.delim, maxKeys)
			if !reflect.DeepEqual(keys, tc.keys) || !reflect.DeepEqual(prefixes, tc.prefixes) {
				t.Errorf("prefix %q delim %q max-keys %d:\nkeys %q prefixes %q\nwant %q %q",
					tc.prefix, tc.delim, maxKeys, keys, prefixes, tc.keys, tc.prefixes)
			}
			entries := len(tc.keys) + len(tc.prefixes)
			if want := max(1, (entries+maxKeys-1)/maxKeys); pages != want {
				t.Errorf("prefix %q max-keys %d: %d pages for %d entries", tc.prefix, maxKeys, pages, entries)
			}
		}
	}
	if _, err := b.ListObjects(oss.MaxKeys(1001)); serviceError(t, err).Code != "InvalidArgument" {
		t.Errorf("max-keys 1001 accepted")
	}
}

func TestOSSSymlink(t *testing.T) {
	_, srv := emu(t, cloudsim.OSSConfig{})
	b := sdkBucket(t, srv, testAK, testSecret)
	target := "bundles/新 a+b%.pem"
	if err := b.PutObject(target, strings.NewReader("PEM DATA")); err != nil {
		t.Fatal(err)
	}
	if err := b.PutSymlink("current.pem", target); err != nil {
		t.Fatalf("PutSymlink: %v", err)
	}
	h, err := b.GetSymlink("current.pem")
	if err != nil {
		t.Fatalf("GetSymlink: %v", err)
	}
	if got := h.Get(oss.HTTPHeaderOssSymlinkTarget); got != target {
		t.Errorf("symlink target = %q, want %q", got, target)
	}
	rc, err := b.GetObject("current.pem")
	if err != nil {
		t.Fatalf("GetObject via symlink: %v", err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	if string(data) != "PEM DATA" {
		t.Errorf("GetObject via symlink = %q", data)
	}
	mh, err := b.GetObjectDetailedMeta("current.pem")
	if err != nil || mh.Get("X-Oss-Object-Type") != "Symlink" || mh.Get("Content-Length") != "8" {
		t.Errorf("HEAD symlink: %v %v", mh, err)
	}
	if _, err := b.GetSymlink(target); serviceError(t, err).Code != "NotSymlink" {
		t.Errorf("GetSymlink on a plain object: %v", err)
	}
	if err := b.PutSymlink("dangling.pem", "nowhere.pem"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetObject("dangling.pem"); serviceError(t, err).Code != "SymlinkTargetNotExist" {
		t.Errorf("GetObject on dangling symlink: %v", err)
	}
}

func TestOSSDataDirPersists(t *testing.T) {
	dir := t.TempDir()
	_, srv := emu(t, cloudsim.OSSConfig{DataDir: dir})
	if err := sdkBucket(t, srv, testAK, testSecret).PutObject("dir/../k ey", strings.NewReader("kept")); err != nil {
		t.Fatal(err)
	}
	_, srv2 := emu(t, cloudsim.OSSConfig{DataDir: dir, Buckets: []string{}})
	rc, err := sdkBucket(t, srv2, testAK, testSecret).GetObject("dir/../k ey")
	if err != nil {
		t.Fatalf("second emulator: %v", err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	if string(data) != "kept" {
		t.Errorf("got %q", data)
	}
}

func TestOSSJournal(t *testing.T) {
	var buf bytes.Buffer
	j := cloudsim.NewJournal(&buf)
	_, srv := emu(t, cloudsim.OSSConfig{Journal: j})
	b := sdkBucket(t, srv, stsAK, stsSecret, oss.SecurityToken(stsToken))
	_ = b.PutObject("in/a.pem", strings.NewReader("x"))
	_, _ = b.GetObjectDetailedMeta("in/a.pem")
	_, _ = b.GetObject("in/missing.pem")
	_, _ = b.ListObjects(oss.Prefix("in/"))
	_ = b.DeleteObject("in/a.pem")
	_, _ = sdkBucket(t, srv, testAK, "bad").GetObject("in/a.pem")

	type row struct{ api, key, outcome, code string }
	var got []row
	for _, e := range j.Entries() {
		if e.Service != "oss" || e.Domain != testBucket || e.RequestID == "" || e.Status == 0 {
			t.Errorf("entry %+v", e)
		}
		got = append(got, row{e.API, e.Key, e.Outcome, e.Code})
	}
	want := []row{
		{"PutObject", "in/a.pem", "ok", ""},
		{"HeadObject", "in/a.pem", "ok", ""},
		{"GetObject", "in/missing.pem", "error", "NoSuchKey"},
		{"ListObjects", "", "ok", ""},
		{"DeleteObject", "in/a.pem", "ok", ""},
		{"GetObject", "in/a.pem", "error", "SignatureDoesNotMatch"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("journal\n%v\nwant\n%v", got, want)
	}
	for _, s := range []string{testSecret, stsSecret, stsToken} {
		if strings.Contains(buf.String(), s) {
			t.Error("journal contains a credential")
		}
	}
}

// fcFunction is a fake event function: it records invocations and
// answers with the next scripted reply.
type fcFunction struct {
	mu      sync.Mutex
	calls   []fcCall
	replies []fcReply // consumed in order; the last repeats
}

type fcCall struct {
	header http.Header
	body   []byte
}

type fcReply struct {
	status   int
	fcStatus string
}

func (f *fcFunction) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.calls = append(f.calls, fcCall{r.Header.Clone(), body})
	rep := fcReply{status: 200}
	if len(f.replies) > 0 {
		rep = f.replies[0]
		if len(f.replies) > 1 {
			f.replies = f.replies[1:]
		}
	}
	f.mu.Unlock()
	if rep.fcStatus != "" {
		w.Header().Set("x-fc-status", rep.fcStatus)
	}
	w.WriteHeader(rep.status)
}

func (f *fcFunction) Calls() []fcCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fcCall(nil), f.calls...)
}

// referenceEvent is the OSS trigger event as Function Compute documents
// it.
const referenceEvent = `{"events":[{"eventName":"ObjectCreated:PutObject","eventSource":"acs:oss",
"eventTime":"2022-08-13T06:45:43.000Z","eventVersion":"1.0","oss":{"bucket":{"arn":"acs:oss:cn-hangzhou:123456789:testbucket",
"name":"testbucket","ownerIdentity":"164901546557****"},"object":{"deltaSize":122539,"eTag":"688A7BF4F233DC9C88A80BF985AB****",
"key":"source/a.png","size":122539},"ossSchemaVersion":"1.0","ruleId":"9adac8e253828f4f7c0466d941fa3db81161****"},
"region":"cn-hangzhou","requestParameters":{"sourceIPAddress":"140.205.XX.XX"},"responseElements":{"requestId":"58F9FF2D3DF792092E12044C"},
"userIdentity":{"principalId":"164901546557****"}}]}`

// shape lists every JSON path in v with its value's kind.
func shape(prefix string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			shape(prefix+"."+k, e, out)
		}
	case []any:
		for _, e := range x {
			shape(prefix+"[]", e, out)
		}
	default:
		out[prefix] = reflect.TypeOf(v).Kind().String()
	}
}

func TestOSSTriggerEvent(t *testing.T) {
	fn := &fcFunction{}
	fsrv := httptest.NewServer(fn)
	defer fsrv.Close()
	o, srv := emu(t, cloudsim.OSSConfig{Triggers: []cloudsim.OSSTrigger{{
		URL: fsrv.URL + "/invoke", Bucket: testBucket, Prefix: "in/", Suffix: ".pem",
		FunctionName: "certdrop", FunctionTimeout: 60 * time.Second,
		AccessKeyID: stsAK, AccessKeySecret: stsSecret, SecurityToken: stsToken,
	}}})
	b := sdkBucket(t, srv, testAK, testSecret)
	key := "in/证书 a+b.pem"
	body := "-----BEGIN CERTIFICATE-----"
	var respHeader http.Header
	if err := b.PutObject(key, strings.NewReader(body), oss.GetResponseHeader(&respHeader)); err != nil {
		t.Fatal(err)
	}
	// Writes that do not match the filter fire nothing.
	for _, k := range []string{"out/x.pem", "in/x.txt"} {
		if err := b.PutObject(k, strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := o.WaitNotifications(ctx); err != nil {
		t.Fatal(err)
	}
	calls := fn.Calls()
	if len(calls) != 1 {
		t.Fatalf("%d invocations, want 1", len(calls))
	}
	c := calls[0]

	var got, ref any
	if err := json.Unmarshal(c.body, &got); err != nil {
		t.Fatalf("event is not JSON: %v", err)
	}
	_ = json.Unmarshal([]byte(referenceEvent), &ref)
	gotShape, refShape := map[string]string{}, map[string]string{}
	shape("", got, gotShape)
	shape("", ref, refShape)
	if !reflect.DeepEqual(gotShape, refShape) {
		t.Errorf("event shape\n%v\nwant\n%v", gotShape, refShape)
	}

	var ev struct {
		Events []struct {
			EventName, EventSource, EventTime, EventVersion, Region string
			OSS                                                     struct {
				Bucket struct{ ARN, Name, OwnerIdentity string }
				Object struct {
					DeltaSize, Size int64
					ETag, Key       string
				}
			}
			ResponseElements struct{ RequestID string }
		}
	}
	_ = json.Unmarshal(c.body, &ev)
	e := ev.Events[0]
	sum := md5.Sum([]byte(body))
	if e.EventName != "ObjectCreated:PutObject" || e.EventSource != "acs:oss" || e.Region != testRegion ||
		e.OSS.Bucket.Name != testBucket || e.OSS.Bucket.ARN != "acs:oss:cn-hangzhou:"+cloudsim.DefaultOSSAccountID+":"+testBucket ||
		e.OSS.Object.Key != key || e.OSS.Object.Size != int64(len(body)) || e.OSS.Object.DeltaSize != int64(len(body)) ||
		e.OSS.Object.ETag != strings.ToUpper(hex.EncodeToString(sum[:])) {
		t.Errorf("event %+v", e)
	}
	if e.ResponseElements.RequestID != respHeader.Get("x-oss-request-id") {
		t.Errorf("event requestId %q, PutObject answered %q", e.ResponseElements.RequestID, respHeader.Get("x-oss-request-id"))
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", e.EventTime); err != nil {
		t.Errorf("eventTime %q: %v", e.EventTime, err)
	}
	h := c.header
	for k, want := range map[string]string{
		"x-fc-access-key-id": stsAK, "x-fc-access-key-secret": stsSecret, "x-fc-security-token": stsToken,
		"x-fc-function-timeout": "60", "x-fc-function-name": "certdrop", "x-fc-region": testRegion, "x-fc-retry-count": "0",
	} {
		if h.Get(k) != want {
			t.Errorf("header %s = %q, want %q", k, h.Get(k), want)
		}
	}
	if len(h.Get("x-fc-request-id")) != 36 {
		t.Errorf("x-fc-request-id %q", h.Get("x-fc-request-id"))
	}
	d := o.Deliveries()
	if len(d) != 1 || !d[0].OK || d[0].Attempts != 1 || d[0].Key != key || d[0].RequestID != h.Get("x-fc-request-id") {
		t.Errorf("deliveries %+v", d)
	}
}

// TestOSSTriggerIsAsync: the write is answered while the function is
// still running.
func TestOSSTriggerIsAsync(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	fsrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
	}))
	defer fsrv.Close()
	o, srv := emu(t, cloudsim.OSSConfig{Triggers: []cloudsim.OSSTrigger{{URL: fsrv.URL}}})
	b := sdkBucket(t, srv, testAK, testSecret)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.PutObject("k.pem", strings.NewReader("x"), oss.WithContext(ctx)); err != nil {
		t.Fatalf("PutObject waited for the function: %v", err)
	}
	<-started
	if len(o.Deliveries()) != 0 {
		t.Error("delivery recorded before the function answered")
	}
	close(release)
	if err := o.WaitNotifications(ctx); err != nil {
		t.Fatal(err)
	}
	if d := o.Deliveries(); len(d) != 1 || !d[0].OK {
		t.Errorf("deliveries %+v", d)
	}
}

func TestOSSTriggerRetries(t *testing.T) {
	tests := []struct {
		name       string
		maxRetries int
		replies    []fcReply
		attempts   int
		ok         bool
	}{
		{"success", 0, []fcReply{{200, ""}}, 1, true},
		{"function error retried 3 times", 0, []fcReply{{404, "404"}}, 4, false},
		{"recovers after two failures", 0, []fcReply{{404, "404"}, {502, ""}, {200, ""}}, 3, true},
		{"plain 404 without x-fc-status is success", 0, []fcReply{{404, ""}}, 1, true},
		{"x-fc-status 500 on HTTP 200", 0, []fcReply{{200, "500"}, {200, ""}}, 2, true},
		{"custom retry count", 1, []fcReply{{500, ""}}, 2, false},
		{"no retries", -1, []fcReply{{404, "404"}}, 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fn := &fcFunction{replies: tc.replies}
			fsrv := httptest.NewServer(fn)
			defer fsrv.Close()
			o, srv := emu(t, cloudsim.OSSConfig{Triggers: []cloudsim.OSSTrigger{{URL: fsrv.URL, MaxRetries: tc.maxRetries}}})
			if err := sdkBucket(t, srv, testAK, testSecret).PutObject("k.pem", strings.NewReader("x")); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := o.WaitNotifications(ctx); err != nil {
				t.Fatal(err)
			}
			d := o.Deliveries()
			if len(d) != 1 {
				t.Fatalf("%d deliveries", len(d))
			}
			if d[0].Attempts != tc.attempts || d[0].OK != tc.ok || len(d[0].Statuses) != tc.attempts {
				t.Errorf("delivery %+v, want %d attempts ok=%v", d[0], tc.attempts, tc.ok)
			}
			if !tc.ok && d[0].Err == "" {
				t.Error("failed delivery without Err")
			}
			calls := fn.Calls()
			if len(calls) != tc.attempts {
				t.Fatalf("function saw %d calls", len(calls))
			}
			for i, c := range calls {
				if c.header.Get("x-fc-request-id") != d[0].RequestID {
					t.Errorf("attempt %d: x-fc-request-id changed", i)
				}
				if got := c.header.Get("x-fc-retry-count"); got != strconv.Itoa(i) {
					t.Errorf("attempt %d: x-fc-retry-count %q", i, got)
				}
				if !bytes.Equal(c.body, calls[0].body) {
					t.Errorf("attempt %d: event changed", i)
				}
			}
		})
	}
}

func TestOSSTriggerKeyEncoding(t *testing.T) {
	tests := []struct {
		enc  cloudsim.KeyEncoding
		key  string
		want string
	}{
		{cloudsim.KeyRaw, "in/a b+c%.pem", "in/a b+c%.pem"},
		{cloudsim.KeyPercentEncoded, "in/a b+c%.pem", "in/a%20b%2Bc%25.pem"},
		{cloudsim.KeyPercentEncoded, "in/证.pem", "in/%E8%AF%81.pem"},
		{cloudsim.KeyPercentEncoded, "in/A-z_0.~x", "in/A-z_0.~x"},
	}
	for _, tc := range tests {
		fn := &fcFunction{}
		fsrv := httptest.NewServer(fn)
		o, srv := emu(t, cloudsim.OSSConfig{Triggers: []cloudsim.OSSTrigger{{URL: fsrv.URL, KeyEncoding: tc.enc}}})
		if err := sdkBucket(t, srv, testAK, testSecret).PutObject(tc.key, strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
		if err := o.WaitNotifications(context.Background()); err != nil {
			t.Fatal(err)
		}
		var ev struct {
			Events []struct {
				OSS struct{ Object struct{ Key string } }
			}
		}
		calls := fn.Calls()
		if len(calls) != 1 {
			t.Fatalf("%d calls", len(calls))
		}
		_ = json.Unmarshal(calls[0].body, &ev)
		if got := ev.Events[0].OSS.Object.Key; got != tc.want {
			t.Errorf("encoding %d key %q: event key %q, want %q", tc.enc, tc.key, got, tc.want)
		}
		if tc.enc == cloudsim.KeyPercentEncoded {
			if dec, err := url.PathUnescape(tc.want); err != nil || dec != tc.key {
				t.Errorf("encoded key %q does not decode back: %q %v", tc.want, dec, err)
			}
		}
		fsrv.Close()
	}
}

func TestOSSTriggerSymlinkEvent(t *testing.T) {
	fn := &fcFunction{}
	fsrv := httptest.NewServer(fn)
	defer fsrv.Close()
	o, srv := emu(t, cloudsim.OSSConfig{Triggers: []cloudsim.OSSTrigger{{URL: fsrv.URL, Events: []string{"oss:ObjectCreated:PutSymlink"}}}})
	b := sdkBucket(t, srv, testAK, testSecret)
	if err := b.PutObject("bundle.pem", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if err := b.PutSymlink("in/link.pem", "bundle.pem"); err != nil {
		t.Fatal(err)
	}
	if err := o.WaitNotifications(context.Background()); err != nil {
		t.Fatal(err)
	}
	d := o.Deliveries()
	if len(d) != 1 || d[0].EventName != "ObjectCreated:PutSymlink" || d[0].Key != "in/link.pem" {
		t.Errorf("deliveries %+v (PutObject must not fire a PutSymlink-only trigger)", d)
	}
}

func TestOSSCloseStopsDeliveries(t *testing.T) {
	release := make(chan struct{})
	fsrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // lets the server notice a canceled request
		select {                           // a function that does not answer
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer fsrv.Close()
	defer close(release)
	o, srv := emu(t, cloudsim.OSSConfig{Triggers: []cloudsim.OSSTrigger{{URL: fsrv.URL}}})
	if err := sdkBucket(t, srv, testAK, testSecret).PutObject("k", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	d := o.Deliveries()
	if len(d) != 1 || d[0].OK {
		t.Errorf("deliveries after Close: %+v", d)
	}
}

func TestNewOSSRejectsBadConfig(t *testing.T) {
	tests := []cloudsim.OSSConfig{
		{Buckets: []string{"Bad_Name"}},
		{Triggers: []cloudsim.OSSTrigger{{}}},
		{Triggers: []cloudsim.OSSTrigger{{URL: "http://x", Bucket: "x"}}},
	}
	for i, cfg := range tests {
		if _, err := cloudsim.NewOSS(cfg); err == nil {
			t.Errorf("config %d accepted", i)
		}
	}
}

func TestOSSCredentialFormatRedacts(t *testing.T) {
	c := cloudsim.OSSCredential{Secret: testSecret, SecurityToken: stsToken}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		s := fmt.Sprintf(verb, c)
		if strings.Contains(s, testSecret) || strings.Contains(s, stsToken) {
			t.Errorf("%s prints a secret", verb)
		}
	}
}
