package report

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product/all"
	"github.com/certdrop/certdrop/shared/product/cdn"
	"github.com/certdrop/certdrop/shared/product/oss"
)

// TestCASInReports: a deployment's CAS uploads are in the table and the
// webhook text with their CertId; a failed upload shows its error; a
// rollback is posted even when every target ended well.
func TestCASInReports(t *testing.T) {
	ups := UploadsOf([]fanout.Upload{
		{Region: "cn-hangzhou", Name: "certdrop-example.com-20270101-0123abcd", CertID: 4711, Uploaded: true, Attempts: 1, Targets: 3},
		{Region: "ap-southeast-1", Name: "certdrop-example.com-20270101-0123abcd", Targets: 1, Err: &fanout.UploadError{Region: "ap-southeast-1", Err: errors.New("boom")}},
	})
	if ups[0].CertID != 4711 || ups[1].Error == nil || !strings.Contains(ups[1].Error.Message, "boom") {
		t.Fatalf("UploadsOf = %+v", ups)
	}
	r := &Report{Trigger: TriggerCLI, CAS: ups, Targets: []Target{}}
	var tbl strings.Builder
	if err := WriteTableWidth(&tbl, r, 0); err != nil {
		t.Fatal(err)
	}
	text := Text(r)
	for _, want := range []string{"CAS cn-hangzhou: certdrop-example.com-20270101-0123abcd uploaded, CertId 4711", "CAS ap-southeast-1", "NOT in CAS", "no Set was sent"} {
		if !strings.Contains(tbl.String(), want) || !strings.Contains(text, want) {
			t.Errorf("table or webhook text lacks %q:\n%s\n%s", want, tbl.String(), text)
		}
	}

	posts := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		if strings.Contains(string(b), "rollback to") {
			posts++
		}
	}))
	defer srv.Close()
	w := &Webhook{URL: srv.URL}
	ok := &Report{Trigger: TriggerManual, Targets: []Target{}, Summary: Summary{Total: 1, Deployed: 1}}
	if posted, _ := w.Notify(context.Background(), ok); posted {
		t.Error("a deployment that went well was posted without Always")
	}
	ok.Mode = "rollback"
	if posted, err := w.Notify(context.Background(), ok); !posted || err != nil || posts != 1 {
		t.Errorf("a rollback was not posted (%t, %v, %d)", posted, err, posts)
	}
}

// TestCertIDOf: a target set by reference reports the CertId it was set
// to, an OSS custom domain's too (its call writes "<CertId>-<region>");
// a call that takes the name, or carries the certificate, reports none.
func TestCertIDOf(t *testing.T) {
	tests := []struct {
		target manifest.Target
		want   int64
	}{
		{manifest.Target{Product: cdn.Name, Domain: "www.example.com", Delivery: manifest.DeliveryCAS}, 4711},
		{manifest.Target{Product: oss.Name, Domain: "static.example.com", Fields: map[string]string{"bucket": "site"}, Region: "cn-hangzhou",
			Delivery: manifest.DeliveryCAS, CASRegion: manifest.CASRegionInternational}, 4711},
		{manifest.Target{Product: cdn.LegacyName, Domain: "old.example.com", Delivery: manifest.DeliveryCAS}, 0},
	}
	for _, tt := range tests {
		c, err := plan.Reference(all.Products(), tt.target, "certdrop-example.com-20270101-0123abcd", 4711)
		if err != nil {
			t.Fatal(err)
		}
		if got := targetOf(fanout.Result{Call: c, State: fanout.Deployed}).CertID; got != tt.want {
			t.Errorf("%s (CertId %q): certId %d, want %d", tt.target.Product, c.Param(plan.ParamCertID), got, tt.want)
		}
	}
}
