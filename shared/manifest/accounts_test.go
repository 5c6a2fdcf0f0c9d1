package manifest

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestAccounts reads the accounts section and the targets' account
// fields of testdata/manifests/accounts.yaml.
func TestAccounts(t *testing.T) {
	m, err := loadTest(filepath.Join(manifestsDir, "accounts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Account{
		{Name: "media", RoleArn: "acs:ram::1111111111111111:role/certdrop-deployer", Line: 6},
		{Name: "games", RoleArn: "acs:ram::2222222222222222:role/certdrop-deployer", Line: 8},
	}
	if !reflect.DeepEqual(m.Accounts, want) {
		t.Errorf("accounts:\n got %+v\nwant %+v", m.Accounts, want)
	}
	got := map[string]string{}
	for _, tg := range m.Targets {
		got[tg.Domain] = tg.Account
	}
	wantTargets := map[string]string{
		"www.example.com": "", "media.example.com": "media", "img.media.example.com": "media",
		"vod.media.example.com": "media", "play.example.com": "games",
	}
	if !reflect.DeepEqual(got, wantTargets) {
		t.Errorf("targets' accounts:\n got %v\nwant %v", got, wantTargets)
	}
	if a, ok := m.Account("games"); !ok || a.RoleArn != want[1].RoleArn {
		t.Errorf("Account(games) = %+v, %v", a, ok)
	}
	if _, ok := m.Account(""); ok {
		t.Errorf("Account(\"\") found an entry: the function's own account has none")
	}
}

// TestAccountErrors: every mistake is reported at its line.
func TestAccountErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"no accounts section", "version: 1\ntargets:\n  - product: cdn\n    account: media\n    domain: a.example.com\n",
			`m.yaml:4:14: unknown account "media": the manifest has no accounts section`},
		{"not a list", "version: 1\naccounts: media\ntargets:\n  - product: cdn\n    domain: a.example.com\n",
			"m.yaml:2:11: accounts must be a list, not a string"},
		{"name too long", "version: 1\naccounts:\n  - name: " + strings.Repeat("a", MaxAccountName+1) +
			"\n    roleArn: acs:ram::1111111111111111:role/r\ntargets:\n  - product: cdn\n    domain: a.example.com\n",
			"m.yaml:3:11: account name"},
		{"no roleArn", "version: 1\naccounts:\n  - name: media\ntargets:\n  - product: cdn\n    domain: a.example.com\n",
			"m.yaml:3:5: account has no roleArn"},
		{"user, not role", "version: 1\naccounts:\n  - name: media\n    roleArn: acs:ram::1111111111111111:user/alice\ntargets:\n  - product: cdn\n    domain: a.example.com\n",
			`m.yaml:4:14: roleArn "acs:ram::1111111111111111:user/alice" is not a RAM role's ARN`},
		{"account at the top", "version: 1\naccount: media\ntargets:\n  - product: cdn\n    domain: a.example.com\n",
			`m.yaml:2:1: unknown field "account" in manifest (did you mean "accounts"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseTest("m.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse accepted it")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error:\n%v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

func TestAccountID(t *testing.T) {
	tests := []struct {
		arn, id string
		ok      bool
	}{
		{"acs:ram::1111111111111111:role/certdrop-deployer", "1111111111111111", true},
		{"acs:ram::1111111111111111:role/a.b-c", "1111111111111111", true},
		{"acs:ram::111111111111111:role/r", "", false},
		{"acs:ram::1111111111111111:role/", "", false},
		{"acs:ram::1111111111111111:role/" + strings.Repeat("r", 65), "", false},
		{"acs:ram::1111111111111111:user/r", "", false},
		{"acs:ram:cn-hangzhou:1111111111111111:role/r", "", false},
	}
	for _, tt := range tests {
		id, ok := AccountID(tt.arn)
		if id != tt.id || ok != tt.ok {
			t.Errorf("AccountID(%q) = %q, %v; want %q, %v", tt.arn, id, ok, tt.id, tt.ok)
		}
	}
}
