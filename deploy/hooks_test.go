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

// fakeCertdrop writes a certdrop stand-in into dir that appends its
// arguments (one a line) and the access key id it was given to record,
// then a line "--", and exits with FAKE_EXIT: a status per call,
// space-separated, the last one repeated (empty: 0). It also writes a
// stand-in for sleep that records each pause in dir/sleeps, without
// sleeping: the hooks find both first on PATH.
func fakeCertdrop(t *testing.T, dir string) (bin, record string) {
	t.Helper()
	record = filepath.Join(dir, "record")
	bin = filepath.Join(dir, "certdrop")
	quoted := "'" + strings.ReplaceAll(record, "'", `'\''`) + "'"
	script := "#!/bin/sh\n" +
		"for a in \"$@\"; do printf '%s\\n' \"$a\"; done >> " + quoted + "\n" +
		"printf 'key=%s\\n--\\n' \"${ALIBABA_CLOUD_ACCESS_KEY_ID:-}\" >> " + quoted + "\n" +
		"n=$(grep -c '^--$' " + quoted + ")\n" +
		"s=0\n" +
		"for e in ${FAKE_EXIT:-}; do s=$e; n=$((n - 1)); [ \"$n\" -gt 0 ] || break; done\n" +
		"exit \"$s\"\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	sleep := "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '" + strings.ReplaceAll(filepath.Join(dir, "sleeps"), "'", `'\''`) + "'\n"
	if err := os.WriteFile(filepath.Join(dir, "sleep"), []byte(sleep), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, record
}

// call is one run of the certdrop stand-in.
type call struct {
	args []string
	key  string
}

// calls reads the stand-in's record; none when it never ran.
func calls(t *testing.T, record string) []call {
	t.Helper()
	data, err := os.ReadFile(record)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []call
	var c call
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		switch {
		case line == "--":
			out, c = append(out, c), call{}
		case strings.HasPrefix(line, "key="):
			c.key = strings.TrimPrefix(line, "key=")
		default:
			c.args = append(c.args, line)
		}
	}
	return out
}

// runHook runs a shipped hook as lego does: the hook itself is executed,
// with no shell of ours in between and only the environment given (PATH
// starts with dir, where the stand-ins are). It returns the exit status
// and stderr.
func runHook(t *testing.T, dir, name string, env ...string) (int, string) {
	t.Helper()
	hook, err := filepath.Abs(filepath.Join("hooks", name))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(hook)
	cmd.Env = append([]string{"PATH=" + dir + ":/usr/bin:/bin", "HOME=" + dir}, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	status := 0
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		status = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return status, stderr.String()
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
	if err := os.WriteFile(conf, []byte("# the renewal machine's settings\nCERTDROP_PUSH_TO=oss://conf-bucket/watched/\nCERTDROP_REGION=cn-beijing\nALIBABA_CLOUD_ACCESS_KEY_ID=LTAIfromconf\n"), 0o600); err != nil {
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
			env:      []string{"RENEWED_LINEAGE=/etc/letsencrypt/live/example.com", "CERTDROP_PUSH_TO=oss://b/certs/", "CERTDROP_REGION=cn-hangzhou", "CERTDROP_HOOK_CONFIG=" + noConf},
			wantArgs: []string{"push", "/etc/letsencrypt/live/example.com", "--to", "oss://b/certs/example.com/", "--region", "cn-hangzhou"},
		},
		{
			name: "certbot prefix without slash, region", hook: "certbot-deploy-hook",
			env:      []string{"RENEWED_LINEAGE=/etc/letsencrypt/live/example.com-0001/", "CERTDROP_PUSH_TO=oss://b/certs", "CERTDROP_REGION=cn-shanghai", "CERTDROP_HOOK_CONFIG=" + noConf},
			wantArgs: []string{"push", "/etc/letsencrypt/live/example.com-0001/", "--to", "oss://b/certs/example.com-0001/", "--region", "cn-shanghai"},
		},
		{
			name: "certbot settings from the config file", hook: "certbot-deploy-hook",
			env:      []string{"RENEWED_LINEAGE=/l/live/a.test", "CERTDROP_HOOK_CONFIG=" + conf},
			wantArgs: []string{"push", "/l/live/a.test", "--to", "oss://conf-bucket/watched/a.test/", "--region", "cn-beijing"},
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
			name: "certbot without a region", hook: "certbot-deploy-hook",
			env:        []string{"RENEWED_LINEAGE=/l/live/a.test", "CERTDROP_PUSH_TO=oss://b/certs/", "CERTDROP_HOOK_CONFIG=" + noConf},
			wantStatus: 2, wantStderr: "CERTDROP_REGION is not set",
		},
		{
			name: "lego without a region", hook: "lego-hook",
			env:        []string{"LEGO_CERT_PATH=/v/a.test.crt", "LEGO_CERT_KEY_PATH=/v/a.test.key", "CERTDROP_PUSH_TO=oss://b/certs/", "CERTDROP_HOOK_CONFIG=" + noConf},
			wantStatus: 2, wantStderr: "CERTDROP_REGION is not set",
		},
		{
			name: "acme.sh without a region", hook: "acme.sh-reloadcmd",
			env:        []string{"CERT_FULLCHAIN_PATH=/a/fullchain.cer", "CERT_KEY_PATH=/a/a.key", "Le_Domain=a.test", "CERTDROP_PUSH_TO=oss://b/certs/", "CERTDROP_HOOK_CONFIG=" + noConf},
			wantStatus: 2, wantStderr: "CERTDROP_REGION is not set",
		},
		{
			name: "certbot with FC_REGION (on Function Compute) needs no CERTDROP_REGION", hook: "certbot-deploy-hook",
			env:      []string{"RENEWED_LINEAGE=/l/live/a.test", "CERTDROP_PUSH_TO=oss://b/certs/", "FC_REGION=cn-hangzhou", "CERTDROP_HOOK_CONFIG=" + noConf},
			wantArgs: []string{"push", "/l/live/a.test", "--to", "oss://b/certs/a.test/"},
		},
		{
			name: "certbot passes certdrop's failure on", hook: "certbot-deploy-hook", exit: "3",
			env:        []string{"RENEWED_LINEAGE=/l/live/a.test", "CERTDROP_PUSH_TO=oss://b/certs/", "CERTDROP_REGION=cn-hangzhou", "CERTDROP_HOOK_CONFIG=" + noConf},
			wantArgs:   []string{"push", "/l/live/a.test", "--to", "oss://b/certs/a.test/", "--region", "cn-hangzhou"},
			wantStatus: 3,
		},
		{
			name: "lego wildcard in the shared folder", hook: "lego-hook",
			env: []string{"LEGO_CERT_PATH=/var/lego/certificates/_.example.com.crt", "LEGO_CERT_KEY_PATH=/var/lego/certificates/_.example.com.key",
				"LEGO_CERT_DOMAIN=*.example.com", "CERTDROP_PUSH_TO=oss://b/certs/", "CERTDROP_REGION=cn-hangzhou", "CERTDROP_HOOK_CONFIG=" + noConf},
			wantArgs: []string{"push", "/var/lego/certificates/_.example.com.crt", "/var/lego/certificates/_.example.com.key", "--to", "oss://b/certs/_.example.com/", "--region", "cn-hangzhou"},
		},
		{
			name: "lego settings from the config file", hook: "lego-hook",
			env:      []string{"LEGO_CERT_PATH=/v/certificates/a.test.crt", "LEGO_CERT_KEY_PATH=/v/certificates/a.test.key", "CERTDROP_HOOK_CONFIG=" + conf},
			wantArgs: []string{"push", "/v/certificates/a.test.crt", "/v/certificates/a.test.key", "--to", "oss://conf-bucket/watched/a.test/", "--region", "cn-beijing"},
			wantKey:  "LTAIfromconf",
		},
		{
			name: "lego with the issuer beside the certificate", hook: "lego-hook",
			env: []string{"LEGO_CERT_PATH=" + legoCrt, "LEGO_CERT_KEY_PATH=" + legoKey,
				"CERTDROP_PUSH_TO=oss://b/certs/", "CERTDROP_REGION=cn-hangzhou", "CERTDROP_HOOK_CONFIG=" + noConf},
			wantArgs: []string{"push", legoCrt, legoIssuer, legoKey, "--to", "oss://b/certs/www.example.org/", "--region", "cn-hangzhou"},
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
			status, stderr := runHook(t, dir, tt.hook, append([]string{"FAKE_EXIT=" + tt.exit}, tt.env...)...)
			// sh exits 2 on a failed ${VAR:?}; some shells say 1 or 127.
			if (tt.wantStatus == 0) != (status == 0) || (tt.wantStatus == 3 && status != 3) {
				t.Fatalf("exit status %d, want %d; stderr:\n%s", status, tt.wantStatus, stderr)
			}
			if tt.wantStderr != "" && !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr does not name %s:\n%s", tt.wantStderr, stderr)
			}
			got := calls(t, record)
			if tt.wantArgs == nil {
				if len(got) != 0 {
					t.Errorf("certdrop ran although the hook refused: %q", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("certdrop ran %d times, want once; stderr:\n%s", len(got), stderr)
			}
			if !slices.Equal(got[0].args, tt.wantArgs) {
				t.Errorf("certdrop %q\nwant      %q", got[0].args, tt.wantArgs)
			}
			if got[0].key != tt.wantKey {
				t.Errorf("certdrop saw ALIBABA_CLOUD_ACCESS_KEY_ID=%q, want %q", got[0].key, tt.wantKey)
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
		"CERTDROP_PUSH_TO=oss://b/c/", "CERTDROP_REGION=cn-hangzhou", "CERTDROP_HOOK_CONFIG=" + filepath.Join(dir, "none")}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if _, err := os.Stat(record); err != nil {
		t.Fatalf("CERTDROP_BIN was not run: %v", err)
	}
}

// TestHooksRetry: certbot exits 0 when its deploy hook fails, so a failed
// upload must be tried again before the hook gives up. Each hook runs
// certdrop push again while it exits 1 (OSS or the network failed), after
// a pause doubled each time, CERTDROP_PUSH_TRIES times in all, and exits
// with the last status; exit 2 (a wrong setting or file) is not retried.
func TestHooksRetry(t *testing.T) {
	envs := map[string][]string{
		"certbot-deploy-hook": {"RENEWED_LINEAGE=/l/live/a.test"},
		"lego-hook":           {"LEGO_CERT_PATH=/v/a.test.crt", "LEGO_CERT_KEY_PATH=/v/a.test.key"},
		"acme.sh-reloadcmd":   {"CERT_FULLCHAIN_PATH=/a/fullchain.cer", "CERT_KEY_PATH=/a/a.test.key", "Le_Domain=a.test"},
	}
	tests := []struct {
		name       string
		exits      string   // the stand-in's status per call
		settings   []string // CERTDROP_PUSH_TRIES, CERTDROP_PUSH_PAUSE
		wantCalls  int
		wantPauses []string
		wantStatus int
		wantStderr string
	}{
		{name: "fails twice, then uploads", exits: "1 1 0", wantCalls: 3, wantPauses: []string{"10", "20"}},
		{name: "fails every time: five tries over 150 s", exits: "1", wantCalls: 5, wantPauses: []string{"10", "20", "40", "80"},
			wantStatus: 1, wantStderr: "certdrop push failed (exit 1, try 5 of 5)"},
		{name: "tries and pause configured", exits: "1", settings: []string{"CERTDROP_PUSH_TRIES=3", "CERTDROP_PUSH_PAUSE=400"},
			wantCalls: 3, wantPauses: []string{"400", "600"}, wantStatus: 1, wantStderr: "try 3 of 3"},
		{name: "one try", exits: "1", settings: []string{"CERTDROP_PUSH_TRIES=1"}, wantCalls: 1, wantStatus: 1},
		{name: "a wrong setting or file is not retried", exits: "2", wantCalls: 1, wantStatus: 2, wantStderr: "exit 2, try 1 of 5"},
		{name: "bad CERTDROP_PUSH_TRIES", settings: []string{"CERTDROP_PUSH_TRIES=five"}, wantStatus: 2, wantStderr: "CERTDROP_PUSH_TRIES"},
		{name: "zero tries", settings: []string{"CERTDROP_PUSH_TRIES=0"}, wantStatus: 2, wantStderr: "CERTDROP_PUSH_TRIES"},
		{name: "bad CERTDROP_PUSH_PAUSE", settings: []string{"CERTDROP_PUSH_PAUSE=-1"}, wantStatus: 2, wantStderr: "CERTDROP_PUSH_PAUSE"},
		{name: "CERTDROP_PUSH_TRIES over 99", settings: []string{"CERTDROP_PUSH_TRIES=100"}, wantStatus: 2, wantStderr: "CERTDROP_PUSH_TRIES"},
		{name: "CERTDROP_PUSH_PAUSE too long for arithmetic", settings: []string{"CERTDROP_PUSH_PAUSE=99999999999999999999"}, wantStatus: 2, wantStderr: "CERTDROP_PUSH_PAUSE"},
		{name: "a pause over 600 s is 600 s", exits: "1 0", settings: []string{"CERTDROP_PUSH_PAUSE=900"}, wantCalls: 2, wantPauses: []string{"600"}},
	}
	for _, hook := range hookNames {
		for _, tt := range tests {
			t.Run(hook+"/"+tt.name, func(t *testing.T) {
				dir := t.TempDir()
				_, record := fakeCertdrop(t, dir)
				env := append([]string{"FAKE_EXIT=" + tt.exits, "CERTDROP_PUSH_TO=oss://b/certs/", "CERTDROP_REGION=cn-hangzhou",
					"CERTDROP_HOOK_CONFIG=" + filepath.Join(dir, "none")}, envs[hook]...)
				status, stderr := runHook(t, dir, hook, append(env, tt.settings...)...)
				if status != tt.wantStatus {
					t.Errorf("exit status %d, want %d; stderr:\n%s", status, tt.wantStatus, stderr)
				}
				if !strings.Contains(stderr, tt.wantStderr) {
					t.Errorf("stderr does not say %q:\n%s", tt.wantStderr, stderr)
				}
				got := calls(t, record)
				if len(got) != tt.wantCalls {
					t.Errorf("certdrop ran %d times, want %d; stderr:\n%s", len(got), tt.wantCalls, stderr)
				}
				for i, c := range got {
					if !slices.Equal(c.args, got[0].args) || len(c.args) == 0 || c.args[0] != "push" {
						t.Errorf("try %d ran certdrop %q, the first %q", i+1, c.args, got[0].args)
					}
				}
				var pauses []string
				if data, err := os.ReadFile(filepath.Join(dir, "sleeps")); err == nil {
					pauses = strings.Fields(string(data))
				}
				if !slices.Equal(pauses, tt.wantPauses) {
					t.Errorf("pauses %q, want %q", pauses, tt.wantPauses)
				}
			})
		}
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
