package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/certdrop/certdrop/internal/credchain"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/store"
)

const (
	testAK     = "LTAIstoretest"
	testSecret = "store-secret-do-not-log-3e5d"
	stsAK      = "STS.storetest"
	stsSecret  = "sts-secret-do-not-log-8a2f"
	stsToken   = "sts-token-do-not-log-77aa"
	bucket     = "certdrop-test"
	region     = "cn-hangzhou"
)

var secrets = []string{testSecret, stsSecret, stsToken}

// emulator starts the OSS emulator over real HTTP on loopback.
func emulator(t *testing.T, wrap func(http.Handler) http.Handler) (*httptest.Server, *cloudsim.Journal) {
	t.Helper()
	j := cloudsim.NewJournal(nil)
	o, err := cloudsim.NewOSS(cloudsim.OSSConfig{
		Region:  region,
		Buckets: []string{bucket},
		Credentials: map[string]cloudsim.OSSCredential{
			testAK: {Secret: testSecret},
			stsAK:  {Secret: stsSecret, SecurityToken: stsToken},
		},
		Journal: j,
	})
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = o
	if wrap != nil {
		h = wrap(o)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		_ = o.Close()
	})
	return srv, j
}

// noEnv is an empty environment.
func noEnv(string) string { return "" }

// openOSS opens location against srv with the test credentials.
func openOSS(t *testing.T, srv *httptest.Server, location string, opts store.Options) store.Store {
	t.Helper()
	if opts.Credentials == nil {
		opts.Credentials = &credchain.Credentials{AccessKeyID: testAK, AccessKeySecret: testSecret}
	}
	if opts.Getenv == nil {
		opts.Getenv = noEnv
	}
	opts.Endpoint, opts.Region = srv.URL, region
	s, err := store.Open(context.Background(), location, opts)
	if err != nil {
		t.Fatalf("Open(%q): %v", location, err)
	}
	return s
}

// calls returns the OSS operations the journal saw for key, in order.
func calls(j *cloudsim.Journal, key string) []string {
	var out []string
	for _, e := range j.Entries() {
		if e.Key == key {
			out = append(out, e.API)
		}
	}
	return out
}

// assertNoSecret fails if any rendering of err holds a test credential.
func assertNoSecret(t *testing.T, err error) {
	t.Helper()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		s := fmt.Sprintf(verb, err)
		for _, sec := range secrets {
			if strings.Contains(s, sec) {
				t.Errorf("error rendered with %s contains a credential", verb)
			}
		}
	}
}

// storeKeys are keys with characters that URL encoding tends to break.
var storeKeys = []string{
	"plain.pem",
	"a b.pem",
	"a+b.pem",
	"100%.pem",
	"%2F not a slash.pem",
	"证书/中文 名.pem",
	"emoji 🔐.pem",
	"q?x=1&y=2#frag.pem",
	"double//slash.pem",
}

func TestOSSPutGetListRoundTrip(t *testing.T) {
	srv, j := emulator(t, nil)
	ctx := context.Background()
	s := openOSS(t, srv, "oss://"+bucket+"/certs", store.Options{})
	for _, key := range storeKeys {
		body := []byte("data of " + key)
		if err := s.Put(ctx, key, body, "application/x-pem-file"); err != nil {
			t.Fatalf("Put(%q): %v", key, err)
		}
		obj, err := s.Get(ctx, key)
		if err != nil {
			t.Fatalf("Get(%q): %v", key, err)
		}
		if obj.Key != key || !bytes.Equal(obj.Data, body) || obj.Size != int64(len(body)) ||
			obj.ContentType != "application/x-pem-file" || obj.ETag == "" || obj.LastModified.IsZero() || obj.Symlink {
			t.Errorf("Get(%q) = %+v", key, obj.ObjectInfo)
		}
		// The store is rooted at certs/: the object's real key has the prefix.
		if got := calls(j, "certs/"+key); !reflect.DeepEqual(got, []string{"PutObject", "HeadObject", "GetObject"}) {
			t.Errorf("OSS calls for %q: %v", key, got)
		}
	}
	list, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range list {
		keys = append(keys, o.Key)
	}
	want := append([]string(nil), storeKeys...)
	sort.Strings(want)
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("List = %q\nwant   %q", keys, want)
	}
	list, err = s.List(ctx, "证书/")
	if err != nil || len(list) != 1 || list[0].Key != "证书/中文 名.pem" || list[0].Size != int64(len("data of 证书/中文 名.pem")) {
		t.Errorf("List(证书/) = %+v, %v", list, err)
	}
}

// putSymlink creates a symlink with the SDK (the store writes none).
func putSymlink(srv *httptest.Server, link, target string) error {
	c, err := oss.New(srv.URL, testAK, testSecret, oss.AuthVersion(oss.AuthV4), oss.Region(region))
	if err != nil {
		return err
	}
	b, err := c.Bucket(bucket)
	if err != nil {
		return err
	}
	return b.PutSymlink(link, target)
}

func TestOSSListPaginates(t *testing.T) {
	srv, j := emulator(t, nil)
	ctx := context.Background()
	s := openOSS(t, srv, "oss://"+bucket, store.Options{ListPageSize: 2})
	var want []string
	for i := range 5 {
		k := fmt.Sprintf("in/%d.pem", i)
		want = append(want, k)
		if err := s.Put(ctx, k, []byte("x"), ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put(ctx, "out/x.pem", []byte("x"), ""); err != nil {
		t.Fatal(err)
	}
	list, err := s.List(ctx, "in/")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range list {
		got = append(got, o.Key)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List = %q, want %q", got, want)
	}
	pages := 0
	for _, e := range j.Entries() {
		if e.API == "ListObjects" {
			pages++
		}
	}
	if pages != 3 {
		t.Errorf("%d ListObjects pages for 5 keys at 2 per page, want 3", pages)
	}

	capped := openOSS(t, srv, "oss://"+bucket, store.Options{ListPageSize: 2, MaxList: 4})
	if _, err := capped.List(ctx, "in/"); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("List over MaxList: %v, want ErrTooLarge", err)
	}
}

func TestOSSGetSizeCapBeforeDownload(t *testing.T) {
	srv, j := emulator(t, nil)
	ctx := context.Background()
	const maxSize = 64
	s := openOSS(t, srv, "oss://"+bucket, store.Options{MaxSize: maxSize})
	tests := []struct {
		key  string
		size int
		ok   bool
	}{
		{"at-cap.pem", maxSize, true},
		{"over-cap.pem", maxSize + 1, false},
		{"huge.pem", 5 << 20, false},
	}
	for _, tc := range tests {
		if err := s.Put(ctx, tc.key, bytes.Repeat([]byte("A"), tc.size), ""); err != nil {
			t.Fatal(err)
		}
		obj, err := s.Get(ctx, tc.key)
		if tc.ok {
			if err != nil || len(obj.Data) != tc.size {
				t.Errorf("Get(%s): %v", tc.key, err)
			}
			continue
		}
		if !errors.Is(err, store.ErrTooLarge) {
			t.Errorf("Get(%s) = %v, want ErrTooLarge", tc.key, err)
		}
		// The body was never asked for: HEAD only.
		if got := calls(j, tc.key); !reflect.DeepEqual(got, []string{"PutObject", "HeadObject"}) {
			t.Errorf("OSS calls for %s: %v, want PutObject, HeadObject", tc.key, got)
		}
	}
}

// TestOSSGetGuardsGrowth: the object grows between HEAD and GET; the
// download is cut at the cap.
func TestOSSGetGuardsGrowth(t *testing.T) {
	var s atomic.Value // store.Store, set before the first request
	var grown atomic.Bool
	srv, _ := emulator(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r)
			if r.Method == http.MethodHead && !grown.Swap(true) {
				big := bytes.Repeat([]byte("B"), 1000)
				if err := s.Load().(store.Store).Put(r.Context(), "grows.pem", big, ""); err != nil {
					t.Errorf("growing the object: %v", err)
				}
			}
		})
	})
	// The object is grown by a second store (a second SDK client, with its
	// own connection pool): reusing the connection of the HEAD the
	// handler runs in would deadlock.
	s.Store(openOSS(t, srv, "oss://"+bucket, store.Options{}))
	st := openOSS(t, srv, "oss://"+bucket, store.Options{MaxSize: 100})
	ctx := context.Background()
	if err := st.Put(ctx, "grows.pem", []byte("small"), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, "grows.pem"); !errors.Is(err, store.ErrTooLarge) || !grown.Load() {
		t.Errorf("Get of an object that grew: %v (grown %v), want ErrTooLarge", err, grown.Load())
	}
}

func TestOSSNotFound(t *testing.T) {
	srv, _ := emulator(t, nil)
	s := openOSS(t, srv, "oss://"+bucket, store.Options{})
	_, err := s.Get(context.Background(), "missing.pem")
	var se *store.Error
	if !errors.Is(err, store.ErrNotFound) || !errors.As(err, &se) || se.Code != "NoSuchKey" || se.RequestID == "" || se.Key != "missing.pem" {
		t.Errorf("Get(missing) = %#v", err)
	}
	other := openOSS(t, srv, "oss://no-such-bucket", store.Options{})
	if _, err := other.List(context.Background(), ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("List on a missing bucket = %v, want ErrNotFound", err)
	}
}

func TestOSSCredentialsRejected(t *testing.T) {
	srv, _ := emulator(t, nil)
	tests := []struct {
		name string
		cred credchain.Credentials
		code string
	}{
		{"wrong secret", credchain.Credentials{AccessKeyID: testAK, AccessKeySecret: "wrong-" + testSecret}, "SignatureDoesNotMatch"},
		{"unknown key", credchain.Credentials{AccessKeyID: "LTAInobody", AccessKeySecret: testSecret}, "InvalidAccessKeyId"},
		{"STS wrong token", credchain.Credentials{AccessKeyID: stsAK, AccessKeySecret: stsSecret, SecurityToken: "x" + stsToken}, "InvalidSecurityToken"},
		{"STS missing token", credchain.Credentials{AccessKeyID: stsAK, AccessKeySecret: stsSecret}, "InvalidSecurityToken"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openOSS(t, srv, "oss://"+bucket, store.Options{Credentials: &tc.cred})
			for op, call := range map[string]func() error{
				"get":  func() error { _, err := s.Get(context.Background(), "k.pem"); return err },
				"list": func() error { _, err := s.List(context.Background(), ""); return err },
				"put":  func() error { return s.Put(context.Background(), "k.pem", []byte("x"), "") },
			} {
				err := call()
				var se *store.Error
				if !errors.Is(err, store.ErrDenied) || !errors.As(err, &se) || se.Code != tc.code {
					t.Errorf("%s: %v, want ErrDenied with %s", op, err, tc.code)
				}
				assertNoSecret(t, err)
			}
		})
	}
	good := openOSS(t, srv, "oss://"+bucket, store.Options{Credentials: &credchain.Credentials{AccessKeyID: stsAK, AccessKeySecret: stsSecret, SecurityToken: stsToken}})
	if err := good.Put(context.Background(), "k.pem", []byte("x"), ""); err != nil {
		t.Errorf("STS credentials: %v", err)
	}
}

func TestOSSSymlink(t *testing.T) {
	srv, _ := emulator(t, nil)
	ctx := context.Background()
	s := openOSS(t, srv, "oss://"+bucket+"/certs/", store.Options{})
	if err := s.Put(ctx, "2026/bundle a+b.pem", []byte("PEM"), ""); err != nil {
		t.Fatal(err)
	}
	// Create the link with the SDK: the store does not write symlinks.
	if err := putSymlink(srv, "certs/current.pem", "certs/2026/bundle a+b.pem"); err != nil {
		t.Fatal(err)
	}
	obj, err := s.Get(ctx, "current.pem")
	if err != nil {
		t.Fatal(err)
	}
	if string(obj.Data) != "PEM" || !obj.Symlink || obj.Target != "2026/bundle a+b.pem" {
		t.Errorf("Get(symlink) = %+v data %q", obj, obj.Data)
	}
	list, err := s.List(ctx, "current")
	if err != nil || len(list) != 1 || !list[0].Symlink {
		t.Errorf("List(current) = %+v, %v", list, err)
	}
	if err := putSymlink(srv, "certs/dangling.pem", "certs/none.pem"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "dangling.pem"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(dangling symlink) = %v, want ErrNotFound", err)
	}
}

func TestOSSContextCanceled(t *testing.T) {
	arrived := make(chan struct{}, 1)
	srv, j := emulator(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "slow") {
				arrived <- struct{}{}
				<-r.Context().Done() // never answers; ends when the client gives up
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	s := openOSS(t, srv, "oss://"+bucket, store.Options{})

	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Get(canceled, "k.pem")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Get with canceled context = %v", err)
	}
	if err := s.Put(canceled, "k.pem", []byte("x"), ""); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with canceled context = %v", err)
	}
	if n := len(j.Entries()); n != 0 {
		t.Errorf("%d requests reached OSS with a canceled context", n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := s.Get(ctx, "slow.pem")
		done <- err
	}()
	<-arrived
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Get canceled in flight = %v", err)
	}
}

func TestOSSFromEnvironment(t *testing.T) {
	srv, _ := emulator(t, nil)
	env := map[string]string{
		"CERTDROP_OSS_ENDPOINT":           srv.URL,
		"FC_REGION":                       region,
		"FC_FUNCTION_NAME":                "certdrop",
		"ALIBABA_CLOUD_ACCESS_KEY_ID":     stsAK,
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET": stsSecret,
		"ALIBABA_CLOUD_SECURITY_TOKEN":    stsToken,
	}
	s, err := store.Open(context.Background(), "oss://"+bucket, store.Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(context.Background(), "env.pem", []byte("x"), ""); err != nil {
		t.Errorf("Put with environment credentials: %v", err)
	}
}

// TestOSSCredentialChain: without credentials given, the store finds them
// as the OpenAPI clients do (internal/credchain), through Options.Getenv:
// here an Alibaba Cloud CLI profile, found through Getenv and not the
// process's own environment. With no source it refuses to open.
func TestOSSCredentialChain(t *testing.T) {
	srv, _ := emulator(t, nil)
	cfg := filepath.Join(t.TempDir(), "config.json")
	profile := `{"current":"dev","profiles":[{"name":"dev","mode":"AK","access_key_id":"` + testAK + `","access_key_secret":"` + testSecret + `"}]}`
	if err := os.WriteFile(cfg, []byte(profile), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ALIBABA_CLOUD_CONFIG_FILE": cfg}
	s, err := store.OpenOSS(context.Background(), bucket, "", store.Options{Getenv: func(k string) string { return env[k] }, Endpoint: srv.URL, Region: region})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(context.Background(), "chain.pem", []byte("x"), ""); err != nil {
		t.Errorf("Put with the CLI profile's credentials: %v", err)
	}
	_, err = store.OpenOSS(context.Background(), bucket, "", store.Options{Getenv: noEnv, Endpoint: srv.URL, Region: region})
	if !errors.Is(err, store.ErrConfig) || !strings.Contains(err.Error(), "no Alibaba Cloud credentials") {
		t.Errorf("no credentials: %v", err)
	}
}

func TestOSSEndpointRefused(t *testing.T) {
	for _, ep := range []string{"http://oss-cn-hangzhou.aliyuncs.com", "http://10.0.0.1:9000", "http://127.0.0.1.nip.io", "ftp://127.0.0.1"} {
		_, err := store.OpenOSS(context.Background(), bucket, "", store.Options{Getenv: noEnv, Endpoint: ep, Region: region,
			Credentials: &credchain.Credentials{AccessKeyID: testAK, AccessKeySecret: testSecret}})
		if !errors.Is(err, store.ErrConfig) {
			t.Errorf("endpoint %s: %v, want ErrConfig", ep, err)
		}
	}
}

func TestOSSUnreachable(t *testing.T) {
	srv, _ := emulator(t, nil)
	s := openOSS(t, srv, "oss://"+bucket, store.Options{HTTPClient: &http.Client{Timeout: 5 * time.Second}})
	srv.Close()
	_, err := s.Get(context.Background(), "k.pem")
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrDenied) {
		t.Errorf("Get from a closed server = %v", err)
	}
	assertNoSecret(t, err)
}

// TestOSSPutSecret writes with server-side encryption through the signed
// request (the header is signed) and reads it back.
func TestOSSPutSecret(t *testing.T) {
	var sse string
	srv, _ := emulator(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut {
				sse = r.Header.Get("x-oss-server-side-encryption")
			}
			h.ServeHTTP(w, r)
		})
	})
	ctx := context.Background()
	s := openOSS(t, srv, "oss://"+bucket, store.Options{})
	if err := s.(store.SecretPutter).PutSecret(ctx, "certdrop/acme/a.json", []byte("secret"), "application/json"); err != nil {
		t.Fatal(err)
	}
	if sse != "AES256" {
		t.Errorf("x-oss-server-side-encryption = %q, want AES256", sse)
	}
	o, err := s.Get(ctx, "certdrop/acme/a.json")
	if err != nil || string(o.Data) != "secret" {
		t.Fatalf("Get: %v", err)
	}
}
