package job

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/internal/credchain"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/event"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/store"
)

// genStore serves n folders of one large object each, made at each Get
// and held by nobody else, so that the heap live at a Get is what the
// reconcile itself holds. It records the peak.
type genStore struct {
	n, size  int
	template []byte
	gets     int
	base     uint64
	peak     uint64
}

func (s *genStore) key(i int) string { return fmt.Sprintf("certs/f%03d/bundle.pem", i) }

func (s *genStore) heap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func (s *genStore) List(_ context.Context, prefix string) ([]store.ObjectInfo, error) {
	out := make([]store.ObjectInfo, s.n)
	for i := range out {
		out[i] = store.ObjectInfo{Key: s.key(i), Size: int64(s.size)}
	}
	return out, nil
}

func (s *genStore) Get(_ context.Context, key string) (*store.Object, error) {
	s.gets++
	if h := s.heap(); h > s.peak {
		s.peak = h
	}
	data := make([]byte, s.size)
	copy(data, s.template)
	for i := len(s.template); i < len(data); i++ {
		data[i] = '\n'
	}
	return &store.Object{ObjectInfo: store.ObjectInfo{Key: key, Size: int64(len(data)), LastModified: time.Now()}, Data: data}, nil
}

func (s *genStore) Put(context.Context, string, []byte, string) error { return nil }

// nopClient finds nothing installed and accepts every Set.
type nopClient struct{ sets int }

func (c *nopClient) Set(ctx context.Context, call plan.Call, calls fanout.Caller) error {
	return calls.Call(ctx, call.API, func() (string, error) { c.sets++; return "rid", nil })
}

func (c *nopClient) Describe(ctx context.Context, call plan.Call, calls fanout.Caller) (fanout.Installed, error) {
	return fanout.Installed{}, calls.Call(ctx, describeAPI, func() (string, error) { return "rid", nil })
}

// memSetup builds a runner over a genStore of 40 valid bundles of ~1 MB,
// each in its own folder, with a client that accepts everything.
func memSetup(t *testing.T) (*genStore, *nopClient, *Runner) {
	t.Helper()
	now := time.Now()
	root, err := cloudsim.NewRootCA("mem root", now.Add(-time.Hour), now.AddDate(5, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := root.Intermediate("mem intermediate", now.Add(-time.Hour), now.AddDate(4, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	l, err := ca.Issue(cloudsim.LeafRequest{DNSNames: []string{"www.example.com"}, NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(0, 3, 0)})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rootPath, manifestPath := filepath.Join(dir, "root.pem"), filepath.Join(dir, "manifest.yaml")
	if err := os.WriteFile(rootPath, root.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(manifestPath, []byte("version: 1\ntargets:\n  - product: cdn\n    domain: www.example.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const objects, size = 40, 1_000_000
	st := &genStore{n: objects, size: size,
		template: append(append(append([]byte{}, l.CertPEM...), ca.CertPEM()...), l.KeyPEM...)}
	client := &nopClient{}
	r := &Runner{
		Config: &Config{Bucket: "b", TriggerPrefix: "certs/", ReportPrefix: "reports/", Manifest: manifestPath,
			TrustRoots: rootPath, WaitLimit: DefaultWaitLimit},
		OpenStore: func(context.Context, string, *credchain.Credentials) (store.Store, error) { return st, nil },
		NewClient: func(context.Context, *credchain.Credentials) (fanout.Client, error) { return client, nil },
	}
	return st, client, r
}

// TestReconcileMemoryBounded: the reconcile holds one folder's objects at
// a time, whatever the bucket holds: with 40 objects of ~1 MB, the bound
// is a folder (bundle.MaxParts objects of the size cap; here one object),
// not the 40 MB of the whole bucket.
func TestReconcileMemoryBounded(t *testing.T) {
	st, client, r := memSetup(t)
	ev, err := event.Parse([]byte(`{"triggerTime":"t","triggerName":"daily","payload":"{\"mode\":\"reconcile\"}"}`))
	if err != nil {
		t.Fatal(err)
	}
	st.base = st.heap()
	out := r.Run(context.Background(), Request{Event: ev, RequestID: "mem"})
	if out.Error != nil || len(out.Invalid) != 0 || len(out.Reports) != 1 || client.sets != 1 {
		t.Fatalf("error %+v invalid %+v reports %d sets %d", out.Error, out.Invalid, len(out.Reports), client.sets)
	}
	const objects, size = 40, 1_000_000
	if st.gets != objects+1 {
		t.Errorf("%d reads, want %d (each object once, and the newest again to deploy)", st.gets, objects+1)
	}
	held := int64(st.peak) - int64(st.base)
	t.Logf("peak heap over the baseline at a read: %d bytes (%d objects of %d bytes in the bucket)", held, objects, size)
	if held > 4*size {
		t.Errorf("the reconcile held %d bytes at a read: more than a few objects of %d bytes", held, size)
	}
}

// TestOSSEventMemoryBounded: an OSS event naming many folders holds one
// folder's objects at a time, not every object it read until the end of
// the invocation.
func TestOSSEventMemoryBounded(t *testing.T) {
	st, client, r := memSetup(t)
	var recs []string
	for i := range st.n {
		recs = append(recs, fmt.Sprintf(`{"eventName":"ObjectCreated:PutObject","oss":{"bucket":{"name":"b"},"object":{"key":%q}}}`, st.key(i)))
	}
	ev, err := event.Parse([]byte(`{"events":[` + strings.Join(recs, ",") + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	st.base = st.heap()
	out := r.Run(context.Background(), Request{Event: ev, RequestID: "mem"})
	if out.Error != nil || len(out.Invalid) != 0 || len(out.Reports) != st.n || client.sets != st.n {
		t.Fatalf("error %+v invalid %+v reports %d sets %d", out.Error, out.Invalid, len(out.Reports), client.sets)
	}
	held := int64(st.peak) - int64(st.base)
	t.Logf("peak heap over the baseline at a read: %d bytes (%d objects of %d bytes)", held, st.n, st.size)
	if held > 4*int64(st.size) {
		t.Errorf("the invocation held %d bytes at a read: more than a few objects of %d bytes", held, st.size)
	}
}
