package store_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/internal/credchain"
	"github.com/certdrop/certdrop/shared/store"
)

// TestOSSPresign: a signed URL reads the object with a plain GET, no
// credentials, and the emulator checks its V4 query signature: a URL
// changed in any signed part, another object, an unknown key, a missing
// token or an expired URL is refused.
func TestOSSPresign(t *testing.T) {
	srv, _ := emulator(t, nil)
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		creds *credchain.Credentials
	}{
		{"permanent key", &credchain.Credentials{AccessKeyID: testAK, AccessKeySecret: testSecret}},
		{"sts", &credchain.Credentials{AccessKeyID: stsAK, AccessKeySecret: stsSecret, SecurityToken: stsToken}},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := openOSS(t, srv, "oss://"+bucket+"/status/", store.Options{Credentials: c.creds})
			page := "<!doctype html><title>status</title>"
			if err := st.Put(ctx, "index.html", []byte(page), "text/html; charset=utf-8"); err != nil {
				t.Fatal(err)
			}
			ps, ok := st.(store.Presigner)
			if !ok {
				t.Fatalf("%T is not a Presigner", st)
			}
			u, err := ps.Presign(ctx, "index.html", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			for _, secret := range secrets {
				if strings.Contains(u, secret) && secret != stsToken {
					t.Fatalf("the URL holds a secret: %s", u)
				}
			}
			status, body, ctype := get(t, u)
			if status != http.StatusOK || body != page {
				t.Fatalf("GET signed URL: %d %q", status, body)
			}
			if !strings.HasPrefix(ctype, "text/html") {
				t.Errorf("Content-Type %q, want text/html", ctype)
			}
			pu, _ := url.Parse(u)
			if q := pu.Query(); q.Get("x-oss-signature-version") != "OSS4-HMAC-SHA256" || q.Get("x-oss-expires") != "3600" {
				t.Errorf("not a V4 URL valid one hour: %s", pu.RawQuery)
			}
			tamper := func(f func(u *url.URL, q url.Values)) string {
				cu := *pu
				q := cu.Query()
				f(&cu, q)
				cu.RawQuery = q.Encode()
				return cu.String()
			}
			bad := map[string]string{
				"another object":  tamper(func(u *url.URL, _ url.Values) { u.Path = strings.Replace(u.Path, "index.html", "other.html", 1) }),
				"longer validity": tamper(func(_ *url.URL, q url.Values) { q.Set("x-oss-expires", "7200") }),
				"other signature": tamper(func(_ *url.URL, q url.Values) { q.Set("x-oss-signature", strings.Repeat("0", 64)) }),
				"unknown key": tamper(func(_ *url.URL, q url.Values) {
					q.Set("x-oss-credential", strings.Replace(q.Get("x-oss-credential"), c.creds.AccessKeyID, "LTAIunknown", 1))
				}),
				"extra parameter":  tamper(func(_ *url.URL, q url.Values) { q.Set("response-content-type", "text/plain") }),
				"expired long ago": tamper(func(_ *url.URL, q url.Values) { q.Set("x-oss-date", "20200101T000000Z") }),
			}
			if c.creds.SecurityToken != "" {
				bad["no token"] = tamper(func(_ *url.URL, q url.Values) { q.Del("x-oss-security-token") })
			}
			for name, u := range bad {
				if status, body, _ := get(t, u); status != http.StatusForbidden && status != http.StatusBadRequest {
					t.Errorf("%s: GET answered %d %q, want a refusal", name, status, body)
				}
			}
		})
	}
}

// TestOSSPresignExpires: a URL signed for a second is refused once the
// second has passed.
func TestOSSPresignExpires(t *testing.T) {
	srv, _ := emulator(t, nil)
	ctx := context.Background()
	st := openOSS(t, srv, "oss://"+bucket, store.Options{})
	if err := st.Put(ctx, "a.txt", []byte("a"), ""); err != nil {
		t.Fatal(err)
	}
	u, err := st.(store.Presigner).Presign(ctx, "a.txt", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if status, _, _ := get(t, u); status != http.StatusOK {
		t.Fatalf("fresh URL: %d", status)
	}
	time.Sleep(2100 * time.Millisecond)
	status, body, _ := get(t, u)
	if status != http.StatusForbidden || !strings.Contains(body, "expired") {
		t.Fatalf("expired URL: %d %q", status, body)
	}
}

// TestOSSPresignRefusesBadValidity: a validity outside OSS's range is a
// configuration error, not a URL.
func TestOSSPresignRefusesBadValidity(t *testing.T) {
	srv, _ := emulator(t, nil)
	st := openOSS(t, srv, "oss://"+bucket, store.Options{})
	for _, ttl := range []time.Duration{0, 500 * time.Millisecond, store.MaxPresign + time.Second} {
		if _, err := st.(store.Presigner).Presign(context.Background(), "a.txt", ttl); !errors.Is(err, store.ErrConfig) {
			t.Errorf("Presign(%s): %v, want ErrConfig", ttl, err)
		}
	}
}

func get(t *testing.T, u string) (int, string, string) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header.Get("Content-Type")
}
