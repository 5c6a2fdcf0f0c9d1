package deploy

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// hookNames are the renewal hooks shipped in deploy/hooks.
var hookNames = []string{"certbot-deploy-hook", "lego-hook", "acme.sh-reloadcmd"}

// fakeCertdrop writes a certdrop stand-in into dir that records its
// arguments (one a line) and the access key id it was given, and exits
// with FAKE_EXIT.
func fakeCertdrop(t *testing.T, dir string) (bin, record string) {
	t.Helper()
	record = filepath.Join(dir, "record")
	bin = filepath.Join(dir, "certdrop")
	script := "#!/bin/sh\n" +
		"for a in \"$@\"; do printf '%s\\n' \"$a\"; done > " + record + "\n" +
		"printf 'key=%s\\n' \"${ALIBABA_CLOUD_ACCESS_KEY_ID:-}\" >> " + record + "\n" +
		"exit \"${FAKE_EXIT:-0}\"\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, record
}

// TestHooks runs the shipped hooks as the renewal clients do (lego and
// acme.sh without a shell of ours: exec with an environment) against a
// certdrop stand-in, and checks the push each one makes.
func TestHooks(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("skipping: no sh")
	}
	cfgDir := t.TempDir()
	conf := filepath.Join(cfgDir, "hook.env")
	if err := os.WriteFile(conf, []byte("# the renewal machine's settings\nCERTDROP_PUSH_TO=oss://conf-bucket/watched/\nALIBABA_CLOUD_ACCESS_KEY_ID=LTAIfromconf\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	noConf := filepath.Join(cfgDir, "absent.env")
	// A lego certificates/ folder holding another certificate too.
	legoDir := t.TempDir()
	legoCrt, legoIssuer, legoKey := filepath.Join(legoDir, "www.example.org.crt"), filepath.Join(legoDir, "www.example.org.issuer.crt"), filepath.Join(legoDir, "www.example.org.key")
	for _, f := range []string{legoCrt, legoIssuer, legoKey, filepath.Join(legoDir, "other.example.org.crt"), filepath.Join(legoDir, "other.example.org.issuer.crt")} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name, hook string
		env        []string
		exit       string // the stand-in's exit status
		wantArgs   []string
		wantKey    string
		wantStatus int
		wantStderr string // in stderr when the hook refuses
	}{
		{
			name: "certbot lineage", hook: "certbot-deploy-hook",
			env:      []string{"RENEWED_LINEAGE=/etc/letsencrypt/live/example.com", "CERTDROP_PUSH_TO=oss://b/certs/", "CERTDROP_HOOK_CONFIG=" + noConf},
			wantArgs: []string{"push", "/etc/letsencrypt/live/example.com", "--to", "oss://b/certs/example.com/"},
		},
		{
			name: "certbot prefix without slash, region", hook: "certbot-deploy-hook",
			env:      []string{"RENEWED_LINEAGE=/etc/letsencrypt/live/example.com-0001/", "CERTDROP_PUSH_TO=oss://b/certs", "CERTDROP_REGION=cn-shanghai", "CERTDROP_HOOK_CONFIG=" + noConf},
			wantArgs: []string{"push", "/etc/letsencrypt/live/example.com-0001/", "--to", "oss://b/certs/example.com-0001/", "--region", "cn-shanghai"},
		},
		{
			name: "certbot settings from the config file", hook: "certbot-deploy-hook",
			env:      []string{"RENEWED_LINEAGE=/l/live/a.test", "CERTDROP_HOOK_CONFIG=" + conf},
			wantArgs: []string{"push", "/l/live/a.test", "--to", "oss://conf-bucket/watched/a.test/"},
			wantKey:  "LTAIfromconf",
		},
		{
			name: "certbot without RENEWED_LINEAGE", hook: "certbot-deploy-hook",
			env:        []string{"CERTDROP_PUSH_TO=oss://b/certs/", "CERTDROP_HOOK_CONFIG=" + noConf},
			wantStatus: 2, wantStderr: "RENEWED_LINEAGE",
		},
		{
			name: "certbot without a target", hook: "certbot-deploy-hook",
			env:        []string{"RENEWED_LINEAGE=/l/live/a.test", "CERTDROP_HOOK_CONFIG=" + noConf},
			wantStatus: 2, wantStderr: "CERTDROP_PUSH_TO",
		},
		{
			name: "certbot passes certdrop's failure on", hook: "certbot-deploy-hook", exit: "3",
			env:        []string{"RENEWED_LINEAGE=/l/live/a.test", "CERTDROP_PUSH_TO=oss://b/certs/", "CERTDROP_HOOK_CONFIG=" + noConf},
			wantArgs:   []string{"push", "/l/live/a.test", "--to", "oss://b/certs/a.test/"},
			wantStatus: 3,
		},
		{
			name: "lego wildcard in the shared folder", hook: "lego-hook",
			env: []string{"LEGO_CERT_PATH=/var/lego/certificates/_.example.com.crt", "LEGO_CERT_KEY_PATH=/var/lego/certificates/_.example.com.key",
				"LEGO_CERT_DOMAIN=*.example.com", "CERTDROP_PUSH_TO=oss://b/certs/", "CERTDROP_HOOK_CONFIG=" + noConf},
			wantArgs: []string{"push", "/var/lego/certificates/_.example.com.crt", "/var/lego/certificates/_.example.com.key", "--to", "oss://b/certs/_.example.com/"},
		},
		{
			name: "lego settings from the config file", hook: "lego-hook",
			env:      []string{"LEGO_CERT_PATH=/v/certificates/a.test.crt", "LEGO_CERT_KEY_PATH=/v/certificates/a.test.key", "CERTDROP_HOOK_CONFIG=" + conf},
			wantArgs: []string{"push", "/v/certificates/a.test.crt", "/v/certificates/a.test.key", "--to", "oss://conf-bucket/watched/a.test/"},
			wantKey:  "LTAIfromconf",
		},
		{
			name: "lego with the issuer beside the certificate", hook: "lego-hook",
			env: []string{"LEGO_CERT_PATH=" + legoCrt, "LEGO_CERT_KEY_PATH=" + legoKey,
				"CERTDROP_PUSH_TO=oss://b/certs/", "CERTDROP_HOOK_CONFIG=" + noConf},
			wantArgs: []string{"push", legoCrt, legoIssuer, legoKey, "--to", "oss://b/certs/www.example.org/"},
		},
		{
			name: "lego without its variables", hook: "lego-hook",
			env:        []string{"CERTDROP_PUSH_TO=oss://b/certs/", "CERTDROP_HOOK_CONFIG=" + noConf},
			wantStatus: 2, wantStderr: "LEGO_CERT_PATH",
		},
		{
			name: "acme.sh wildcard", hook: "acme.sh-reloadcmd",
			env: []string{"CERT_FULLCHAIN_PATH=/root/.acme.sh/*.example.com_ecc/fullchain.cer", "CERT_KEY_PATH=/root/.acme.sh/*.example.com_ecc/*.example.com.key",
				"Le_Domain=*.example.com", "CERTDROP_PUSH_TO=oss://b/certs/", "CERTDROP_REGION=cn-hangzhou", "CERTDROP_HOOK_CONFIG=" + noConf},
			wantArgs: []string{"push", "/root/.acme.sh/*.example.com_ecc/fullchain.cer", "/root/.acme.sh/*.example.com_ecc/*.example.com.key",
				"--to", "oss://b/certs/_.example.com/", "--region", "cn-hangzhou"},
		},
		{
			name: "acme.sh without Le_Domain", hook: "acme.sh-reloadcmd",
			env:        []string{"CERT_FULLCHAIN_PATH=/a/fullchain.cer", "CERT_KEY_PATH=/a/a.key", "CERTDROP_PUSH_TO=oss://b/certs/", "CERTDROP_HOOK_CONFIG=" + noConf},
			wantStatus: 2, wantStderr: "Le_Domain",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			_, record := fakeCertdrop(t, dir)
			hook, err := filepath.Abs(filepath.Join("hooks", tt.hook))
			if err != nil {
				t.Fatal(err)
			}
			// As lego does: the hook itself is executed, with no shell
			// of ours in between and only the environment given.
			cmd := exec.Command(hook)
			cmd.Env = append([]string{"PATH=" + dir + ":/usr/bin:/bin", "HOME=" + dir, "FAKE_EXIT=" + tt.exit}, tt.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err = cmd.Run()
			status := 0
			if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
				status = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			// sh exits 2 on a failed ${VAR:?}; some shells say 1 or 127.
			if (tt.wantStatus == 0) != (status == 0) || (tt.wantStatus == 3 && status != 3) {
				t.Fatalf("exit status %d, want %d; stderr:\n%s", status, tt.wantStatus, stderr.String())
			}
			if tt.wantStderr != "" && !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr does not name %s:\n%s", tt.wantStderr, stderr.String())
			}
			data, err := os.ReadFile(record)
			if tt.wantArgs == nil {
				if err == nil {
					t.Errorf("certdrop ran although the hook refused: %q", data)
				}
				return
			}
			if err != nil {
				t.Fatalf("certdrop did not run: %v; stderr:\n%s", err, stderr.String())
			}
			lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
			args, key := lines[:len(lines)-1], strings.TrimPrefix(lines[len(lines)-1], "key=")
			if !slices.Equal(args, tt.wantArgs) {
				t.Errorf("certdrop %q\nwant      %q", args, tt.wantArgs)
			}
			if key != tt.wantKey {
				t.Errorf("certdrop saw ALIBABA_CLOUD_ACCESS_KEY_ID=%q, want %q", key, tt.wantKey)
			}
		})
	}
}

// TestHooksBinOverride: CERTDROP_BIN names the binary when it is not on PATH.
func TestHooksBinOverride(t *testing.T) {
	dir := t.TempDir()
	bin, record := fakeCertdrop(t, dir)
	hook, _ := filepath.Abs(filepath.Join("hooks", "certbot-deploy-hook"))
	cmd := exec.Command(hook)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "CERTDROP_BIN=" + bin, "RENEWED_LINEAGE=/l/live/x.test",
		"CERTDROP_PUSH_TO=oss://b/c/", "CERTDROP_HOOK_CONFIG=" + filepath.Join(dir, "none")}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if _, err := os.Stat(record); err != nil {
		t.Fatalf("CERTDROP_BIN was not run: %v", err)
	}
}

// TestHookFiles: every hook is an executable POSIX shell script, and
// shellcheck (where installed) finds nothing in it.
func TestHookFiles(t *testing.T) {
	for _, name := range hookNames {
		p := filepath.Join("hooks", name)
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o111 != 0o111 {
			t.Errorf("%s is not executable by all (mode %v): certbot and lego run it directly", p, fi.Mode())
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(data, []byte("#!/bin/sh\n")) {
			t.Errorf("%s does not start with #!/bin/sh", p)
		}
	}
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skip("skipping the lint: shellcheck is not installed (.ci/run installs it)")
	}
	args := []string{"--shell=sh", "--severity=style"}
	for _, name := range hookNames {
		args = append(args, filepath.Join("hooks", name))
	}
	if out, err := exec.Command(sc, args...).CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}
