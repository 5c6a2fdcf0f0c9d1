package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/certdrop/certdrop/internal/credchain"
	"github.com/certdrop/certdrop/shared/store"
)

// dirKeys are keys a directory store must round-trip.
var dirKeys = []string{
	"plain.pem",
	"a b.pem",
	"a+b.pem",
	"100%.pem",
	"%2F not a slash.pem",
	"证书/中文 名.pem",
	"emoji 🔐.pem",
	"deep/er/still/x.pem",
}

func openDir(t *testing.T, opts store.Options) (string, store.Store) {
	t.Helper()
	dir := t.TempDir()
	s, err := store.Open(context.Background(), "file://"+dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return dir, s
}

func TestDirRoundTrip(t *testing.T) {
	dir, s := openDir(t, store.Options{})
	ctx := context.Background()
	for _, key := range dirKeys {
		body := []byte("data of " + key)
		if err := s.Put(ctx, key, body, ""); err != nil {
			t.Fatalf("Put(%q): %v", key, err)
		}
		onDisk, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(key)))
		if err != nil || !bytes.Equal(onDisk, body) {
			t.Errorf("file for %q: %q, %v", key, onDisk, err)
		}
		obj, err := s.Get(ctx, key)
		if err != nil {
			t.Fatalf("Get(%q): %v", key, err)
		}
		if obj.Key != key || !bytes.Equal(obj.Data, body) || obj.Size != int64(len(body)) || obj.Symlink {
			t.Errorf("Get(%q) = %+v", key, obj.ObjectInfo)
		}
	}
	if err := s.Put(ctx, "a b.pem", []byte("replaced"), ""); err != nil {
		t.Fatal(err)
	}
	if obj, _ := s.Get(ctx, "a b.pem"); string(obj.Data) != "replaced" {
		t.Errorf("after overwrite: %q", obj.Data)
	}
	list, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range list {
		keys = append(keys, o.Key)
	}
	want := []string{"%2F not a slash.pem", "100%.pem", "a b.pem", "a+b.pem", "deep/er/still/x.pem", "emoji 🔐.pem", "plain.pem", "证书/中文 名.pem"}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("List = %q\nwant   %q", keys, want)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".certdrop-tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

func TestDirListPrefix(t *testing.T) {
	dir, s := openDir(t, store.Options{})
	ctx := context.Background()
	for _, k := range []string{"certs/example.com.pem", "certs/example.org/key.pem", "certs/other.pem", "certsx.pem", "top.pem"} {
		if err := s.Put(ctx, k, []byte("x"), ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "certs", ".certdrop-tmp-abc"), []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"certs/ex", []string{"certs/example.com.pem", "certs/example.org/key.pem"}},
		{"certs/", []string{"certs/example.com.pem", "certs/example.org/key.pem", "certs/other.pem"}},
		{"certs", []string{"certs/example.com.pem", "certs/example.org/key.pem", "certs/other.pem", "certsx.pem"}},
		{"none/", nil},
		{"certs/example.org/", []string{"certs/example.org/key.pem"}},
	}
	for _, tc := range tests {
		list, err := s.List(ctx, tc.prefix)
		if err != nil {
			t.Fatalf("List(%q): %v", tc.prefix, err)
		}
		var got []string
		for _, o := range list {
			got = append(got, o.Key)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("List(%q) = %q, want %q", tc.prefix, got, tc.want)
		}
	}
	if _, err := s.List(ctx, "../"); !errors.Is(err, store.ErrInvalidKey) {
		t.Errorf("List(../) = %v, want ErrInvalidKey", err)
	}
	capped, _ := store.OpenDir(dir, store.Options{MaxList: 2})
	if _, err := capped.List(ctx, "certs/"); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("List over MaxList = %v, want ErrTooLarge", err)
	}
}

func TestDirRejectsTraversal(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(parent, "outside.pem")
	if err := os.WriteFile(secret, []byte("OUTSIDE"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../outside.pem", filepath.Join(root, "escape.pem")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(parent, filepath.Join(root, "escapedir")); err != nil {
		t.Fatal(err)
	}
	s, err := store.OpenDir(root, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, key := range []string{"../outside.pem", "a/../../outside.pem", "/etc/passwd", "./x", "a//b", `..\outside.pem`, "trailing/"} {
		if _, err := s.Get(ctx, key); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Get(%q) = %v, want ErrInvalidKey", key, err)
		}
		if err := s.Put(ctx, key, []byte("x"), ""); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	for _, key := range []string{"escape.pem", "escapedir/outside.pem"} {
		obj, err := s.Get(ctx, key)
		if err == nil || obj != nil {
			t.Errorf("Get(%q) read outside the root", key)
		}
		if !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Get(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	if err := s.Put(ctx, "escapedir/new.pem", []byte("x"), ""); err == nil {
		t.Error("Put through a symlink wrote outside the root")
	}
	if _, err := os.Stat(filepath.Join(parent, "new.pem")); err == nil {
		t.Error("file created outside the root")
	}
	list, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	// Escaping links are listed (size 0), so that a reader is told why
	// they cannot be read instead of missing them silently.
	if len(list) != 2 || list[0].Key != "escape.pem" || list[0].Size != 0 || !list[0].Symlink || list[1].Key != "escapedir" {
		t.Errorf("List = %+v, want the two escaping links, size 0", list)
	}
	if _, err := s.Get(ctx, "escape.pem"); err == nil || !strings.Contains(err.Error(), "leads outside the directory") {
		t.Errorf("Get(escape.pem) = %v, want it to say the link leads outside", err)
	}
}

// certbotConfig lays out a certbot configuration directory: archive/<name>/
// with the numbered files, live/<name>/ with relative symbolic links into
// ../../archive/<name>/, and a README. It returns the configuration
// directory.
func certbotConfig(t *testing.T, name string, files map[string]string) string {
	t.Helper()
	conf := t.TempDir()
	archive, live := filepath.Join(conf, "archive", name), filepath.Join(conf, "live", name)
	for _, d := range []string{archive, live} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for base, data := range files {
		if err := os.WriteFile(filepath.Join(archive, base+"1.pem"), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..", "..", "archive", name, base+"1.pem"), filepath.Join(live, base+".pem")); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(live, "README"), []byte("certbot\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf
}

// TestDirCertbotLayout: certbot's live/<name>/ files are
// symbolic links into ../../archive/<name>/. Opened at certbot's
// configuration directory, the store reads them as files, the size cap
// applying to the target; opened at live/<name>/, the links lead out and
// are refused with a reason, not skipped.
func TestDirCertbotLayout(t *testing.T) {
	ctx := context.Background()
	files := map[string]string{"cert": "CERT", "chain": "CHAIN", "fullchain": "CERTCHAIN", "privkey": strings.Repeat("K", 20)}
	conf := certbotConfig(t, "example.com", files)

	s, err := store.OpenDir(conf, store.Options{MaxSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	list, err := s.List(ctx, "live/example.com/")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, in := range list {
		keys = append(keys, fmt.Sprintf("%s:%d:%v", in.Key, in.Size, in.Symlink))
	}
	want := "live/example.com/README:8:false live/example.com/cert.pem:4:true live/example.com/chain.pem:5:true " +
		"live/example.com/fullchain.pem:9:true live/example.com/privkey.pem:20:true"
	if got := strings.Join(keys, " "); got != want {
		t.Errorf("List = %s\nwant   %s", got, want)
	}
	obj, err := s.Get(ctx, "live/example.com/fullchain.pem")
	if err != nil || string(obj.Data) != "CERTCHAIN" || !obj.Symlink || obj.Target != "archive/example.com/fullchain1.pem" {
		t.Errorf("Get(fullchain.pem) = %+v, %v", obj, err)
	}
	if _, err := s.Get(ctx, "live/example.com/privkey.pem"); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("Get(a link to a file over the cap) = %v, want ErrTooLarge", err)
	}

	live, err := store.OpenDir(filepath.Join(conf, "live", "example.com"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	list, err = live.List(ctx, "")
	if err != nil || len(list) != 5 {
		t.Fatalf("List(live/) = %+v, %v; want README and the four links", list, err)
	}
	if _, err := live.Get(ctx, "cert.pem"); !errors.Is(err, store.ErrInvalidKey) || !strings.Contains(err.Error(), "configuration directory") {
		t.Errorf("Get(cert.pem) in live/ = %v, want ErrInvalidKey saying where to open the store", err)
	}
}

func TestDirSymlinkInside(t *testing.T) {
	dir, s := openDir(t, store.Options{})
	ctx := context.Background()
	if err := s.Put(ctx, "2026/bundle.pem", []byte("PEM"), ""); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("2026/bundle.pem", filepath.Join(dir, "current.pem")); err != nil {
		t.Fatal(err)
	}
	obj, err := s.Get(ctx, "current.pem")
	if err != nil {
		t.Fatal(err)
	}
	if string(obj.Data) != "PEM" || !obj.Symlink || obj.Target != "2026/bundle.pem" {
		t.Errorf("Get(symlink) = %+v", obj)
	}
	list, _ := s.List(ctx, "current")
	if len(list) != 1 || !list[0].Symlink || list[0].Size != 3 {
		t.Errorf("List(current) = %+v", list)
	}
}

func TestDirGetErrors(t *testing.T) {
	dir, s := openDir(t, store.Options{MaxSize: 10})
	ctx := context.Background()
	if err := os.WriteFile(filepath.Join(dir, "big.pem"), bytes.Repeat([]byte("x"), 11), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cap.pem"), bytes.Repeat([]byte("x"), 10), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "big.pem"); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("Get(big) = %v, want ErrTooLarge", err)
	}
	if _, err := s.Get(ctx, "cap.pem"); err != nil {
		t.Errorf("Get(at cap) = %v", err)
	}
	for _, key := range []string{"missing.pem", "sub", "sub/missing.pem"} {
		if _, err := s.Get(ctx, key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", key, err)
		}
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Get(canceled, "cap.pem"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with canceled context = %v", err)
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	opts := store.Options{Getenv: noEnv, Region: region, Credentials: &credchain.Credentials{AccessKeyID: testAK, AccessKeySecret: testSecret}}
	tests := []struct {
		location string
		kind     string // "oss", "dir" or "" for an ErrConfig failure
		str      string
	}{
		{"oss://" + bucket, "oss", "oss://" + bucket + "/ at https://oss-cn-hangzhou.aliyuncs.com"},
		{"oss://" + bucket + "/certs", "oss", "oss://" + bucket + "/certs/ at https://oss-cn-hangzhou.aliyuncs.com"},
		{"oss://" + bucket + "/a%20b/", "oss", "oss://" + bucket + "/a b/ at https://oss-cn-hangzhou.aliyuncs.com"},
		{"file://" + dir, "dir", dir},
		{"file://localhost" + dir, "dir", dir},
		{dir, "dir", dir},
		{"oss://Bad_Bucket/x", "", ""},
		{"oss://" + bucket + "/a?b", "", ""},
		{"oss://" + bucket + "/a#b", "", ""},
		{"oss://ak:hunter2@" + bucket + "/", "", ""},
		{"s3://" + bucket, "", ""},
		{"file://remote.host/x", "", ""},
		{"file://" + file, "", ""},
		{filepath.Join(dir, "missing"), "", ""},
		{"", "", ""},
	}
	for _, tc := range tests {
		s, err := store.Open(context.Background(), tc.location, opts)
		if tc.kind == "" {
			if !errors.Is(err, store.ErrConfig) {
				t.Errorf("Open(%q) = %v, want ErrConfig", tc.location, err)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("Open error echoes a password")
			}
			continue
		}
		if err != nil {
			t.Errorf("Open(%q): %v", tc.location, err)
			continue
		}
		switch s.(type) {
		case *store.OSS:
			if tc.kind != "oss" {
				t.Errorf("Open(%q) is OSS", tc.location)
			}
		case *store.Dir:
			if tc.kind != "dir" {
				t.Errorf("Open(%q) is a directory", tc.location)
			}
		}
		if got := s.(interface{ String() string }).String(); got != tc.str {
			t.Errorf("Open(%q) = %s, want %s", tc.location, got, tc.str)
		}
	}
}

func TestDirPutSecretOwnerOnly(t *testing.T) {
	dir, s := openDir(t, store.Options{})
	ctx := context.Background()
	sp, ok := s.(store.SecretPutter)
	if !ok {
		t.Fatal("Dir is not a SecretPutter")
	}
	if err := sp.PutSecret(ctx, "certdrop/acme/account.json", []byte("k"), ""); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "certdrop", "acme", "account.json"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	got, err := s.Get(ctx, "certdrop/acme/account.json")
	if err != nil || string(got.Data) != "k" {
		t.Fatalf("Get: %v", err)
	}
}
