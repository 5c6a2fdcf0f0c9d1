package cloudsim_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/certdrop/certdrop/shared/cloudsim"
)

// TestOSSScriptedFaults: scripted 5xx answers and resets hit the named
// operation and key only, as many times as scripted, before anything is
// read or written; the SDK sees a ServiceError for a 5xx (also on HEAD,
// through x-oss-err) and a network error for a reset.
func TestOSSScriptedFaults(t *testing.T) {
	j := cloudsim.NewJournal(nil)
	_, srv := emu(t, cloudsim.OSSConfig{Journal: j, Faults: cloudsim.OSSFaults{Scripted: []cloudsim.OSSScript{
		{API: "GetObject", Key: "a.pem", Times: 2},
		{API: "HeadObject", Key: "a.pem", Code: "InternalError"},
		{API: "PutObject", Key: "b.pem", Fault: "reset"},
		{API: "ListObjects", Key: "certs/", Code: "ServiceUnavailable", Status: 503, After: 1},
	}}})
	b := sdkBucket(t, srv, testAK, testSecret)
	if err := b.PutObject("a.pem", strings.NewReader("A")); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 3 {
		rc, err := b.GetObject("a.pem")
		if err != nil {
			se := serviceError(t, err)
			got = append(got, fmt.Sprintf("%d %s", se.StatusCode, se.Code))
			continue
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		got = append(got, string(data))
	}
	if want := []string{"503 ServiceUnavailable", "503 ServiceUnavailable", "A"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("GetObject: %v, want %v", got, want)
	}
	_, err := b.GetObjectDetailedMeta("a.pem")
	if se := serviceError(t, err); se.StatusCode != 500 || se.Code != "InternalError" {
		t.Errorf("HEAD: %d %s", se.StatusCode, se.Code)
	}
	if _, err := b.GetObjectDetailedMeta("a.pem"); err != nil {
		t.Errorf("second HEAD: %v", err)
	}

	err = b.PutObject("b.pem", strings.NewReader("B"))
	var se oss.ServiceError
	if err == nil || errors.As(err, &se) {
		t.Fatalf("reset PutObject: %v, want a network error", err)
	}
	if ok, _ := b.IsObjectExist("b.pem"); ok {
		t.Error("a reset PutObject was applied")
	}
	if err := b.PutObject("b.pem", strings.NewReader("B")); err != nil {
		t.Fatalf("PutObject after the reset: %v", err)
	}

	if _, err := b.ListObjects(oss.Prefix("certs/")); err != nil {
		t.Errorf("first listing (after: 1): %v", err)
	}
	_, err = b.ListObjects(oss.Prefix("certs/"))
	if se := serviceError(t, err); se.StatusCode != 503 {
		t.Errorf("second listing: %d", se.StatusCode)
	}
	if _, err := b.ListObjects(oss.Prefix("other/")); err != nil {
		t.Errorf("another prefix: %v", err)
	}

	var faults []string
	for _, e := range j.Entries() {
		if e.Fault != "" {
			faults = append(faults, fmt.Sprintf("%s %s #%d %s/%d/%s/%s", e.API, e.Key, e.Attempt, e.Outcome, e.Status, e.Code, e.Fault))
		}
	}
	want := []string{
		"GetObject a.pem #1 error/503/ServiceUnavailable/scripted",
		"GetObject a.pem #2 error/503/ServiceUnavailable/scripted",
		"HeadObject a.pem #1 error/500/InternalError/scripted",
		"PutObject b.pem #1 reset/0//reset",
		"ListObjects  #2 error/503/ServiceUnavailable/scripted",
	}
	if strings.Join(faults, "\n") != strings.Join(want, "\n") {
		t.Errorf("journal faults:\n%s\nwant:\n%s", strings.Join(faults, "\n"), strings.Join(want, "\n"))
	}
}

// ossOutcomes reads 5 keys 6 times each and returns the status of each
// read by key and attempt.
func ossOutcomes(t *testing.T, seed uint64) map[string]string {
	t.Helper()
	j := cloudsim.NewJournal(nil)
	_, srv := emu(t, cloudsim.OSSConfig{Journal: j, Faults: cloudsim.OSSFaults{Seed: seed, ErrorRate: 0.3, ResetRate: 0.1}})
	b := sdkBucket(t, srv, testAK, testSecret)
	for k := range 5 {
		key := fmt.Sprintf("k%d.pem", k)
		for range 6 {
			if rc, err := b.GetObject(key); err == nil {
				rc.Close()
			}
		}
	}
	got := map[string]string{}
	for _, e := range j.Entries() {
		got[fmt.Sprintf("%s#%d", e.Key, e.Attempt)] = fmt.Sprintf("%s/%d/%s", e.Outcome, e.Status, e.Fault)
	}
	return got
}

// TestOSSFaultRatesAreDeterministic: the same seed fails the same
// requests; another seed others; every kind shows.
func TestOSSFaultRatesAreDeterministic(t *testing.T) {
	a, b, c := ossOutcomes(t, 5), ossOutcomes(t, 5), ossOutcomes(t, 6)
	// At least 30 requests: Go's transport sends a GET again by itself
	// when a reused connection is reset before any answer.
	if len(a) < 30 || fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("seed 5 twice:\n%v\n%v", a, b)
	}
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Error("seed 6 decided exactly as seed 5")
	}
	kinds := map[string]int{}
	for _, v := range a {
		kinds[v]++
	}
	if kinds["reset/0/reset"] == 0 || kinds["error/503/5xx"]+kinds["error/500/5xx"] == 0 || kinds["error/404/"] == 0 {
		t.Errorf("kinds %v: want resets, 5xx and plain answers (404: the keys do not exist)", kinds)
	}
}

// TestOSSFaultsValidated: rates and scripts are checked when the
// emulator is built.
func TestOSSFaultsValidated(t *testing.T) {
	for _, f := range []cloudsim.OSSFaults{
		{ErrorRate: 1.2},
		{ErrorRate: 0.6, ResetRate: 0.6},
		{Scripted: []cloudsim.OSSScript{{Fault: "slow"}}},
		{Scripted: []cloudsim.OSSScript{{Status: 302}}},
	} {
		if _, err := cloudsim.NewOSS(cloudsim.OSSConfig{Faults: f}); err == nil {
			t.Errorf("%+v accepted", f)
		}
	}
	if _, err := cloudsim.NewOSS(cloudsim.OSSConfig{Faults: cloudsim.OSSFaults{ErrorRate: 0.5, ResetRate: 0.5}}); err != nil {
		t.Errorf("valid faults refused: %v", err)
	}
}
