package realclients

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/certdrop/certdrop/internal/testutil"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/cloudsim/cloudsimtest"
	"github.com/certdrop/certdrop/shared/store"
)

const (
	bucket    = "realclients-bucket"
	prefix    = "certs/"
	simKey    = "simAK"
	simSecret = "simSK-realclients-secret"
)

// The names the clients ask for, and the emulator's domains.
const (
	certbotName = "certbot.realclients.test" // with *.certbot.realclients.test
	legoA       = "lego-a.realclients.test"
	legoB       = "lego-b.realclients.test" // with img.lego-b.realclients.test
	acmeName    = "acme.realclients.test"   // *.acme.realclients.test only
)

// target is one product domain of the manifest.
type target struct{ product, domain string }

var (
	certbotTargets = []target{{"cdn", ".certbot.realclients.test"}, {"cdn", "www.certbot.realclients.test"}, {"vod", "certbot.realclients.test"}}
	legoATargets   = []target{{"live", "lego-a.realclients.test"}}
	legoBTargets   = []target{{"cdn", "lego-b.realclients.test"}, {"vod", "img.lego-b.realclients.test"}}
	acmeTargets    = []target{{"cdn", ".acme.realclients.test"}}
)

const manifestYAML = `version: 1
targets:
  - product: cdn
    domains: ["*.certbot.realclients.test", www.certbot.realclients.test, lego-b.realclients.test, "*.acme.realclients.test"]
  - product: vod
    domains: [certbot.realclients.test, img.lego-b.realclients.test]
  - product: live
    domain: lego-a.realclients.test
`

// TestRealClients obtains certificates from pebble with certbot (a
// wildcard, through --manual DNS) and lego (two certificates in its one
// certificates/ folder, through --dns exec, and a wildcard laid out as
// acme.sh keeps it), then renews one of each client's. Each time the
// client runs the hook shipped in deploy/hooks unchanged, the hook runs
// `certdrop push`, the emulator's OSS trigger invokes `certdrop serve`, and
// the emulator's CDN, VOD and Live domains must end up carrying the very
// leaf the client wrote, with reports saying so and no private key in any
// output.
func TestRealClients(t *testing.T) {
	for _, tool := range []string{"pebble", "certbot", "lego"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping the real-client test: %s is not installed (apt-get install pebble certbot lego; .ci/run does)", tool)
		}
	}
	if testing.Short() {
		t.Skip("skipping the real-client test in -short mode")
	}
	e := newEnv(t)
	certsDir := filepath.Join(e.dir("lego"), "certificates")

	// lego: two certificates in its one certificates/ folder, by --dns
	// exec (pebble validates nothing; lego's one propagation query goes to
	// a loopback stub), each handed over by the shipped hook.
	legoHook := hookPath(t, "lego-hook")
	legoArgs := func(path string, domains ...string) []string {
		a := []string{"--server", e.acmeDir, "--email", "hostmaster@realclients.test", "--accept-tos", "--path", path,
			"--dns", "exec", "--dns.disable-cp", "--dns.resolvers", e.dnsAddr}
		for _, d := range domains {
			a = append(a, "-d", d)
		}
		return a
	}
	e.client(t, "lego run A", "lego", append(legoArgs(e.dir("lego"), legoA), "run", "--run-hook", legoHook)...)
	legoA1 := e.deployed(t, "lego run A", filepath.Join(certsDir, legoA+".crt"), legoATargets, legoFolder(legoA))
	e.client(t, "lego run B", "lego", append(legoArgs(e.dir("lego"), legoB, "img."+legoB), "run", "--run-hook", legoHook)...)
	legoB1 := e.deployed(t, "lego run B", filepath.Join(certsDir, legoB+".crt"), legoBTargets, legoFolder(legoB))
	e.carries(t, "lego run B", legoA1, legoATargets) // B's hook uploads B's files only

	// acme.sh is not packaged by Debian: lego obtains a wildcard, laid
	// out as acme.sh keeps it, and the shipped reload command runs as
	// acme.sh runs it (eval'd by a shell in the domain's folder, with
	// CERT_FULLCHAIN_PATH, CERT_KEY_PATH and Le_Domain exported).
	e.client(t, "lego run for acme.sh", "lego", append(legoArgs(e.dir("lego-acme"), "*."+acmeName), "run")...)
	e.acmeReload(t, filepath.Join(e.dir("lego-acme"), "certificates", "_."+acmeName))
	e.deployed(t, "acme.sh reloadcmd", filepath.Join(e.dir("acme.sh"), "*."+acmeName+"_ecc", "fullchain.cer"), acmeTargets,
		folder{"_." + acmeName, []string{"*." + acmeName + ".key", "fullchain.cer"}})

	// certbot: a wildcard and its apex by --manual DNS with an auth hook.
	// Its live/ folder holds symbolic links into archive/.
	certbotHook := hookPath(t, "certbot-deploy-hook")
	certbotArgs := []string{"-n", "--agree-tos", "--register-unsafely-without-email", "--server", e.acmeDir,
		"--config-dir", e.dir("certbot/config"), "--work-dir", e.dir("certbot/work"), "--logs-dir", e.dir("certbot/logs")}
	e.client(t, "certbot certonly", "certbot", append([]string{"certonly", "--manual", "--preferred-challenges", "dns",
		"--manual-auth-hook", "/bin/true", "--manual-cleanup-hook", "/bin/true",
		"-d", "*." + certbotName, "-d", certbotName, "--deploy-hook", certbotHook}, certbotArgs...)...)
	lineage := filepath.Join(e.dir("certbot/config"), "live", certbotName)
	certbot1 := e.deployed(t, "certbot certonly", filepath.Join(lineage, "cert.pem"), certbotTargets, certbotFolder)

	// Renew once with each client.
	e.client(t, "lego renew B", "lego", append(legoArgs(e.dir("lego"), legoB, "img."+legoB), "renew", "--days", "36500",
		"--no-random-sleep", "--renew-hook", legoHook)...)
	legoB2 := e.deployed(t, "lego renew B", filepath.Join(certsDir, legoB+".crt"), legoBTargets, legoFolder(legoB))
	e.carries(t, "lego renew B", legoA1, legoATargets)
	e.client(t, "certbot renew", "certbot", append([]string{"renew", "--force-renewal", "--no-random-sleep-on-renew",
		"--deploy-hook", certbotHook}, certbotArgs...)...)
	certbot2 := e.deployed(t, "certbot renew", filepath.Join(lineage, "cert.pem"), certbotTargets, certbotFolder)

	// certbot exits 0 when its deploy hook fails: the hook itself tries
	// the upload again. OSS answers the first two PutObject with 503;
	// the third try uploads and the renewal is deployed. The key's upload
	// is held 2 s, so that the invocations for cert.pem, chain.pem and
	// fullchain.pem run before it has arrived: each reports the bundle
	// waiting (reports fails the test on an ignored file).
	waitingBefore := e.waiting(t)
	flaky := e.flakyOSS(t, 2)
	e.client(t, "certbot renew, OSS failing", "certbot", append([]string{"renew", "--force-renewal", "--no-random-sleep-on-renew",
		"--deploy-hook", certbotHook}, certbotArgs...)...)
	certbot3 := e.deployed(t, "certbot renew, OSS failing", filepath.Join(lineage, "cert.pem"), certbotTargets, certbotFolder)
	if n := flaky.refused.Load(); n != 2 {
		t.Errorf("the stand-in OSS refused %d uploads, want 2", n)
	}
	if out := e.output("certbot renew, OSS failing"); !strings.Contains(out, "certdrop push failed (try 2 of 5); trying again in 2s") {
		t.Errorf("certbot's output does not show the hook trying again:\n%s", out)
	}
	if n := e.waiting(t) - waitingBefore; n != 3 {
		t.Errorf("%d invocations reported the bundle waiting for its key, want 3 (cert.pem, chain.pem, fullchain.pem)", n)
	}
	e.hookConf = e.hookConfDirect
	for _, pair := range [][2]string{{certbot1, certbot2}, {certbot2, certbot3}, {legoB1, legoB2}} {
		if pair[0] == pair[1] {
			t.Errorf("the renewal wrote the same leaf %s", pair[0])
		}
	}

	// The daily re-upload deploy/README.md gives, line by line: every
	// certificate again, and nothing set.
	e.repush(t, map[string]string{"/etc/letsencrypt": e.dir("certbot/config"), "/etc/lego": e.dir("lego"), "/root/.acme.sh": e.dir("acme.sh")},
		[]pushed{{certbotFolder, certbotTargets}, {legoFolder(legoA), legoATargets}, {legoFolder(legoB), legoBTargets},
			{folder{"_." + acmeName, []string{"*." + acmeName + ".key", "fullchain.cer"}}, acmeTargets}})

	// The CLI reads the clients' folders as they are on disk: certbot's
	// live/ (symbolic links) and lego's shared certificates/ folder (two
	// certificates and their keys, read as two bundles).
	for _, dir := range []string{lineage, certsDir} {
		out, err := e.certdrop(t, "validate", "--trust-roots", e.rootPath, dir)
		if err != nil {
			t.Errorf("certdrop validate %s: %v\n%s", dir, err, out)
		}
	}
	e.noSecrets(t)
}

// acmeReload lays out the certificate lego wrote as acme.sh keeps it
// (~/.acme.sh/<domain>_ecc/fullchain.cer and <domain>.key) and runs the
// shipped reload command the way acme.sh does.
func (e *env) acmeReload(t *testing.T, legoBase string) {
	t.Helper()
	domain := "*." + acmeName
	dir := filepath.Join(e.dir("acme.sh"), domain+"_ecc")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for from, to := range map[string]string{legoBase + ".crt": "fullchain.cer", legoBase + ".key": domain + ".key"} {
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, to), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	reloadcmd := hookPath(t, "acme.sh-reloadcmd")
	cmd := exec.CommandContext(e.ctx, "sh", "-c", `export CERT_FULLCHAIN_PATH CERT_KEY_PATH Le_Domain; cd "$1" && eval "$2"`, "acme.sh", dir, reloadcmd)
	cmd.Env = []string{"PATH=" + e.bin + ":" + os.Getenv("PATH"), "HOME=" + e.root, "CERTDROP_HOOK_CONFIG=" + e.hookConf,
		"CERT_FULLCHAIN_PATH=" + filepath.Join(dir, "fullchain.cer"), "CERT_KEY_PATH=" + filepath.Join(dir, domain+".key"), "Le_Domain=" + domain}
	out, err := cmd.CombinedOutput()
	e.record("acme.sh reloadcmd", out)
	if err != nil {
		t.Fatalf("acme.sh reloadcmd: %v\n%s", err, out)
	}
	e.collectKeys(t)
}

// env is the whole setup: pebble, the DNS stub lego asks, the emulator and
// certdrop serve, all on loopback, in one temporary folder.
type env struct {
	root     string // the temporary folder
	bin      string // the folder holding the certdrop binary
	acmeDir  string // pebble's directory URL
	pebbleCA string // the TLS certificate pebble serves (clients trust it)
	rootPath string // the root pebble issues under (certdrop trusts it)
	dnsAddr  string
	hookConf string // the hooks' CERTDROP_HOOK_CONFIG
	// hookConfDirect is the hooks' settings with the emulator's OSS
	// endpoint; flakyOSS points hookConf elsewhere.
	hookConfDirect string
	sim            *cloudsim.Sim
	st             store.Store
	getenv         func(string) string
	ctx            context.Context

	mu      sync.Mutex
	outputs map[string][]byte // every output certdrop or a client printed, by name
	live    []liveOutput      // the long-lived processes' output so far
	keys    [][]byte          // every private key a client wrote (DER)
}

func newEnv(t *testing.T) *env {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	e := &env{root: t.TempDir(), ctx: ctx, outputs: map[string][]byte{}}
	e.bin = e.dir("bin")
	build := exec.CommandContext(ctx, goTool(t), "build", "-o", filepath.Join(e.bin, "certdrop"), "./functions/certdrop")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build certdrop: %v\n%s", err, out)
	}
	e.startPebble(t)
	e.dnsAddr = startDNS(t)

	// The emulator: OSS with a trigger on certs/ that invokes certdrop
	// serve, and the CDN, VOD and Live domains of the manifest.
	servePort := freePorts(t, 1)[0]
	var cdn, vod, live []cloudsim.Domain
	var all []target
	for _, ts := range [][]target{certbotTargets, legoATargets, legoBTargets, acmeTargets} {
		all = append(all, ts...)
	}
	for _, tg := range all {
		d := cloudsim.Domain{Name: tg.domain}
		switch tg.product {
		case "cdn":
			cdn = append(cdn, d)
		case "vod":
			vod = append(vod, d)
		case "live":
			live = append(live, d)
		}
	}
	sim, vars := cloudsimtest.StartEnv(t, cloudsim.Config{
		Credentials: []cloudsim.Credential{{AccessKeyID: simKey, AccessKeySecret: simSecret}},
		Domains:     cloudsim.Domains{CDN: cdn, VOD: vod, Live: live},
		OSS: cloudsim.OSSSettings{
			Buckets: []string{bucket},
			Triggers: []cloudsim.OSSTriggerSettings{{URL: fmt.Sprintf("http://127.0.0.1:%d/invoke", servePort),
				Prefix: prefix, Credentials: simKey, Timeout: 60 * time.Second}},
		},
	})
	e.sim = sim
	var err error

	e.getenv = func(k string) string { return vars[k] }
	if e.st, err = store.OpenOSS(ctx, bucket, "", store.Options{Getenv: e.getenv}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.Put(ctx, "certdrop/manifest.yaml", []byte(manifestYAML), ""); err != nil {
		t.Fatal(err)
	}

	// certdrop serve, configured as s.yaml configures the function.
	serveEnv := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + e.root,
		"CERTDROP_BUCKET=" + bucket, "CERTDROP_TRIGGER_PREFIX=" + prefix,
		"CERTDROP_MANIFEST=oss://" + bucket + "/certdrop/manifest.yaml", "CERTDROP_TRUST_ROOTS=" + e.rootPath,
	}
	for k, v := range vars {
		serveEnv = append(serveEnv, k+"="+v)
	}
	e.start(t, "certdrop serve", serveEnv, filepath.Join(e.bin, "certdrop"), "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", servePort))
	e.poll(t, "certdrop serve to listen", func() error {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", servePort))
		if err == nil {
			c.Close()
		}
		return err
	})

	// The renewal machine's hook settings, as deploy/README.md says to
	// write them: the credentials are in the file, not in the clients'
	// environment.
	e.hookConf = filepath.Join(e.dir("etc"), "hook.env")
	conf := fmt.Sprintf("CERTDROP_PUSH_TO=oss://%s/%s\nCERTDROP_REGION=%s\nALIBABA_CLOUD_ACCESS_KEY_ID=%s\nALIBABA_CLOUD_ACCESS_KEY_SECRET=%s\nCERTDROP_OSS_ENDPOINT=%s\n",
		bucket, prefix, sim.OSS().Region(), simKey, simSecret, vars["CERTDROP_OSS_ENDPOINT"])
	if err := os.WriteFile(e.hookConf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	e.hookConfDirect = e.hookConf
	return e
}

// flaky is an OSS endpoint in front of the emulator's that answers the
// first PutObject requests with 503 Service Unavailable.
type flaky struct {
	fail    int32
	refused atomic.Int32
}

// flakyOSS starts a stand-in OSS endpoint that refuses the first fail
// uploads, holds every upload of a privkey.pem 2 s, and passes everything
// else to the emulator's OSS, and points the hooks at it (with a pause of
// 1 s before the second try).
func (e *env) flakyOSS(t *testing.T, fail int32) *flaky {
	t.Helper()
	target, err := url.Parse(e.getenv("CERTDROP_OSS_ENDPOINT"))
	if err != nil {
		t.Fatal(err)
	}
	f := &flaky{fail: fail}
	proxy := httputil.NewSingleHostReverseProxy(target) // keeps the Host header, which the V4 signature covers
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/privkey.pem") {
			time.Sleep(2 * time.Second)
		}
		if r.Method == http.MethodPut && f.refused.Load() < f.fail {
			f.refused.Add(1)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code><Message>injected by the test</Message><RequestId>flaky</RequestId></Error>`)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	data, err := os.ReadFile(e.hookConfDirect)
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.Replace(string(data), "CERTDROP_OSS_ENDPOINT="+target.String(), "CERTDROP_OSS_ENDPOINT="+srv.URL, 1) + "CERTDROP_PUSH_PAUSE=1\n"
	if !strings.Contains(conf, srv.URL) {
		t.Fatalf("the hook settings name no OSS endpoint to replace:\n%s", data)
	}
	e.hookConf = filepath.Join(e.dir("etc"), "hook-flaky.env")
	if err := os.WriteFile(e.hookConf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// pushed is a folder a daily re-upload pushes again, and its targets.
type pushed struct {
	folder  folder
	targets []target
}

// repush runs each line of deploy/README.md's daily re-upload (cron
// lines "17 4 * * * root ..."), with the clients' folders in place of
// the paths it names (paths maps one to the other), and the hooks and
// certdrop on PATH as its PATH line puts them. Each line must succeed;
// every file of every folder must be written again; and the function,
// invoked for each, must find every target carrying its certificate, set
// nothing, and report each target unchanged.
func (e *env) repush(t *testing.T, paths map[string]string, want []pushed) {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "..", "deploy", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(readme), "\n") {
		if cmd, ok := strings.CutPrefix(l, "17 4 * * * root "); ok {
			if strings.Contains(cmd, "%") {
				t.Errorf("the cron line holds %%, which cron reads as a newline: %s", l)
			}
			lines = append(lines, cmd)
		}
	}
	if len(lines) != 3 {
		t.Fatalf("deploy/README.md gives %d daily re-upload lines, want 3 (certbot, lego, acme.sh)", len(lines))
	}
	before := e.sim.Journal().Entries()
	reportsBefore := map[string]bool{}
	infos, err := e.st.List(e.ctx, "certdrop/reports/")
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range infos {
		reportsBefore[info.Key] = true
	}
	hooks := filepath.Dir(hookPath(t, "lego-hook"))
	for i, line := range lines {
		for from, to := range paths {
			line = strings.ReplaceAll(line, from, to)
		}
		cmd := exec.CommandContext(e.ctx, "/bin/sh", "-c", line)
		cmd.Env = []string{"PATH=" + e.bin + ":" + hooks + ":/usr/bin:/bin", "HOME=" + e.root, "CERTDROP_HOOK_CONFIG=" + e.hookConf}
		out, err := cmd.CombinedOutput()
		e.record(fmt.Sprintf("daily re-upload %d", i+1), out)
		if err != nil {
			t.Errorf("daily re-upload line %d: %v\n%s", i+1, err, out)
		}
	}
	ctx, cancel := context.WithTimeout(e.ctx, 60*time.Second)
	defer cancel()
	if err := e.sim.OSS().WaitNotifications(ctx); err != nil {
		t.Fatalf("daily re-upload: the trigger's invocations did not finish: %v\n%s", err, e.logs())
	}
	after := e.sim.Journal().Entries()[len(before):]
	puts := map[string]int{}
	describes, files := 0, 0
	for _, j := range after {
		switch {
		case j.Service == "oss" && j.API == "PutObject" && strings.HasPrefix(j.Key, prefix):
			puts[j.Key]++
		case j.Service != "oss" && strings.HasPrefix(j.API, "Set"):
			t.Errorf("daily re-upload: %s %s was set again", j.API, j.Domain)
		case j.Service != "oss" && strings.HasPrefix(j.API, "Describe"):
			describes++
		}
	}
	wantDescribes := 0
	for _, p := range want {
		for _, f := range p.folder.files {
			if n := puts[prefix+p.folder.name+"/"+f]; n != 1 {
				t.Errorf("daily re-upload: %s%s/%s written %d times, want once", prefix, p.folder.name, f, n)
			}
		}
		files += len(p.folder.files)
		wantDescribes += len(p.folder.files) * len(p.targets)
	}
	if len(puts) != files {
		t.Errorf("daily re-upload wrote %d objects, want %d: %v", len(puts), files, puts)
	}
	if describes != wantDescribes {
		t.Errorf("daily re-upload: %d Describe calls, want one per target per file, %d", describes, wantDescribes)
	}
	t.Logf("daily re-upload: %d files written again, %d Describe calls, no Set", files, describes)
	// Every invocation of the re-upload reports every target of its
	// bundle unchanged.
	infos, err = e.st.List(e.ctx, "certdrop/reports/")
	if err != nil {
		t.Fatal(err)
	}
	newReports := 0
	for _, info := range infos {
		if reportsBefore[info.Key] {
			continue
		}
		obj, err := e.st.Get(e.ctx, info.Key)
		if err != nil {
			t.Fatal(err)
		}
		var o outcome
		if err := json.Unmarshal(obj.Data, &o); err != nil {
			t.Fatal(err)
		}
		newReports++
		if len(o.Reports) != 1 {
			t.Errorf("daily re-upload: %s holds %d reports, want 1:\n%s", info.Key, len(o.Reports), obj.Data)
		}
		for _, r := range o.Reports {
			for _, tg := range r.Targets {
				if tg.State != "unchanged" {
					t.Errorf("daily re-upload: %s %s is %s, want unchanged", tg.Product, tg.Domain, tg.State)
				}
			}
		}
	}
	if newReports != files {
		t.Errorf("daily re-upload: %d invocations wrote a report, want one per file, %d", newReports, files)
	}
}

// waiting counts the outcomes the function wrote that report a bundle
// waiting and deploy none.
func (e *env) waiting(t *testing.T) int {
	t.Helper()
	infos, err := e.st.List(e.ctx, "certdrop/reports/")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, info := range infos {
		obj, err := e.st.Get(e.ctx, info.Key)
		if err != nil {
			t.Fatal(err)
		}
		var o outcome
		if err := json.Unmarshal(obj.Data, &o); err != nil {
			t.Fatalf("report %s: %v", info.Key, err)
		}
		if len(o.Waiting) > 0 && len(o.Reports) == 0 {
			n++
		}
	}
	return n
}

// output returns what a client or command printed, by the name it ran under.
func (e *env) output(name string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return string(e.outputs[name])
}

// dir returns a folder under the temporary folder, made on first use.
func (e *env) dir(name string) string {
	p := filepath.Join(e.root, name)
	if err := os.MkdirAll(p, 0o755); err != nil {
		panic(err)
	}
	return p
}

func goTool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build certdrop: %v", err)
	}
	return p
}

func hookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "deploy", "hooks", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// freePorts returns n distinct loopback TCP ports that were free a moment
// ago, for the programs that take a port, not a listener (pebble, certdrop
// serve). They are picked below the kernel's ephemeral range, as
// scripts/demo.sh does: the emulator's own listeners (port 0) and every
// outgoing connection take their ports from that range, so a port picked
// there could be taken before the program binds it. All n are held until
// all are picked, so they differ.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			if v, err := strconv.Atoi(f[0]); err == nil && v > 12000 {
				low = v
			}
		}
	}
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	var ports []int
	for try := 0; len(ports) < n && try < 500; try++ {
		p := 10000 + mrand.IntN(low-10000)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		held, ports = append(held, l), append(ports, p)
	}
	if len(ports) < n {
		t.Fatalf("found %d free ports below %d, want %d", len(ports), low, n)
	}
	return ports
}

// poll calls f until it succeeds, for at most 20 seconds.
func (e *env) poll(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %v\n%s", what, err, e.logs())
		}
		select {
		case <-tick.C:
		case <-e.ctx.Done():
			t.Fatalf("waiting for %s: %v", what, e.ctx.Err())
		}
	}
}

// start runs a long-lived process; cleanup stops it (SIGTERM, then kill).
func (e *env) start(t *testing.T, name string, environ []string, prog string, args ...string) {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Env = environ
	out := &testutil.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	e.mu.Lock()
	e.live = append(e.live, liveOutput{name, out})
	e.mu.Unlock()
}

// client runs a renewal client to the end, with the environment its
// users give it plus the test CA's certificate, and fails the test when it
// fails or says a hook failed.
func (e *env) client(t *testing.T, name, prog string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = []string{
		"PATH=" + e.bin + ":" + os.Getenv("PATH"), "HOME=" + e.root,
		"CERTDROP_HOOK_CONFIG=" + e.hookConf,
		"REQUESTS_CA_BUNDLE=" + e.pebbleCA, "LEGO_CA_CERTIFICATES=" + e.pebbleCA,
		"EXEC_PATH=/bin/true", "EXEC_SEQUENCE_INTERVAL=1", "EXEC_POLLING_INTERVAL=1", "EXEC_PROPAGATION_TIMEOUT=20",
	}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	e.record(name, out)
	t.Logf("%s: %s", name, time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("%s: %v\n%s\n%s", name, err, out, e.logs())
	}
	// certbot reports a failed deploy hook and still exits 0.
	for _, bad := range []string{"reported error code", "returned error code"} {
		if bytes.Contains(out, []byte(bad)) {
			t.Fatalf("%s: its hook failed:\n%s\n%s", name, out, e.logs())
		}
	}
	e.collectKeys(t)
}

// certdrop runs the certdrop CLI with the emulator's environment.
func (e *env) certdrop(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.CommandContext(e.ctx, filepath.Join(e.bin, "certdrop"), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + e.root}
	out, err := cmd.CombinedOutput()
	e.record("certdrop "+strings.Join(args, " "), out)
	return out, err
}

// folder is what a hook must have uploaded: the folder under the watched
// prefix (named after the certificate) and the files in it.
type folder struct {
	name  string
	files []string
}

var certbotFolder = folder{certbotName, []string{"cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"}}

func legoFolder(domain string) folder {
	return folder{domain, []string{domain + ".crt", domain + ".issuer.crt", domain + ".key"}}
}

// deployed waits for the trigger's invocations to finish, then checks that
// the hook uploaded this certificate's files (and no other's) into its own
// folder, that each target carries the leaf in certFile (the file the
// client wrote), and that a report of a bundle made of that folder's files
// says it was deployed. It returns the leaf's fingerprint.
func (e *env) deployed(t *testing.T, step, certFile string, targets []target, want folder) string {
	t.Helper()
	fp := leafFingerprint(t, certFile)
	ctx, cancel := context.WithTimeout(e.ctx, 60*time.Second)
	defer cancel()
	if err := e.sim.OSS().WaitNotifications(ctx); err != nil {
		t.Fatalf("%s: the trigger's invocations did not finish: %v\n%s", step, err, e.logs())
	}
	for _, d := range e.sim.OSS().Deliveries() {
		if !d.OK {
			t.Errorf("%s: the function failed the event for %s after %d attempts (statuses %v, x-fc-status %v): %s",
				step, d.Key, d.Attempts, d.Statuses, d.FCStatuses, d.Err)
		}
	}
	dir := prefix + want.name + "/"
	infos, err := e.st.List(e.ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, info := range infos {
		got = append(got, strings.TrimPrefix(info.Key, dir))
	}
	sort.Strings(got)
	if strings.Join(got, " ") != strings.Join(want.files, " ") {
		t.Errorf("%s: the hook uploaded %q into %s, want %q", step, got, dir, want.files)
	}
	e.carries(t, step, fp, targets)
	for _, j := range e.sim.Journal().Entries() {
		if j.Service != "oss" && j.Outcome != "ok" {
			t.Errorf("%s: the emulator answered %s %s with %s %s", step, j.API, j.Domain, j.Outcome, j.Code)
		}
	}

	// The reports: some report of this leaf says each target was
	// deployed, and none says one failed.
	reports := e.reports(t)
	for _, tg := range targets {
		var states []string
		for _, r := range reports {
			if r.Bundle.Fingerprint != fp {
				continue
			}
			for _, k := range r.Bundle.Keys {
				if !strings.Contains(k, dir) {
					t.Errorf("%s: the report of %s names %s, outside %s", step, fp, k, dir)
				}
			}
			for _, rt := range r.Targets {
				if rt.Product == tg.product && rt.Domain == tg.domain {
					states = append(states, rt.State)
				}
			}
		}
		var ok bool
		for _, s := range states {
			ok = ok || s == "deployed"
			if s == "failed" || s == "not_started" {
				t.Errorf("%s: a report says %s %s is %s", step, tg.product, tg.domain, s)
			}
		}
		if !ok {
			t.Errorf("%s: no report says %s %s was deployed with %s (states %v)", step, tg.product, tg.domain, fp, states)
		}
	}
	if t.Failed() {
		t.Fatalf("%s failed; the logs:\n%s", step, e.logs())
	}
	return fp
}

// carries checks that each target carries the leaf fp, as the emulator's
// Describe would report it.
func (e *env) carries(t *testing.T, step, fp string, targets []target) {
	t.Helper()
	for _, tg := range targets {
		got, ok := e.sim.Installed(tg.product, tg.domain)
		if !ok || got.Fingerprint != fp {
			t.Errorf("%s: %s %s carries %q, want the leaf the client wrote, %s", step, tg.product, tg.domain, got.Fingerprint, fp)
		}
	}
}

// report is the part of certdrop's report this test reads.
type report struct {
	Bundle struct {
		Keys        []string `json:"keys"`
		Fingerprint string   `json:"fingerprint"`
	} `json:"bundle"`
	Targets []struct {
		Product string `json:"product"`
		Domain  string `json:"domain"`
		State   string `json:"state"`
	} `json:"targets"`
}

// outcome is the part of an invocation's outcome document (what the
// function writes under certdrop/reports/) this test reads.
type outcome struct {
	Status  string            `json:"status"` // "failed" when anything failed
	Reports []report          `json:"reports"`
	Invalid []json.RawMessage `json:"invalid"`
	Ignored []json.RawMessage `json:"ignored"`
	Waiting []json.RawMessage `json:"waiting"`
	Error   json.RawMessage   `json:"error"`
}

// reports reads every outcome the function wrote to the bucket and returns
// their reports; an outcome that failed, with an invalid bundle or an
// error, fails the test.
func (e *env) reports(t *testing.T) []report {
	t.Helper()
	infos, err := e.st.List(e.ctx, "certdrop/reports/")
	if err != nil {
		t.Fatal(err)
	}
	var out []report
	for _, info := range infos {
		obj, err := e.st.Get(e.ctx, info.Key)
		if err != nil {
			t.Fatal(err)
		}
		e.record("report "+info.Key, obj.Data)
		var o outcome
		if err := json.Unmarshal(obj.Data, &o); err != nil {
			t.Fatalf("report %s: %v", info.Key, err)
		}
		if o.Status == "failed" || len(o.Invalid) > 0 || len(o.Error) > 0 {
			t.Errorf("report %s says the run failed:\n%s", info.Key, obj.Data)
		}
		// Every file a hook uploads is part of a bundle: before the key
		// has arrived it waits with its leaf, it is never ignored.
		if len(o.Ignored) > 0 {
			t.Errorf("report %s ignored an uploaded file:\n%s", info.Key, obj.Data)
		}
		out = append(out, o.Reports...)
	}
	return out
}

// leafFingerprint is the hex SHA-256 of the first certificate in a file
// (through symbolic links, as certbot's live/ holds them).
func leafFingerprint(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type == "CERTIFICATE" {
			sum := sha256.Sum256(block.Bytes)
			return hex.EncodeToString(sum[:])
		}
	}
	t.Fatalf("%s holds no certificate", path)
	return ""
}

// collectKeys remembers every private key the clients have written so far.
func (e *env) collectKeys(t *testing.T) {
	t.Helper()
	var files []string
	for _, pattern := range []string{"certbot/config/archive/*/privkey*.pem", "lego*/certificates/*.key", "acme.sh/*/*.key"} {
		m, _ := filepath.Glob(filepath.Join(e.root, pattern))
		files = append(files, m...)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
			if strings.Contains(block.Type, "PRIVATE KEY") {
				e.keys = append(e.keys, block.Bytes)
			}
		}
	}
}

// noSecrets checks every output certdrop and the clients printed, every
// report, the emulator's journal and the events it delivered: no private
// key (neither a PEM header nor any 24-byte piece of a key's body, in base64
// or hex) and not the emulator's secret.
func (e *env) noSecrets(t *testing.T) {
	t.Helper()
	e.reports(t)
	journal, err := json.Marshal(e.sim.Journal().Entries())
	if err != nil {
		t.Fatal(err)
	}
	e.record("emulator journal", journal)
	for i, d := range e.sim.OSS().Deliveries() {
		e.record(fmt.Sprintf("event %d (%s)", i, d.Key), d.Event)
	}
	e.mu.Lock()
	for _, l := range e.live {
		e.outputs[l.name+" output"] = []byte(l.out.String())
	}
	defer e.mu.Unlock()
	if len(e.keys) == 0 {
		t.Fatal("no private keys collected: the check would prove nothing")
	}
	var needles []string
	for _, k := range e.keys {
		b64 := base64.StdEncoding.EncodeToString(k)
		for i := 0; i+32 <= len(b64); i += 32 {
			needles = append(needles, b64[i:i+32])
		}
		needles = append(needles, hex.EncodeToString(k[len(k)-24:]))
	}
	names := make([]string, 0, len(e.outputs))
	for name := range e.outputs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		out := string(e.outputs[name])
		if strings.Contains(out, "PRIVATE KEY") {
			t.Errorf("%s shows a private key", name)
		}
		if !strings.HasPrefix(name, "certbot") && !strings.HasPrefix(name, "lego") && strings.Contains(out, simSecret) {
			t.Errorf("%s shows the access key secret", name)
		}
		for _, n := range needles {
			if strings.Contains(out, n) {
				t.Errorf("%s shows a piece of a private key", name)
				break
			}
		}
	}
}

// record keeps an output for noSecrets, under a name made unique.
func (e *env) record(name string, out []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	unique := name
	for i := 2; ; i++ {
		if _, dup := e.outputs[unique]; !dup {
			break
		}
		unique = fmt.Sprintf("%s #%d", name, i)
	}
	e.outputs[unique] = append([]byte(nil), out...)
}

// logs returns the tail of the long-lived processes' output, for failures.
func (e *env) logs() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	for _, l := range e.live {
		lines := strings.Split(strings.TrimRight(l.out.String(), "\n"), "\n")
		if len(lines) > 25 {
			lines = lines[len(lines)-25:]
		}
		fmt.Fprintf(&b, "--- %s (last lines)\n%s\n", l.name, strings.Join(lines, "\n"))
	}
	return b.String()
}

type liveOutput struct {
	name string
	out  *testutil.Buffer
}

// startPebble writes pebble's configuration and TLS certificate (Debian
// ships neither), starts it with validation off, waits for its directory
// and saves the root it issues under.
func (e *env) startPebble(t *testing.T) {
	t.Helper()
	dir := e.dir("pebble")
	certPEM, keyPEM := tlsCertificate(t)
	e.pebbleCA = filepath.Join(dir, "tls-cert.pem")
	keyPath := filepath.Join(dir, "tls-key.pem")
	if err := os.WriteFile(e.pebbleCA, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 4)
	listen, mgmt := ports[0], ports[1]
	cfg, _ := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress":                  fmt.Sprintf("127.0.0.1:%d", listen),
		"managementListenAddress":        fmt.Sprintf("127.0.0.1:%d", mgmt),
		"certificate":                    e.pebbleCA,
		"privateKey":                     keyPath,
		"httpPort":                       ports[2],
		"tlsPort":                        ports[3],
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
	}})
	cfgPath := filepath.Join(dir, "pebble-config.json")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	e.start(t, "pebble", []string{"PATH=" + os.Getenv("PATH"), "PEBBLE_VA_ALWAYS_VALID=1", "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0"},
		"pebble", "-config", cfgPath)

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(url string) ([]byte, error) {
		resp, err := client.Get(url)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s: %s", url, resp.Status)
		}
		return body, err
	}
	e.acmeDir = fmt.Sprintf("https://127.0.0.1:%d/dir", listen)
	e.poll(t, "pebble's directory", func() error { _, err := get(e.acmeDir); return err })
	var root []byte
	e.poll(t, "pebble's root", func() error {
		var err error
		root, err = get(fmt.Sprintf("https://127.0.0.1:%d/roots/0", mgmt))
		return err
	})
	if b, _ := pem.Decode(root); b == nil || b.Type != "CERTIFICATE" {
		t.Fatalf("pebble's /roots/0 is not a PEM certificate: %q", root)
	}
	e.rootPath = filepath.Join(dir, "issuing-root.pem")
	if err := os.WriteFile(e.rootPath, root, 0o644); err != nil {
		t.Fatal(err)
	}
}

// tlsCertificate makes the self-signed certificate pebble serves on
// 127.0.0.1.
func tlsCertificate(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "pebble on 127.0.0.1"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

// startDNS answers every query on a loopback UDP port with an empty
// NOERROR: lego's propagation check (with --dns.disable-cp) asks its
// recursive resolver once, and must not reach the machine's resolver.
func startDNS(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			qs, err := p.AllQuestions()
			if err != nil {
				continue
			}
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true})
			if b.StartQuestions() != nil {
				continue
			}
			for _, q := range qs {
				_ = b.Question(q)
			}
			msg, err := b.Finish()
			if err != nil {
				continue
			}
			_, _ = pc.WriteTo(msg, addr)
		}
	}()
	return pc.LocalAddr().String()
}
