package manifest

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCertificatesExample(t *testing.T) {
	m, err := loadTest(filepath.Join(manifestsDir, "certificates.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Certificate{
		{
			Name: "example.com", Domains: []string{"example.com", "*.example.com"},
			Issuer: "letsencrypt", Directory: Issuers()["letsencrypt"], Email: "ops@example.com",
			KeyType: EC256, DNS: DNS{Provider: DNSAlidns}, Line: 8,
		},
		{
			Name: "shop_example.org", Domains: []string{"shop.example.org"},
			Issuer: "zerossl", Directory: Issuers()["zerossl"], KeyType: RSA3072,
			DNS:         DNS{Provider: DNSCloudflare, APITokenEnv: "CERTDROP_SECRET_CF_DNS_TOKEN"},
			RenewBefore: 30 * 24 * time.Hour,
			EAB:         &EAB{KeyIDEnv: "CERTDROP_SECRET_ZEROSSL_EAB_KID", MACKeyEnv: "CERTDROP_SECRET_ZEROSSL_EAB_HMAC"}, Line: 16,
		},
		{
			Name: "internal", Domains: []string{"www.internal.example"},
			Issuer: "https://acme.internal.example/directory", Directory: "https://acme.internal.example/directory",
			KeyType: EC256,
			DNS: DNS{Provider: DNSRFC2136, Server: "ns1.internal.example:53", KeyName: "certdrop.",
				KeyAlg: "hmac-sha256.", KeyEnv: "CERTDROP_SECRET_TSIG"},
			Profile: "shortlived", RenewBefore: 36 * time.Hour, Line: 23,
		},
	}
	if !reflect.DeepEqual(m.Certificates, want) {
		t.Errorf("certificates:\n got %+v\nwant %+v", m.Certificates, want)
	}
}

func TestCertificatesParse(t *testing.T) {
	head := "version: 1\ntargets: [{product: cdn, domain: www.example.com}]\n"
	tests := []struct {
		name string
		in   string
		want Certificate // checked when wantErr is empty
		// wantErr is a substring of the error, with its line:col.
		wantErr string
	}{
		{
			name: "defaults: letsencrypt, ec256, cloudflare's default token variable",
			in:   "certificates:\n  - {name: a, domains: [B.Example.com], dns: cloudflare}\n",
			want: Certificate{Name: "a", Domains: []string{"b.example.com"}, Issuer: "letsencrypt",
				Directory: Issuers()["letsencrypt"], KeyType: EC256,
				DNS: DNS{Provider: DNSCloudflare, APITokenEnv: DefaultCloudflareTokenEnv}, Line: 4},
		},
		{
			name: "punycode, wildcard",
			in:   "certificates:\n  - {name: m, domains: [\"*.münchen.example\"], dns: alidns, renewBefore: 12h30m}\n",
			want: Certificate{Name: "m", Domains: []string{"*.xn--mnchen-3ya.example"}, Issuer: "letsencrypt",
				Directory: Issuers()["letsencrypt"], KeyType: EC256, DNS: DNS{Provider: DNSAlidns},
				RenewBefore: 12*time.Hour + 30*time.Minute, Line: 4},
		},
		{name: "null section", in: "certificates:\n", want: Certificate{}},
		{name: "not a list", in: "certificates: {name: a}\n", wantErr: "3:15: certificates must be a list"},
		{name: "google needs eab", in: "certificates:\n  - {name: a, domains: [a.example.com], dns: alidns, issuer: google}\n", wantErr: "4:5: issuer google needs an external account binding"},
		{name: "secret in eab", in: "certificates:\n  - {name: a, domains: [a.example.com], dns: alidns, eab: {keyIdEnv: CERTDROP_SECRET_K, macKeyEnv: \"abc=\"}}\n", wantErr: "4:100: macKeyEnv: not a variable a manifest may name: give the name of an environment variable, never the secret itself"},
		{name: "eab from the function's credentials", in: "certificates:\n  - {name: a, domains: [a.example.com], dns: alidns, issuer: \"https://ca.example/dir\", eab: {keyIdEnv: ALIBABA_CLOUD_ACCESS_KEY_SECRET, macKeyEnv: CERTDROP_SECRET_M}}\n", wantErr: "4:104: keyIdEnv: not a variable a manifest may name: ALIBABA_CLOUD_ACCESS_KEY_SECRET is one of the function's own credentials"},
		{name: "eab from the runtime's settings", in: "certificates:\n  - {name: a, domains: [a.example.com], dns: alidns, eab: {keyIdEnv: CERTDROP_SECRET_K, macKeyEnv: FC_REGION}}\n", wantErr: "4:100: macKeyEnv: not a variable a manifest may name: FC_REGION is one of the function's own credentials"},
		{name: "cloudflare token from the credentials", in: "certificates:\n  - {name: a, domains: [a.example.com], dns: {provider: cloudflare, apiTokenEnv: ALIBABA_CLOUD_ACCESS_KEY_ID}}\n", wantErr: "4:82: apiTokenEnv: not a variable a manifest may name: ALIBABA_CLOUD_ACCESS_KEY_ID is one of"},
		{name: "tsig secret from another variable", in: "certificates:\n  - {name: a, domains: [a.example.com], dns: {provider: rfc2136, server: \"ns:53\", keyName: k., keyEnv: HOME}}\n", wantErr: "4:104: keyEnv: not a variable a manifest may name: HOME does not start with CERTDROP_SECRET_"},
		{name: "rfc2136 as a name", in: "certificates:\n  - {name: a, domains: [a.example.com], dns: rfc2136}\n", wantErr: "4:46: rfc2136 needs its settings"},
		{name: "rfc2136 key without secret variable", in: "certificates:\n  - {name: a, domains: [a.example.com], dns: {provider: rfc2136, server: \"ns:53\", keyName: k.}}\n", wantErr: "needs keyName and keyEnv"},
		{name: "name with a slash", in: "certificates:\n  - {name: a/b, domains: [a.example.com], dns: alidns}\n", wantErr: "4:12: certificate name \"a/b\" is not a folder name"},
		{name: "duplicate names", in: "certificates:\n  - {name: a, domains: [a.example.com], dns: alidns}\n  - {name: A, domains: [b.example.com], dns: alidns}\n", wantErr: "5:5: certificate name \"A\" is already used on line 4"},
		{name: "typo in dns mapping", in: "certificates:\n  - {name: a, domains: [a.example.com], dns: {provider: cloudflare, apiTokenEn: X}}\n", wantErr: "unknown field \"apiTokenEn\" in dns (did you mean \"apiTokenEnv\"?)"},
		{name: "misplaced field hints", in: "certificates:\n  - {name: a, domains: [a.example.com], dns: alidns, product: cdn}\n", wantErr: "unknown field \"product\" in certificate"},
		{name: "unknown keyType", in: "certificates:\n  - {name: a, domains: [a.example.com], dns: alidns, keyType: dsa}\n", wantErr: "unknown keyType \"dsa\" (want ec256, ec384, rsa2048, rsa3072 or rsa4096)"},
		{name: "renewBefore past what a duration holds", in: "certificates:\n  - {name: a, domains: [a.example.com], dns: alidns, renewBefore: 213504d}\n", wantErr: "4:67: renewBefore \"213504d\": is more than ten years"},
		{name: "renewBefore that wraps negative", in: "certificates:\n  - {name: a, domains: [a.example.com], dns: alidns, renewBefore: 106752d}\n", wantErr: "4:67: renewBefore \"106752d\": is more than ten years"},
		{name: "upper-case scheme", in: "certificates:\n  - {name: a, domains: [a.example.com], dns: alidns, issuer: \"HTTPS://ca.example/dir\"}\n", wantErr: "must be https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := parseTest("m.yaml", []byte(head+tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want.Name == "" {
				if len(m.Certificates) != 0 {
					t.Fatalf("certificates %+v, want none", m.Certificates)
				}
				return
			}
			if len(m.Certificates) != 1 || !reflect.DeepEqual(m.Certificates[0], tt.want) {
				t.Errorf("got %+v\nwant %+v", m.Certificates, tt.want)
			}
		})
	}
}

// TestCertificatesBound checks that the section is capped.
func TestCertificatesBound(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\ntargets: [{product: cdn, domain: www.example.com}]\ncertificates:\n")
	for i := 0; i <= MaxCertificates; i++ {
		b.WriteString("  - {name: c" + strings.Repeat("x", i%5) + string(rune('a'+i%26)) + ", domains: [a.example.com], dns: alidns}\n")
	}
	_, err := parseTest("m.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "too many certificates") {
		t.Fatalf("error %v, want too many certificates", err)
	}
}

// TestParseRenewBefore checks the renewBefore durations, at the edges of
// the ten-year bound and past where nanoseconds overflow int64.
func TestParseRenewBefore(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{in: "30d", want: 30 * day},
		{in: "12h", want: 12 * time.Hour},
		{in: "90m", want: 90 * time.Minute},
		{in: "1d12h30m", want: day + 12*time.Hour + 30*time.Minute},
		{in: "3650d", want: 3650 * day},
		{in: "3649d23h60m", want: 3650 * day},
		{in: "0d", wantErr: "must be more than zero"},
		{in: "0d0h0m", wantErr: "must be more than zero"},
		{in: "3651d", wantErr: "is more than ten years"},
		{in: "3650d1m", wantErr: "is more than ten years"},
		{in: "87601h", wantErr: "is more than ten years"},
		// Nanoseconds overflow int64 past 106751 days: these wrapped to a
		// negative or a small positive duration.
		{in: "106751d", wantErr: "is more than ten years"},
		{in: "106752d", wantErr: "is more than ten years"},
		{in: "213504d", wantErr: "is more than ten years"},
		{in: "999999d", wantErr: "is more than ten years"},
		{in: "999999m999999m999999m999999m999999m999999m", wantErr: "is more than ten years"},
		{in: strings.Repeat("999999d", 20) + "1m", wantErr: "is more than ten years"},
		{in: "1000000d", wantErr: "write a duration such as"},
		{in: "-1d", wantErr: "write a duration such as"},
		{in: "1s", wantErr: "write a duration such as"},
	}
	for _, tt := range tests {
		got, err := parseRenewBefore(tt.in)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseRenewBefore(%q) = %v, %v; want an error with %q", tt.in, got, err, tt.wantErr)
			}
		case err != nil || got != tt.want:
			t.Errorf("parseRenewBefore(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

// TestCheckSecretEnv checks which variables a manifest may name, and that
// what is not a variable name (a pasted secret) is never repeated.
func TestCheckSecretEnv(t *testing.T) {
	tests := []struct {
		name    string
		wantErr string
	}{
		{name: "CERTDROP_SECRET_ZEROSSL_EAB_KID"},
		{name: "CERTDROP_SECRET_x"},
		{name: "CERTDROP_SECRET_" + strings.Repeat("A", 112)},
		{name: DefaultCloudflareTokenEnv},
		{name: "CERTDROP_SECRET_" + strings.Repeat("A", 113), wantErr: "never the secret itself"},
		{name: "CERTDROP_SECRET_", wantErr: "needs a name after the prefix"},
		{name: "ALIBABA_CLOUD_ACCESS_KEY_ID", wantErr: "one of the function's own credentials"},
		{name: "ALIBABA_CLOUD_ACCESS_KEY_SECRET", wantErr: "one of the function's own credentials"},
		{name: "ALIBABA_CLOUD_SECURITY_TOKEN", wantErr: "one of the function's own credentials"},
		{name: "alibaba_cloud_access_key_secret", wantErr: "one of the function's own credentials"},
		{name: "FC_REGION", wantErr: "one of the function's own credentials"},
		{name: "FC_ACCOUNT_ID", wantErr: "one of the function's own credentials"},
		{name: "CERTDROP_WEBHOOK_URL", wantErr: "does not start with CERTDROP_SECRET_"},
		{name: "CLOUDFLARE_API_TOKEN", wantErr: "such as CERTDROP_SECRET_CLOUDFLARE_API_TOKEN"},
		{name: "certdrop_secret_x", wantErr: "such as CERTDROP_SECRET_X"},
		{name: "PATH", wantErr: "does not start with CERTDROP_SECRET_"},
		{name: "", wantErr: "never the secret itself"},
		{name: "CERTDROP_SECRET_A-B", wantErr: "never the secret itself"},
		{name: "hunter2/+==", wantErr: "never the secret itself"},
	}
	for _, tt := range tests {
		err := CheckSecretEnv(tt.name)
		switch {
		case tt.wantErr == "":
			if err != nil {
				t.Errorf("CheckSecretEnv(%q) = %v, want nil", tt.name, err)
			}
		case err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrSecretEnv):
			t.Errorf("CheckSecretEnv(%q) = %v, want ErrSecretEnv with %q", tt.name, err, tt.wantErr)
		case strings.Contains(tt.wantErr, "never the secret") && tt.name != "" && strings.Contains(err.Error(), tt.name):
			t.Errorf("CheckSecretEnv(%q) = %v: repeats what may be a secret", tt.name, err)
		}
	}
}

// TestIssuerAtMetadataAddress: an issuer at a link-local or instance
// metadata address is refused with its line and column, however the
// address is written; the names and addresses of CAs are not.
func TestIssuerAtMetadataAddress(t *testing.T) {
	const head = "version: 1\ntargets: [{product: cdn, domain: www.example.com}]\ncertificates:\n  - name: a\n    domains: [a.example.com]\n    dns: alidns\n    issuer: "
	for _, host := range []string{
		"100.100.100.200", "169.254.169.254", "169.254.1.1", "169.254.169.254.", "169.254.169.254:443",
		"2852039166", "0xa9fea9fe", "025177524776", "0251.0376.0251.0376", "0xa9.0xfe.0xa9.0xfe", "169.254.43518", "169.16689662",
		"1684301000", "0x646464c8", "100.100.25800",
		"[fe80::1]", "[fe80::1%25eth0]", "[FE80::A9FE:A9FE]:8443", "[::ffff:169.254.169.254]", "[::ffff:a9fe:a9fe]",
		"[::ffff:100.100.100.200]", "[::169.254.169.254]", "[64:ff9b::a9fe:a9fe]", "[fd00:ec2::254]",
	} {
		url := "https://" + host + "/latest/meta-data/"
		_, err := parseTest("m.yaml", []byte(head+`"`+url+`"`+"\n"))
		want := `m.yaml:7:13: issuer "` + url + `": `
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "certdrop sends no request there") {
			t.Errorf("issuer %s: %v; want %q", url, err, want+"… certdrop sends no request there")
		}
	}
	for _, url := range []string{
		"https://acme.internal.example/directory", "https://127.0.0.1:14000/dir", "https://[::1]:14000/dir", "https://localhost/dir",
		"https://10.0.0.1/dir", "https://100.100.100.201/dir", "https://169.253.255.255/dir", "https://169.254.169.254.example.com/dir",
	} {
		if _, err := parseTest("m.yaml", []byte(head+`"`+url+`"`+"\n")); err != nil {
			t.Errorf("issuer %s: %v", url, err)
		}
	}
}
