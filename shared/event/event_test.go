package event

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The vendor's published samples (copied into testdata/events) must parse.
func TestOfficialSamples(t *testing.T) {
	tests := []struct {
		file, key, bucket, region string
		meta                      bool
	}{
		{"oss-event.json", "source/a.png", "testbucket", "cn-hangzhou", false},
		{"oss-event-with-objectmeta.json", "image/a.jpg", "testbucket", "cn-shenzhen", true},
		{"oss-event-virtualbucket.json", "image/a.jpg", "testbucket", "cn-shanghai", false},
	}
	for _, tt := range tests {
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "events", tt.file))
		if err != nil {
			t.Fatal(err)
		}
		e, err := Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if e.Kind != KindOSS || len(e.OSS.Events) != 1 {
			t.Fatalf("%s: kind %s with %d records", tt.file, e.Kind, len(e.OSS.Events))
		}
		r := e.OSS.Events[0]
		if r.OSS.Object.Key != tt.key || r.OSS.Bucket.Name != tt.bucket || r.Region != tt.region ||
			!r.IsObjectCreated() || (r.OSS.Object.ObjectMeta != nil) != tt.meta || r.ResponseElements.RequestID == "" {
			t.Errorf("%s: decoded %+v", tt.file, r)
		}
	}
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "events", "timer-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	// The sample's payload is "awesome-fc", which is not certdrop's: a clear error.
	if _, err := Parse(data); !errors.Is(err, ErrUnrecognized) || !strings.Contains(err.Error(), `"mode":"reconcile"`) {
		t.Errorf("timer sample with a foreign payload: %v", err)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, body string
		kind       Kind
		errHas     string
	}{
		{"timer reconcile", `{"triggerTime":"2026-11-23T02:00:00Z","triggerName":"daily","payload":"{\"mode\":\"reconcile\",\"prefix\":\"certs/\"}"}`, KindTimer, ""},
		{"timer bad mode", `{"triggerTime":"t","triggerName":"daily","payload":"{\"mode\":\"deploy\"}"}`, "", `the only mode is "reconcile"`},
		{"timer empty payload", `{"triggerTime":"t","triggerName":"daily","payload":""}`, "", "has no payload"},
		{"timer payload typo", `{"triggerTime":"t","triggerName":"d","payload":"{\"mode\":\"reconcile\",\"prefx\":\"certs/\"}"}`, "", "prefx"},
		{"manual", `{"bundle":"oss://b/certs/example.com/","dryRun":true}`, KindManual, ""},
		{"manual typo", `{"bundle":"oss://b/certs/","dryrun":true}`, "", "dryrun"},
		{"manual not oss", `{"bundle":"s3://b/certs/"}`, "", "not an oss://bucket/key URL"},
		{"manual no bucket", `{"bundle":"oss:///certs/"}`, "", "names no bucket"},
		{"renew", `{"mode":"renew","certificate":"example.com"}`, KindRenew, ""},
		{"renew forced dry run", `{"mode":"renew","certificate":"example.com","force":true,"dryRun":true}`, KindRenew, ""},
		{"renew typo", `{"mode":"renew","certificate":"example.com","forse":true}`, "", `unknown field "forse"`},
		{"renew case typo", `{"mode":"renew","Certificate":"example.com"}`, "", `unknown field "Certificate"`},
		{"renew no certificate", `{"mode":"renew"}`, "", "names no certificate"},
		{"renew blank certificate", `{"mode":"renew","certificate":"  "}`, "", "names no certificate"},
		{"renew long certificate", `{"mode":"renew","certificate":"` + strings.Repeat("a", 300) + `"}`, "", "more than 256"},
		{"renew certificate not a string", `{"mode":"renew","certificate":1}`, "", "manual renewal"},
		{"renew force not a bool", `{"mode":"renew","certificate":"a","force":"yes"}`, "", "manual renewal"},
		{"manual reconcile", `{"mode":"reconcile"}`, "", `the manual modes are "renew" and "rollback"`},
		{"manual other mode", `{"mode":"deploy","certificate":"a"}`, "", `manual mode "deploy"`},
		{"oss empty", `{"events":[]}`, "", "no records"},
		{"not json", `hello`, "", "not a JSON object"},
		{"array", `[1,2]`, "", "not a JSON object"},
		{"other object", `{"foo":1}`, "", "expected an OSS trigger event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse([]byte(tt.body))
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.errHas)
				}
				return
			}
			if err != nil || e.Kind != tt.kind {
				t.Fatalf("got %+v, %v; want kind %s", e, err, tt.kind)
			}
		})
	}
}

func TestManualLocation(t *testing.T) {
	e, err := Parse([]byte(`{"bundle":"oss://my-bucket/certs/example.com/","force":true}`))
	if err != nil {
		t.Fatal(err)
	}
	b, k, err := e.Manual.BundleLocation()
	if err != nil || b != "my-bucket" || k != "certs/example.com/" || !e.Manual.Force || e.Manual.DryRun {
		t.Errorf("got %q %q %v %+v", b, k, err, e.Manual)
	}
}

func TestRenewEvent(t *testing.T) {
	e, err := Parse([]byte(`{"mode":"renew","certificate":"example.com","force":true}`))
	if err != nil {
		t.Fatal(err)
	}
	want := &RenewEvent{Mode: ModeRenew, Certificate: "example.com", Force: true}
	if e.Kind != KindRenew || e.Manual != nil || e.Timer != nil || e.OSS != nil || !reflect.DeepEqual(e.Renew, want) {
		t.Errorf("got %+v (renew %+v), want %+v", e, e.Renew, want)
	}
	// Every refusal is ErrUnrecognized, so the handler answers BadEvent.
	for _, body := range []string{`{"mode":"renew"}`, `{"mode":"renew","certificate":"a","bundle2":1}`, `{"mode":"x","certificate":"a"}`} {
		if _, err := Parse([]byte(body)); !errors.Is(err, ErrUnrecognized) {
			t.Errorf("%s: %v, want ErrUnrecognized", body, err)
		}
	}
}

func TestEventNames(t *testing.T) {
	for name, want := range map[string]bool{
		"ObjectCreated:PutObject": true, "ObjectCreated:PostObject": true, "ObjectCreated:CompleteMultipartUpload": true,
		"ObjectCreated:CopyObject": true, "ObjectCreated:AppendObject": true, "ObjectCreated:PutSymlink": true,
		"ObjectRemoved:DeleteObject": false, "ObjectModified:UpdateObjectMeta": false, "": false,
	} {
		if got := (OSSRecord{EventName: name}).IsObjectCreated(); got != want {
			t.Errorf("%q: IsObjectCreated = %v", name, got)
		}
	}
}

func TestKeyCandidates(t *testing.T) {
	tests := []struct {
		key  string
		want []string
	}{
		{"certs/a.pem", []string{"certs/a.pem"}},
		{"certs/my%20site/full%2Bchain.pem", []string{"certs/my site/full+chain.pem", "certs/my%20site/full%2Bchain.pem"}},
		{"certs/a+b.pem", []string{"certs/a+b.pem", "certs/a b.pem"}},
		{"certs/%E8%AF%81%E4%B9%A6.pem", []string{"certs/证书.pem", "certs/%E8%AF%81%E4%B9%A6.pem"}},
		{"certs/证书.pem", []string{"certs/证书.pem"}},
		{"certs/100%.pem", []string{"certs/100%.pem"}},
	}
	for _, tt := range tests {
		var r OSSRecord
		r.OSS.Object.Key = tt.key
		if got := r.KeyCandidates(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("KeyCandidates(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}
