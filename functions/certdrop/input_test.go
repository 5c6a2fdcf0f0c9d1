//go:build !fc

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/cloudsim/cloudsimtest"
	"github.com/certdrop/certdrop/shared/store"
)

// gencertIn issues a demo certificate for www.example.com valid for days
// into dir/cert, and returns that folder and the demo root.
func gencertIn(t *testing.T, days string) (folder, rootPath string) {
	t.Helper()
	dir := t.TempDir()
	folder, rootPath = filepath.Join(dir, "cert"), filepath.Join(dir, "root.pem")
	if code, _, stderr := runCLI(t, "gencert", "--out", folder, "--root", rootPath, "--domain", "www.example.com", "--days", days); code != exitOK {
		t.Fatalf("gencert: %d %s", code, stderr)
	}
	return folder, rootPath
}

// TestValidateWarnDays: --warn-days 0 means never, as the manifest's
// warnDays: 0 does, not 14 days; and a fresh 90-day certificate shows 90
// days left.
func TestValidateWarnDays(t *testing.T) {
	soon, soonRoot := gencertIn(t, "5")
	fresh, freshRoot := gencertIn(t, "90")
	tests := []struct {
		name   string
		args   []string
		warn   bool
		hasOut string
	}{
		{"default warns at 14 days", []string{soon, "--trust-roots", soonRoot}, true, "(5 days left)"},
		{"--warn-days 0 never warns", []string{soon, "--trust-roots", soonRoot, "--warn-days", "0"}, false, "(5 days left)"},
		{"--warn-days 3", []string{soon, "--trust-roots", soonRoot, "--warn-days", "3"}, false, "Verdict:      valid"},
		{"--warn-days 6", []string{soon, "--trust-roots", soonRoot, "--warn-days", "6"}, true, "Verdict:      valid"},
		{"fresh 90-day certificate", []string{fresh, "--trust-roots", freshRoot}, false, "(90 days left)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := runCLI(t, append([]string{"validate"}, tt.args...)...)
			if code != exitOK {
				t.Fatalf("exit %d\n%s%s", code, out, stderr)
			}
			if got := strings.Contains(out, "expires in"); got != tt.warn {
				t.Errorf("expiry warning shown = %v, want %v\n%s", got, tt.warn, out)
			}
			if !strings.Contains(out, tt.hasOut) {
				t.Errorf("output lacks %q\n%s", tt.hasOut, out)
			}
		})
	}
}

// certbotLive lays out a certbot configuration directory as certbot 2.x
// writes it, from a folder holding fullchain.pem and privkey.pem:
// archive/<name>/{cert,chain,fullchain,privkey}1.pem and live/<name>/ with
// relative symbolic links into ../../archive/<name>/ and a README. It
// returns the live folder ($RENEWED_LINEAGE).
func certbotLive(t *testing.T, from, name string) string {
	t.Helper()
	conf := t.TempDir()
	full, err := os.ReadFile(filepath.Join(from, "fullchain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(from, "privkey.pem"))
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(full[1:], []byte("-----BEGIN CERTIFICATE-----")) + 1
	archive, live := filepath.Join(conf, "archive", name), filepath.Join(conf, "live", name)
	for _, d := range []string{archive, live} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for base, data := range map[string][]byte{"cert": full[:i], "chain": full[i:], "fullchain": full, "privkey": key} {
		if err := os.WriteFile(filepath.Join(archive, base+"1.pem"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..", "..", "archive", name, base+"1.pem"), filepath.Join(live, base+".pem")); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(live, "README"), []byte("This directory contains your keys and certificates.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return live
}

// TestCertbotLiveFolder: certbot's live/<name>/ folder holds symbolic
// links, and validate, plan, deploy and push read it (not "no .pem, .crt,
// .cer or .key files"). `certdrop push "$RENEWED_LINEAGE"` must work.
func TestCertbotLiveFolder(t *testing.T) {
	env, sim, bundleDir, root, manifestPath := deployEnv(t)
	live := certbotLive(t, bundleDir, "example.test")
	if fi, err := os.Lstat(filepath.Join(live, "privkey.pem")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the layout is not certbot's: privkey.pem %v %v", fi, err)
	}

	code, out, errs := runWithEnv(env, "validate", live, "--trust-roots", root, "--domain", "www.example.test")
	if code != exitOK || !strings.Contains(out, "Verdict:      valid") || !strings.Contains(out, filepath.Join(live, "privkey.pem")) {
		t.Fatalf("validate: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = runWithEnv(env, "plan", "--bundle", live, "--manifest", manifestPath, "--trust-roots", root)
	if code != exitOK || !strings.Contains(out, "deploy example.test to 3 target(s)") {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = runWithEnv(env, "deploy", "--bundle", live, "--manifest", manifestPath, "--trust-roots", root)
	if code != exitOK || !strings.Contains(out, "OK: 3 deployed of 3 target(s)") || setCalls(sim) != 3 {
		t.Fatalf("deploy: exit %d, %d Set calls\n%s%s", code, setCalls(sim), out, errs)
	}

	// push "$RENEWED_LINEAGE" uploads the four files the links point to.
	oss := ossEnv(t)
	code, out, errs = runWithEnv(oss, "push", live, "--to", "oss://certs/live/example.test/")
	if code != exitOK {
		t.Fatalf("push: exit %d\n%s%s", code, out, errs)
	}
	got := listKeys(t, oss, "oss://certs/")
	if want := "live/example.test/cert.pem live/example.test/chain.pem live/example.test/fullchain.pem live/example.test/privkey.pem"; got != want {
		t.Errorf("uploaded %q, want %q", got, want)
	}
}

// ossEnv starts an emulator with OSS and a bucket "certs", and returns the
// environment that points push at it.
func ossEnv(t *testing.T) map[string]string {
	t.Helper()
	_, env := cloudsimtest.StartEnv(t, cloudsim.Config{
		Credentials: []cloudsim.Credential{{AccessKeyID: "pushAK", AccessKeySecret: "pushSK"}},
		OSS:         cloudsim.OSSSettings{Buckets: []string{"certs"}, Region: "cn-hangzhou"},
	})
	return env
}

// listKeys lists the objects under a store location, space-separated.
func listKeys(t *testing.T, env map[string]string, location string) string {
	t.Helper()
	st, err := store.Open(context.Background(), location, store.Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	infos, err := st.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, in := range infos {
		keys = append(keys, in.Key)
	}
	return strings.Join(keys, " ")
}

// TestReadRefusesSpecialFiles: a part that is a link to a device or a
// FIFO, or a FIFO itself, is refused at once, not read forever; a dangling
// link is an error, not skipped.
func TestReadRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.pem")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	for _, tt := range []struct {
		name, target, want string
	}{
		{"link to /dev/zero", "/dev/zero", "not a regular file"},
		{"link to a FIFO", fifo, "not a regular file"},
		{"dangling link", filepath.Join(dir, "gone.pem"), "cannot be followed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			folder := t.TempDir()
			if err := os.WriteFile(filepath.Join(folder, "cert.pem"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(tt.target, filepath.Join(folder, "privkey.pem")); err != nil {
				t.Fatal(err)
			}
			for _, arg := range []string{folder, filepath.Join(folder, "privkey.pem")} {
				_, err := readBundleSources([]string{arg})
				if err == nil || !strings.Contains(err.Error(), tt.want) && !strings.Contains(err.Error(), "no such file") {
					t.Errorf("readBundleSources(%s) = %v, want an error saying %q", arg, err, tt.want)
				}
			}
		})
	}
	t.Run("a FIFO named directly", func(t *testing.T) {
		if _, err := readBundleSources([]string{fifo}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("readBundleSources(fifo) = %v", err)
		}
	})
	t.Run("a file over the cap", func(t *testing.T) {
		big := filepath.Join(dir, "big.pem")
		if err := os.WriteFile(big, make([]byte, bundle.DefaultMaxSize+1), 0o644); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(dir, "link.pem")
		if err := os.Symlink(big, link); err != nil {
			t.Fatal(err)
		}
		if _, err := readBundleSources([]string{link}); err == nil || !strings.Contains(err.Error(), "over the") {
			t.Errorf("readBundleSources(link to a big file) = %v", err)
		}
	})
}

// legoFolder writes lego's certificates/ folder for two domains issued by
// one demo CA (www.example.test and pull.example.test): <d>.crt (leaf and
// intermediate), <d>.issuer.crt, <d>.key and <d>.json. It returns the
// folder and the root.
func legoFolder(t *testing.T) (dir, rootPath string) {
	t.Helper()
	now := time.Now()
	start := now.Add(-time.Hour)
	root, err := cloudsim.NewRootCA("lego test root", start, start.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	inter, err := root.Intermediate("lego test intermediate", start, start.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	dir, rootPath = filepath.Join(base, "certificates"), filepath.Join(base, "root.pem")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rootPath, root.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"www.example.test", "pull.example.test"} {
		leaf, err := inter.Issue(cloudsim.LeafRequest{DNSNames: []string{d}, NotBefore: start, NotAfter: now.AddDate(0, 0, 90)})
		if err != nil {
			t.Fatal(err)
		}
		for name, data := range map[string][]byte{
			d + ".crt": append(append([]byte{}, leaf.CertPEM...), inter.CertPEM()...), d + ".issuer.crt": inter.CertPEM(),
			d + ".key": leaf.KeyPEM, d + ".json": []byte(`{"domain":"` + d + `"}`),
		} {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir, rootPath
}

// TestLegoFolder: lego's shared certificates/ folder is read whatever
// number of certificates it holds. Each key goes with the
// certificate it matches; validate, plan, deploy and push handle each
// bundle and say which files formed which.
func TestLegoFolder(t *testing.T) {
	env, sim, _, _, manifestPath := deployEnv(t)
	lego, root := legoFolder(t)
	file := func(n string) string { return filepath.Join(lego, n) }
	www := strings.Join([]string{file("www.example.test.crt"), file("www.example.test.issuer.crt"), file("www.example.test.key")}, ", ")
	pull := strings.Join([]string{file("pull.example.test.crt"), file("pull.example.test.issuer.crt"), file("pull.example.test.key")}, ", ")

	code, out, errs := runWithEnv(env, "validate", lego, "--trust-roots", root, "--domain", "www.example.test", "--domain", "pull.example.test")
	if code != exitOK || !strings.Contains(out, "forming 2 bundle(s)") || !strings.Contains(out, "Bundle:       "+www) ||
		!strings.Contains(out, "Bundle:       "+pull) || !strings.Contains(out, "Overall:      valid (2 bundle(s))") {
		t.Fatalf("validate: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = runWithEnv(env, "validate", lego, "--trust-roots", root, "--json")
	var all validateOutput
	if err := json.Unmarshal([]byte(out), &all); err != nil || code != exitOK || len(all.Bundles) != 2 || !all.Valid || len(all.Rejected) != 0 {
		t.Fatalf("validate --json: exit %d %v\n%s%s", code, err, out, errs)
	}

	code, out, errs = runWithEnv(env, "plan", "--bundle", lego, "--manifest", manifestPath, "--trust-roots", root)
	if code != exitOK || !strings.Contains(out, "== bundle 1 of 2: pull.example.test, from "+pull) ||
		!strings.Contains(out, "== bundle 2 of 2: www.example.test, from "+www) {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = runWithEnv(env, "deploy", "--bundle", lego, "--manifest", manifestPath, "--trust-roots", root)
	if code != exitOK || setCalls(sim) != 2 || strings.Count(out, "OK: 1 deployed of 1 target(s)") != 2 {
		t.Fatalf("deploy: exit %d, %d Set calls\n%s%s", code, setCalls(sim), out, errs)
	}

	oss := ossEnv(t)
	code, out, errs = runWithEnv(oss, "push", lego, "--to", "oss://certs/lego/")
	if code != exitOK || !strings.Contains(out, "bundle 1 of 2: pull.example.test") {
		t.Fatalf("push: exit %d\n%s%s", code, out, errs)
	}
	if got, want := listKeys(t, oss, "oss://certs/"), "lego/pull.example.test.crt lego/pull.example.test.issuer.crt lego/pull.example.test.key "+
		"lego/www.example.test.crt lego/www.example.test.issuer.crt lego/www.example.test.key"; got != want {
		t.Errorf("uploaded %q, want %q", got, want)
	}

	// A key whose certificate is gone: the other bundle goes on, the half
	// is reported, and the exit code says something is wrong.
	if err := os.Remove(file("pull.example.test.crt")); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runWithEnv(env, "validate", lego, "--trust-roots", root)
	if code != exitFail || !strings.Contains(out, "Incomplete:   "+file("pull.example.test.key")+": the ECDSA-P256 private key at line 1 matches no certificate here") ||
		!strings.Contains(out, "Unused:       "+file("pull.example.test.issuer.crt")) || !strings.Contains(out, "1 file(s) rejected") {
		t.Fatalf("validate with a lone key: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = runWithEnv(env, "plan", "--bundle", lego, "--manifest", manifestPath, "--trust-roots", root)
	if code != exitUsage || !strings.Contains(out, "deploy www.example.test to 1 target(s)") || !strings.Contains(errs, "incomplete bundle: "+file("pull.example.test.key")) {
		t.Fatalf("plan with a lone key: exit %d\n%s%s", code, out, errs)
	}
}

// TestStaticClientFolders runs validate on the committed certbot (with its
// links) and lego folders.
func TestStaticClientFolders(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		has  []string
	}{
		{"certbot live folder", []string{bundles + "certbot-live/live/example.com"}, []string{"Verdict:      valid", "certbot-live/live/example.com/privkey.pem"}},
		{"lego certificates folder", []string{bundles + "lego"}, []string{"Files:        6, forming 2 bundle(s)", "Overall:      valid (2 bundle(s))",
			"Bundle:       " + bundles + "lego/example.com.crt, " + bundles + "lego/example.com.issuer.crt, " + bundles + "lego/example.com.key"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCLI(t, append([]string{"validate", "--trust-roots", root}, tt.args...)...)
			if code != exitOK {
				t.Fatalf("exit %d\n%s%s", code, out, errs)
			}
			for _, h := range tt.has {
				if !strings.Contains(out, h) {
					t.Errorf("output lacks %q\n%s", h, out)
				}
			}
		})
	}
}
