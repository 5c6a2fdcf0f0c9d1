package renew_test

import (
	"testing"

	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/renew"
)

// BenchmarkRenewal measures one forced renewal of a two-name certificate
// (apex and wildcard: two DNS-01 challenges) against the emulator: due
// check with ARI, the preflight's record written and removed, order, two TXT records written through the alidns API,
// checked at the authoritative server, validated by the CA, removed,
// bundle written to the emulator's OSS. The account exists already.
func BenchmarkRenewal(b *testing.B) {
	h := newHarness(b, harnessOpts{})
	e := h.engine(nil)
	certs := []manifest.Certificate{h.cert("bench", "example.test", "*.example.test")}
	if r := h.run(h.ctx, e, certs, renew.RunOptions{})[0]; !r.Renewed {
		b.Fatalf("%+v", r)
	}
	b.ResetTimer()
	for b.Loop() {
		res, err := e.Run(h.ctx, certs, renew.RunOptions{Force: true})
		if err != nil || !res[0].Renewed {
			b.Fatalf("%v %+v", err, res)
		}
	}
}
