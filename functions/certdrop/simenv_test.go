//go:build !fc

package main

import (
	"context"
	"strings"
	"testing"

	"github.com/certdrop/certdrop/shared/cloudsim"
)

// startSim starts the emulator for a CLI test, stops it when the test ends,
// and returns it with the environment that points certdrop at it: its
// exports, the secret of its first credential and, when it serves OSS,
// FC_REGION.
func startSim(t *testing.T, cfg cloudsim.Config) (*cloudsim.Sim, map[string]string) {
	t.Helper()
	sim, err := cloudsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := sim.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	env := map[string]string{}
	if len(cfg.Credentials) > 0 {
		env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = cfg.Credentials[0].AccessKeySecret
	}
	if !cfg.OSS.Disabled {
		env["FC_REGION"] = sim.OSS().Region()
	}
	for _, kv := range sim.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return sim, env
}
