package oss

import (
	"testing"

	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/failure"
)

// TestCodes: OSS's own codes are classified: its throttling is retried,
// an unverified domain fails the target with what to do; a code outside
// the table falls back to the OpenAPI table and the status.
func TestCodes(t *testing.T) {
	tests := []struct {
		code   string
		status int
		want   failure.Class
	}{
		{"SlowDown", 503, failure.Throttled},
		{"TotalQpsLimitExceeded", 503, failure.Throttled},
		{"NeedVerifyDomainOwnership", 400, failure.Permanent},
		{"AccessDenied", 403, failure.Forbidden},
		{"SecurityTokenExpired", 403, failure.Auth},
		{"NoSuchBucket", 404, failure.Permanent},
		{"Throttling.User", 400, failure.Throttled},
		{"SomethingNew", 503, failure.Transient},
		{"SomethingNew", 429, failure.Throttled},
	}
	for _, tt := range tests {
		c, hint := cloud.Classify(tt.code, tt.status, ossCodeTable)
		if c != tt.want || (hint == "" && tt.code != "SomethingNew") {
			t.Errorf("%s (HTTP %d): %s %q, want %s", tt.code, tt.status, c, hint, tt.want)
		}
	}
}

// TestClassifyAllocatesNothing: classifying a failed call reads the table
// built once; it does not build it again for every call.
func TestClassifyAllocatesNothing(t *testing.T) {
	for _, tt := range []struct {
		name   string
		code   string
		status int
	}{
		{"OSS code in the table", "SlowDown", 503},
		{"OSS code through the OpenAPI table", "Throttling.User", 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, func() { cloud.Classify(tt.code, tt.status, ossCodeTable) }); n != 0 {
				t.Errorf("%v allocations per classification, want 0", n)
			}
		})
	}
}

// TestCodesIsACopy: a caller that writes to what Codes returned changes
// no classification.
func TestCodesIsACopy(t *testing.T) {
	o := Codes()
	o["SlowDown"] = cloud.CodeInfo{Class: failure.Permanent, Hint: "changed"}
	if class, hint := cloud.Classify("SlowDown", 503, ossCodeTable); class != failure.Throttled || hint == "changed" {
		t.Errorf("classify after writing to Codes(): %v %q", class, hint)
	}
}
