package cloud

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/certdrop/certdrop/shared/failure"
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
	want := map[string]failure.Class{
		"Throttling": failure.Throttled, "Throttling.User": failure.Throttled, "Throttling.Api": failure.Throttled,
		"Rejected.Throttling": failure.Throttled,
		"ServiceUnavailable":  failure.Transient, "InternalError": failure.Transient, "ServiceBusy": failure.Transient,
		"CreateCertificateFailed": failure.Transient, "CertStorage.failed": failure.Transient, "SignatureNonceUsed": failure.Transient,
		"InvalidAccessKeyId.NotFound": failure.Auth, "InvalidAccessKeyId.Inactive": failure.Auth,
		"InvalidSecurityToken.Expired": failure.Auth, "InvalidSecurityToken.Malformed": failure.Auth,
		"SignatureDoesNotMatch": failure.Auth, "Forbidden.AccessKeyDisabled": failure.Auth,
		// A missing permission is per action: that API's targets fail, the run goes on.
		"Forbidden.RAM": failure.Forbidden, "NoPermission": failure.Forbidden,
		"Forbidden.NoPermission": failure.Forbidden, "Forbidden.SubUser": failure.Forbidden,
		// The certificate or key refused: every target of the API would get it.
		"Certificate.MissMatch": failure.Refused, "InvalidSSLPub": failure.Refused, "InvalidSSLPri": failure.Refused,
		"Key.Malformed": failure.Refused, "InvalidCertificate.TooLong": failure.Refused,
		"Certificate.Expired": failure.Refused, "Certificate.FormatError": failure.Refused, "Decode.Error": failure.Refused,
		"InvalidDomain.Offline": failure.Permanent, "InvalidDomain.notOnline": failure.Permanent,
		"DomainInSafeMode": failure.Permanent, "Certificate.Duplicated": failure.Permanent,
		"InvalidDomain.NotFound": failure.Permanent,
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
		want   failure.Class
	}{
		{"Whatever", 429, failure.Throttled},
		{"Throttling.Something", 400, failure.Throttled},
		{"Whatever", 502, failure.Transient},
		{"InvalidAccessKeyId.Something", 403, failure.Auth},
		{"InvalidSecurityToken.New", 400, failure.Auth},
		{"Forbidden.NewAction", 403, failure.Forbidden},
		{"Brand.New", 400, failure.Permanent},
		{"Brand.New", 404, failure.Permanent},
	}
	for _, tt := range tests {
		if got, _ := classify(tt.code, tt.status, nil); got != tt.want {
			t.Errorf("classify(%s, %d) = %v, want %v", tt.code, tt.status, got, tt.want)
		}
	}
}

// TestDCDNCodes: the codes DCDN's error centre adds are classified: a
// 403 SystemUpgrading is retried (not taken for a permission).
func TestDCDNCodes(t *testing.T) {
	tests := []struct {
		code   string
		status int
		want   failure.Class
	}{
		{"SystemUpgrading", 403, failure.Transient},
		{"MissingParameter", 400, failure.Permanent},
	}
	for _, tt := range tests {
		c, hint := classify(tt.code, tt.status, nil)
		if c != tt.want || hint == "" {
			t.Errorf("%s (HTTP %d): %s %q, want %s", tt.code, tt.status, c, hint, tt.want)
		}
	}
}

// TestClassifyAllocatesNothing: classifying a failed call reads the tables
// built once; it does not build them again for every call.
func TestClassifyAllocatesNothing(t *testing.T) {
	for _, tt := range []struct {
		name     string
		classify func(string, int) (failure.Class, string)
		code     string
		status   int
	}{
		{"OpenAPI code in the table", openAPI, "InvalidSSLPub", 400},
		{"OpenAPI code by status", openAPI, "SomethingNew", 503},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, func() { tt.classify(tt.code, tt.status) }); n != 0 {
				t.Errorf("%v allocations per classification, want 0", n)
			}
		})
	}
}

// TestCodesIsACopy: a caller that writes to what Codes returned changes
// no classification.
func TestCodesIsACopy(t *testing.T) {
	c := Codes()
	c["InvalidSSLPub"] = CodeInfo{Class: failure.Transient, Hint: "changed"}
	if class, hint := classify("InvalidSSLPub", 400, nil); class != failure.Refused || hint == "changed" {
		t.Errorf("classify after writing to Codes(): %v %q", class, hint)
	}
}

// openAPI classifies with the OpenAPI table only.
func openAPI(code string, status int) (failure.Class, string) { return classify(code, status, nil) }

// TestOwnCodesFirst: a call's own codes classify before the table, and
// their hint is the one given.
func TestOwnCodesFirst(t *testing.T) {
	own := map[string]CodeInfo{"InternalError": {Class: failure.Permanent, Hint: "ours"}}
	if c, h := Classify("InternalError", 500, own); c != failure.Permanent || h != "ours" {
		t.Errorf("own code: %v %q", c, h)
	}
	if c, _ := Classify("InternalError", 500, nil); c != failure.Transient {
		t.Errorf("without own codes: %v, want the table's transient", c)
	}
}
