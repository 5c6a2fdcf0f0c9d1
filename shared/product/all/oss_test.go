package all_test

import (
	"context"
	"crypto/sha1"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/failure"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product"
	ossproduct "github.com/certdrop/certdrop/shared/product/oss"
)

// fakeOSS answers PutCname and ListCname for one bucket the way OSS
// documents them, and records what it was sent.
type fakeOSS struct {
	mu      sync.Mutex
	cnames  map[string]oss.Cname
	puts    []oss.PutBucketCname
	auth    []string
	failPut string // an error code PutCname answers, once
}

func (f *fakeOSS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	if !strings.HasPrefix(r.URL.Path, "/example-static") {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist.</Message><RequestId>rid-nb</RequestId></Error>`)
		return
	}
	w.Header().Set("x-oss-request-id", "rid-"+r.Method)
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodGet && q.Has("cname"):
		out := oss.ListBucketCnameResult{Bucket: "example-static"}
		for _, c := range f.cnames {
			out.Cname = append(out.Cname, c)
		}
		_ = xml.NewEncoder(w).Encode(out)
	case r.Method == http.MethodPost && q.Has("cname") && q.Get("comp") == "add":
		if f.failPut != "" {
			code := f.failPut
			f.failPut = ""
			status := http.StatusBadRequest
			if code == "SlowDown" {
				status = http.StatusServiceUnavailable
			}
			w.WriteHeader(status)
			fmt.Fprintf(w, `<Error><Code>%s</Code><Message>refused</Message><RequestId>rid-err</RequestId><EC>0018-00000001</EC></Error>`, code)
			return
		}
		var in oss.PutBucketCname
		body, _ := io.ReadAll(r.Body)
		if err := xml.Unmarshal(body, &in); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `<Error><Code>MalformedXML</Code></Error>`)
			return
		}
		f.puts = append(f.puts, in)
		cc := in.CertificateConfiguration
		var fp string
		if leaf := product.FirstCert(cc.Certificate); leaf != nil {
			s := sha1.Sum(leaf.Raw)
			parts := make([]string, len(s))
			for i, b := range s {
				parts[i] = fmt.Sprintf("%02X", b)
			}
			fp = strings.Join(parts, ":")
			f.cnames[in.Cname] = oss.Cname{Domain: in.Cname, Status: "Enabled", Certificate: oss.Certificate{
				Type: "CAS", CertId: "4930-cn-hangzhou", Status: "Enabled", Fingerprint: fp,
				ValidStartDate: leaf.NotBefore.UTC().Format(http.TimeFormat),
				ValidEndDate:   leaf.NotAfter.UTC().Format(http.TimeFormat),
			}}
		}
	default:
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `<Error><Code>InvalidArgument</Code></Error>`)
	}
}

// TestOSSCname sets an OSS custom domain's certificate through the OSS
// SDK against a fake OSS, and reads it back: the request is V4-signed,
// carries the certificate, the key and Force in the documented XML, and
// ListCname's SHA-1 fingerprint identifies the certificate; a bucket not
// listing the domain carries nothing; OSS's errors are classified; the key
// is in no error or log.
func TestOSSCname(t *testing.T) {
	f := &fakeOSS{cnames: map[string]oss.Cname{"bound.example.com": {Domain: "bound.example.com", Status: "Enabled"}}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c := newClient(t, cloud.Options{Getenv: env(nil, ossproduct.EnvEndpoint, srv.URL)})
	b := testBundle(t, "static.example.com", "bound.example.com")
	calls := planFor(t, b,
		manifest.Target{Product: ossproduct.Name, Domain: "static.example.com", Fields: map[string]string{"bucket": "example-static"}, Region: "cn-hangzhou"},
		manifest.Target{Product: ossproduct.Name, Domain: "bound.example.com", Fields: map[string]string{"bucket": "example-static"}, Region: "cn-hangzhou"},
	)
	call := calls["oss static.example.com"]
	ctx := context.Background()

	before, err := describe(ctx, c, call)
	if err != nil || before.HTTPS || before.Fingerprint != "" || before.RequestID != "rid-GET" {
		t.Fatalf("before: %+v, %v", before, err)
	}
	if got, err := describe(ctx, c, calls["oss bound.example.com"]); err != nil || got.HTTPS {
		t.Fatalf("a bound domain without a certificate: %+v, %v", got, err)
	}
	id, err := set(ctx, c, call)
	if err != nil || id != "rid-POST" {
		t.Fatalf("set: %q, %v", id, err)
	}
	if len(f.puts) != 1 {
		t.Fatalf("%d PutCname calls", len(f.puts))
	}
	put := f.puts[0]
	if cc := put.CertificateConfiguration; put.Cname != "static.example.com" || cc == nil ||
		cc.Certificate != b.CertPEM() || cc.PrivateKey != b.KeyPEM().Reveal() || !cc.Force || cc.CertId != "" {
		t.Errorf("PutCname sent %+v", put)
	}
	for _, a := range f.auth {
		if !strings.HasPrefix(a, "OSS4-HMAC-SHA256 Credential="+testAK+"/") || !strings.Contains(a, "/cn-hangzhou/oss/aliyun_v4_request") {
			t.Errorf("Authorization %q is not a V4 signature for cn-hangzhou", a)
		}
	}
	after, err := describe(ctx, c, call)
	if err != nil || !after.HTTPS || after.Fingerprint != b.Identity().Fingerprint || !after.NotBefore.Equal(b.Leaf.NotBefore.UTC()) {
		t.Fatalf("after: %+v, %v (want fingerprint %s)", after, err, b.Identity().Fingerprint)
	}

	// Another certificate on the domain: its fingerprint is not ours, the
	// dates come from ListCname.
	other := testBundle(t, "static.example.com")
	oc := planFor(t, other, call.Target)["oss static.example.com"]
	got, err := describe(ctx, c, oc)
	if err != nil || !got.HTTPS || got.Fingerprint != "" || got.NotAfter.IsZero() || got.NotAfter.Sub(b.Leaf.NotAfter) > time.Second {
		t.Errorf("describe with another certificate: %+v, %v", got, err)
	}

	for _, tt := range []struct {
		code  string
		class failure.Class
	}{
		{"SlowDown", failure.Throttled},
		{"NeedVerifyDomainOwnership", failure.Permanent},
		{"AccessDenied", failure.Forbidden},
	} {
		f.mu.Lock()
		f.failPut = tt.code
		f.mu.Unlock()
		_, err := set(ctx, c, call)
		var e *cloud.Error
		if !errors.As(err, &e) || e.Code != tt.code || e.Class() != tt.class || e.RequestID != "rid-POST" || e.API != "PutCname" {
			t.Errorf("%s: %#v", tt.code, err)
		}
	}
	wrong := call
	wrong.Target.Fields = map[string]string{"bucket": "example-gone"}
	wrong.Params = append([]plan.Param(nil), call.Params...)
	for i := range wrong.Params {
		if wrong.Params[i].Name == "Bucket" {
			wrong.Params[i].Value = "example-gone"
		}
	}
	_, err = describe(ctx, c, wrong)
	if e := (*cloud.Error)(nil); !errors.As(err, &e) || e.Code != "NoSuchBucket" || e.Class() != failure.Permanent {
		t.Errorf("a missing bucket: %v", err)
	}
}

// TestOSSCnameListBounded: a ListCname answer over ossproduct.MaxCnameList bytes is
// refused, not read whole: the cost of a Describe stays bounded whatever
// the endpoint answers.
func TestOSSCnameListBounded(t *testing.T) {
	var served int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-oss-request-id", "rid-big")
		fmt.Fprint(w, "<ListCnameResult><Bucket>example-static</Bucket>")
		pad := strings.Repeat("<Cname><Domain>x.example.com</Domain></Cname>", 1024)
		for served < 4*ossproduct.MaxCnameList {
			n, err := io.WriteString(w, pad)
			served += int64(n)
			if err != nil {
				return
			}
		}
		fmt.Fprint(w, "</ListCnameResult>")
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, cloud.Options{Getenv: env(nil, ossproduct.EnvEndpoint, srv.URL)})
	b := testBundle(t, "static.example.com")
	call := planFor(t, b, manifest.Target{Product: ossproduct.Name, Domain: "static.example.com", Fields: map[string]string{"bucket": "example-static"}, Region: "cn-hangzhou"})["oss static.example.com"]
	_, err := describe(context.Background(), c, call)
	var e *cloud.Error
	if !errors.As(err, &e) || !strings.Contains(e.Message, "larger than") || e.Class() != failure.Permanent || e.RequestID != "rid-big" {
		t.Fatalf("an oversized ListCname answer: %v", err)
	}
}
