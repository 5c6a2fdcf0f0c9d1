package store_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/store"
)

// seededEmulator is the OSS emulator with faults, holding the objects
// a.pem and certs/b.pem (written before any scripted fault can hit them:
// the scripts name reads).
func seededEmulator(t *testing.T, faults cloudsim.OSSFaults) (*httptest.Server, *cloudsim.Journal) {
	t.Helper()
	j := cloudsim.NewJournal(nil)
	o, err := cloudsim.NewOSS(cloudsim.OSSConfig{
		Region:      region,
		Buckets:     []string{bucket},
		Credentials: map[string]cloudsim.OSSCredential{testAK: {Secret: testSecret}},
		Journal:     j,
		Faults:      faults,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(o)
	t.Cleanup(func() {
		srv.Close()
		_ = o.Close()
	})
	st := openOSS(t, srv, "oss://"+bucket, store.Options{})
	for _, k := range []string{"a.pem", "certs/b.pem"} {
		if err := st.Put(context.Background(), k, []byte("data of "+k), ""); err != nil {
			t.Fatal(err)
		}
	}
	return srv, j
}

// errOSS stands for a failure that is neither not found nor denied.
var errOSS = errors.New("an OSS failure")

// TestReadsRetryTransientFailures: an OSS read answered 5xx, or whose
// connection is reset, is tried again and succeeds; a definite answer
// (404, 403) is not tried again; the tries are bounded.
func TestReadsRetryTransientFailures(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		scripts []cloudsim.OSSScript
		op      string // get or list
		key     string
		wantErr error // nil: success
		calls   string
	}{
		{"get: 503 twice", []cloudsim.OSSScript{{API: "HeadObject", Key: "a.pem", Times: 2}}, "get", "a.pem", nil,
			"HeadObject HeadObject HeadObject GetObject"},
		{"get: 500 on the download", []cloudsim.OSSScript{{API: "GetObject", Key: "a.pem", Code: "InternalError"}}, "get", "a.pem", nil,
			"HeadObject GetObject HeadObject GetObject"},
		{"get: reset", []cloudsim.OSSScript{{API: "HeadObject", Key: "a.pem", Fault: "reset"}}, "get", "a.pem", nil,
			"HeadObject HeadObject GetObject"},
		{"get: 503 to the end", []cloudsim.OSSScript{{API: "HeadObject", Key: "a.pem", Times: 5}}, "get", "a.pem", errOSS,
			"HeadObject HeadObject HeadObject"},
		{"get: not found is not tried again", nil, "get", "missing.pem", store.ErrNotFound, "HeadObject"},
		{"get: access denied is not tried again", []cloudsim.OSSScript{{API: "HeadObject", Key: "a.pem", Code: "AccessDenied", Status: 403, Times: 5}}, "get", "a.pem", store.ErrDenied,
			"HeadObject"},
		{"get: a 400 is not tried again", []cloudsim.OSSScript{{API: "HeadObject", Key: "a.pem", Code: "InvalidArgument", Status: 400, Times: 5}}, "get", "a.pem", errOSS,
			"HeadObject"},
		{"list: 503 once", []cloudsim.OSSScript{{API: "ListObjects", Key: "certs/"}}, "list", "certs/", nil, "ListObjects ListObjects"},
		{"list: reset once", []cloudsim.OSSScript{{API: "ListObjects", Key: "certs/", Fault: "reset"}}, "list", "certs/", nil, "ListObjects ListObjects"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, j := seededEmulator(t, cloudsim.OSSFaults{Scripted: tt.scripts})
			st := openOSS(t, srv, "oss://"+bucket, store.Options{ReadRetry: store.Retry{Delay: time.Millisecond}})
			from := len(j.Entries())
			var err error
			switch tt.op {
			case "get":
				var obj *store.Object
				obj, err = st.Get(ctx, tt.key)
				if err == nil && string(obj.Data) != "data of "+tt.key {
					t.Errorf("read %q", obj.Data)
				}
			case "list":
				var infos []store.ObjectInfo
				infos, err = st.List(ctx, tt.key)
				if err == nil && (len(infos) != 1 || infos[0].Key != "certs/b.pem") {
					t.Errorf("listed %+v", infos)
				}
			}
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("%v", err)
			case tt.wantErr == errOSS && (err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrDenied)):
				t.Fatalf("%v, want an OSS failure", err)
			case tt.wantErr != nil && tt.wantErr != errOSS && !errors.Is(err, tt.wantErr):
				t.Fatalf("%v, want %v", err, tt.wantErr)
			}
			var got []string
			for _, e := range j.Entries()[from:] {
				got = append(got, e.API)
			}
			if strings.Join(got, " ") != tt.calls {
				t.Errorf("calls %q, want %q", strings.Join(got, " "), tt.calls)
			}
		})
	}
}

// TestReadRetryStopsAtTheDeadline: no pause runs past the context's
// deadline: a read failing transiently returns its error before it.
func TestReadRetryStopsAtTheDeadline(t *testing.T) {
	srv, j := seededEmulator(t, cloudsim.OSSFaults{Scripted: []cloudsim.OSSScript{{API: "HeadObject", Key: "a.pem", Times: 5}}})
	st := openOSS(t, srv, "oss://"+bucket, store.Options{ReadRetry: store.Retry{Attempts: 5, Delay: 400 * time.Millisecond}})
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	from := len(j.Entries())
	start := time.Now()
	_, err := st.Get(ctx, "a.pem")
	if err == nil || time.Since(start) > 600*time.Millisecond {
		t.Fatalf("%v after %v", err, time.Since(start))
	}
	if n := len(j.Entries()) - from; n != 2 {
		t.Errorf("%d tries, want 2 (the second pause would end past the deadline)", n)
	}
}

// TestTransient: which errors are tried again.
func TestTransient(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&store.Error{Op: "get", Err: store.ErrNotFound}, false},
		{&store.Error{Op: "get", Err: store.ErrDenied}, false},
		{&store.Error{Op: "get", Err: store.ErrTooLarge}, false},
		{&store.Error{Op: "get", Err: errors.New("connection reset by peer")}, true},
		{context.DeadlineExceeded, true},
		{context.Canceled, false},
		{fmt.Errorf("wrapped: %w", context.DeadlineExceeded), true},
		{errors.New("something else"), false},
		{nil, false},
	} {
		if got := store.Transient(tc.err); got != tc.want {
			t.Errorf("Transient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
