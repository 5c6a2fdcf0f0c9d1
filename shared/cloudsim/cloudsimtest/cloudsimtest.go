// Package cloudsimtest starts the cloud emulator (package cloudsim) for a
// test. Only tests import it: the Function Compute package links no
// emulator.
package cloudsimtest

import (
	"context"
	"strings"
	"testing"

	"github.com/certdrop/certdrop/shared/cloudsim"
)

// The variables StartEnv adds to the emulator's own (cloudsim.Sim.Env):
// the names the credential chain and the OSS store read.
const (
	// EnvSecret is the access key secret of the credential chain.
	EnvSecret = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
	// EnvRegion is the region Function Compute gives the function, which
	// the OSS store reads (store.EnvRegion).
	EnvRegion = "FC_REGION"
)

// Start builds an emulator from cfg and starts it on loopback; it is
// closed when tb ends. A configuration or listener error fails tb.
func Start(tb testing.TB, cfg cloudsim.Config) *cloudsim.Sim {
	tb.Helper()
	sim, err := cloudsim.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if err := sim.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = sim.Close() })
	return sim
}

// StartEnv is Start, returning also the environment that points certdrop
// at the emulator, as the CLI and job tests set it: the emulator's
// variables (cloudsim.Sim.Env: the endpoints and the first credential's
// access key ID), the first credential's secret (EnvSecret) and, when the
// emulator serves OSS, its region (EnvRegion).
func StartEnv(tb testing.TB, cfg cloudsim.Config) (*cloudsim.Sim, map[string]string) {
	tb.Helper()
	sim := Start(tb, cfg)
	return sim, Env(sim, cfg)
}

// Env is the environment StartEnv returns for sim, started from cfg.
func Env(sim *cloudsim.Sim, cfg cloudsim.Config) map[string]string {
	env := map[string]string{}
	if len(cfg.Credentials) > 0 {
		env[EnvSecret] = cfg.Credentials[0].AccessKeySecret
	}
	if o := sim.OSS(); o != nil {
		env[EnvRegion] = o.Region()
	}
	for _, kv := range sim.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return env
}
