package cloudsimtest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/cloudsim/cloudsimtest"
	"github.com/certdrop/certdrop/shared/store"
)

// TestStartEnvServesAndStops: the emulator answers on the endpoints the
// environment names, with the secret and region a client needs, and is
// closed when the test that started it ends.
func TestStartEnvServesAndStops(t *testing.T) {
	if cloudsimtest.EnvRegion != store.EnvRegion {
		t.Fatalf("EnvRegion %s, the store reads %s", cloudsimtest.EnvRegion, store.EnvRegion)
	}
	cfg := cloudsim.Config{
		Credentials: []cloudsim.Credential{{AccessKeyID: "ak", AccessKeySecret: "sk"}},
		OSS:         cloudsim.OSSSettings{Region: "cn-shanghai"},
	}
	var endpoint string
	t.Run("test", func(t *testing.T) {
		_, env := cloudsimtest.StartEnv(t, cfg)
		for k, want := range map[string]string{
			"ALIBABA_CLOUD_ACCESS_KEY_ID": "ak", cloudsimtest.EnvSecret: "sk", cloudsimtest.EnvRegion: "cn-shanghai",
		} {
			if env[k] != want {
				t.Errorf("%s=%q, want %q", k, env[k], want)
			}
		}
		endpoint = env["CERTDROP_CDN_ENDPOINT"]
		if !strings.HasPrefix(endpoint, "http://127.0.0.1:") || env["CERTDROP_OSS_ENDPOINT"] == "" {
			t.Fatalf("endpoints: CDN %q, OSS %q", endpoint, env["CERTDROP_OSS_ENDPOINT"])
		}
		res, err := http.Get(endpoint)
		if err != nil {
			t.Fatalf("emulator not serving: %v", err)
		}
		res.Body.Close()
	})
	if res, err := http.Get(endpoint); err == nil {
		res.Body.Close()
		t.Fatal("emulator still serving after its test ended")
	}
}

// TestEnvWithoutOSSOrCredentials: no secret and no region when there is
// neither a credential nor OSS.
func TestEnvWithoutOSSOrCredentials(t *testing.T) {
	_, env := cloudsimtest.StartEnv(t, cloudsim.Config{OSS: cloudsim.OSSSettings{Disabled: true}})
	if _, ok := env[cloudsimtest.EnvSecret]; ok {
		t.Error("secret set without a credential")
	}
	if _, ok := env[cloudsimtest.EnvRegion]; ok {
		t.Error("region set without OSS")
	}
	if env["CERTDROP_CDN_ENDPOINT"] == "" {
		t.Error("no CDN endpoint")
	}
}
