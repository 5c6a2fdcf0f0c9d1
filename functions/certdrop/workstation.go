//go:build !fc

package main

// workstationCommands are the commands only a workstation build has: the
// local cloud emulator and the demo CA. The Function Compute package is
// built with -tags fc (make package), which leaves them and everything
// they link (shared/cloudsim, with its ACME CA, pebble) out of the
// function's binary; see fc.go and TestFCPackageLinksNoEmulator. The
// command line `make build` makes is this workstation build.
func workstationCommands() map[string]command {
	return map[string]command{
		"gencert": {"issue a throwaway demo CA and certificate to try certdrop", runGencert},
		"sim":     {"run the local cloud emulator (OpenAPI and OSS) for demos and tests", runSim},
	}
}
