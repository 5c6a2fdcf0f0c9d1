// Package deploy holds the deployment files (s.yaml beside the repository
// root, the RAM policy here); its tests check them.
package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/dnsprovider/alidns"
	esadns "github.com/certdrop/certdrop/shared/dnsprovider/esa"
	"github.com/certdrop/certdrop/shared/event"
	"github.com/certdrop/certdrop/shared/job"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product/all"
)

// fc3Schema is the fc3 component's JSON Schema, kept beside the repository
// as reference material (not committed here: it is the vendor's).
var fc3Schema = filepath.Join("..", "..", "shared", "reference", "fc3-schema.json")

var varRef = regexp.MustCompile(`\$\{vars\.([A-Za-z0-9_]+)\}`)

// loadSYAML reads s.yaml with every ${vars.*} resolved, as JSON-shaped data.
func loadSYAML(t *testing.T) map[string]any {
	t.Helper()
	return loadSYAMLWith(t, nil)
}

// loadSYAMLWith is loadSYAML with some vars set to other values, as a user
// edits them.
func loadSYAMLWith(t *testing.T, set map[string]string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "s.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	vars, _ := doc["vars"].(map[string]any)
	resolved := varRef.ReplaceAllStringFunc(string(raw), func(m string) string {
		name := varRef.FindStringSubmatch(m)[1]
		if v, ok := set[name]; ok {
			return v
		}
		v, ok := vars[name]
		if !ok {
			t.Errorf("s.yaml uses ${vars.%s}, which vars does not define", name)
		}
		s, _ := v.(string)
		return s
	})
	doc = nil
	if err := yaml.Unmarshal([]byte(resolved), &doc); err != nil {
		t.Fatal(err)
	}
	// Round-trip through JSON so numbers and maps have JSON's types.
	js, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(js, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func props(t *testing.T, doc map[string]any) map[string]any {
	t.Helper()
	res := doc["resources"].(map[string]any)["certdrop"].(map[string]any)
	if res["component"] != "fc3" {
		t.Fatalf("component = %v, want fc3", res["component"])
	}
	return res["props"].(map[string]any)
}

// TestSYAMLSchema validates s.yaml's props against the fc3 component's
// schema after resolving ${vars.*}. It skips when the schema (reference
// material beside the repository) is absent.
func TestSYAMLSchema(t *testing.T) {
	data, err := os.ReadFile(fc3Schema)
	if os.IsNotExist(err) {
		t.Skipf("skipping: the fc3 schema %s is not present beside the repository", fc3Schema)
	}
	if err != nil {
		t.Fatal(err)
	}
	schemaDoc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("fc3-schema.json", schemaDoc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("fc3-schema.json")
	if err != nil {
		t.Fatal(err)
	}
	p := props(t, loadSYAML(t))
	if err := sch.Validate(any(p)); err != nil {
		t.Fatalf("s.yaml props do not validate against the fc3 schema:\n%v", err)
	}
	// The schema must be able to fail: a wrong runtime is refused.
	bad := map[string]any{}
	for k, v := range p {
		bad[k] = v
	}
	bad["runtime"] = "go2"
	if err := sch.Validate(any(bad)); err == nil {
		t.Fatal("the schema accepted runtime go2")
	}
}

// TestSYAMLSettings checks the deployment docs/function.md describes, with the
// vars as shipped and as a user may set them: the trigger, the timer's
// reconcile and the function's configuration follow vars.prefix.
func TestSYAMLSettings(t *testing.T) {
	for _, set := range []map[string]string{nil, {"prefix": "renewed/tls/", "bucket": "other-bucket"}} {
		t.Run(fmt.Sprint(set), func(t *testing.T) {
			doc := loadSYAMLWith(t, set)
			prefix, ok := set["prefix"]
			if !ok {
				prefix, _ = doc["vars"].(map[string]any)["prefix"].(string)
			}
			checkSYAMLSettings(t, doc, prefix)
		})
	}
}

func checkSYAMLSettings(t *testing.T, doc map[string]any, wantPrefix string) {
	p := props(t, doc)
	if rt, _ := p["runtime"].(string); !strings.HasPrefix(rt, "custom.debian") {
		t.Errorf("runtime %q", rt)
	}
	if p["code"] != "./dist/fc" || p["timeout"] != 900.0 || p["logConfig"] != "auto" {
		t.Errorf("code %v timeout %v logConfig %v", p["code"], p["timeout"], p["logConfig"])
	}
	if m := p["memorySize"]; m != 128.0 && m != 256.0 {
		t.Errorf("memorySize %v", m)
	}
	crc := p["customRuntimeConfig"].(map[string]any)
	if crc["port"] != 9000.0 || !slices.Equal(toStrings(crc["args"]), []string{"serve"}) {
		t.Errorf("customRuntimeConfig %v", crc)
	}
	if p["concurrencyConfig"].(map[string]any)["reservedConcurrency"] != 1.0 || p["instanceConcurrency"] != 1.0 {
		t.Errorf("concurrency %v %v", p["concurrencyConfig"], p["instanceConcurrency"])
	}
	if p["asyncInvokeConfig"].(map[string]any)["maxAsyncRetryAttempts"] != 3.0 {
		t.Errorf("asyncInvokeConfig %v", p["asyncInvokeConfig"])
	}
	env := map[string]string{}
	for k, v := range p["environmentVariables"].(map[string]any) {
		env[k] = v.(string)
	}
	if _, err := job.ConfigFromEnv(func(k string) string { return env[k] }); err != nil {
		t.Errorf("the environment is not a valid configuration: %v", err)
	}
	var oss, timer map[string]any
	for _, tr := range p["triggers"].([]any) {
		tr := tr.(map[string]any)
		switch tr["triggerType"] {
		case "oss":
			oss = tr["triggerConfig"].(map[string]any)
		case "timer":
			timer = tr["triggerConfig"].(map[string]any)
		}
	}
	if oss == nil || timer == nil {
		t.Fatal("want an oss and a timer trigger")
	}
	events := toStrings(oss["events"])
	sort.Strings(events)
	want := []string{"oss:ObjectCreated:CompleteMultipartUpload", "oss:ObjectCreated:CopyObject", "oss:ObjectCreated:PostObject", "oss:ObjectCreated:PutObject"}
	if !slices.Equal(events, want) {
		t.Errorf("oss events %v, want %v", events, want)
	}
	prefix := oss["filter"].(map[string]any)["key"].(map[string]any)["prefix"]
	if prefix != wantPrefix || env["CERTDROP_TRIGGER_PREFIX"] != prefix {
		t.Errorf("trigger prefix %v, vars.prefix %v, CERTDROP_TRIGGER_PREFIX %v", prefix, wantPrefix, env["CERTDROP_TRIGGER_PREFIX"])
	}
	body, _ := json.Marshal(map[string]any{"triggerTime": "2026-11-23T03:00:00Z", "triggerName": "daily-reconcile", "payload": timer["payload"]})
	ev, err := event.Parse(body)
	if err != nil || ev.Kind != event.KindTimer || ev.Timer.Reconcile.Prefix != prefix {
		t.Errorf("timer payload %v: %v", timer["payload"], err)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestRAMPolicy: least privilege: exactly the actions certdrop calls.
func TestRAMPolicy(t *testing.T) {
	pol := readRAMPolicy(t, "ram-policy.json")
	resources := map[string][]string{}
	for _, s := range pol.Statement {
		if s.Effect != "Allow" {
			t.Errorf("unexpected effect %q", s.Effect)
		}
		for _, a := range s.Action {
			if strings.Contains(a, "*") {
				t.Errorf("wildcard action %q", a)
			}
			resources[a] = append(resources[a], s.Resource...)
		}
	}
	var actions []string
	for a := range resources {
		actions = append(actions, a)
	}
	sort.Strings(actions)
	want := []string{
		// alb, nlb, slb: the listeners' certificates (and, for slb, the
		// region's server certificates, and the prune's look at what uses
		// them).
		"alb:AssociateAdditionalCertificatesWithListener", "alb:DissociateAdditionalCertificatesFromListener",
		"alb:GetListenerAttribute", "alb:ListListenerCertificates", "alb:UpdateListenerAttribute",
		"alidns:AddDomainRecord", "alidns:DeleteDomainRecord", "alidns:DescribeDomains", "alidns:DescribeSubDomainRecords",
		"cdn:DescribeDomainCertificateInfo", "cdn:SetCdnDomainSSLCertificate", "cdn:SetDomainServerCertificate",
		"dcdn:DescribeDcdnDomainCertificateInfo", "dcdn:SetDcdnDomainSSLCertificate",
		// esa targets (DeleteCertificate: certdrop's own expired or
		// superseded certificates only) and dns: esa (the records).
		"esa:CreateRecord", "esa:DeleteCertificate", "esa:DeleteRecord", "esa:ListCertificates", "esa:ListRecords",
		"esa:ListSites", "esa:SetCertificate",
		"fc:GetCustomDomain", "fc:UpdateCustomDomain",
		"live:DescribeLiveDomainCertificateInfo", "live:SetLiveDomainCertificate",
		"nlb:AssociateAdditionalCertificatesWithListener", "nlb:DisassociateAdditionalCertificatesWithListener",
		"nlb:GetListenerAttribute", "nlb:ListListenerCertificates", "nlb:UpdateListenerAttribute",
		// oss:DeleteObject: a rollback's pin, lifted (certdrop/pins/*).
		"oss:DeleteObject", "oss:GetObject", "oss:ListCname", "oss:ListObjects", "oss:PutCname", "oss:PutObject",
		"slb:DeleteServerCertificate", "slb:DescribeDomainExtensions", "slb:DescribeLoadBalancerAttribute",
		"slb:DescribeLoadBalancerHTTPSListenerAttribute", "slb:DescribeLoadBalancers", "slb:DescribeServerCertificates",
		"slb:SetDomainExtensionAttribute", "slb:SetLoadBalancerHTTPSListenerAttribute", "slb:UploadServerCertificate",
		"vod:DescribeVodDomainCertificateInfo", "vod:SetVodDomainSSLCertificate",
		// PutCname with a certificate: OSS stores it in Certificate
		// Management Service with the caller's permissions (PutCname's page).
		"yundun-cert:CreateSSLCertificate", "yundun-cert:DeleteUserCertificate", "yundun-cert:DescribeSSLCertificatePrivateKey",
		"yundun-cert:DescribeSSLCertificatePublicKeyDetail",
		// delivery: cas (upload once, find an earlier upload), rollback (find
		// by name) and pruning (list, delete). Never GetUserCertificateDetail,
		// which answers the private key.
		"yundun-cert:ListUserCertificateOrder", "yundun-cert:UploadUserCertificate",
	}
	if !slices.Equal(actions, want) {
		t.Errorf("actions:\n got %v\nwant %v", actions, want)
	}
	if _, ok := resources["yundun-cert:GetUserCertificateDetail"]; ok {
		t.Error("yundun-cert:GetUserCertificateDetail answers private keys: certdrop never calls it")
	}
	for _, r := range resources["oss:PutObject"] {
		if !strings.HasSuffix(r, "/certdrop/reports/*") && !strings.HasSuffix(r, "/certdrop/acme/*") && !strings.HasSuffix(r, "/certs/*/bundle.pem") &&
			!strings.HasSuffix(r, "/certdrop/pins/*") && !strings.HasSuffix(r, "/certdrop/alerts/state.json") && !strings.HasSuffix(r, "/certdrop/status/*") {
			t.Errorf("oss:PutObject on %s: only reports, the status page, the ACME account and state, rollback pins, the alert state and renewed bundles", r)
		}
	}
	for _, r := range resources["oss:DeleteObject"] {
		if !strings.HasSuffix(r, "/certdrop/pins/*") {
			t.Errorf("oss:DeleteObject on %s: only rollback pins (never a bundle)", r)
		}
	}
	for _, r := range resources["oss:GetObject"] {
		if strings.HasSuffix(r, "bucket/*") || !strings.Contains(r, "/") {
			t.Errorf("oss:GetObject on %s: only the bundle prefix and the manifest", r)
		}
	}
	for _, a := range []string{"cdn:SetCdnDomainSSLCertificate", "live:SetLiveDomainCertificate", "dcdn:SetDcdnDomainSSLCertificate"} {
		for _, r := range resources[a] {
			if !strings.Contains(r, ":domain/") {
				t.Errorf("%s on %s: scope it to domains", a, r)
			}
		}
	}
	// The custom-domain actions are bucket-level: scoped to buckets, never
	// to objects or every resource.
	for _, a := range []string{"oss:PutCname", "oss:ListCname"} {
		for _, r := range resources[a] {
			if !strings.HasPrefix(r, "acs:oss:") || strings.Contains(strings.TrimPrefix(r, "acs:oss:*:*:"), "/") || strings.HasSuffix(r, ":*") {
				t.Errorf("%s on %s: scope it to the buckets of the oss targets", a, r)
			}
		}
	}
}

// TestRAMPolicyGrantsWhatTheCodeCalls derives the OpenAPI actions from the
// code (every operation each product declares, with its RAM service, the CAS
// operations, the Alibaba Cloud DNS provider's paced actions), so that a
// product or action added to the code without its grant fails here.
func TestRAMPolicyGrantsWhatTheCodeCalls(t *testing.T) {
	granted := map[string]bool{}
	for _, s := range readRAMPolicy(t, "ram-policy.json").Statement {
		for _, a := range s.Action {
			granted[a] = true
		}
	}
	var called []string
	for _, p := range all.Products().Products() {
		for _, api := range p.APIs() {
			if api.Service == "" {
				t.Errorf("product %s: %s names no RAM service", p.Spec().Name, api.Action)
			}
			called = append(called, api.Service+":"+api.Action)
		}
	}
	for _, api := range []plan.API{plan.CASUploadAPI, plan.CASListAPI, plan.CASDeleteAPI} {
		called = append(called, api.Service+":"+api.Action)
	}
	for a := range alidns.Quotas() {
		// GetRecords (DescribeDomainRecords) is there for libdns; renewal
		// never lists a zone, and the policy does not grant it.
		if a != "DescribeDomainRecords" {
			called = append(called, "alidns:"+a)
		}
	}
	for a := range esadns.Quotas() {
		called = append(called, "esa:"+a)
	}
	for _, a := range called {
		if !granted[a] {
			t.Errorf("the code calls %s; ram-policy.json does not grant it", a)
		}
	}
	// The manifest's accounts: AssumeRole, granted apart, on the roles
	// listed (TestRAMPolicyAccounts).
	sts := cloud.AssumeRoleAPI.Service + ":" + cloud.AssumeRoleAPI.Action
	if granted[sts] {
		t.Errorf("ram-policy.json grants %s: it belongs in ram-policy-accounts.json, limited to the accounts' roles", sts)
	}
	for _, s := range readRAMPolicy(t, "ram-policy-accounts.json").Statement {
		for _, a := range s.Action {
			granted[a] = true
		}
	}
	if !granted[sts] {
		t.Errorf("the code calls %s for the manifest's accounts; ram-policy-accounts.json does not grant it", sts)
	}
}

// TestRAMPolicyAccounts: the grant for the manifest's accounts is
// sts:AssumeRole and nothing else, on named roles of named accounts (no
// wildcard); each account's trust policy names one role of the function's
// account, for sts:AssumeRole only.
func TestRAMPolicyAccounts(t *testing.T) {
	role := regexp.MustCompile(`^acs:ram::[0-9]{16}:role/[A-Za-z0-9.-]{1,64}$`)
	for _, s := range readRAMPolicy(t, "ram-policy-accounts.json").Statement {
		if s.Effect != "Allow" || !slices.Equal(s.Action, []string{"sts:AssumeRole"}) || len(s.Resource) == 0 {
			t.Errorf("statement %+v: want Allow sts:AssumeRole on the accounts' roles", s)
		}
		for _, r := range s.Resource {
			if !role.MatchString(r) {
				t.Errorf("sts:AssumeRole on %q: name each account's role (acs:ram::<account ID>:role/<name>)", r)
			}
		}
	}
	var trust struct {
		Version   string
		Statement []struct {
			Effect    string
			Action    string
			Principal struct{ RAM []string }
		}
	}
	data, err := os.ReadFile("trust-policy-account.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&trust); err != nil {
		t.Fatal(err)
	}
	if trust.Version != "1" || len(trust.Statement) != 1 {
		t.Fatalf("trust policy %+v", trust)
	}
	st := trust.Statement[0]
	if st.Effect != "Allow" || st.Action != "sts:AssumeRole" || len(st.Principal.RAM) != 1 || !role.MatchString(st.Principal.RAM[0]) {
		t.Errorf("trust policy statement %+v: want the function's role, one RAM principal, sts:AssumeRole", st)
	}
}

// ramPolicy is a RAM policy document; unknown fields are refused.
type ramPolicy struct {
	Version   string
	Statement []struct {
		Effect    string
		Action    []string
		Resource  []string
		Condition map[string]any
	}
}

func readRAMPolicy(t *testing.T, name string) ramPolicy {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var pol ramPolicy
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pol); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return pol
}

// TestRAMPolicyRenewer: the renewal machine's key may put objects under
// the watched prefix and do nothing else: not read them back (the keys of
// other certificates), not list, not touch the manifest or the reports,
// not call the CDN, VOD or Live APIs.
func TestRAMPolicyRenewer(t *testing.T) {
	pol := readRAMPolicy(t, "ram-policy-renewer.json")
	vars := loadSYAML(t)["vars"].(map[string]any)
	watched := "acs:oss:*:*:" + vars["bucket"].(string) + "/" + vars["prefix"].(string) + "*"
	n := 0
	for _, s := range pol.Statement {
		if s.Effect != "Allow" {
			t.Errorf("unexpected effect %q", s.Effect)
		}
		if !slices.Equal(s.Action, []string{"oss:PutObject"}) {
			t.Errorf("actions %v: the renewal machine needs only oss:PutObject", s.Action)
		}
		for _, r := range s.Resource {
			n++
			if r != watched {
				t.Errorf("oss:PutObject on %s: only the watched prefix %s", r, watched)
			}
		}
	}
	if n == 0 {
		t.Error("the renewer policy grants nothing")
	}
	// The function's own policy reads bundles from the same prefix.
	var reads bool
	for _, s := range readRAMPolicy(t, "ram-policy.json").Statement {
		if slices.Contains(s.Action, "oss:GetObject") && slices.Contains(s.Resource, watched) {
			reads = true
		}
	}
	if !reads {
		t.Errorf("ram-policy.json does not let the function read %s, where the renewer writes", watched)
	}
}
