package job_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/alert"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/store"
)

const elsewhere = "elsewhere-bucket"

// ossEvent is an OSS trigger event with one record per bucket and key.
func ossEvent(recs ...[2]string) string {
	var parts []string
	for _, r := range recs {
		parts = append(parts, fmt.Sprintf(`{"eventName":"ObjectCreated:PutObject","eventTime":"2026-11-23T02:00:00.000Z","region":"cn-hangzhou","oss":{"bucket":{"name":%q},"object":{"key":%q}}}`, r[0], r[1]))
	}
	return `{"events":[` + strings.Join(parts, ",") + `]}`
}

// TestE2ETrustBoundary: the event is not trusted. Each attack (an event for another bucket, a key outside the watched prefix, manual and
// timer events naming another bucket or prefix) ends with no Set call and
// no request to the other bucket; the manifest is read and the report
// written where configuration says.
func TestE2ETrustBoundary(t *testing.T) {
	timer := func(payload string) string {
		return fmt.Sprintf(`{"triggerTime":"2026-11-23T03:00:00Z","triggerName":"daily","payload":%q}`, payload)
	}
	tests := []struct {
		name    string
		body    string
		errCode string // the outcome's error; "" when the records are ignored
		ignored int
	}{
		{"oss event for another bucket", ossEvent([2]string{elsewhere, "certs/b5/bundle.pem"}), "", 1},
		{"oss event for a key outside the prefix", ossEvent([2]string{bucket, "other/b5/bundle.pem"}), "", 1},
		{"manual naming another bucket", `{"bundle":"oss://` + elsewhere + `/certs/b5/"}`, "ForeignBucket", 0},
		{"manual outside the prefix", `{"bundle":"oss://` + bucket + `/other/b5/"}`, "OutsidePrefix", 0},
		{"timer naming another bucket", timer(`{"mode":"reconcile","bucket":"` + elsewhere + `"}`), "ForeignBucket", 0},
		{"timer outside the prefix", timer(`{"mode":"reconcile","prefix":"other/"}`), "OutsidePrefix", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// CERTDROP_MANIFEST unset: the manifest is CERTDROP_BUCKET's,
			// never the event's bucket's.
			h := newHarnessEnv(t, func(c *cloudsim.Config) {
				c.OSS.Triggers = nil
				c.OSS.Buckets = append(c.OSS.Buckets, elsewhere)
			}, map[string]string{"CERTDROP_MANIFEST": ""})
			l := h.leaf(time.Now().AddDate(0, 3, 0), "example.com", "*.example.com")
			pem := append(h.fullchain(l), l.KeyPEM...)
			other, err := store.OpenOSS(h.ctx, elsewhere, "", store.Options{Getenv: h.getenv})
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"certs/b5/bundle.pem", "certdrop/manifest.yaml"} {
				data := pem
				if strings.HasSuffix(k, ".yaml") {
					data = []byte(testManifest)
				}
				if err := other.Put(h.ctx, k, data, ""); err != nil {
					t.Fatal(err)
				}
			}
			h.putQuiet("other/b5/bundle.pem", pem)
			before := len(h.sim.Journal().Entries())

			code, o := h.invoke(tt.body)
			if code != http.StatusOK {
				t.Errorf("HTTP %d: a refusal is permanent and not retried", code)
			}
			if (o.Error == nil) != (tt.errCode == "") || (o.Error != nil && o.Error.Code != tt.errCode) || len(o.Ignored) != tt.ignored {
				t.Errorf("error %+v, %d ignored; want %q and %d", o.Error, len(o.Ignored), tt.errCode, tt.ignored)
			}
			if o.Bucket != bucket || len(o.Reports) != 0 {
				t.Errorf("bucket %q, %d reports", o.Bucket, len(o.Reports))
			}
			for _, e := range h.sim.Journal().Entries()[before:] {
				if strings.HasPrefix(e.API, "Set") || strings.HasPrefix(e.API, "Describe") {
					t.Errorf("the attack made a call: %+v", e)
				}
				if e.Service == "oss" && e.Domain != bucket {
					t.Errorf("the attack reached bucket %s: %s %s", e.Domain, e.API, e.Key)
				}
				if e.Service == "oss" && e.API == "PutObject" && !strings.HasPrefix(e.Key, "certdrop/reports/") && e.Key != alert.StateKey &&
					!strings.HasPrefix(e.Key, "certdrop/status/") {
					t.Errorf("wrote %s", e.Key)
				}
			}
			// A refusal is written (in the configured bucket) and alerted;
			// ignored records are not.
			if reps := h.reportObjects(); (len(reps) == 1) != (tt.errCode != "") {
				t.Errorf("%d reports in %s", len(reps), bucket)
			}
			if hooks := h.webhooks(); (len(hooks) == 1) != (tt.errCode != "") || (tt.errCode != "" && !strings.Contains(hooks[0], tt.errCode)) {
				t.Errorf("webhook posts %q", hooks)
			}
			if objs, err := other.List(h.ctx, "certdrop/reports/"); err != nil || len(objs) != 0 {
				t.Errorf("reports in %s: %v %v", elsewhere, objs, err)
			}
		})
	}
}

// TestE2EReportInConfiguredBucket: an event whose first record is for
// another bucket (ignored) and whose second deploys writes its report in
// CERTDROP_BUCKET, with the manifest read from there (CERTDROP_MANIFEST
// unset).
func TestE2EReportInConfiguredBucket(t *testing.T) {
	h := newHarnessEnv(t, func(c *cloudsim.Config) {
		c.OSS.Triggers = nil
		c.OSS.Buckets = append(c.OSS.Buckets, elsewhere)
	}, map[string]string{"CERTDROP_MANIFEST": ""})
	l := h.leaf(time.Now().AddDate(0, 3, 0), "example.com", "*.example.com")
	h.putQuiet("certs/example.com/bundle.pem", append(h.fullchain(l), l.KeyPEM...))
	code, o := h.invoke(ossEvent([2]string{elsewhere, "certs/x/bundle.pem"}, [2]string{bucket, "certs/example.com/bundle.pem"}))
	if code != http.StatusOK || len(o.Ignored) != 1 || o.Bucket != bucket || !strings.HasPrefix(o.ReportKey, "oss://"+bucket+"/certdrop/reports/2026/11/23/") {
		t.Fatalf("HTTP %d ignored %d bucket %q report %q", code, len(o.Ignored), o.Bucket, o.ReportKey)
	}
	sameStates(t, "deployed", states(o), allDeployed)
	for _, e := range h.sim.Journal().Entries() {
		if e.Service == "oss" && e.Domain == elsewhere {
			t.Errorf("reached %s: %s %s", elsewhere, e.API, e.Key)
		}
	}
}

// TestE2ELongKeysTruncated: a key of a thousand bytes is echoed cut.
func TestE2ELongKeysTruncated(t *testing.T) {
	h := newHarness(t, func(c *cloudsim.Config) { c.OSS.Triggers = nil })
	long := "certs/" + strings.Repeat("k", 1000) + ".txt"
	code, o := h.invoke(ossEvent([2]string{bucket, long}))
	if code != http.StatusOK || len(o.Ignored) != 1 {
		t.Fatalf("HTTP %d %+v", code, o)
	}
	if u := o.Ignored[0].Unit; len(u) > 300 || !strings.Contains(u, "(1010 bytes)") {
		t.Errorf("echoed key of %d bytes: %q", len(u), u)
	}
}

// TestE2ENoBucket: without CERTDROP_BUCKET the function refuses
// to run, since it would otherwise have to take the bucket from the event.
func TestE2ENoBucket(t *testing.T) {
	h := newHarnessEnv(t, func(c *cloudsim.Config) { c.OSS.Triggers = nil }, map[string]string{"CERTDROP_BUCKET": ""})
	code, o := h.invoke(ossEvent([2]string{bucket, "certs/example.com/bundle.pem"}))
	if code != http.StatusOK || o.Error == nil || o.Error.Code != "NoBucket" || !strings.Contains(o.Error.Message, "CERTDROP_BUCKET") {
		t.Errorf("HTTP %d %+v", code, o.Error)
	}
	if n := h.allSets(); n != 0 {
		t.Errorf("%d Set calls", n)
	}
}

// TestE2ELongEventEchoedCut: an event made of long field names is refused
// with a message of bounded size.
func TestE2ELongEventEchoedCut(t *testing.T) {
	h := newHarness(t, nil)
	var b strings.Builder
	b.WriteString("{")
	for i := range 200 {
		fmt.Fprintf(&b, "%q:1,", fmt.Sprintf("%04d%s", i, strings.Repeat("f", 300)))
	}
	b.WriteString(`"last":1}`)
	code, o := h.invoke(b.String())
	if code != http.StatusOK || o.Error == nil || o.Error.Code != "BadEvent" || len(o.Error.Message) > 2100 {
		t.Errorf("HTTP %d, error of %d bytes", code, len(o.Error.Message))
	}
}
