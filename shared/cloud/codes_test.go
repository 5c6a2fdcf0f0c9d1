package cloud

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/certdrop/certdrop/shared/fanout"
)

// seedRow is one row of a reference document's error table.
type seedRow struct{ file, status, code string }

func readSeedRows(t *testing.T) []seedRow {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "seed_error_codes.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []seedRow
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, "\t")
		if len(parts) != 3 {
			t.Fatalf("bad row %q", line)
		}
		rows = append(rows, seedRow{parts[0], parts[1], parts[2]})
	}
	if len(rows) == 0 {
		t.Fatal("no rows")
	}
	return rows
}

// TestEverySeedCodeIsClassified: every code of the reference documents'
// error tables is in the table, with a hint, and the throttling,
// transient and auth codes the brief names are classified so.
func TestEverySeedCodeIsClassified(t *testing.T) {
	codes := Codes()
	for _, r := range readSeedRows(t) {
		ci, ok := codes[r.code]
		if !ok {
			t.Errorf("%s: %s (HTTP %s) is not in the table", r.file, r.code, r.status)
			continue
		}
		if ci.Hint == "" {
			t.Errorf("%s has no hint", r.code)
		}
	}
	want := map[string]fanout.Class{
		"Throttling": fanout.Throttled, "Throttling.User": fanout.Throttled, "Throttling.Api": fanout.Throttled,
		"Rejected.Throttling": fanout.Throttled,
		"ServiceUnavailable":  fanout.Transient, "InternalError": fanout.Transient, "ServiceBusy": fanout.Transient,
		"CreateCertificateFailed": fanout.Transient, "CertStorage.failed": fanout.Transient, "SignatureNonceUsed": fanout.Transient,
		"InvalidAccessKeyId.NotFound": fanout.Auth, "InvalidAccessKeyId.Inactive": fanout.Auth,
		"InvalidSecurityToken.Expired": fanout.Auth, "InvalidSecurityToken.Malformed": fanout.Auth,
		"SignatureDoesNotMatch": fanout.Auth, "Forbidden.AccessKeyDisabled": fanout.Auth,
		// A missing permission is per action: that API's targets fail, the run goes on.
		"Forbidden.RAM": fanout.Forbidden, "NoPermission": fanout.Forbidden,
		"Forbidden.NoPermission": fanout.Forbidden, "Forbidden.SubUser": fanout.Forbidden,
		// The certificate or key refused: every target of the API would get it.
		"Certificate.MissMatch": fanout.Refused, "InvalidSSLPub": fanout.Refused, "InvalidSSLPri": fanout.Refused,
		"Key.Malformed": fanout.Refused, "InvalidCertificate.TooLong": fanout.Refused,
		"Certificate.Expired": fanout.Refused, "Certificate.FormatError": fanout.Refused, "Decode.Error": fanout.Refused,
		"InvalidDomain.Offline": fanout.Permanent, "InvalidDomain.notOnline": fanout.Permanent,
		"DomainInSafeMode": fanout.Permanent, "Certificate.Duplicated": fanout.Permanent,
		"InvalidDomain.NotFound": fanout.Permanent,
	}
	for code, class := range want {
		if got := codes[code].Class; got != class {
			t.Errorf("%s is %v, want %v", code, got, class)
		}
	}
	for code, ci := range codes {
		if ci.Hint == "" {
			t.Errorf("%s has no hint", code)
		}
	}
}

// TestSeedListMatchesTheDocuments checks testdata/seed_error_codes.txt
// against the reference documents themselves, where they are at hand
// (the folder CERTDROP_SEEDS names, by default shared/seeds beside the
// repository): every listed code
// is in its document, and each document's error table has exactly as many
// rows as the list gives it.
func TestSeedListMatchesTheDocuments(t *testing.T) {
	dir := os.Getenv("CERTDROP_SEEDS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "seeds")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("reference documents not at hand (%s); set CERTDROP_SEEDS", dir)
	}
	byFile := map[string][]seedRow{}
	for _, r := range readSeedRows(t) {
		byFile[r.file] = append(byFile[r.file], r)
	}
	// A table row starts with its HTTP status, directly or after a pipe,
	// followed by the code.
	row := regexp.MustCompile(`(?m)(?:^|[^0-9])(?:400|403|404|500|503)\s*\|?\s*[A-Za-z]`)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".txt") {
			continue
		}
		seen++
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		start := -1
		for _, marker := range []string{"Error codes", "错误码"} {
			if i := strings.Index(text, marker); i >= 0 && (start < 0 || i < start) {
				start = i
			}
		}
		if start < 0 {
			t.Errorf("%s: no error table", e.Name())
			continue
		}
		section := text[start:]
		if n, want := len(row.FindAllString(section, -1)), len(byFile[e.Name()]); n != want {
			t.Errorf("%s: %d error rows in the document, %d in the list", e.Name(), n, want)
		}
		for _, r := range byFile[e.Name()] {
			if !strings.Contains(section, r.status) || !strings.Contains(section, r.code) {
				t.Errorf("%s: %s %s is not in the document", e.Name(), r.status, r.code)
			}
		}
	}
	if seen != len(byFile) {
		t.Errorf("%d documents, the list covers %d", seen, len(byFile))
	}
}

func TestClassifyUnknownCodes(t *testing.T) {
	tests := []struct {
		code   string
		status int
		want   fanout.Class
	}{
		{"Whatever", 429, fanout.Throttled},
		{"Throttling.Something", 400, fanout.Throttled},
		{"Whatever", 502, fanout.Transient},
		{"InvalidAccessKeyId.Something", 403, fanout.Auth},
		{"InvalidSecurityToken.New", 400, fanout.Auth},
		{"Forbidden.NewAction", 403, fanout.Forbidden},
		{"Brand.New", 400, fanout.Permanent},
		{"Brand.New", 404, fanout.Permanent},
	}
	for _, tt := range tests {
		if got, _ := classify(tt.code, tt.status); got != tt.want {
			t.Errorf("classify(%s, %d) = %v, want %v", tt.code, tt.status, got, tt.want)
		}
	}
}

// TestDCDNAndOSSCodes: the codes DCDN's error centre adds, and OSS's own
// codes, are classified: a 403 SystemUpgrading is retried (not taken for a
// permission), OSS's throttling is retried, an unverified domain fails
// the target with what to do; an OSS code outside its table falls back to
// the OpenAPI table and the status.
func TestDCDNAndOSSCodes(t *testing.T) {
	tests := []struct {
		code   string
		status int
		oss    bool
		want   fanout.Class
	}{
		{"SystemUpgrading", 403, false, fanout.Transient},
		{"MissingParameter", 400, false, fanout.Permanent},
		{"SlowDown", 503, true, fanout.Throttled},
		{"TotalQpsLimitExceeded", 503, true, fanout.Throttled},
		{"NeedVerifyDomainOwnership", 400, true, fanout.Permanent},
		{"AccessDenied", 403, true, fanout.Forbidden},
		{"SecurityTokenExpired", 403, true, fanout.Auth},
		{"NoSuchBucket", 404, true, fanout.Permanent},
		{"SomethingNew", 503, true, fanout.Transient},
		{"SomethingNew", 429, true, fanout.Throttled},
	}
	for _, tt := range tests {
		c, hint := classify(tt.code, tt.status)
		if tt.oss {
			c, hint = classifyOSS(tt.code, tt.status)
		}
		if c != tt.want || (hint == "" && tt.code != "SomethingNew") {
			t.Errorf("%s (HTTP %d): %s %q, want %s", tt.code, tt.status, c, hint, tt.want)
		}
	}
}

// TestClassifyAllocatesNothing: classifying a failed call reads the tables
// built once; it does not build them again for every call.
func TestClassifyAllocatesNothing(t *testing.T) {
	for _, tt := range []struct {
		name     string
		classify func(string, int) (fanout.Class, string)
		code     string
		status   int
	}{
		{"OpenAPI code in the table", classify, "InvalidSSLPub", 400},
		{"OpenAPI code by status", classify, "SomethingNew", 503},
		{"OSS code in the table", classifyOSS, "SlowDown", 503},
		{"OSS code through the OpenAPI table", classifyOSS, "Throttling.User", 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, func() { tt.classify(tt.code, tt.status) }); n != 0 {
				t.Errorf("%v allocations per classification, want 0", n)
			}
		})
	}
}

// TestCodesIsACopy: a caller that writes to what Codes or OSSCodes
// returned changes no classification.
func TestCodesIsACopy(t *testing.T) {
	c, o := Codes(), OSSCodes()
	c["InvalidSSLPub"] = CodeInfo{Class: fanout.Transient, Hint: "changed"}
	o["SlowDown"] = CodeInfo{Class: fanout.Permanent, Hint: "changed"}
	if class, hint := classify("InvalidSSLPub", 400); class != fanout.Refused || hint == "changed" {
		t.Errorf("classify after writing to Codes(): %v %q", class, hint)
	}
	if class, hint := classifyOSS("SlowDown", 503); class != fanout.Throttled || hint == "changed" {
		t.Errorf("classifyOSS after writing to OSSCodes(): %v %q", class, hint)
	}
}
