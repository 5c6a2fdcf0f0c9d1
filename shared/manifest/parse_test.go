package manifest

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// lines joins its arguments with newlines, so a multi-line YAML input or
// an expected Errors rendering reads one line per argument.
func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

func TestParseValid(t *testing.T) {
	defaults := Defaults{WarnDays: DefaultWarnDays, Replace: ReplaceOlder}
	tests := []struct {
		name         string
		in           string
		wantDefaults Defaults
		want         []Target
	}{
		{
			name: "minimal",
			in: lines(
				"version: 1",
				"targets:",
				"  - product: cdn",
				"    domain: www.example.com",
			),
			wantDefaults: defaults,
			want:         []Target{{Product: CDN, Domain: "www.example.com", Line: 4}},
		},
		{
			name: "domains expand one target per domain, each with its own line",
			in: lines(
				"version: 1",
				"targets:",
				"  - product: cdn",
				"    domains:",
				"      - www.example.com",
				"      - '*.example.com'",
				"    bundle: certs/example.com/",
			),
			wantDefaults: defaults,
			want: []Target{
				{Product: CDN, Domain: "www.example.com", Bundle: "certs/example.com/", Line: 5},
				{Product: CDN, Domain: "*.example.com", Bundle: "certs/example.com/", Line: 6},
			},
		},
		{
			name: "domain and domains together, in file order",
			in: lines(
				"version: 1",
				"targets:",
				"  - product: live",
				"    domains: [b.example.com, c.example.com]",
				"    domain: a.example.com",
			),
			wantDefaults: defaults,
			want: []Target{
				{Product: Live, Domain: "b.example.com", Line: 4},
				{Product: Live, Domain: "c.example.com", Line: 4},
				{Product: Live, Domain: "a.example.com", Line: 5},
			},
		},
		{
			name: "vod region defaults to cn-shanghai; other products have none",
			in: lines(
				"version: 1",
				"targets:",
				"  - {product: vod, domain: vod.example.com}",
				"  - {product: vod, domain: sg.example.com, region: ap-southeast-1}",
				"  - {product: cdn-legacy, domain: old.example.com}",
			),
			wantDefaults: defaults,
			want: []Target{
				{Product: VOD, Domain: "vod.example.com", Region: VODRegionShanghai, Line: 3},
				{Product: VOD, Domain: "sg.example.com", Region: VODRegionSingapore, Line: 4},
				{Product: CDNLegacy, Domain: "old.example.com", Line: 5},
			},
		},
		{
			name: "staging resolves per target, and only where the API has Env",
			in: lines(
				"version: 1",
				"defaults: {staging: true}",
				"targets:",
				"  - {product: vod, domain: a.example.com}",
				"  - {product: cdn, domain: b.example.com, staging: false}",
				"  - {product: vod, domain: c.example.com, staging: false}",
				"  - {product: dcdn, domain: d.example.com, staging: false}",
				"  - {product: cdn-legacy, domain: e.example.com, staging: false}",
				"  - {product: live, domain: f.example.com, staging: false}",
			),
			wantDefaults: Defaults{Staging: true, WarnDays: DefaultWarnDays, Replace: ReplaceOlder},
			want: []Target{
				{Product: VOD, Domain: "a.example.com", Region: VODRegionShanghai, Staging: true, Line: 4},
				{Product: CDN, Domain: "b.example.com", Line: 5},
				{Product: VOD, Domain: "c.example.com", Region: VODRegionShanghai, Line: 6},
				{Product: DCDN, Domain: "d.example.com", Line: 7},
				{Product: CDNLegacy, Domain: "e.example.com", Line: 8},
				{Product: Live, Domain: "f.example.com", Line: 9},
			},
		},
		{
			name: "a target's staging: true overrides defaults",
			in: lines(
				"version: 1",
				"targets:",
				"  - {product: vod, domain: vod.example.com, staging: true}",
			),
			wantDefaults: defaults,
			want:         []Target{{Product: VOD, Domain: "vod.example.com", Region: VODRegionShanghai, Staging: true, Line: 3}},
		},
		{
			name: "every default set; warnDays 0 is kept (it turns the warning off)",
			in: lines(
				"version: 1",
				"defaults:",
				"  allowUntrusted: true",
				"  warnDays: 0",
				"  canary: 3",
				"  verify: true",
				"  replace: always",
				"targets: [{product: cdn, domain: www.example.com}]",
			),
			wantDefaults: Defaults{AllowUntrusted: true, WarnDays: 0, Canary: 3, Verify: true, Replace: ReplaceAlways},
			want:         []Target{{Product: CDN, Domain: "www.example.com", Line: 8}},
		},
		{
			name: "numbers without a fraction count as integers",
			in: lines(
				"version: 1.0",
				"defaults: {warnDays: 30.0, canary: 0x2}",
				"targets: [{product: cdn, domain: www.example.com}]",
			),
			wantDefaults: Defaults{WarnDays: 30, Canary: 2, Replace: ReplaceOlder},
			want:         []Target{{Product: CDN, Domain: "www.example.com", Line: 3}},
		},
		{
			name: "defaults after targets still apply",
			in: lines(
				"version: 1",
				"targets: [{product: vod, domain: www.example.com}]",
				"defaults: {staging: true}",
			),
			wantDefaults: Defaults{Staging: true, WarnDays: DefaultWarnDays, Replace: ReplaceOlder},
			want:         []Target{{Product: VOD, Domain: "www.example.com", Region: VODRegionShanghai, Staging: true, Line: 2}},
		},
		{
			name: "a domains list shared through an alias",
			in: lines(
				"version: 1",
				"targets:",
				"  - product: cdn",
				"    domains: &names [a.example.com, b.example.com]",
				"    bundle: certs/a/",
				"  - product: live",
				"    domains: *names",
			),
			wantDefaults: defaults,
			want: []Target{
				{Product: CDN, Domain: "a.example.com", Bundle: "certs/a/", Line: 4},
				{Product: CDN, Domain: "b.example.com", Bundle: "certs/a/", Line: 4},
				{Product: Live, Domain: "a.example.com", Line: 4},
				{Product: Live, Domain: "b.example.com", Line: 4},
			},
		},
		{
			name: "JSON, with lines",
			in: lines(
				`{"version": 1,`,
				` "targets": [`,
				`  {"product": "cdn", "domains": ["www.example.com",`,
				`                                ".example.com"]},`,
				`  {"product": "vod", "domain": "vod.example.com", "region": "ap-southeast-1"}`,
				`]}`,
			),
			wantDefaults: defaults,
			want: []Target{
				{Product: CDN, Domain: "www.example.com", Line: 3},
				{Product: CDN, Domain: ".example.com", Line: 4},
				{Product: VOD, Domain: "vod.example.com", Region: VODRegionSingapore, Line: 5},
			},
		},
		{
			name:         "JSON indented with tabs",
			in:           "{\n\t\"version\": 1,\n\t\"targets\": [\n\t\t{\"product\": \"live\", \"domain\": \"pull.example.com\"}\n\t]\n}\n",
			wantDefaults: defaults,
			want:         []Target{{Product: Live, Domain: "pull.example.com", Line: 4}},
		},
		{
			name: "domains are kept as written: case, trailing dot, IDN",
			in: lines(
				"version: 1",
				"targets:",
				"  - product: cdn",
				"    domains: [WWW.Example.COM., bücher.example.com]",
			),
			wantDefaults: defaults,
			want: []Target{
				{Product: CDN, Domain: "WWW.Example.COM.", Line: 4},
				{Product: CDN, Domain: "bücher.example.com", Line: 4},
			},
		},
		{
			name: "the same domain on different products (not cdn and cdn-legacy)",
			in: lines(
				"version: 1",
				"targets:",
				"  - {product: cdn, domain: www.example.com}",
				"  - {product: vod, domain: www.example.com}",
				"  - {product: live, domain: www.example.com}",
			),
			wantDefaults: defaults,
			want: []Target{
				{Product: CDN, Domain: "www.example.com", Line: 3},
				{Product: VOD, Domain: "www.example.com", Region: VODRegionShanghai, Line: 4},
				{Product: Live, Domain: "www.example.com", Line: 5},
			},
		},
		{
			name: "a wildcard and a name below it are different targets",
			in: lines(
				"version: 1",
				"targets:",
				"  - {product: cdn, domains: ['*.example.com', www.example.com, example.com]}",
			),
			wantDefaults: defaults,
			want: []Target{
				{Product: CDN, Domain: "*.example.com", Line: 3},
				{Product: CDN, Domain: "www.example.com", Line: 3},
				{Product: CDN, Domain: "example.com", Line: 3},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := parseTest("m.yaml", []byte(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if m.Path != "m.yaml" || m.Version != 1 {
				t.Errorf("Path, Version = %q, %d; want m.yaml, 1", m.Path, m.Version)
			}
			if m.Defaults != tt.wantDefaults {
				t.Errorf("Defaults = %+v\nwant       %+v", m.Defaults, tt.wantDefaults)
			}
			if !reflect.DeepEqual(m.Targets, tt.want) {
				t.Errorf("Targets:\n got %+v\nwant %+v", m.Targets, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // Errors.Error() for file "m.yaml", without the final newline
	}{
		{
			name: "empty file",
			in:   "",
			want: "m.yaml: manifest is empty",
		},
		{
			name: "only comments",
			in:   "# nothing yet\n",
			want: "m.yaml: manifest is empty",
		},
		{
			name: "a lone document marker",
			in:   "---\n",
			want: "m.yaml: manifest is empty",
		},
		{
			name: "YAML syntax error keeps yaml.v3's line",
			in:   lines("version: 1", "targets: [", ""),
			want: "m.yaml:3: invalid YAML: did not find expected node content",
		},
		{
			name: "YAML syntax error on the first line",
			in:   "\tversion: 1\n",
			want: "m.yaml:1: invalid YAML: found character that cannot start any token",
		},
		{
			name: "two documents",
			in:   lines("version: 1", "targets: [{product: cdn, domain: www.example.com}]", "---", "version: 1"),
			want: "m.yaml:3:1: a manifest is one YAML document; this is a second one",
		},
		{
			name: "not a mapping",
			in:   "just a string\n",
			want: "m.yaml:1:1: manifest must be a mapping with version and targets, not a string",
		},
		{
			name: "unknown fields at every level, with suggestions",
			in: lines(
				"verison: 1",
				"defaults:",
				"  warndays: 3",
				"  region: cn-shanghai",
				"targets:",
				"  - product: cdn",
				"    domian: www.example.com",
				"    domain: img.example.com",
				"    Bundle: certs/",
			),
			want: strings.Join([]string{
				`m.yaml:1:1: unknown field "verison" in manifest (did you mean "version"?)`,
				`m.yaml:1:1: missing version (this certdrop reads "version: 1")`,
				`m.yaml:3:3: unknown field "warndays" in defaults (did you mean "warnDays"?)`,
				`m.yaml:4:3: unknown field "region" in defaults`,
				`m.yaml:7:5: unknown field "domian" in target (did you mean "domain"?)`,
				`m.yaml:9:5: unknown field "Bundle" in target (did you mean "bundle"?)`,
			}, "\n"),
		},
		{
			name: "a field set twice",
			in: lines(
				"version: 1",
				"targets:",
				"  - product: cdn",
				"    domain: www.example.com",
				"    product: vod",
			),
			want: `m.yaml:5:5: field "product" is already set on line 3`,
		},
		{
			name: "version: missing, unsupported, wrong type",
			in:   lines("version: 2", "targets: [{product: cdn, domain: www.example.com}]"),
			want: "m.yaml:1:10: unsupported version 2 (this certdrop reads version 1)",
		},
		{
			name: "version as a string",
			in:   lines(`version: "1"`, "targets: [{product: cdn, domain: www.example.com}]"),
			want: "m.yaml:1:10: version must be an integer, not a string",
		},
		{
			name: "version too large for any integer",
			in:   lines("version: 99999999999999999999999", "targets: [{product: cdn, domain: www.example.com}]"),
			want: "m.yaml:1:10: version is too large",
		},
		{
			name: "missing targets",
			in:   "version: 1\n",
			want: "m.yaml:1:1: missing targets",
		},
		{
			name: "null targets",
			in:   "version: 1\ntargets:\n",
			want: "m.yaml:2:9: no targets",
		},
		{
			name: "empty targets",
			in:   "version: 1\ntargets: []\n",
			want: "m.yaml:2:10: no targets",
		},
		{
			name: "targets not a list",
			in:   "version: 1\ntargets: {product: cdn}\n",
			want: "m.yaml:2:10: targets must be a list, not a mapping",
		},
		{
			name: "target without product or domain",
			in:   lines("version: 1", "targets:", "  - bundle: certs/"),
			want: strings.Join([]string{
				"m.yaml:3:5: target has no product (want cdn, cdn-legacy, vod, live, dcdn, oss, alb, nlb, clb, esa or fc)",
				"m.yaml:3:5: target has no domain or domains",
			}, "\n"),
		},
		{
			name: "unknown products",
			in: lines(
				"version: 1",
				"targets:",
				"  - {product: CDN, domain: a.example.com}",
				"  - {product: vood, domain: b.example.com}",
				"  - {product: waf, domain: c.example.com}",
				"  - {product: 3, domain: d.example.com}",
			),
			want: strings.Join([]string{
				`m.yaml:3:15: unknown product "CDN" (did you mean "cdn"?)`,
				`m.yaml:4:15: unknown product "vood" (did you mean "vod"?)`,
				`m.yaml:5:15: unknown product "waf" (want cdn, cdn-legacy, vod, live, dcdn, oss, alb, nlb, clb, esa or fc)`,
				`m.yaml:6:15: product must be a string, not an integer`,
			}, "\n"),
		},
		{
			name: "malformed domains",
			in: lines(
				"version: 1",
				"targets:",
				"  - product: cdn",
				"    domains:",
				"      - https://www.example.com",
				"      - www.example.com:8443",
				`      - " www.example.com"`,
				`      - ""`,
				"      - 198.51.100.7",
				"      - '[2001:db8::1]'",
				"      - www.example.com/",
				"      - a.1com",
				"      - ~",
				"      - www\u3002example\u3002com",
			),
			want: strings.Join([]string{
				`m.yaml:5:9: domain "https://www.example.com" is a URL: write the host name only`,
				`m.yaml:6:9: domain "www.example.com:8443" has a port: write the host name only`,
				`m.yaml:7:9: domain " www.example.com" contains white space`,
				`m.yaml:8:9: empty domain name`,
				`m.yaml:9:9: "198.51.100.7" is an IP address, not a domain name`,
				`m.yaml:10:9: "[2001:db8::1]" is an IP address, not a domain name`,
				`m.yaml:11:9: domain "www.example.com/" has a path: write the host name only`,
				`m.yaml:12:9: invalid domain name "a.1com": the last label must start with a letter`,
				`m.yaml:13:9: domain must be a string, not null`,
				"m.yaml:14:9: domain \"www\u3002example\u3002com\" separates labels with a dot other than \".\"",
			}, "\n"),
		},
		{
			name: "wrong types for domain and domains",
			in: lines(
				"version: 1",
				"targets:",
				"  - {product: cdn, domains: 5}",
				"  - {product: cdn, domains: www.example.com}",
				"  - {product: cdn, domain: [www.example.com]}",
				"  - {product: cdn, domains: []}",
				"  - {product: cdn, domains: [{name: www.example.com}]}",
			),
			want: strings.Join([]string{
				"m.yaml:3:29: domains must be a list, not an integer",
				"m.yaml:4:29: domains must be a list, not a string",
				"m.yaml:5:28: domain must be a string, not a list",
				"m.yaml:6:29: domains is empty",
				"m.yaml:7:30: domain must be a string, not a mapping",
			}, "\n"),
		},
		{
			name: "duplicates compare normalised names",
			in: lines(
				"version: 1",
				"targets:",
				"  - product: cdn",
				"    domains: [www.example.com, '*.example.com', bücher.example.com]",
				"  - product: cdn",
				"    domains: [WWW.Example.com., .example.com, xn--bcher-kva.example.com]",
				"  - {product: cdn-legacy, domain: www.example.com}",
				"  - {product: vod, domain: v.example.com, region: ap-southeast-1}",
				"  - {product: vod, domain: V.example.com}",
			),
			want: strings.Join([]string{
				"m.yaml:6:15: duplicate target: cdn WWW.Example.com. is already listed on line 4",
				"m.yaml:6:33: duplicate target: cdn .example.com is already listed on line 4",
				"m.yaml:6:47: duplicate target: cdn xn--bcher-kva.example.com is already listed on line 4",
				"m.yaml:7:35: cdn-legacy www.example.com is already a cdn target on line 4: both set the certificate of the same CDN domain",
				"m.yaml:9:28: duplicate target: vod V.example.com is already listed on line 8",
			}, "\n"),
		},
		{
			name: "the same domain twice inside one target",
			in:   lines("version: 1", "targets:", "  - {product: live, domain: a.example.com, domains: [a.example.com]}"),
			want: "m.yaml:3:54: duplicate target: live a.example.com is already listed on line 3",
		},
		{
			name: "staging: true without Env",
			in: lines(
				"version: 1",
				"targets:",
				"  - {product: live, domain: a.example.com, staging: true}",
				"  - {product: cdn-legacy, domain: b.example.com, staging: true}",
				"  - {product: cdn, domain: c.example.com, staging: yes}",
			),
			want: strings.Join([]string{
				"m.yaml:3:53: staging: true is not possible for live: its API has no Env parameter",
				"m.yaml:4:59: staging: true is not possible for cdn-legacy: its API has no Env parameter",
				"m.yaml:5:52: staging must be true or false, not a string",
			}, "\n"),
		},
		{
			name: "region",
			in: lines(
				"version: 1",
				"targets:",
				"  - {product: cdn, domain: a.example.com, region: cn-shanghai}",
				"  - {product: live, domain: b.example.com, region: cn-beijing}",
				"  - {product: vod, domain: c.example.com, region: cn-beijing}",
				"  - {product: vod, domain: d.example.com, region: 1}",
				"  - {product: vod, domain: e.example.com, region: CN-SHANGHAI}",
			),
			want: strings.Join([]string{
				"m.yaml:3:43: region is only for vod, oss, alb, nlb, clb and fc targets, not cdn",
				"m.yaml:4:44: region is only for vod, oss, alb, nlb, clb and fc targets, not live",
				`m.yaml:5:51: unknown vod region "cn-beijing" (want cn-shanghai or ap-southeast-1)`,
				"m.yaml:6:51: region must be a string, not an integer",
				`m.yaml:7:51: unknown vod region "CN-SHANGHAI" (want cn-shanghai or ap-southeast-1)`,
			}, "\n"),
		},
		{
			name: "bundle",
			in: lines(
				"version: 1",
				"targets:",
				"  - {product: cdn, domain: a.example.com, bundle: ''}",
				"  - {product: cdn, domain: b.example.com, bundle: [certs/]}",
			),
			want: strings.Join([]string{
				"m.yaml:3:51: bundle must not be empty (leave it out to match every bundle)",
				"m.yaml:4:51: bundle must be a string, not a list",
			}, "\n"),
		},
		{
			name: "defaults: negative, too large, fractional, wrong types",
			in: lines(
				"version: 1",
				"defaults:",
				"  warnDays: -1",
				"  canary: 3000000000",
				"  staging: 1",
				"  allowUntrusted: 'false'",
				"  verify: ~",
				"targets: [{product: cdn, domain: a.example.com}]",
			),
			want: strings.Join([]string{
				"m.yaml:3:13: warnDays must not be negative",
				"m.yaml:4:11: canary is too large (at most 2147483647)",
				"m.yaml:5:12: staging must be true or false, not an integer",
				"m.yaml:6:19: allowUntrusted must be true or false, not a string",
				"m.yaml:7:11: verify must be true or false, not null",
			}, "\n"),
		},
		{
			name: "defaults not a mapping",
			in:   lines("version: 1", "defaults: [staging]", "targets: [{product: cdn, domain: a.example.com}]"),
			want: "m.yaml:2:11: defaults must be a mapping, not a list",
		},
		{
			name: "canary fractional",
			in:   lines("version: 1", "defaults: {canary: 0.5}", "targets: [{product: cdn, domain: a.example.com}]"),
			want: "m.yaml:2:20: canary must be an integer, not 0.5",
		},
		{
			name: "misplaced fields",
			in:   lines("version: 1", "warnDays: 3", "domain: a.example.com", "target: []"),
			want: strings.Join([]string{
				"m.yaml:1:1: missing targets",
				`m.yaml:2:1: unknown field "warnDays" in manifest (it belongs under defaults)`,
				`m.yaml:3:1: unknown field "domain" in manifest (it belongs to an entry of targets)`,
				`m.yaml:4:1: unknown field "target" in manifest (did you mean "targets"?)`,
			}, "\n"),
		},
		{
			name: "a target that is not a mapping",
			in:   lines("version: 1", "targets:", "  - www.example.com"),
			want: "m.yaml:3:5: target must be a mapping, not a string",
		},
		{
			name: "merge keys are refused",
			in: lines(
				"version: 1",
				"targets:",
				"  - &t {product: cdn, domain: a.example.com}",
				"  - {<<: *t, domain: b.example.com}",
			),
			want: strings.Join([]string{
				"m.yaml:4:5: target has no product (want cdn, cdn-legacy, vod, live, dcdn, oss, alb, nlb, clb, esa or fc)",
				"m.yaml:4:6: YAML merge keys (<<) are not supported: write the fields out",
			}, "\n"),
		},
		{
			name: "an aliased target is reported once, not expanded",
			in: lines(
				"version: 1",
				"targets:",
				"  - &t {product: cdn, domain: a.example.com, domian: x}",
				"  - *t",
				"  - *t",
			),
			want: strings.Join([]string{
				`m.yaml:3:46: unknown field "domian" in target (did you mean "domain"?)`,
				"m.yaml:4:5: this alias repeats the target on line 3, listing its domains twice",
				"m.yaml:5:5: this alias repeats the target on line 3, listing its domains twice",
			}, "\n"),
		},
		{
			name: "a field name that is not a string",
			in:   lines("version: 1", "targets:", "  - {product: cdn, domain: a.example.com, [x]: 1}"),
			want: "m.yaml:3:43: field name must be a string, not a list",
		},
		{
			name: "JSON errors carry line and column",
			in: lines(
				`{"version": 1, "targets": [`,
				`  {"product": "cdn", "domains": ["www.example.com", "https://img.example.com"], "stagging": true},`,
				`  {"product": "live", "domain": "pull.example.com", "region": "cn-shanghai"}`,
				`]}`,
			),
			want: strings.Join([]string{
				`m.yaml:2:53: domain "https://img.example.com" is a URL: write the host name only`,
				`m.yaml:2:81: unknown field "stagging" in target (did you mean "staging"?)`,
				`m.yaml:3:53: region is only for vod, oss, alb, nlb, clb and fc targets, not live`,
			}, "\n"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := parseTest("m.yaml", []byte(tt.in))
			if err == nil {
				t.Fatalf("Parse succeeded with %d targets; want errors:\n%s", len(m.Targets), tt.want)
			}
			if m != nil {
				t.Errorf("Parse returned a manifest along with an error")
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("errors:\n%s\nwant:\n%s", got, tt.want)
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error is %T, not Errors", err)
			}
			for _, e := range es {
				if e.File != "m.yaml" {
					t.Errorf("Error.File = %q, want m.yaml", e.File)
				}
			}
		})
	}
}

// TestParseDomainRules checks the host-name rules Parse leaves to
// bundle.NormalizeDomain: each is reported at the domain's position with
// NormalizeDomain's message, which bundle owns (so only its start is fixed
// here).
func TestParseDomainRules(t *testing.T) {
	tests := []string{
		"user@example.com",
		"www..example.com",
		"localhost",
		"*.*.example.com",
		"www.*.example.com",
		"a.123",
		"-www.example.com",
		"a_b.example.com",
		strings.Repeat("a", 64) + ".example.com",
		strings.Repeat("a.", 126) + "com",
	}
	for _, d := range tests {
		t.Run(d, func(t *testing.T) {
			in := "version: 1\ntargets:\n  - product: cdn\n    domain: '" + d + "'\n"
			_, err := parseTest("m.yaml", []byte(in))
			var es Errors
			if !errors.As(err, &es) || len(es) != 1 {
				t.Fatalf("Parse: %v; want one error", err)
			}
			want := "m.yaml:4:13: invalid domain name " + strconv.Quote(d) + ": "
			if got := es[0].Error(); !strings.HasPrefix(got, want) {
				t.Errorf("error = %s\nwant it to start with %s", got, want)
			}
		})
	}
}

func TestParseTooManyDomains(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\ntargets:\n  - product: cdn\n    domains:\n")
	for i := range MaxTargets + 5 {
		b.WriteString("      - d" + strconv.Itoa(i) + ".example.com\n")
	}
	_, err := parseTest("m.yaml", []byte(b.String()))
	want := "m.yaml:" + strconv.Itoa(5+MaxTargets) + ":9: too many domains: a manifest lists at most " + strconv.Itoa(MaxTargets)
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}

func TestParseTooLarge(t *testing.T) {
	data := []byte("version: 1\n" + strings.Repeat("#", MaxSize))
	_, err := parseTest("m.yaml", data)
	want := "m.yaml: manifest is larger than 1048576 bytes"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}

func TestErrorsAs(t *testing.T) {
	_, err := parseTest("m.yaml", []byte("version: 2\ntargets: []\n"))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("errors.As(*Error) failed on %v", err)
	}
	if *e != (Error{File: "m.yaml", Line: 1, Column: 10, Msg: "unsupported version 2 (this certdrop reads version 1)"}) {
		t.Errorf("first error = %+v", *e)
	}
}

func TestErrorRendering(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "m.yaml", Line: 3, Column: 7, Msg: "bad"}, "m.yaml:3:7: bad"},
		{Error{File: "m.yaml", Line: 3, Msg: "bad"}, "m.yaml:3: bad"},
		{Error{File: "m.yaml", Msg: "bad"}, "m.yaml: bad"},
		{Error{Line: 3, Column: 7, Msg: "bad"}, "3:7: bad"},
		{Error{Msg: "bad"}, "bad"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("%+v.Error() = %q, want %q", tt.e, got, tt.want)
		}
	}
	es := Errors{{File: "a", Line: 1, Column: 2, Msg: "x"}, {File: "a", Line: 3, Column: 4, Msg: "y"}}
	if got, want := es.Error(), "a:1:2: x\na:3:4: y"; got != want {
		t.Errorf("Errors.Error() = %q, want %q", got, want)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	big := filepath.Join(dir, "big.yaml")
	write := func(path, data string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(good, "version: 1\ntargets: [{product: cdn, domain: www.example.com}]\n")
	write(bad, "version: 1\ntargets: [{product: cdn, domian: www.example.com}]\n")
	write(big, strings.Repeat("#", MaxSize+1))

	m, err := loadTest(good)
	if err != nil {
		t.Fatalf("loadTest(good): %v", err)
	}
	if m.Path != good || len(m.Targets) != 1 {
		t.Errorf("loadTest(good) = Path %q, %d targets", m.Path, len(m.Targets))
	}

	_, err = loadTest(bad)
	want := bad + ":2:11: target has no domain or domains\n" +
		bad + `:2:26: unknown field "domian" in target (did you mean "domain"?)`
	if err == nil || err.Error() != want {
		t.Errorf("loadTest(bad) = %v\nwant %s", err, want)
	}

	_, err = loadTest(big)
	if want := big + ": manifest is larger than 1048576 bytes"; err == nil || err.Error() != want {
		t.Errorf("loadTest(big) = %v, want %s", err, want)
	}

	_, err = loadTest(filepath.Join(dir, "missing.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("loadTest(missing) = %v, want fs.ErrNotExist", err)
	}
}

func TestBundleOptions(t *testing.T) {
	tests := []struct {
		d            Defaults
		wantWarnDays int
	}{
		{Defaults{WarnDays: 14}, 14},
		{Defaults{WarnDays: 30, AllowUntrusted: true}, 30},
		{Defaults{WarnDays: 0}, -1}, // manifest 0 = off = bundle's negative
	}
	for _, tt := range tests {
		o := tt.d.BundleOptions()
		if o.WarnDays != tt.wantWarnDays || o.AllowUntrusted != tt.d.AllowUntrusted {
			t.Errorf("%+v.BundleOptions() = WarnDays %d AllowUntrusted %v; want %d %v",
				tt.d, o.WarnDays, o.AllowUntrusted, tt.wantWarnDays, tt.d.AllowUntrusted)
		}
	}
}

func BenchmarkParseExample(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(manifestsDir, "example.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseTest("example.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDCDNAndOSSTargets checks what a dcdn and an oss target become: oss
// carries its bucket and region.
func TestDCDNAndOSSTargets(t *testing.T) {
	m, err := loadTest(filepath.Join(manifestsDir, "edge-and-oss.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Target{
		{Product: CDN, Domain: "www.example.com", Line: 7},
		{Product: DCDN, Domain: "api.example.com", Line: 9},
		{Product: DCDN, Domain: "*.edge.example.com", Line: 9},
		{Product: OSS, Domain: "static.example.com", Fields: map[string]string{"bucket": "example-static"}, Region: "cn-hangzhou", Line: 11},
		{Product: OSS, Domain: "files.example.com", Fields: map[string]string{"bucket": "example-media-sg"}, Region: "ap-southeast-1", Line: 15},
		{Product: OSS, Domain: "media.example.com", Fields: map[string]string{"bucket": "example-media-sg"}, Region: "ap-southeast-1", Line: 15},
	}
	if !reflect.DeepEqual(m.Targets, want) {
		t.Errorf("targets:\n got %+v\nwant %+v", m.Targets, want)
	}
	for _, p := range []Product{DCDN, OSS} {
		if _, ok := TestProducts.spec(p); !ok {
			t.Errorf("%s is not in the catalog", p)
		}
	}
}

// TestNotices: a valid manifest with cdn-legacy targets says, once per
// target entry and with its line, that the product is deprecated and to
// move to cdn; one without says nothing.
func TestNotices(t *testing.T) {
	m, err := parseTest("m.yaml", []byte(lines(
		"version: 1",
		"targets:",
		"  - {product: cdn-legacy, domains: [a.example.com, b.example.com]}",
		"  - {product: cdn, domain: c.example.com}",
		"  - {product: cdn-legacy, domain: d.example.com}",
	)))
	if err != nil {
		t.Fatal(err)
	}
	got := m.Notices()
	if len(got) != 2 || !strings.HasPrefix(got[0], "m.yaml:3: ") || !strings.HasPrefix(got[1], "m.yaml:5: ") {
		t.Fatalf("notices %q; want one for line 3 and one for line 5", got)
	}
	for _, n := range got {
		if !strings.Contains(n, "deprecated") || !strings.Contains(n, "move the target to product: cdn") {
			t.Errorf("notice %q does not say it is deprecated and to move to cdn", n)
		}
	}
	m, err = parseTest("m.yaml", []byte(lines("version: 1", "targets:", "  - {product: cdn, domain: c.example.com}")))
	if err != nil || len(m.Notices()) != 0 {
		t.Errorf("a manifest without cdn-legacy: %v %q", err, m.Notices())
	}
}
