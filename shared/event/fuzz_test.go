package event

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse: any body either decodes into exactly the shape its Kind names
// or fails; it never panics.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "events", "*.json"))
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{
		`{"bundle":"oss://b/k/","dryRun":true}`, `{"events":[{}]}`, `{"events":null}`, `{}`, `null`, `"x"`,
		`{"triggerTime":"t","triggerName":"n","payload":"{\"mode\":\"reconcile\"}"}`,
		`{"mode":"renew","certificate":"example.com","force":true}`, `{"mode":"renew","certificate":"a","dryRun":true}`,
		`{"mode":"renew"}`, `{"mode":"renew","certificate":""}`, `{"mode":null,"certificate":"a"}`,
		`{"mode":"rollback","to":"certdrop-example.com-20270221-534547a4"}`, `{"mode":"rollback","to":"a","dryRun":true}`,
		`{"mode":"rollback"}`, `{"mode":"rollback","certificate":"a"}`, `{"mode":"rollback","release":"example.com"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := Parse(body)
		if err != nil {
			if e != nil {
				t.Fatal("an event and an error")
			}
			return
		}
		set := 0
		for _, ok := range []bool{e.OSS != nil, e.Timer != nil, e.Manual != nil, e.Renew != nil, e.Rollback != nil} {
			if ok {
				set++
			}
		}
		if set != 1 {
			t.Fatalf("kind %s with %d shapes set", e.Kind, set)
		}
		switch e.Kind {
		case KindOSS:
			if len(e.OSS.Events) == 0 {
				t.Fatal("an OSS event without records")
			}
		case KindTimer:
			if e.Timer.Reconcile.Mode != ModeReconcile {
				t.Fatal("a timer event without the reconcile mode")
			}
		case KindManual:
			if _, _, err := e.Manual.BundleLocation(); err != nil {
				t.Fatal(err)
			}
		case KindRollback:
			r := e.Rollback
			named := r.To
			if r.Release != "" {
				if r.To != "" {
					t.Fatalf("a rollback that both rolls back and releases: %+v", r)
				}
				named = r.Release
			}
			if r.Mode != ModeRollback || strings.TrimSpace(named) == "" || len(named) > MaxCertificateName {
				t.Fatalf("a rollback without a certificate: %+v", e.Rollback)
			}
		case KindRenew:
			if e.Renew.Mode != ModeRenew || strings.TrimSpace(e.Renew.Certificate) == "" || len(e.Renew.Certificate) > MaxCertificateName {
				t.Fatalf("a renewal without a certificate: %+v", e.Renew)
			}
		default:
			t.Fatal(errors.New("unknown kind"))
		}
	})
}
